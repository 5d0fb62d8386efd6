/* sink_redis.h: the Redis adapter of the sink port (the cache; key layout in docs/persister.md).
 *
 * Each 1 s partial is merged by one Lua script (EVALSHA, reloaded on NOSCRIPT) that skips a
 * (producer, seq) already in the bucket's seen-set, merges with the rules of
 * common/src/rollup.c (exact two-sum expansion addition for sum_x, volume_x, notional_x),
 * sets the bucket's expiry, indexes and trims it. All scripts of a batch are pipelined.
 * Latest ticks are conflated in memory and written by a second script that only moves a
 * key forward in ts. After every (re)connection the adapter asks the core for a rebuild. */
#ifndef PERS_SINK_REDIS_H
#define PERS_SINK_REDIS_H

#include <stddef.h>

#include "mf/config.h"
#include "sink.h"

/* Creates the adapter (no connection yet). `cfg` is borrowed and must outlive the sink
 * (connections read it, mf/redis_conn.h). Caller destroys with sink->destroy(sink->impl),
 * then free(). */
mf_status pers_sink_redis_create(pers_sink **out, const mf_config *cfg);

/* The merge script and the latest script (Lua source), exposed for tests and docs. */
extern const char *pers_redis_merge_lua;
extern const char *pers_redis_latest_lua;

/* Formats an exact sum as the cache stores it: parts "%.17g" joined by ",", smallest
 * first, zero parts dropped ("" when zero). Returns the length or -1 when it did not fit. */
int pers_redis_xsum_str(const mf_xsum *s, char *buf, size_t size);

#endif
