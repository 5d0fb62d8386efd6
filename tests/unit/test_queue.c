/* Unit tests of queue.c: several producers and consumers, every item exactly once;
 * timeouts; close drains accepted work. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "mf/queue.h"
#include "mf/util.h"

enum { PRODUCERS = 4, CONSUMERS = 4, PER_PRODUCER = 50000 };

typedef struct shared {
    mf_queue *q;
    int id;
    atomic_int *seen; /* seen[item] counts deliveries */
    atomic_llong *popped;
} shared;

static void *producer(void *arg) {
    shared *s = arg;
    for (intptr_t i = 0; i < PER_PRODUCER; i++) {
        intptr_t item = (intptr_t)s->id * PER_PRODUCER + i + 1; /* never NULL */
        assert_int_equal(mf_queue_push(s->q, (void *)item, -1), MF_OK);
    }
    return NULL;
}

static void *consumer(void *arg) {
    shared *s = arg;
    void *batch[16];
    size_t n;
    for (;;) {
        mf_status st = mf_queue_pop_many(s->q, batch, 1 + (size_t)s->id * 5, &n, -1);
        if (st == MF_ERR_CLOSED) break;
        assert_int_equal(st, MF_OK);
        for (size_t i = 0; i < n; i++) {
            intptr_t item = (intptr_t)batch[i];
            atomic_fetch_add(&s->seen[item - 1], 1);
            atomic_fetch_add(s->popped, 1);
        }
    }
    return NULL;
}

static void test_mpmc_exactly_once(void **state) {
    pthread_t prod[PRODUCERS], cons[CONSUMERS];
    shared ps[PRODUCERS], cs[CONSUMERS];
    atomic_int *seen = calloc(PRODUCERS * PER_PRODUCER, sizeof(atomic_int));
    atomic_llong popped = 0;
    mf_queue *q;
    (void)state;
    assert_int_equal(mf_queue_create(&q, 64), MF_OK); /* small: forces blocking both ways */
    for (int i = 0; i < CONSUMERS; i++) {
        cs[i] = (shared){q, i, seen, &popped};
        pthread_create(&cons[i], NULL, consumer, &cs[i]);
    }
    for (int i = 0; i < PRODUCERS; i++) {
        ps[i] = (shared){q, i, seen, &popped};
        pthread_create(&prod[i], NULL, producer, &ps[i]);
    }
    for (int i = 0; i < PRODUCERS; i++) pthread_join(prod[i], NULL);
    mf_queue_close(q);
    for (int i = 0; i < CONSUMERS; i++) pthread_join(cons[i], NULL);
    assert_int_equal(atomic_load(&popped), PRODUCERS * PER_PRODUCER);
    for (int i = 0; i < PRODUCERS * PER_PRODUCER; i++) assert_int_equal(atomic_load(&seen[i]), 1);
    assert_int_equal(mf_queue_len(q), 0);
    mf_queue_destroy(q);
    free(seen);
}

static void test_timeouts_and_close(void **state) {
    mf_queue *q;
    void *item = NULL;
    int64_t t0;
    (void)state;
    assert_int_equal(mf_queue_create(&q, 2), MF_OK);
    assert_int_equal(mf_queue_capacity(q), 2);
    assert_int_equal(mf_queue_pop(q, &item, 0), MF_ERR_TIMEOUT);
    t0 = mf_mono_ms();
    assert_int_equal(mf_queue_pop(q, &item, 50), MF_ERR_TIMEOUT);
    assert_true(mf_mono_ms() - t0 >= 45);
    assert_int_equal(mf_queue_push(q, (void *)1, 0), MF_OK);
    assert_int_equal(mf_queue_push(q, (void *)2, 0), MF_OK);
    assert_int_equal(mf_queue_push(q, (void *)3, 0), MF_ERR_TIMEOUT);
    assert_int_equal(mf_queue_push(q, (void *)3, 20), MF_ERR_TIMEOUT);
    mf_queue_close(q);
    mf_queue_close(q); /* idempotent */
    assert_int_equal(mf_queue_push(q, (void *)3, 0), MF_ERR_CLOSED);
    /* Accepted work is still delivered after close, in order, then CLOSED. */
    assert_int_equal(mf_queue_pop(q, &item, -1), MF_OK);
    assert_ptr_equal(item, (void *)1);
    assert_int_equal(mf_queue_pop(q, &item, -1), MF_OK);
    assert_ptr_equal(item, (void *)2);
    assert_int_equal(mf_queue_pop(q, &item, -1), MF_ERR_CLOSED);
    mf_queue_destroy(q);
    mf_queue_destroy(NULL);
    assert_int_equal(mf_queue_create(&q, 0), MF_ERR_INVALID_ARG);
}

static void *close_later(void *arg) {
    mf_sleep_ms(50);
    mf_queue_close(arg);
    return NULL;
}

static void test_close_wakes_waiters(void **state) {
    mf_queue *q;
    pthread_t th;
    void *item;
    (void)state;
    mf_queue_create(&q, 1);
    pthread_create(&th, NULL, close_later, q);
    assert_int_equal(mf_queue_pop(q, &item, -1), MF_ERR_CLOSED); /* would block forever */
    pthread_join(th, NULL);
    mf_queue_destroy(q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mpmc_exactly_once),
        cmocka_unit_test(test_timeouts_and_close),
        cmocka_unit_test(test_close_wakes_waiters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
