/* pool.c: connection pool with backoff (see pool.h). */
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "mf/db_conn.h"
#include "mf/log.h"
#include "mf/util.h"

struct api_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int size;
    int nfree;         /* free slots (connected or not) */
    void **free;       /* stack of free connections; NULL = an empty slot */
    mf_db_retry retry; /* reconnect pacing (mf/db_conn.h) */
    api_pool_connect_fn connect;
    api_pool_close_fn close;
    void *ctx;
    const char *name;
};

api_pool *api_pool_create(int size,
                          api_pool_connect_fn connect,
                          api_pool_close_fn close,
                          void *ctx,
                          const char *name) {
    pthread_condattr_t ca;
    api_pool *p = mf_xcalloc(1, sizeof(*p));
    p->size = p->nfree = size > 0 ? size : 1;
    p->free = mf_xcalloc((size_t)p->size, sizeof(void *));
    p->connect = connect;
    p->close = close;
    p->ctx = ctx;
    p->name = name;
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    return p;
}

void api_pool_destroy(api_pool *p) {
    if (p == NULL) return;
    for (int i = 0; i < p->nfree; i++)
        if (p->free[i]) p->close(p->free[i]);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->free);
    free(p);
}

int api_pool_up(api_pool *p) {
    int up;
    pthread_mutex_lock(&p->mu);
    up = mf_db_retry_due(&p->retry, mf_mono_ms());
    pthread_mutex_unlock(&p->mu);
    return up;
}

static int wait_free(api_pool *p, int wait_ms) {
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += wait_ms / 1000;
    dl.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) dl.tv_sec++, dl.tv_nsec -= 1000000000L;
    while (p->nfree == 0)
        if (pthread_cond_timedwait(&p->cv, &p->mu, &dl) != 0) return p->nfree > 0;
    return 1;
}

/* Returns an empty slot to the pool (after a failed connect). */
static void give_back_empty(api_pool *p, int failed) {
    pthread_mutex_lock(&p->mu);
    p->free[p->nfree++] = NULL;
    if (failed) mf_db_retry_failed(&p->retry, mf_mono_ms());
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

mf_status api_pool_get(api_pool *p, void **conn, int wait_ms) {
    void *c;
    pthread_mutex_lock(&p->mu);
    if (!wait_free(p, wait_ms)) {
        pthread_mutex_unlock(&p->mu);
        return MF_ERR_TIMEOUT;
    }
    for (int i = p->nfree - 1; i >= 0; i--) { /* prefer a live connection */
        if (p->free[i] == NULL) continue;
        c = p->free[i];
        p->free[i] = p->free[p->nfree - 1];
        p->free[p->nfree - 1] = c;
        break;
    }
    c = p->free[--p->nfree];
    if (c == NULL && !mf_db_retry_due(&p->retry, mf_mono_ms())) {
        p->free[p->nfree++] = NULL; /* backing off: fail fast */
        pthread_mutex_unlock(&p->mu);
        return MF_ERR_DB;
    }
    pthread_mutex_unlock(&p->mu);
    if (c == NULL) {
        c = p->connect(p->ctx);
        if (c == NULL) {
            give_back_empty(p, 1);
            return MF_ERR_DB;
        }
        int failures;
        pthread_mutex_lock(&p->mu);
        failures = mf_db_retry_ok(&p->retry);
        pthread_mutex_unlock(&p->mu);
        if (failures > 0) mf_log(MF_LOG_INFO, "%s reachable again", p->name);
    }
    *conn = c;
    return MF_OK;
}

void api_pool_put(api_pool *p, void *conn, int broken) {
    if (broken && conn) {
        p->close(conn);
        conn = NULL;
    }
    pthread_mutex_lock(&p->mu);
    p->free[p->nfree++] = conn;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}
