/* bench_generator_reader: a fast feed reader for bench/generator_rate.sh.
 *
 *   bench_generator_reader SECONDS PORT [PORT...]
 *
 * Connects to 127.0.0.1:PORT for each PORT, reads everything for SECONDS (after a 0.5 s
 * warm-up that is not counted) with one epoll loop and 1 MiB reads, counts newlines, and
 * prints "lines=N seconds=S lines_per_s=R" (total over all connections). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int connect_port(int port) {
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        perror("connect");
        exit(1);
    }
    return fd;
}

static long long count_nl(const char *p, size_t n) {
    long long c = 0;
    const char *end = p + n;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        c++;
        p++;
    }
    return c;
}

int main(int argc, char **argv) {
    static char buf[1 << 20];
    double seconds, start, t0 = 0, end;
    long long lines = 0;
    int ep, counting = 0, open_fds;
    if (argc < 3) {
        fprintf(stderr, "usage: %s SECONDS PORT [PORT...]\n", argv[0]);
        return 2;
    }
    seconds = atof(argv[1]);
    ep = epoll_create1(0);
    for (int i = 2; i < argc; i++) {
        struct epoll_event ev = {.events = EPOLLIN};
        ev.data.fd = connect_port(atoi(argv[i]));
        epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
    }
    open_fds = argc - 2;
    start = now_s();
    end = start + 0.5 + seconds;
    while (open_fds > 0) {
        struct epoll_event evs[16];
        double t = now_s();
        int n;
        if (t >= end) break;
        if (!counting && t >= start + 0.5) {
            counting = 1;
            t0 = t;
            lines = 0;
        }
        n = epoll_wait(ep, evs, 16, 10);
        for (int i = 0; i < n; i++) {
            ssize_t r = read(evs[i].data.fd, buf, sizeof(buf));
            if (r <= 0) {
                close(evs[i].data.fd);
                open_fds--;
                continue;
            }
            lines += count_nl(buf, (size_t)r);
        }
    }
    printf("lines=%lld seconds=%.3f lines_per_s=%.0f\n", lines, now_s() - t0,
           (double)lines / (now_s() - t0));
    return 0;
}
