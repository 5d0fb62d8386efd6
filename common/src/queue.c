/* queue.c: bounded MPMC ring of pointers, one mutex and two condition variables on the
 * monotonic clock. */
#include "mf/queue.h"

#include <errno.h>
#include <stdlib.h>
#include <pthread.h>
#include <time.h>

#include "mf/util.h"

struct mf_queue {
    pthread_mutex_t mu;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    void **items;
    size_t cap, head, len;
    int closed;
};

mf_status mf_queue_create(mf_queue **out, size_t capacity) {
    pthread_condattr_t ca;
    mf_queue *q;
    if (out == NULL || capacity == 0) return MF_ERR_INVALID_ARG;
    q = mf_xcalloc(1, sizeof(*q));
    q->items = mf_xcalloc(capacity, sizeof(void *));
    q->cap = capacity;
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->not_empty, &ca);
    pthread_cond_init(&q->not_full, &ca);
    pthread_condattr_destroy(&ca);
    *out = q;
    return MF_OK;
}

void mf_queue_destroy(mf_queue *q) {
    if (q == NULL) return;
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    free(q->items);
    free(q);
}

static void deadline_in(struct timespec *ts, int timeout_ms) {
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

/* Waits on cv while `cond` is false. Returns 0, or ETIMEDOUT. Caller holds q->mu. */
static int
wait_until(mf_queue *q, pthread_cond_t *cv, int (*ready)(const mf_queue *), int timeout_ms) {
    struct timespec dl;
    if (timeout_ms > 0) deadline_in(&dl, timeout_ms);
    while (!ready(q)) {
        if (timeout_ms == 0) return ETIMEDOUT;
        if (timeout_ms < 0) {
            pthread_cond_wait(cv, &q->mu);
        } else if (pthread_cond_timedwait(cv, &q->mu, &dl) == ETIMEDOUT) {
            return ready(q) ? 0 : ETIMEDOUT;
        }
    }
    return 0;
}

static int can_push(const mf_queue *q) {
    return q->closed || q->len < q->cap;
}

static int can_pop(const mf_queue *q) {
    return q->closed || q->len > 0;
}

mf_status mf_queue_push(mf_queue *q, void *item, int timeout_ms) {
    mf_status s = MF_OK;
    pthread_mutex_lock(&q->mu);
    if (wait_until(q, &q->not_full, can_push, timeout_ms) != 0) {
        s = MF_ERR_TIMEOUT;
    } else if (q->closed) {
        s = MF_ERR_CLOSED;
    } else {
        q->items[(q->head + q->len) % q->cap] = item;
        q->len++;
        pthread_cond_signal(&q->not_empty);
    }
    pthread_mutex_unlock(&q->mu);
    return s;
}

mf_status mf_queue_pop_many(mf_queue *q, void **items, size_t max, size_t *n, int timeout_ms) {
    mf_status s = MF_OK;
    *n = 0;
    if (max == 0) return MF_ERR_INVALID_ARG;
    pthread_mutex_lock(&q->mu);
    if (wait_until(q, &q->not_empty, can_pop, timeout_ms) != 0) {
        s = MF_ERR_TIMEOUT;
    } else if (q->len == 0) {
        s = MF_ERR_CLOSED; /* closed and drained */
    } else {
        while (*n < max && q->len > 0) {
            items[(*n)++] = q->items[q->head];
            q->head = (q->head + 1) % q->cap;
            q->len--;
        }
        if (*n == 1)
            pthread_cond_signal(&q->not_full);
        else
            pthread_cond_broadcast(&q->not_full);
    }
    pthread_mutex_unlock(&q->mu);
    return s;
}

mf_status mf_queue_pop(mf_queue *q, void **item, int timeout_ms) {
    size_t n;
    return mf_queue_pop_many(q, item, 1, &n, timeout_ms);
}

void mf_queue_close(mf_queue *q) {
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
}

size_t mf_queue_len(mf_queue *q) {
    size_t n;
    pthread_mutex_lock(&q->mu);
    n = q->len;
    pthread_mutex_unlock(&q->mu);
    return n;
}

size_t mf_queue_capacity(const mf_queue *q) {
    return q->cap;
}
