/* redis_conn.h: the one way marketflow opens a Redis connection (libmarketflow_redis; only
 * the persister and the api link it). Policy: mf/db_conn.h.
 *
 * Sequence: TCP connect within MF_DB_CONNECT_TIMEOUT_S, reply timeout
 * MF_DB_REPLY_TIMEOUT_MS, TCP keepalive, then AUTH when redis.password is set ("AUTH <user>
 * <password>" with redis.user for a Redis 6 ACL user, else "AUTH <password>"), then SELECT
 * redis.db when it is not 0. Commands are sent as argv, so no value is ever parsed as
 * command text. */
#ifndef MF_REDIS_CONN_H
#define MF_REDIS_CONN_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "mf/config.h"
#include "mf/status.h"

/* Connects. MF_OK and *out (caller redisFree-s), or MF_ERR_DB with *out NULL and err[errlen]
 * saying which step failed and why ("AUTH: WRONGPASS ..."; never the password). Logs
 * nothing: callers know whether a failure is news. */
mf_status mf_redis_connect(redisContext **out, const mf_config *cfg, char *err, size_t errlen);

#endif
