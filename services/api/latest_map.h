/* latest_map.h: the newest price per (exchange, symbol), fed by a core NATS subscription to
 * <prefix>.latest.> (docs/design.md section 4), so /prices/latest answers from memory, and still
 * answers while Redis is down.
 *
 * One rwlock: the NATS delivery thread writes, HTTP threads read; prices only move forward
 * in ts. Thread-safe. */
#ifndef API_LATEST_MAP_H
#define API_LATEST_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

typedef struct api_latest_map api_latest_map;

api_latest_map *api_latest_map_create(void);
void api_latest_map_destroy(api_latest_map *m); /* accepts NULL */

/* Records a price unless an equal or newer ts is held for the key. */
void api_latest_map_put(api_latest_map *m,
                        const char *exchange,
                        const char *symbol,
                        double price,
                        int64_t ts);
/* Parses a latest message (tick JSON) and records it. MF_ERR_PARSE on bad input. */
int api_latest_map_put_json(api_latest_map *m, const char *data, size_t len);
/* Newest price of `symbol` over `exchanges` (ties to the smaller exchange name).
 * Returns 1 when found. */
int api_latest_map_get(api_latest_map *m,
                       const char *symbol,
                       const api_names *exchanges,
                       api_latest *out);
/* Greatest ts held (0 when empty), for the health data freshness. */
int64_t api_latest_map_newest(api_latest_map *m);
/* Adds every exchange seen to `out`. */
void api_latest_map_exchanges(api_latest_map *m, api_names *out);

#endif
