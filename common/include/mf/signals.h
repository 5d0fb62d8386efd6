/* signals.h: process stop handling shared by every service.
 *
 * The first SIGINT/SIGTERM sets a flag that main loops poll (drain and exit 0); a second one
 * exits at once with status 1. SIGPIPE is ignored (sockets report EPIPE instead). The
 * handler only touches a sig_atomic_t: no logging, locks or malloc. */
#ifndef MF_SIGNALS_H
#define MF_SIGNALS_H

void mf_signals_install(void);
int mf_stop_requested(void); /* 1 once a stop was asked for */
void mf_request_stop(void);  /* asks for a stop from code (tests, fatal errors) */
/* Sleeps up to ms, waking early (within 50 ms) when a stop is requested. Returns 1 if so. */
int mf_wait_stop(int ms);

#endif
