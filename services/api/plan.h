/* plan.h: which store answers which part of a period (docs/design.md section 7).
 *
 * Semantics (docs/api.md): the answer covers buckets whose start lies in [from, to).
 *   to   = now - settle, aligned down to the second (the newest second whose 1 s buckets
 *          are complete: aggregator grace + persister flush);
 *   from = to - period.
 * A period that fits in the cache (from >= now - retention + margin) is read from Redis at
 * 1 s granularity. A longer one reads PostgreSQL minute rows for [from', m) and Redis 1 s
 * buckets for [m, to), where m = to aligned down to the minute and from' = from aligned down
 * to the minute (minute rows cannot be split). When Redis is down, PostgreSQL answers alone
 * with both ends aligned to minutes; so does it when the retention is so short (under 70 s)
 * that m itself lies below what Redis still holds (now - retention + margin). When
 * PostgreSQL is down, only periods inside the cache are answered. Pure code. */
#ifndef API_PLAN_H
#define API_PLAN_H

#include <stddef.h>
#include <stdint.h>

#define API_SETTLE_MS_DEFAULT 2000
#define API_RETENTION_MARGIN_MS 10000 /* Redis trims near the edge: keep clear of it */

typedef struct api_plan {
    int64_t from, to;             /* the window answered */
    int64_t redis_from, redis_to; /* empty when redis_from == redis_to */
    int64_t pg_from, pg_to;       /* empty when equal */
    const char *source;           /* "redis", "postgres", "redis+postgres" */
} api_plan;

typedef struct api_plan_in {
    int64_t now_ms;
    int64_t period_ms;
    int64_t settle_ms;
    int64_t retention_ms;
    int redis_up;
    int pg_up;
} api_plan_in;

/* Returns 0 with a plan, or -1 (503) after writing why into err. */
int api_plan_make(const api_plan_in *in, api_plan *out, char *err, size_t errlen);

/* Floor division for ms alignment (correct for negatives). */
int64_t api_floor_to(int64_t t, int64_t unit);

#endif
