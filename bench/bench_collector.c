/* bench_collector: collector throughput, feed lines in -> ticks on the bus.
 *
 *   bench_collector --collector PATH --nats URL [--feeds N] [--lines M] [--transport T]
 *
 * Listens on N loopback ports, starts the collector (test mode) against them, and once every
 * feed is connected writes M pre-built unique lines per feed as fast as the collector reads
 * them. Counts ticks on the bus independently: JetStream: the message count of the run's own
 * stream (<PREFIX>_TICKS, so ticks/s = acknowledged and stored); core: a subscriber on
 * <prefix>.ticks.>. Prints lines/s read, ticks/s on the bus, and the collector's CPU seconds
 * per million ticks (from /proc/PID/stat). Prints figures; asserts nothing. */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#define MAX_FEEDS 8

typedef struct feed {
    int lfd, fd, port;
    char *buf;
    size_t len;
    pthread_t th;
} feed;

static atomic_llong core_count;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long long wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double cpu_s(pid_t pid) {
    char path[64], buf[1024];
    unsigned long ut = 0, st = 0;
    FILE *f;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (f == NULL) return 0;
    if (fgets(buf, sizeof(buf), f) != NULL) {
        char *p = strrchr(buf, ')');
        if (p) sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
    }
    fclose(f);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void build_lines(feed *f, long lines, int idx) {
    static const char *syms[] = {"BTCUSDT", "DOGEUSDT", "TONUSDT", "SOLUSDT", "ETHUSDT"};
    size_t cap = (size_t)lines * 80 + 64, off = 0;
    long long ts = wall_ms();
    f->buf = malloc(cap);
    for (long i = 0; i < lines; i++)
        off += (size_t)snprintf(f->buf + off, cap - off,
                                "{\"symbol\":\"%s\",\"price\":%.9f,\"timestamp\":%lld}\n",
                                syms[i % 5], 1000.0 + idx + (double)i * 1e-6, ts + i / 1000);
    f->len = off;
}

static void *writer(void *arg) {
    feed *f = arg;
    size_t off = 0;
    while (off < f->len) {
        ssize_t w = write(f->fd, f->buf + off, f->len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    return NULL;
}

static void on_core(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *c) {
    (void)nc, (void)sub, (void)c;
    atomic_fetch_add(&core_count, 1);
    natsMsg_Destroy(m);
}

static long long stream_msgs(jsCtx *js, const char *stream) {
    jsStreamInfo *si = NULL;
    long long n = -1;
    if (js_GetStreamInfo(&si, js, stream, NULL, NULL) == NATS_OK) n = (long long)si->State.Msgs;
    jsStreamInfo_Destroy(si);
    return n;
}

static pid_t spawn(const char *path,
                   const char *url,
                   const char *transport,
                   const char *prefix,
                   const char *list) {
    pid_t pid = fork();
    if (pid == 0) {
        setenv("MARKETFLOW_NATS_URL", url, 1);
        setenv("MARKETFLOW_NATS_TRANSPORT", transport, 1);
        setenv("MARKETFLOW_NATS_PREFIX", prefix, 1);
        setenv("MARKETFLOW_EXCHANGES_TEST", list, 1);
        setenv("MARKETFLOW_EXCHANGES_MODE", "test", 1);
        setenv("MARKETFLOW_LOG_LEVEL", "warn", 1);
        setenv("MARKETFLOW_METRICS_PORT", "0", 1);
        execl(path, path, (char *)NULL);
        _exit(127);
    }
    return pid;
}

int main(int argc, char **argv) {
    const char *coll = NULL, *url = "nats://127.0.0.1:4222", *transport = "jetstream";
    int nfeeds = 1;
    long lines = 300000;
    feed feeds[MAX_FEEDS];
    char list[1024] = "", prefix[64], stream[96], subj[128];
    natsConnection *nc = NULL;
    natsSubscription *sub = NULL;
    jsCtx *js = NULL;
    long long total, got = 0, last = -1;
    double t0, t_read, t_done, c0, c1, last_change;
    pid_t pid;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--collector"))
            coll = argv[i + 1];
        else if (!strcmp(argv[i], "--nats"))
            url = argv[i + 1];
        else if (!strcmp(argv[i], "--feeds"))
            nfeeds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--lines"))
            lines = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--transport"))
            transport = argv[i + 1];
    }
    if (coll == NULL || nfeeds < 1 || nfeeds > MAX_FEEDS || lines < 1) {
        fprintf(stderr, "usage: bench_collector --collector PATH --nats URL [--feeds N] "
                        "[--lines M] [--transport jetstream|core]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    snprintf(prefix, sizeof(prefix), "bench%d%c%d", nfeeds, transport[0], (int)getpid());
    snprintf(stream, sizeof(stream), "BENCH%d%c%d_TICKS", nfeeds, transport[0] - 32, (int)getpid());
    for (int i = 0; i < nfeeds; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t al = sizeof(a);
        feeds[i].lfd = socket(AF_INET, SOCK_STREAM, 0);
        if (bind(feeds[i].lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
            listen(feeds[i].lfd, 4) != 0)
            return perror("listen"), 1;
        getsockname(feeds[i].lfd, (struct sockaddr *)&a, &al);
        feeds[i].port = ntohs(a.sin_port);
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%sfeed%d=127.0.0.1:%d",
                 i ? "," : "", i + 1, feeds[i].port);
        build_lines(&feeds[i], lines, i);
    }
    total = (long long)nfeeds * lines;
    if (natsConnection_ConnectTo(&nc, url) != NATS_OK) return fprintf(stderr, "no NATS\n"), 1;
    if (transport[0] == 'c') {
        snprintf(subj, sizeof(subj), "%s.ticks.>", prefix);
        natsConnection_Subscribe(&sub, nc, subj, on_core, NULL);
        natsSubscription_SetPendingLimits(sub, -1, -1);
        natsConnection_Flush(nc);
    } else {
        natsConnection_JetStream(&js, nc, NULL);
    }
    pid = spawn(coll, url, transport, prefix, list);
    for (int i = 0; i < nfeeds; i++) feeds[i].fd = accept(feeds[i].lfd, NULL, NULL);
    if (js) /* the collector creates its stream before it opens feeds */
        while (stream_msgs(js, stream) < 0) usleep(10000);
    c0 = cpu_s(pid);
    t0 = now_s();
    for (int i = 0; i < nfeeds; i++) pthread_create(&feeds[i].th, NULL, writer, &feeds[i]);
    for (int i = 0; i < nfeeds; i++) pthread_join(feeds[i].th, NULL);
    t_read = now_s();
    last_change = t_read;
    for (;;) {
        got = js ? stream_msgs(js, stream) : atomic_load(&core_count);
        if (got != last) last = got, last_change = now_s();
        if (got >= total || now_s() - last_change > 5) break;
        usleep(js ? 20000 : 5000);
    }
    t_done = (got >= total) ? now_s() : last_change;
    c1 = cpu_s(pid);
    printf("feeds=%d transport=%s lines=%lld read: %.0f lines/s  on bus: %lld ticks, %.0f "
           "ticks/s  collector CPU: %.2f s per million ticks\n",
           nfeeds, transport, total, (double)total / (t_read - t0), got,
           (double)got / (t_done - t0), (c1 - c0) / ((double)(got > 0 ? got : 1) / 1e6));
    fflush(stdout);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    if (js) js_DeleteStream(js, stream, NULL, NULL);
    natsSubscription_Destroy(sub);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    for (int i = 0; i < nfeeds; i++) close(feeds[i].fd), close(feeds[i].lfd), free(feeds[i].buf);
    return got >= total ? 0 : 1;
}
