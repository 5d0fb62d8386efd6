/* pool.h: a small pool of connections (hiredis contexts, libpq connections) shared by the
 * HTTP threads, with reconnect on demand and capped exponential backoff (mf/db_conn.h).
 *
 * A slot holds a connection or NULL. api_pool_get() hands out a free slot, connecting it
 * first when empty, unless the pool is backing off after a failed connect: then it fails
 * at once (MF_ERR_DB) so that requests never wait on a dead server. api_pool_put() returns
 * the slot; with `broken` set the connection is closed (a later get reconnects). One mutex,
 * never held while connecting or doing I/O. Thread-safe. */
#ifndef API_POOL_H
#define API_POOL_H

#include <stdint.h>

#include "mf/status.h"

typedef struct api_pool api_pool;

/* Opens a connection; returns NULL on failure (after logging, rate-limited). */
typedef void *(*api_pool_connect_fn)(void *ctx);
typedef void (*api_pool_close_fn)(void *conn);

api_pool *api_pool_create(int size,
                          api_pool_connect_fn connect,
                          api_pool_close_fn close,
                          void *ctx,
                          const char *name);
void api_pool_destroy(api_pool *p); /* closes every connection; accepts NULL */

/* Gets a connection, waiting up to wait_ms for a free slot. MF_ERR_DB when backing off or
 * the connect failed, MF_ERR_TIMEOUT when every slot stayed busy. */
mf_status api_pool_get(api_pool *p, void **conn, int wait_ms);
void api_pool_put(api_pool *p, void *conn, int broken);
/* 0 while backing off after a failed connect, else 1. */
int api_pool_up(api_pool *p);

#endif
