/* nats_util.h: one NATS connection per service, with the JetStream context and the streams
 * of the bus contract (docs/design.md section 4).
 *
 * Connecting retries forever with capped backoff (250 ms doubling to 5 s) until connected or
 * a stop is requested; afterwards nats.c reconnects by itself without limit. Disconnects,
 * reconnects, async errors and closes are logged once each and counted. Subjects are built
 * under the configured prefix. The connection is thread-safe (nats.c); the mf_nats wrapper
 * is created and destroyed by main only. */
#ifndef MF_NATS_UTIL_H
#define MF_NATS_UTIL_H

#include <stdint.h>
#include <nats/nats.h>

#include "mf/config.h"
#include "mf/status.h"

typedef struct mf_nats mf_nats;

/* Connects (see above). `name` is the connection name shown by the server. MF_ERR_CLOSED
 * when a stop was requested before it connected; MF_ERR_CONFIG on bad options. */
mf_status mf_nats_connect(mf_nats **out, const mf_config *cfg, const char *name);
/* Same, with JetStream options of the caller's (async publish handlers, MaxPending, Wait);
 * `jo` is copied; NULL means the defaults (Wait 5 s, MaxPending collector.max_inflight). */
mf_status
mf_nats_connect_js(mf_nats **out, const mf_config *cfg, const char *name, const jsOptions *jo);
/* Drains subscriptions (bounded by timeout_ms), flushes, closes. Idempotent. */
void mf_nats_drain(mf_nats *n, int timeout_ms);
/* Closes and frees (accepts NULL). */
void mf_nats_destroy(mf_nats *n);

natsConnection *mf_nats_conn(mf_nats *n); /* borrowed */
jsCtx *mf_nats_js(mf_nats *n);            /* borrowed; NULL in transport=core */
int mf_nats_connected(mf_nats *n);        /* 1 while connected */
const char *mf_nats_prefix(const mf_nats *n);

/* Formats "<prefix>.<fmt...>" into buf. Returns 0, or -1 when it did not fit. */
int mf_nats_subject(const mf_nats *n, char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Stream names derive from the prefix: marketflow -> MARKETFLOW_TICKS, _ROLLUPS, _CONTROL.
 * Returns 0, or -1 when it did not fit. */
typedef enum mf_stream { MF_STREAM_TICKS, MF_STREAM_ROLLUPS, MF_STREAM_CONTROL } mf_stream;
int mf_nats_stream_name(const mf_nats *n, mf_stream s, char *buf, size_t size);

/* Creates or updates the stream with the settings of docs/design.md section 4 (idempotent, safe
 * when several services do it at once). Needs JetStream. */
mf_status mf_nats_ensure_stream(mf_nats *n, mf_stream s);

/* Reads the last message kept on `subject` in `stream` (the CONTROL mode, for instance).
 * On MF_OK *data is malloc'ed (caller frees) and *len set; MF_ERR_NOT_FOUND when none. */
mf_status mf_nats_last_msg(mf_nats *n, mf_stream s, const char *subject, char **data, int *len);

/* Logs a nats.c failure once with its text and last error; returns MF_ERR_NATS. */
mf_status mf_nats_fail(natsStatus ns, const char *what);

#endif
