/* bench_e2e: the measuring parts of bench/e2e.sh that a shell cannot do.
 *
 *   bench_e2e raw-core SECONDS          plain publisher -> subscriber of tick JSON (~130 B)
 *   bench_e2e raw-js SECONDS            bare JetStream publisher (Nats-Msg-Id, 4096 in flight)
 *                                       and a pull consumer (AckExplicit) running together
 *   bench_e2e probe SECONDS URL EX SYM  latency from a tick's arrival at the collector
 *                                       (its recv_ts) to its price being visible through
 *                                       GET URL/prices/latest/EX/SYM
 *
 * NATS from MARKETFLOW_NATS_URL as every service. raw-* use their own subjects (e2eraw.*) and
 * stream (E2ERAW), so they share the nats-server with nothing of the pipeline. Prints one
 * line of key=value figures; asserts nothing.
 *
 * Probe method: a core subscription on <prefix>.ticks.EX.SYM records every tick of the key in
 * bus order (price -> recv_ts); the API is polled every 2 ms over one keep-alive connection.
 * When the answer's price changes to the price of tick i, then tick i is "visible" at that
 * moment (visible latency = now - recv_ts[i]) and so is, for a user asking for the newest
 * price, every earlier tick not yet covered ("covered" latency: how long until that tick or a
 * newer one is shown; it includes the aggregator's 100 ms conflation of latest). recv_ts has
 * 1 ms resolution and polling adds up to 2 ms. */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mf/config.h"
#include "mf/nats_util.h"
#include "mf/subject.h"
#include "mf/tick.h"
#include "mf/util.h"

#define RAW_INFLIGHT 4096

static const char *const EXS[3] = {"exchange1", "exchange2", "exchange3"};
static const char *const SYMS[5] = {"BTCUSDT", "ETHUSDT", "DOGEUSDT", "SOLUSDT", "TONUSDT"};

static double now_s(void) {
    return (double)mf_mono_ns() / 1e9;
}

static double wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A tick JSON of the usual size for message n. */
static int
tick_json(long long n, char *buf, size_t size, char *subj, size_t ssize, const char *prefix) {
    mf_tick t;
    memset(&t, 0, sizeof(t));
    snprintf(t.exchange, sizeof(t.exchange), "%s", EXS[n % 3]);
    snprintf(t.symbol, sizeof(t.symbol), "%s", SYMS[(n / 3) % 5]);
    t.price = 100000.0 + (double)(n % 100000) * 0.0123456789;
    t.ts = mf_now_ms();
    t.recv_ts = t.ts;
    snprintf(subj, ssize, "%s.%s.%s", prefix, t.exchange, t.symbol);
    return mf_tick_to_json(&t, buf, size);
}

/* Payloads built once, so the publisher measures the bus, not our JSON printer. */
#define NPAY 1500
static char g_pay[NPAY][256], g_paysubj[NPAY][96];
static int g_paylen[NPAY];

static void build_payloads(const char *prefix) {
    for (int i = 0; i < NPAY; i++)
        g_paylen[i] =
            tick_json(i, g_pay[i], sizeof(g_pay[i]), g_paysubj[i], sizeof(g_paysubj[i]), prefix);
}

static int connect_nats(mf_nats **out, const char *name) {
    mf_config cfg;
    char err[256];
    mf_config_defaults(&cfg);
    if (mf_config_load_env(&cfg, NULL, err, sizeof(err)) != MF_OK) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    cfg.nats.transport = MF_TRANSPORT_JETSTREAM;
    return mf_nats_connect(out, &cfg, name) == MF_OK ? 0 : -1;
}

/* ---- raw core ------------------------------------------------------------------------- */

static atomic_llong g_recv;
static _Atomic double g_first, g_last;

static void on_raw(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *ctx) {
    double t = now_s();
    (void)nc, (void)sub, (void)ctx;
    if (atomic_fetch_add(&g_recv, 1) == 0) atomic_store(&g_first, t);
    atomic_store(&g_last, t);
    natsMsg_Destroy(msg);
}

static int raw_core(double seconds) {
    mf_nats *pub = NULL, *con = NULL;
    natsSubscription *sub = NULL;
    long long sent = 0, prev = -1;
    double t0, t1;
    build_payloads("e2eraw.core");
    if (connect_nats(&pub, "e2e-raw-pub") != 0 || connect_nats(&con, "e2e-raw-sub") != 0) return 1;
    natsConnection_Subscribe(&sub, mf_nats_conn(con), "e2eraw.core.>", on_raw, NULL);
    natsSubscription_SetPendingLimits(sub, -1, -1);
    natsConnection_Flush(mf_nats_conn(con));
    t0 = now_s();
    while ((t1 = now_s()) - t0 < seconds) {
        for (int i = 0; i < NPAY; i++, sent++)
            natsConnection_Publish(mf_nats_conn(pub), g_paysubj[i], g_pay[i], g_paylen[i]);
    }
    natsConnection_FlushTimeout(mf_nats_conn(pub), 10000);
    while (atomic_load(&g_recv) != prev && atomic_load(&g_recv) < sent) {
        prev = atomic_load(&g_recv);
        mf_sleep_ms(300);
    }
    {
        long long got = atomic_load(&g_recv);
        double span = atomic_load(&g_last) - atomic_load(&g_first);
        printf("raw_core sent=%lld received=%lld lost=%lld pub_per_s=%.0f msgs_per_s=%.0f\n", sent,
               got, sent - got, (double)sent / (t1 - t0), span > 0 ? (double)got / span : 0.0);
    }
    natsSubscription_Destroy(sub);
    mf_nats_destroy(pub);
    mf_nats_destroy(con);
    return 0;
}

/* ---- raw JetStream -------------------------------------------------------------------- */

static atomic_llong g_acked, g_consumed;
static atomic_int g_stop;

static void on_puback(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *ctx) {
    (void)nc, (void)sub, (void)ctx;
    atomic_fetch_add(&g_acked, 1);
    natsMsg_Destroy(msg);
}

typedef struct raw_js_pub {
    mf_nats *n;
    long long sent;
    double rate; /* msgs/s; 0 = as fast as PubAcks allow */
} raw_js_pub;

static void *raw_js_pub_main(void *arg) {
    raw_js_pub *p = arg;
    natsConnection *nc = mf_nats_conn(p->n);
    natsSubscription *sub = NULL;
    natsInbox *inbox = NULL;
    char box[128], wild[160], reply[192], id[64];
    natsInbox_Create(&inbox);
    snprintf(box, sizeof(box), "%s", (const char *)inbox);
    natsInbox_Destroy(inbox);
    snprintf(wild, sizeof(wild), "%s.*", box);
    natsConnection_Subscribe(&sub, nc, wild, on_puback, NULL);
    natsSubscription_SetPendingLimits(sub, -1, -1);
    double t0 = now_s();
    while (!atomic_load(&g_stop)) {
        natsMsg *m = NULL;
        int k = (int)(p->sent % NPAY);
        if (p->rate > 0 && (double)p->sent >= (now_s() - t0) * p->rate) {
            usleep(100); /* paced: the same offered load as a pipeline step */
            continue;
        }
        if (p->sent - atomic_load(&g_acked) >= RAW_INFLIGHT) {
            usleep(50);
            continue;
        }
        snprintf(reply, sizeof(reply), "%s.%lld", box, p->sent);
        snprintf(id, sizeof(id), "raw:%lld", p->sent);
        natsMsg_Create(&m, g_paysubj[k], reply, g_pay[k], g_paylen[k]);
        natsMsgHeader_Set(m, "Nats-Msg-Id", id);
        natsConnection_PublishMsg(nc, m);
        natsMsg_Destroy(m);
        p->sent++;
    }
    natsConnection_FlushTimeout(nc, 2000);
    natsSubscription_Destroy(sub);
    return NULL;
}

static int raw_js(double seconds, double rate) {
    mf_nats *pn = NULL, *cn = NULL;
    jsStreamConfig sc;
    jsStreamInfo *si = NULL;
    jsConsumerConfig cc;
    jsConsumerInfo *ci = NULL;
    const char *subjects[1] = {"e2eraw.js.>"};
    natsSubscription *sub = NULL;
    natsInbox *inbox = NULL;
    char box[128], wild[160], reply[192];
    const char *next = "$JS.API.CONSUMER.MSG.NEXT.E2ERAW.raw";
    const char *body = "{\"batch\":1024,\"expires\":200000000}";
    raw_js_pub pub = {0};
    pthread_t th;
    unsigned long long req = 0;
    long long since = 0, c_start = 0, a_start = 0, c_end, a_end, backlog = -1;
    int64_t last_req = 0;
    double t0, t_mark = 0, t_end;
    build_payloads("e2eraw.js");
    if (connect_nats(&pn, "e2e-rawjs-pub") != 0 || connect_nats(&cn, "e2e-rawjs-con") != 0)
        return 1;
    jsStreamConfig_Init(&sc);
    sc.Name = "E2ERAW";
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Duplicates = 30LL * 1000000000LL;
    sc.MaxAge = 900LL * 1000000000LL;
    if (js_AddStream(&si, mf_nats_js(cn), &sc, NULL, NULL) != NATS_OK) {
        fprintf(stderr, "add stream: %s\n", nats_GetLastError(NULL));
        return 1;
    }
    jsStreamInfo_Destroy(si);
    jsConsumerConfig_Init(&cc);
    cc.Durable = "raw";
    cc.AckPolicy = js_AckExplicit;
    cc.DeliverPolicy = js_DeliverAll;
    cc.MaxAckPending = 1000000;
    cc.AckWait = 30000000000LL;
    if (js_AddConsumer(&ci, mf_nats_js(cn), "E2ERAW", &cc, NULL, NULL) != NATS_OK) {
        fprintf(stderr, "add consumer: %s\n", nats_GetLastError(NULL));
        return 1;
    }
    jsConsumerInfo_Destroy(ci);
    natsInbox_Create(&inbox);
    snprintf(box, sizeof(box), "%s", (const char *)inbox);
    natsInbox_Destroy(inbox);
    snprintf(wild, sizeof(wild), "%s.*", box);
    natsConnection_SubscribeSync(&sub, mf_nats_conn(cn), wild);
    natsSubscription_SetPendingLimits(sub, -1, -1);
    pub.n = pn;
    pub.rate = rate;
    pthread_create(&th, NULL, raw_js_pub_main, &pub);
    t0 = now_s();
    /* 1 s warm-up, then count what was stored (PubAcks) and consumed (acked) over the rest. */
    while ((t_end = now_s()) - t0 < seconds) {
        natsMsg *m = NULL;
        const char *status = NULL;
        int64_t now = mf_mono_ms();
        if (t_mark == 0 && t_end - t0 >= 1.0) {
            t_mark = t_end;
            c_start = atomic_load(&g_consumed);
            a_start = atomic_load(&g_acked);
        }
        if (req == 0 || since >= 512 || now - last_req >= 200) {
            snprintf(reply, sizeof(reply), "%s.%llu", box, ++req);
            natsConnection_PublishRequest(mf_nats_conn(cn), next, reply, body, (int)strlen(body));
            since = 0;
            last_req = now;
        }
        if (natsSubscription_NextMsg(&m, sub, 50) != NATS_OK) continue;
        if (natsMsgHeader_Get(m, "Status", &status) == NATS_OK && status) {
            natsMsg_Destroy(m);
            continue;
        }
        mf_tick t;
        mf_tick_from_json(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), &t);
        natsConnection_Publish(mf_nats_conn(cn), natsMsg_GetReply(m), "+ACK", 4);
        natsMsg_Destroy(m);
        atomic_fetch_add(&g_consumed, 1);
        since++;
    }
    c_end = atomic_load(&g_consumed);
    a_end = atomic_load(&g_acked);
    atomic_store(&g_stop, 1);
    pthread_join(th, NULL);
    if (js_GetConsumerInfo(&ci, mf_nats_js(cn), "E2ERAW", "raw", NULL, NULL) == NATS_OK) {
        backlog = (long long)ci->NumPending + ci->NumAckPending;
        jsConsumerInfo_Destroy(ci);
    }
    printf("raw_js rate=%.0f stored_per_s=%.0f consumed_per_s=%.0f backlog_at_end=%lld "
           "msgs_per_s=%.0f\n",
           rate, (double)(a_end - a_start) / (t_end - t_mark),
           (double)(c_end - c_start) / (t_end - t_mark), backlog,
           (double)((c_end - c_start) < (a_end - a_start) ? (c_end - c_start) : (a_end - a_start)) /
               (t_end - t_mark));
    natsSubscription_Destroy(sub);
    js_DeleteStream(mf_nats_js(cn), "E2ERAW", NULL, NULL);
    mf_nats_destroy(pn);
    mf_nats_destroy(cn);
    return 0;
}

/* ---- latency probe -------------------------------------------------------------------- */

#define PROBE_MAX 4000000

typedef struct seen_tick {
    double price;
    int64_t recv_ts;
} seen_tick;

static seen_tick *g_ticks;
static atomic_long g_nticks;
static long *g_slots; /* open addressing: price bits -> index + 1 */
static size_t g_nslots;

static size_t slot_of(double price) {
    uint64_t b;
    memcpy(&b, &price, sizeof(b));
    b ^= b >> 33;
    b *= 0xff51afd7ed558ccdULL;
    b ^= b >> 33;
    return (size_t)(b & (g_nslots - 1));
}

/* Bus order index of the newest tick with this price, or -1. Read only by the main thread;
 * written only by the NATS thread, entries published through g_nticks. */
static long lookup(double price, long upto) {
    long best = -1;
    for (size_t s = slot_of(price);; s = (s + 1) & (g_nslots - 1)) {
        long v = __atomic_load_n(&g_slots[s], __ATOMIC_ACQUIRE);
        if (v == 0) return best;
        if (v - 1 < upto && g_ticks[v - 1].price == price && v - 1 > best) best = v - 1;
    }
}

static void on_probe_tick(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *ctx) {
    mf_tick t;
    long i = atomic_load(&g_nticks);
    (void)nc, (void)sub, (void)ctx;
    if (i < PROBE_MAX &&
        mf_tick_from_json(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &t) == MF_OK) {
        size_t s = slot_of(t.price);
        g_ticks[i].price = t.price;
        g_ticks[i].recv_ts = t.recv_ts;
        while (g_slots[s] != 0) s = (s + 1) & (g_nslots - 1);
        __atomic_store_n(&g_slots[s], i + 1, __ATOMIC_RELEASE);
        atomic_store(&g_nticks, i + 1);
    }
    natsMsg_Destroy(msg);
}

static int http_connect(const char *host, int port) {
    struct sockaddr_in a;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, host, &a.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* One GET on a keep-alive connection; returns the "price" of a 200 answer, NAN otherwise,
 * -1 on a broken connection. */
static double http_price(int fd, const char *req) {
    char buf[4096];
    size_t got = 0;
    long clen = -1;
    char *body = NULL;
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) return -1;
    for (;;) {
        ssize_t r = read(fd, buf + got, sizeof(buf) - 1 - got);
        if (r <= 0) return -1;
        got += (size_t)r;
        buf[got] = '\0';
        if (body == NULL && (body = strstr(buf, "\r\n\r\n")) != NULL) {
            char *cl = strcasestr(buf, "content-length:");
            body += 4;
            clen = cl ? strtol(cl + 15, NULL, 10) : 0;
        }
        if (body != NULL && (long)(got - (size_t)(body - buf)) >= clen) break;
        if (got + 1 >= sizeof(buf)) return -1;
    }
    if (strncmp(buf + 9, "200", 3) != 0) return NAN;
    {
        char *p = strstr(body, "\"price\":");
        return p ? strtod(p + 8, NULL) : NAN;
    }
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void print_pct(const char *name, double *v, long n) {
    if (n == 0) {
        printf(" %s_n=0", name);
        return;
    }
    qsort(v, (size_t)n, sizeof(double), cmp_d);
    printf(" %s_n=%ld %s_p50_ms=%.1f %s_p99_ms=%.1f %s_max_ms=%.1f", name, n, name, v[(n - 1) / 2],
           name, v[(long)((double)(n - 1) * 0.99)], name, v[n - 1]);
}

static int probe(double seconds, const char *url, const char *ex, const char *sym) {
    mf_nats *n = NULL;
    natsSubscription *sub = NULL;
    char subj[200], host[64] = "127.0.0.1", req[512];
    int port = 0, fd;
    double last_price = NAN, t0;
    long covered = -1, nvis = 0, ncov = 0, unmatched = 0, polls = 0;
    double *vis, *cov;
    if (sscanf(url, "http://%63[^:]:%d", host, &port) != 2) {
        fprintf(stderr, "probe: URL must be http://HOST:PORT\n");
        return 2;
    }
    g_ticks = mf_xcalloc(PROBE_MAX, sizeof(*g_ticks));
    g_nslots = 1u << 23;
    g_slots = mf_xcalloc(g_nslots, sizeof(*g_slots));
    vis = mf_xcalloc(PROBE_MAX, sizeof(double));
    cov = mf_xcalloc(PROBE_MAX, sizeof(double));
    if (connect_nats(&n, "e2e-probe") != 0) return 1;
    mf_subject_key(subj, sizeof(subj), mf_nats_prefix(n), MF_SUBJECT_TICKS, ex, sym);
    natsConnection_Subscribe(&sub, mf_nats_conn(n), subj, on_probe_tick, NULL);
    natsSubscription_SetPendingLimits(sub, -1, -1);
    natsConnection_Flush(mf_nats_conn(n));
    snprintf(req, sizeof(req),
             "GET /prices/latest/%s/%s HTTP/1.1\r\nHost: %s\r\nConnection: keep-alive\r\n\r\n", ex,
             sym, host);
    if ((fd = http_connect(host, port)) < 0) {
        fprintf(stderr, "probe: cannot connect to %s\n", url);
        return 1;
    }
    t0 = now_s();
    while (now_s() - t0 < seconds) {
        double p = http_price(fd, req), seen = wall_ms();
        long idx, upto;
        polls++;
        if (p < 0) {
            close(fd);
            fd = http_connect(host, port);
            if (fd < 0) return 1;
            continue;
        }
        if (!isnan(p) && p != last_price) {
            /* the tick may reach us a moment after the API: wait up to 50 ms for it */
            for (int w = 0; w < 25; w++) {
                upto = atomic_load(&g_nticks);
                idx = lookup(p, upto);
                if (idx >= 0) break;
                mf_sleep_ms(2);
            }
            upto = atomic_load(&g_nticks);
            idx = lookup(p, upto);
            if (idx < 0) {
                unmatched++;
            } else if (idx > covered) {
                if (now_s() - t0 > 1.0) { /* the first second only sets the baseline */
                    vis[nvis++] = seen - (double)g_ticks[idx].recv_ts;
                    for (long i = covered + 1; i <= idx; i++)
                        cov[ncov++] = seen - (double)g_ticks[i].recv_ts;
                }
                covered = idx;
            }
            last_price = p;
        }
        mf_sleep_ms(2);
    }
    close(fd);
    printf("probe key=%s/%s polls=%ld bus_ticks=%ld unmatched=%ld", ex, sym, polls,
           atomic_load(&g_nticks), unmatched);
    print_pct("visible", vis, nvis);
    print_pct("covered", cov, ncov);
    printf("\n");
    natsSubscription_Destroy(sub);
    mf_nats_destroy(n);
    return 0;
}

int main(int argc, char **argv) {
    const char *cmd = argc > 1 ? argv[1] : "";
    double secs = argc > 2 ? atof(argv[2]) : 0;
    if (strcmp(cmd, "raw-core") == 0 && secs > 0) return raw_core(secs);
    if (strcmp(cmd, "raw-js") == 0 && secs > 0) return raw_js(secs, argc > 3 ? atof(argv[3]) : 0);
    if (strcmp(cmd, "probe") == 0 && secs > 0 && argc == 6)
        return probe(secs, argv[3], argv[4], argv[5]);
    fprintf(stderr, "usage: bench_e2e raw-core SECONDS | raw-js SECONDS [RATE] | "
                    "probe SECONDS http://HOST:PORT EXCHANGE SYMBOL\n");
    return 2;
}
