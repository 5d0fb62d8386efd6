/* latest_map.c: hash of the latest prices, chained by symbol. */
#include "latest_map.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mf/status.h"
#include "mf/tick.h"
#include "mf/util.h"

#define NBUCKETS 1024

typedef struct entry {
    struct entry *next;
    api_latest v;
} entry;

struct api_latest_map {
    pthread_rwlock_t lock;
    entry *b[NBUCKETS];
    int64_t newest;
};

static unsigned hash_sym(const char *s) {
    unsigned h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h % NBUCKETS;
}

api_latest_map *api_latest_map_create(void) {
    api_latest_map *m = mf_xcalloc(1, sizeof(*m));
    pthread_rwlock_init(&m->lock, NULL);
    return m;
}

void api_latest_map_destroy(api_latest_map *m) {
    if (m == NULL) return;
    for (int i = 0; i < NBUCKETS; i++) {
        entry *e = m->b[i];
        while (e) {
            entry *n = e->next;
            free(e);
            e = n;
        }
    }
    pthread_rwlock_destroy(&m->lock);
    free(m);
}

void api_latest_map_put(api_latest_map *m,
                        const char *exchange,
                        const char *symbol,
                        double price,
                        int64_t ts) {
    unsigned h = hash_sym(symbol);
    entry *e;
    pthread_rwlock_wrlock(&m->lock);
    for (e = m->b[h]; e; e = e->next)
        if (strcmp(e->v.symbol, symbol) == 0 && strcmp(e->v.exchange, exchange) == 0) break;
    if (e == NULL) {
        e = mf_xcalloc(1, sizeof(*e));
        mf_strlcpy(e->v.exchange, exchange, sizeof(e->v.exchange));
        mf_strlcpy(e->v.symbol, symbol, sizeof(e->v.symbol));
        e->v.ts = INT64_MIN;
        e->next = m->b[h];
        m->b[h] = e;
    }
    if (ts > e->v.ts) {
        e->v.ts = ts;
        e->v.price = price;
    }
    if (ts > m->newest) m->newest = ts;
    pthread_rwlock_unlock(&m->lock);
}

int api_latest_map_put_json(api_latest_map *m, const char *data, size_t len) {
    mf_tick t;
    if (mf_tick_from_json(data, len, &t) != MF_OK) return MF_ERR_PARSE;
    api_latest_map_put(m, t.exchange, t.symbol, t.price, t.ts);
    return MF_OK;
}

static int better(const api_latest *a, const api_latest *best, int found) {
    if (!found) return 1;
    if (a->ts != best->ts) return a->ts > best->ts;
    return strcmp(a->exchange, best->exchange) < 0;
}

int api_latest_map_get(api_latest_map *m,
                       const char *symbol,
                       const api_names *exchanges,
                       api_latest *out) {
    int found = 0;
    pthread_rwlock_rdlock(&m->lock);
    for (entry *e = m->b[hash_sym(symbol)]; e; e = e->next) {
        if (strcmp(e->v.symbol, symbol) != 0) continue;
        if (api_names_find(exchanges, e->v.exchange) < 0) continue;
        if (better(&e->v, out, found)) {
            *out = e->v;
            found = 1;
        }
    }
    pthread_rwlock_unlock(&m->lock);
    return found;
}

int64_t api_latest_map_newest(api_latest_map *m) {
    int64_t v;
    pthread_rwlock_rdlock(&m->lock);
    v = m->newest;
    pthread_rwlock_unlock(&m->lock);
    return v;
}

void api_latest_map_exchanges(api_latest_map *m, api_names *out) {
    pthread_rwlock_rdlock(&m->lock);
    for (int i = 0; i < NBUCKETS; i++)
        for (entry *e = m->b[i]; e; e = e->next) api_names_add(out, e->v.exchange);
    pthread_rwlock_unlock(&m->lock);
}
