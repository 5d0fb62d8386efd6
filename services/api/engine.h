/* engine.h: the answers of the price routes, independent of HTTP.
 *
 * Given a parsed route, the engine resolves the exchange against the known set, parses the
 * period, plans which store reads what (plan.h), reads the stores through the price-store
 * port (store.h) and the bus latest map, merges exactly (agg.h) and builds the JSON answer
 * or the JSON error with its HTTP status. Stores that fail mid-request are marked down for
 * that request and the plan is made again, so a Redis outage turns into a PostgreSQL answer
 * (and says so in "source") rather than an error.
 *
 * Period routes can go through an answer cache (cache.h) keyed by (route kind, exchange
 * asked for, generation of the known-exchange set, symbol, period, `to`): an answer is
 * computed at most once per second per key; see api_engine_answer_text.
 *
 * Thread-safe: the known-exchange set has its own rwlock; stores, the map and the cache are
 * thread-safe. */
#ifndef API_ENGINE_H
#define API_ENGINE_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include "cache.h"
#include "latest_map.h"
#include "router.h"
#include "store.h"

typedef struct api_engine {
    api_store *redis;       /* borrowed; may be NULL (treated as down) */
    api_store *pg;          /* borrowed; may be NULL */
    api_latest_map *latest; /* borrowed; may be NULL */
    api_cache *cache;       /* borrowed; may be NULL (no caching); set after init */
    int64_t settle_ms;
    int64_t retention_ms;
    pthread_rwlock_t lock; /* guards known and known_gen */
    api_names known;
    uint64_t known_gen; /* bumped when the known set changes (as a set) */
} api_engine;

void api_engine_init(api_engine *e,
                     api_store *redis,
                     api_store *pg,
                     api_latest_map *latest,
                     int64_t settle_ms,
                     int64_t retention_ms);
void api_engine_cleanup(api_engine *e);

/* Replaces the known exchange set (copied). */
void api_engine_set_known(api_engine *e, const api_names *known);
void api_engine_known(api_engine *e, api_names *out);

/* Answers a price route (latest, highest, lowest, average). `period` is the raw query value
 * (NULL when absent). Returns the HTTP status; *body is a new reference: the answer, or
 * {"error": "..."}. */
int api_engine_answer(api_engine *e,
                      const api_route *rt,
                      const char *period,
                      int64_t now_ms,
                      json_t **body);

/* Same answer serialized as compact JSON with 17 significant digits (*text malloc'd,
 * NUL-terminated, *len bytes). Highest/lowest/average answers with status 200 or 404 are
 * cached per key and second when e->cache is set (concurrent misses of one key wait for one
 * computation); errors 400/503 are never cached. Returns the HTTP status. */
int api_engine_answer_text(api_engine *e,
                           const api_route *rt,
                           const char *period,
                           int64_t now_ms,
                           char **text,
                           size_t *len);

/* {"error": msg} (new reference). */
json_t *api_error_json(const char *msg);

#endif
