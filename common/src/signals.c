/* signals.c: first SIGINT/SIGTERM asks for a stop, a second exits at once. */
#include "mf/signals.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "mf/util.h"

static volatile sig_atomic_t g_stop = 0;

static void on_signal(int sig) {
    (void)sig;
    if (g_stop) _exit(1); /* "you insist": the second signal skips the drain */
    g_stop = 1;
}

void mf_signals_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

int mf_stop_requested(void) {
    return g_stop != 0;
}

void mf_request_stop(void) {
    g_stop = 1;
}

int mf_wait_stop(int ms) {
    int64_t end = mf_mono_ms() + ms;
    while (!g_stop) {
        int64_t left = end - mf_mono_ms();
        if (left <= 0) return 0;
        mf_sleep_ms(left < 50 ? left : 50);
    }
    return 1;
}
