/* plan.c: split a period between Redis (1 s buckets) and PostgreSQL (minute rows). */
#include "plan.h"

#include <stdio.h>
#include <string.h>

#define MINUTE_MS 60000

int64_t api_floor_to(int64_t t, int64_t unit) {
    int64_t q = t / unit;
    if (t % unit != 0 && t < 0) q--;
    return q * unit;
}

static void pg_only(const api_plan_in *in, int64_t to, api_plan *out) {
    out->to = api_floor_to(to, MINUTE_MS);
    out->from = api_floor_to(out->to - in->period_ms, MINUTE_MS);
    out->pg_from = out->from;
    out->pg_to = out->to;
    out->source = "postgres";
}

int api_plan_make(const api_plan_in *in, api_plan *out, char *err, size_t errlen) {
    int64_t to = api_floor_to(in->now_ms - in->settle_ms, 1000);
    int64_t cache_floor = in->now_ms - in->retention_ms + API_RETENTION_MARGIN_MS;
    int fits = to - in->period_ms >= cache_floor;
    memset(out, 0, sizeof(*out));
    if (fits && in->redis_up) {
        out->to = out->redis_to = to;
        out->from = out->redis_from = to - in->period_ms;
        out->source = "redis";
        return 0;
    }
    if (!in->pg_up) {
        if (fits)
            snprintf(err, errlen,
                     "neither the cache (Redis) nor the database (PostgreSQL) "
                     "is reachable; retry later");
        else
            snprintf(err, errlen,
                     "the database (PostgreSQL) is unreachable and periods longer than the "
                     "cache retention (%llds) need it; retry later or ask for a shorter period",
                     (long long)((in->retention_ms - API_RETENTION_MARGIN_MS) / 1000));
        return -1;
    }
    /* Redis down, or a retention so short that the newest (incomplete) minute already
     * starts below what Redis keeps: PostgreSQL alone, both ends on minutes. */
    if (!in->redis_up || api_floor_to(to, MINUTE_MS) < cache_floor) {
        pg_only(in, to, out);
        return 0;
    }
    out->to = out->redis_to = to;
    out->redis_from = out->pg_to = api_floor_to(to, MINUTE_MS);
    out->from = out->pg_from = api_floor_to(to - in->period_ms, MINUTE_MS);
    out->source = out->redis_from < out->redis_to ? "redis+postgres" : "postgres";
    return 0;
}
