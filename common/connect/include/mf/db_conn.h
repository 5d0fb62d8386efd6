/* db_conn.h: the connection policy every database connection of marketflow follows
 * (PostgreSQL: pg_conn.h, Redis: redis_conn.h), documented in docs/configuration.md.
 *
 *   connect        MF_DB_CONNECT_TIMEOUT_S for TCP connect plus handshake (and AUTH)
 *   Redis replies  MF_DB_REPLY_TIMEOUT_MS per command, then the context is broken
 *   TCP keepalive  idle MF_DB_KEEPALIVE_IDLE_S, probes every MF_DB_KEEPALIVE_INTERVAL_S,
 *                  MF_DB_KEEPALIVE_COUNT unanswered probes drop the connection (a peer that
 *                  vanished without a FIN is noticed within about 30 s)
 *   reconnect      after a failed connect, the next attempt waits MF_DB_RETRY_BASE_MS
 *                  doubling per failure up to MF_DB_RETRY_CAP_MS (+-20% jitter): a dead
 *                  server costs one attempt per wait, callers fail fast in between. */
#ifndef MF_DB_CONN_H
#define MF_DB_CONN_H

#include <stdint.h>

#define MF_DB_CONNECT_TIMEOUT_S 2 /* libpq's smallest connect_timeout */
#define MF_DB_REPLY_TIMEOUT_MS 2000
#define MF_DB_KEEPALIVE_IDLE_S 15 /* hiredis 0.14 fixes 15 s, probes every 5 s, 3 probes */
#define MF_DB_KEEPALIVE_INTERVAL_S 5
#define MF_DB_KEEPALIVE_COUNT 3
#define MF_DB_RETRY_BASE_MS 250
#define MF_DB_RETRY_CAP_MS 2000

/* Reconnect pacing of one connection (or pool). Plain data, zero-initialised = connect now;
 * the owner serialises access. */
typedef struct mf_db_retry {
    int failures;     /* consecutive failed connects */
    int64_t retry_at; /* monotonic ms before which no connect is tried */
} mf_db_retry;

/* 1 when a connect may be tried at `now_mono` (mf_mono_ms), 0 while backing off. */
int mf_db_retry_due(const mf_db_retry *r, int64_t now_mono);
/* Records a failed connect and schedules the next attempt. */
void mf_db_retry_failed(mf_db_retry *r, int64_t now_mono);
/* Records a successful connect. Returns how many failures preceded it (for a "reachable
 * again" log line). */
int mf_db_retry_ok(mf_db_retry *r);

#endif
