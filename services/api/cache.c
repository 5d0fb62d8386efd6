/* cache.c: per-second generation answer cache with single flight (see cache.h). */
#include "cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mf/util.h"

#define WAIT_MAX_S 30 /* safety net: a waiter never waits longer than this for a leader */

typedef struct entry {
    struct entry *next;
    char key[API_CACHE_KEY_MAX];
    int pending; /* 1 while the leader computes */
    int status;
    char *body;
    size_t len;
} entry;

struct api_cache {
    pthread_mutex_t mu;
    pthread_cond_t done; /* broadcast on fill, abandon and generation swap */
    entry **slots;
    size_t nslots; /* power of two */
    int max_entries;
    int entries;
    int64_t gen;
    api_cache_stats st;
};

static size_t hash_key(const char *s) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)h;
}

api_cache *api_cache_create(int max_entries) {
    api_cache *c = mf_xcalloc(1, sizeof(*c));
    pthread_condattr_t ca;
    if (max_entries < 1) max_entries = API_CACHE_MAX_ENTRIES_DEFAULT;
    c->max_entries = max_entries;
    for (c->nslots = 16; c->nslots < (size_t)max_entries; c->nslots *= 2) {
    }
    c->slots = mf_xcalloc(c->nslots, sizeof(*c->slots));
    c->gen = INT64_MIN;
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->done, &ca);
    pthread_condattr_destroy(&ca);
    return c;
}

static void clear_locked(api_cache *c) {
    for (size_t i = 0; i < c->nslots; i++) {
        entry *e = c->slots[i];
        while (e) {
            entry *n = e->next;
            free(e->body);
            free(e);
            e = n;
        }
        c->slots[i] = NULL;
    }
    c->entries = 0;
}

void api_cache_destroy(api_cache *c) {
    if (c == NULL) return;
    clear_locked(c);
    free(c->slots);
    pthread_cond_destroy(&c->done);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static entry **find_locked(api_cache *c, const char *key) {
    entry **p = &c->slots[hash_key(key) & (c->nslots - 1)];
    while (*p && strcmp((*p)->key, key) != 0) p = &(*p)->next;
    return p;
}

static void copy_out(const entry *e, int *status, char **body, size_t *len) {
    *status = e->status;
    *len = e->len;
    *body = mf_xmalloc(e->len + 1);
    memcpy(*body, e->body, e->len);
    (*body)[e->len] = '\0';
}

/* Waits for the leader of `key` in generation `gen`. HIT or BYPASS. */
static api_cache_result
wait_leader(api_cache *c, const char *key, int64_t gen, int *status, char **body, size_t *len) {
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += WAIT_MAX_S;
    c->st.waits++;
    for (;;) {
        entry *e = c->gen == gen ? *find_locked(c, key) : NULL;
        if (e == NULL) break; /* abandoned, or the generation moved on */
        if (!e->pending) {
            copy_out(e, status, body, len);
            c->st.hits++;
            return API_CACHE_HIT;
        }
        if (pthread_cond_timedwait(&c->done, &c->mu, &dl) == ETIMEDOUT) break;
    }
    c->st.bypasses++;
    return API_CACHE_BYPASS;
}

api_cache_result
api_cache_get(api_cache *c, const char *key, int64_t gen, int *status, char **body, size_t *len) {
    api_cache_result r;
    entry **p, *e;
    if (strlen(key) >= API_CACHE_KEY_MAX) return API_CACHE_BYPASS;
    pthread_mutex_lock(&c->mu);
    if (gen > c->gen) {
        clear_locked(c);
        c->gen = gen;
        c->st.swaps++;
        pthread_cond_broadcast(&c->done); /* waiters of the old generation give up */
    }
    if (gen < c->gen) {
        c->st.bypasses++;
        r = API_CACHE_BYPASS;
    } else if ((e = *(p = find_locked(c, key))) != NULL) {
        if (e->pending) {
            r = wait_leader(c, key, gen, status, body, len); /* e may be freed meanwhile */
        } else {
            copy_out(e, status, body, len);
            c->st.hits++;
            r = API_CACHE_HIT;
        }
    } else if (c->entries >= c->max_entries) {
        c->st.bypasses++;
        r = API_CACHE_BYPASS;
    } else {
        e = mf_xcalloc(1, sizeof(*e));
        mf_strlcpy(e->key, key, sizeof(e->key));
        e->pending = 1;
        *p = e;
        c->entries++;
        c->st.misses++;
        r = API_CACHE_LEADER;
    }
    pthread_mutex_unlock(&c->mu);
    return r;
}

void api_cache_fill(api_cache *c,
                    const char *key,
                    int64_t gen,
                    int status,
                    const char *body,
                    size_t len) {
    entry *e;
    pthread_mutex_lock(&c->mu);
    if (c->gen == gen && (e = *find_locked(c, key)) != NULL && e->pending) {
        e->body = mf_xmalloc(len + 1);
        memcpy(e->body, body, len);
        e->body[len] = '\0';
        e->len = len;
        e->status = status;
        e->pending = 0;
    }
    pthread_cond_broadcast(&c->done);
    pthread_mutex_unlock(&c->mu);
}

void api_cache_abandon(api_cache *c, const char *key, int64_t gen) {
    entry **p, *e;
    pthread_mutex_lock(&c->mu);
    if (c->gen == gen && (e = *(p = find_locked(c, key))) != NULL && e->pending) {
        *p = e->next;
        free(e);
        c->entries--;
    }
    pthread_cond_broadcast(&c->done);
    pthread_mutex_unlock(&c->mu);
}

void api_cache_stats_get(api_cache *c, api_cache_stats *out) {
    pthread_mutex_lock(&c->mu);
    *out = c->st;
    out->entries = c->entries;
    out->gen = c->gen;
    pthread_mutex_unlock(&c->mu);
}
