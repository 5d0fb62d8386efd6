/* acks.h: JetStream ack subjects of the ticks a 1 s partial covers, kept compactly.
 *
 * An ack subject ($JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>, ~90 B)
 * is stored as a one-byte id of its head (everything before the five numbers, interned in an
 * agg_ackheads table) and the five numbers as LEB128 varints: about 20 B. A subject of any
 * other shape (e.g. a trailing token, more heads than the table holds, non-canonical
 * numbers) is stored verbatim, so every subject comes back byte for byte.
 *
 * Plain data owned by one thread; the heads table is append-only and must outlive every
 * agg_acks that refers to it. */
#ifndef AGG_ACKS_H
#define AGG_ACKS_H

#include <stddef.h>
#include <stdint.h>

#define AGG_ACK_MAX 512 /* longest subject kept (longer ones are dropped: never seen) */

typedef struct agg_ackheads agg_ackheads;

typedef struct agg_acks {
    uint8_t *buf;
    uint32_t len, cap;
    uint32_t n; /* subjects held */
} agg_acks;

agg_ackheads *agg_ackheads_create(void);
void agg_ackheads_destroy(agg_ackheads *h); /* accepts NULL */

/* Appends `subject` (NUL-terminated, < AGG_ACK_MAX). `h` may be NULL: kept verbatim. */
void agg_acks_add(agg_acks *a, agg_ackheads *h, const char *subject);
/* Writes the subject at *pos into buf (AGG_ACK_MAX bytes) and advances *pos (start at 0).
 * Returns buf, or NULL after the last one. */
const char *agg_acks_next(const agg_acks *a, const agg_ackheads *h, size_t *pos, char *buf);
void agg_acks_free(agg_acks *a); /* leaves it empty and reusable */

#endif
