/* queue.h: bounded MPMC queue of pointers (mutex + two condition variables, monotonic
 * clock for timed waits).
 *
 * The queue never owns items: whoever pops one owns it. Thread-safe. */
#ifndef MF_QUEUE_H
#define MF_QUEUE_H

#include <stddef.h>

#include "mf/status.h"

typedef struct mf_queue mf_queue;

/* Creates a queue holding at most `capacity` (> 0) items. */
mf_status mf_queue_create(mf_queue **out, size_t capacity);
/* Frees the queue (accepts NULL). Only once every user stopped; items left are not freed. */
void mf_queue_destroy(mf_queue *q);
/* Pushes; waits up to timeout_ms when full (0 = don't wait, <0 = forever).
 * MF_ERR_TIMEOUT when still full, MF_ERR_CLOSED after close (the item stays the caller's). */
mf_status mf_queue_push(mf_queue *q, void *item, int timeout_ms);
/* Pops; waits up to timeout_ms when empty (0 = don't wait, <0 = forever). MF_ERR_TIMEOUT, or
 * MF_ERR_CLOSED only once closed *and* empty, so consumers drain accepted work. */
mf_status mf_queue_pop(mf_queue *q, void **item, int timeout_ms);
/* Pops up to `max` items at once (at least one unless it fails as mf_queue_pop). */
mf_status mf_queue_pop_many(mf_queue *q, void **items, size_t max, size_t *n, int timeout_ms);
/* Wakes every waiter; later pushes fail. Idempotent. */
void mf_queue_close(mf_queue *q);
size_t mf_queue_len(mf_queue *q);
size_t mf_queue_capacity(const mf_queue *q);

#endif
