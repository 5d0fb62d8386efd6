/* store.h: the "price store" port of the api (docs/design.md section 9: ports and adapters).
 *
 * Two adapters implement it: Redis (store_redis.c: merged 1 s buckets and the latest price)
 * and PostgreSQL (store_pg.c: minute rows of aggregated_prices). Handlers only see this
 * struct of function pointers, so the query logic is tested with fakes.
 *
 * Every function is safe to call from many threads at once (adapters keep a connection
 * pool). A store that failed to connect backs off (capped exponential): while it does,
 * up() returns 0 and calls fail fast with MF_ERR_DB instead of waiting on a dead server. */
#ifndef API_STORE_H
#define API_STORE_H

#include <stdint.h>

#include "agg.h"
#include "mf/status.h"
#include "mf/tick.h"
#include "mf/xsum.h"

#define API_MAX_EXCHANGES 64

typedef struct api_names {
    int n;
    char name[API_MAX_EXCHANGES][MF_NAME_MAX + 1];
} api_names;

typedef struct api_latest {
    char exchange[MF_NAME_MAX + 1];
    char symbol[MF_NAME_MAX + 1];
    double price;
    int64_t ts;
} api_latest;

typedef struct api_query {
    const char *symbol;         /* upper case */
    const api_names *exchanges; /* the exchanges to read (one, or every known one) */
    int all;                    /* 1 when the client asked for every exchange */
    int64_t from, to;           /* buckets with start in [from, to) */
} api_query;

typedef struct api_store api_store;
/* An adapter's functions; each takes the store (its adapter object is s->impl). */
typedef struct api_store_ops {
    const char *name; /* "redis" or "postgres" */
    /* 1 unless the adapter is backing off after a failed connect. Never blocks. */
    int (*up)(api_store *s);
    /* Live check (PING / SELECT 1), bounded by the adapter's timeouts. */
    mf_status (*ping)(api_store *s);
    /* Newest price over q->exchanges (from/to unused). MF_ERR_NOT_FOUND when none. */
    mf_status (*latest)(api_store *s, const api_query *q, api_latest *out);
    /* Merges the statistics of [from, to) into *out. `plus` (PostgreSQL only; may be NULL)
     * is an exact sum added in the database so that out->sum_final / sum_value hold the
     * correctly rounded total. MF_ERR_DB when the store failed. */
    mf_status (*range)(api_store *s, const api_query *q, const mf_xsum *plus, api_agg *out);
    /* Exchange names the store holds data for. */
    mf_status (*exchanges)(api_store *s, api_names *out);
    void (*destroy)(api_store *s); /* frees impl and s */
} api_store_ops;

/* A store: its adapter's ops table and object. */
struct api_store {
    const api_store_ops *ops;
    void *impl;
};

struct mf_config;
/* Adapters. Nothing connects at creation: connections are made on first use, through
 * mf/pg_conn.h and mf/redis_conn.h. `cfg` is borrowed and must outlive the store. */
api_store *api_store_redis_create(const struct mf_config *cfg, int pool_size);
api_store *api_store_pg_create(const struct mf_config *cfg, int pool_size);

/* Adds `name` to `set` unless present (case-insensitive). -1 when full. */
int api_names_add(api_names *set, const char *name);
/* Index of `name` in `set` (case-insensitive), or -1. */
int api_names_find(const api_names *set, const char *name);

#endif
