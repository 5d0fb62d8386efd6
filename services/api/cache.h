/* cache.h: the answer cache of the period routes (highest, lowest, average).
 *
 * An answer covers [from, to) with `to` = now - settle aligned down to the second, so it
 * can only change when `to` moves (or when a late correction lands in a settled second,
 * which the persister's settle delay makes rare). The cache therefore holds the answers of
 * ONE generation: the current `to`. A lookup with a newer `to` empties the table and starts
 * the new generation (per-second generation swap); a lookup with an older `to` (a request
 * that read the clock just before the swap) bypasses the cache. Freshness bound: an answer
 * can miss at most one second of late corrections (those landing while its `to` is current).
 *
 * Entries are (key -> HTTP status + serialized body), copied out under the lock, so no
 * pointer into the table ever escapes. At most `max_entries` per generation: past that,
 * answers are computed and not stored.
 *
 * Single flight: the first request of a (key, generation) becomes the leader and computes;
 * the others wait for its answer instead of querying the stores themselves. A leader that
 * fails (api_cache_abandon) wakes its waiters, which then compute on their own.
 *
 * Thread-safe: one mutex (critical sections are a hash probe and a copy of a few hundred
 * bytes) and one condition variable for the waiters. */
#ifndef API_CACHE_H
#define API_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define API_CACHE_KEY_MAX 160
#define API_CACHE_MAX_ENTRIES_DEFAULT 4096

typedef struct api_cache api_cache;

typedef enum api_cache_result {
    API_CACHE_HIT,    /* *status, *body (malloc'd copy, NUL-terminated), *len filled */
    API_CACHE_LEADER, /* miss: the caller computes, then api_cache_fill or api_cache_abandon */
    API_CACHE_BYPASS  /* miss: compute and do not call fill/abandon (old generation, full
                         table, key too long, or the leader abandoned) */
} api_cache_result;

typedef struct api_cache_stats {
    int64_t hits, misses, waits, bypasses, swaps;
    int entries; /* in the current generation */
    int64_t gen; /* the current generation (`to`), INT64_MIN before the first */
} api_cache_stats;

api_cache *api_cache_create(int max_entries);
void api_cache_destroy(api_cache *c);

/* Looks `key` up in generation `gen`. On API_CACHE_LEADER the caller must call
 * api_cache_fill or api_cache_abandon with the same key and gen exactly once. */
api_cache_result
api_cache_get(api_cache *c, const char *key, int64_t gen, int *status, char **body, size_t *len);
/* Stores the leader's answer (copied) and wakes the waiters. */
void api_cache_fill(api_cache *c,
                    const char *key,
                    int64_t gen,
                    int status,
                    const char *body,
                    size_t len);
/* The leader could not answer (store failure): drops the pending entry, wakes the waiters. */
void api_cache_abandon(api_cache *c, const char *key, int64_t gen);

void api_cache_stats_get(api_cache *c, api_cache_stats *out);

#endif
