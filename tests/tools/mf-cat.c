/* mf-cat: a small NATS client for tests and operators, built on the common library.
 *
 *   mf-cat sub SUBJECT [--count N] [--timeout-ms T] [--idle-ms T] [--with-subject]
 *   mf-cat stream STREAM [--filter SUBJECT] [--timeout-ms T] [--with-subject]
 *   mf-cat pub SUBJECT PAYLOAD [--js] [--msg-id ID]
 *   mf-cat pub-lines [--js]          stdin: "SUBJECT PAYLOAD" per line
 *   mf-cat pub-ticks [--core]        stdin: bus tick JSON per line, Nats-Msg-Id from the tick
 *
 * The connection comes from the usual configuration environment (MARKETFLOW_NATS_URL,
 * MARKETFLOW_NATS_PREFIX, ...). `sub` prints each payload on its own line and flushes, so
 * a test can start it in the background and read the file. `stream` prints every message
 * stored in a stream (optionally filtered) and exits once it reached the end. Exit status:
 * 0 ok, 1 failure, 2 usage. */
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mf/config.h"
#include "mf/log.h"
#include "mf/nats_util.h"
#include "mf/signals.h"
#include "mf/subject.h"
#include "mf/tick.h"
#include "mf/util.h"

typedef struct opts {
    long long count;
    int timeout_ms;
    int idle_ms;
    int with_subject;
    int js;
    const char *msg_id;
    const char *filter;
} opts;

static int usage(void) {
    fprintf(stderr,
            "usage: mf-cat sub SUBJECT [--count N] [--timeout-ms T] [--idle-ms T] "
            "[--with-subject]\n"
            "       mf-cat stream STREAM [--filter SUBJECT] [--timeout-ms T] [--with-subject]\n"
            "       mf-cat pub SUBJECT PAYLOAD [--js] [--msg-id ID]\n"
            "       mf-cat pub-lines [--js]\n"
            "       mf-cat pub-ticks [--core]\n");
    return 2;
}

static int parse_opts(int argc, char **argv, int first, opts *o) {
    memset(o, 0, sizeof(*o));
    o->js = -1;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--with-subject") == 0) {
            o->with_subject = 1;
        } else if (strcmp(a, "--js") == 0) {
            o->js = 1;
        } else if (strcmp(a, "--core") == 0) {
            o->js = 0;
        } else if (v && strcmp(a, "--count") == 0) {
            o->count = atoll(v), i++;
        } else if (v && strcmp(a, "--timeout-ms") == 0) {
            o->timeout_ms = atoi(v), i++;
        } else if (v && strcmp(a, "--idle-ms") == 0) {
            o->idle_ms = atoi(v), i++;
        } else if (v && strcmp(a, "--msg-id") == 0) {
            o->msg_id = v, i++;
        } else if (v && strcmp(a, "--filter") == 0) {
            o->filter = v, i++;
        } else {
            fprintf(stderr, "mf-cat: unknown or incomplete option '%s'\n", a);
            return -1;
        }
    }
    return 0;
}

static void print_msg(natsMsg *m, int with_subject) {
    if (with_subject) printf("%s ", natsMsg_GetSubject(m));
    fwrite(natsMsg_GetData(m), 1, (size_t)natsMsg_GetDataLength(m), stdout);
    fputc('\n', stdout);
    fflush(stdout);
}

static int cmd_sub(mf_nats *n, const char *subject, const opts *o) {
    natsSubscription *sub = NULL;
    long long got = 0;
    int64_t start = mf_mono_ms(), last = start;
    natsStatus ns = natsConnection_SubscribeSync(&sub, mf_nats_conn(n), subject);
    if (ns == NATS_OK) ns = natsSubscription_SetPendingLimits(sub, -1, -1);
    if (ns != NATS_OK) return mf_nats_fail(ns, "subscribe"), 1;
    natsConnection_Flush(mf_nats_conn(n));
    printf("%s", ""); /* readiness marker for tests is the file's existence */
    fflush(stdout);
    while (!mf_stop_requested() && (o->count == 0 || got < o->count)) {
        natsMsg *m = NULL;
        int64_t now = mf_mono_ms();
        if (o->timeout_ms > 0 && now - start >= o->timeout_ms) break;
        if (o->idle_ms > 0 && now - last >= o->idle_ms) break;
        if (natsSubscription_NextMsg(&m, sub, 100) != NATS_OK) continue;
        print_msg(m, o->with_subject);
        natsMsg_Destroy(m);
        got++;
        last = mf_mono_ms();
    }
    natsSubscription_Destroy(sub);
    return 0;
}

static int cmd_stream(mf_nats *n, const char *stream, const opts *o) {
    jsCtx *js = mf_nats_js(n);
    jsStreamInfo *si = NULL;
    jsSubOptions so;
    natsSubscription *sub = NULL;
    jsErrCode jerr = 0;
    int64_t start = mf_mono_ms();
    char filter[256];
    natsStatus ns = js_GetStreamInfo(&si, js, stream, NULL, &jerr);
    if (ns != NATS_OK) return mf_nats_fail(ns, "stream info"), 1;
    if (si->State.Msgs == 0) {
        jsStreamInfo_Destroy(si);
        return 0;
    }
    snprintf(filter, sizeof(filter), "%s", o->filter ? o->filter : si->Config->Subjects[0]);
    jsStreamInfo_Destroy(si);
    jsSubOptions_Init(&so);
    so.Stream = stream;
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverAll;
    ns = js_SubscribeSync(&sub, js, filter, NULL, &so, &jerr);
    if (ns != NATS_OK) return mf_nats_fail(ns, "ordered consumer"), 1;
    for (;;) {
        natsMsg *m = NULL;
        jsMsgMetaData *meta = NULL;
        uint64_t pending = 1;
        int idle = o->timeout_ms > 0 ? o->timeout_ms : 3000;
        if (mf_mono_ms() - start > idle) break;
        ns = natsSubscription_NextMsg(&m, sub, 1000);
        if (ns == NATS_TIMEOUT) continue; /* a filter with no message ends by the timeout */
        if (ns != NATS_OK) break;
        if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
            pending = meta->NumPending;
            jsMsgMetaData_Destroy(meta);
        }
        print_msg(m, o->with_subject);
        natsMsg_Destroy(m);
        start = mf_mono_ms();
        if (pending == 0) break;
    }
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    return 0;
}

static natsStatus
publish(mf_nats *n, int js, const char *subject, const char *data, int len, const char *msg_id) {
    natsMsg *m = NULL;
    natsStatus ns;
    if (!js) return natsConnection_Publish(mf_nats_conn(n), subject, data, len);
    ns = natsMsg_Create(&m, subject, NULL, data, len);
    if (ns == NATS_OK && msg_id) ns = natsMsgHeader_Set(m, "Nats-Msg-Id", msg_id);
    if (ns == NATS_OK) ns = js_PublishMsgAsync(mf_nats_js(n), &m, NULL);
    natsMsg_Destroy(m); /* NULL after a successful async publish */
    return ns;
}

static long long g_pub_errors;

/* Failed asynchronous publishes (no stream, server error, timeout) land here. */
static void on_pub_error(jsCtx *js, jsPubAckErr *pae, void *closure) {
    (void)js, (void)closure;
    g_pub_errors++;
    fprintf(stderr, "mf-cat: publish failed: %s\n", pae->ErrText ? pae->ErrText : "?");
}

static int finish_publish(mf_nats *n, int js, long long sent) {
    natsStatus ns;
    if (js) {
        jsPubOptions po;
        natsMsgList failed = {0};
        jsPubOptions_Init(&po);
        po.MaxWait = 30000;
        ns = js_PublishAsyncComplete(mf_nats_js(n), &po);
        if (ns != NATS_OK) return mf_nats_fail(ns, "publish complete"), 1;
        if (js_PublishAsyncGetPendingList(&failed, mf_nats_js(n)) == NATS_OK) {
            fprintf(stderr, "mf-cat: %d publishes not acknowledged\n", failed.Count);
            natsMsgList_Destroy(&failed);
            return 1;
        }
        if (g_pub_errors > 0) return 1;
    } else {
        ns = natsConnection_FlushTimeout(mf_nats_conn(n), 10000);
        if (ns != NATS_OK) return mf_nats_fail(ns, "flush"), 1;
    }
    fprintf(stderr, "mf-cat: published %lld\n", sent);
    return 0;
}

static int cmd_pub_lines(mf_nats *n, int js, int ticks) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long long sent = 0;
    while ((len = getline(&line, &cap, stdin)) > 0) {
        char subject[256], id[256];
        const char *payload = line;
        const char *msg_id = NULL;
        natsStatus ns;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (len == 0) continue;
        if (ticks) {
            mf_tick t;
            if (mf_tick_from_json(line, (size_t)len, &t) != MF_OK) {
                fprintf(stderr, "mf-cat: not a bus tick: %s\n", line);
                free(line);
                return 1;
            }
            if (mf_subject_key(subject, sizeof(subject), mf_nats_prefix(n), MF_SUBJECT_TICKS,
                               t.exchange, t.symbol) < 0) {
                fprintf(stderr, "mf-cat: no subject for tick: %s\n", line);
                free(line);
                return 1;
            }
            mf_tick_msg_id(&t, id, sizeof(id));
            msg_id = id;
        } else {
            const char *sp = strchr(line, ' ');
            if (sp == NULL || (size_t)(sp - line) >= sizeof(subject)) continue;
            memcpy(subject, line, (size_t)(sp - line));
            subject[sp - line] = '\0';
            payload = sp + 1;
        }
        ns = publish(n, js, subject, payload, (int)strlen(payload), msg_id);
        if (ns != NATS_OK) {
            free(line);
            return mf_nats_fail(ns, "publish"), 1;
        }
        sent++;
    }
    free(line);
    return finish_publish(n, js, sent);
}

/* The stream that a subject "<prefix>.<token>...." of the bus contract belongs to; -1 for any
 * other subject. */
static int stream_of(const mf_nats *n, const char *subject) {
    static const char *token[] = {"ticks.", "rollups.", "control."};
    size_t plen = strlen(mf_nats_prefix(n));
    if (strncmp(subject, mf_nats_prefix(n), plen) != 0 || subject[plen] != '.') return -1;
    for (int s = MF_STREAM_TICKS; s <= MF_STREAM_CONTROL; s++)
        if (strncmp(subject + plen + 1, token[s], strlen(token[s])) == 0) return s;
    return -1;
}

/* Creates the streams a publish command writes into: pub-ticks the ticks stream, pub the
 * stream of its subject (none for a subject outside them), pub-lines all three. */
static mf_status ensure_streams(mf_nats *n, const char *cmd, const char *subject) {
    int only = -1;
    if (strcmp(cmd, "pub-ticks") == 0)
        only = MF_STREAM_TICKS;
    else if (strcmp(cmd, "pub") == 0 && (only = stream_of(n, subject)) < 0)
        return MF_OK;
    for (int s = MF_STREAM_TICKS; s <= MF_STREAM_CONTROL; s++) {
        if (only >= 0 && s != only) continue;
        if (mf_nats_ensure_stream(n, (mf_stream)s) != MF_OK) return MF_ERR_NATS;
    }
    return MF_OK;
}

int main(int argc, char **argv) {
    mf_config cfg;
    mf_nats *n = NULL;
    opts o;
    char err[512];
    int rc = 1, first;
    const char *cmd = argc > 1 ? argv[1] : "";
    int want_js;

    if (strcmp(cmd, "sub") == 0 || strcmp(cmd, "stream") == 0)
        first = 3;
    else if (strcmp(cmd, "pub") == 0)
        first = 4;
    else if (strcmp(cmd, "pub-lines") == 0 || strcmp(cmd, "pub-ticks") == 0)
        first = 2;
    else
        return usage();
    if (argc < first || parse_opts(argc, argv, first, &o) != 0) return usage();
    mf_log_init("mf-cat", "", MF_LOG_WARN);
    mf_signals_install();
    mf_config_defaults(&cfg);
    if (mf_config_load_env(&cfg, NULL, err, sizeof(err)) != MF_OK) {
        fprintf(stderr, "mf-cat: %s\n", err);
        return 2;
    }
    want_js =
        strcmp(cmd, "stream") == 0 || (strcmp(cmd, "pub-ticks") == 0 && o.js != 0) || o.js == 1;
    cfg.nats.transport = want_js ? MF_TRANSPORT_JETSTREAM : MF_TRANSPORT_CORE;
    {
        jsOptions jo;
        jsOptions_Init(&jo);
        jo.Wait = 10000;
        jo.PublishAsync.MaxPending = 4096;
        jo.PublishAsync.ErrHandler = on_pub_error;
        if (mf_nats_connect_js(&n, &cfg, "mf-cat", &jo) != MF_OK) return 1;
    }
    /* Publishing into a stream that no service created yet: create it, as services do. Only
     * the stream published into, so a NATS user allowed one stream's subjects (the operator:
     * control; the tests' feeder: ticks) needs no other stream's API (docs/design.md section
     * 15); pub-lines may carry any subject and creates all three. */
    if (want_js && strcmp(cmd, "stream") != 0 && ensure_streams(n, cmd, argv[2]) != MF_OK) return 1;
    if (strcmp(cmd, "sub") == 0) {
        rc = cmd_sub(n, argv[2], &o);
    } else if (strcmp(cmd, "stream") == 0) {
        rc = cmd_stream(n, argv[2], &o);
    } else if (strcmp(cmd, "pub") == 0) {
        natsStatus ns = publish(n, want_js, argv[2], argv[3], (int)strlen(argv[3]), o.msg_id);
        rc = ns == NATS_OK ? finish_publish(n, want_js, 1) : (mf_nats_fail(ns, "publish"), 1);
    } else {
        rc = cmd_pub_lines(n, want_js, strcmp(cmd, "pub-ticks") == 0);
    }
    mf_nats_destroy(n);
    nats_Close();
    return rc;
}
