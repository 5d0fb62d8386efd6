/* acks.c: compact ack subjects (see acks.h).
 *
 * Entry layout: a tag byte, then
 *   tag < RAW: the head id; five LEB128 varints (delivered, sseq, dseq, ts, pending);
 *   tag == RAW: a varint length and the subject's bytes. */
#include "acks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mf/util.h"

#define RAW 0xff
#define MAX_HEADS 255 /* ids 0..254 */
#define NUMS 5
#define HEAD_MAX 256

struct agg_ackheads {
    char *head[MAX_HEADS];
    size_t len[MAX_HEADS];
    int n;
};

agg_ackheads *agg_ackheads_create(void) {
    return mf_xcalloc(1, sizeof(agg_ackheads));
}

void agg_ackheads_destroy(agg_ackheads *h) {
    if (h == NULL) return;
    for (int i = 0; i < h->n; i++) free(h->head[i]);
    free(h);
}

/* The id of head s[0..len), interned on first sight; -1 when the table is full. */
static int head_id(agg_ackheads *h, const char *s, size_t len) {
    for (int i = 0; i < h->n; i++)
        if (h->len[i] == len && memcmp(h->head[i], s, len) == 0) return i;
    if (h->n == MAX_HEADS || len >= HEAD_MAX) return -1;
    h->head[h->n] = mf_xmalloc(len + 1);
    memcpy(h->head[h->n], s, len);
    h->head[h->n][len] = '\0';
    h->len[h->n] = len;
    return h->n++;
}

/* A canonical unsigned decimal (no sign, no leading zero, at most 19 digits, so < 2^64):
 * what "%llu" prints back exactly. Returns its length, or 0 when it is not one. */
static size_t canonical_u64(const char *s, size_t len, uint64_t *out) {
    uint64_t v = 0;
    if (len == 0 || len > 19 || (s[0] == '0' && len > 1)) return 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return len;
}

/* Splits subject into a head (up to and including the dot before the last five tokens) and
 * five canonical numbers. Returns the head length, or 0 when it has another shape. */
static size_t split(const char *subject, size_t len, uint64_t nums[NUMS]) {
    size_t end = len;
    if (strncmp(subject, "$JS.ACK.", 8) != 0) return 0;
    for (int k = NUMS - 1; k >= 0; k--) {
        size_t dot = end;
        while (dot > 0 && subject[dot - 1] != '.') dot--;
        if (dot <= 8 || !canonical_u64(subject + dot, end - dot, &nums[k])) return 0;
        end = dot - 1; /* the dot before this token */
    }
    return end + 1;
}

static void reserve(agg_acks *a, size_t more) {
    size_t cap;
    if (a->len + more <= a->cap) return;
    cap = a->cap ? a->cap * 2 : 32; /* one compact subject fits */
    while (cap < a->len + more) cap *= 2;
    a->buf = mf_xrealloc(a->buf, cap);
    a->cap = (uint32_t)cap;
}

static void put_varint(agg_acks *a, uint64_t v) {
    while (v >= 0x80) {
        a->buf[a->len++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    a->buf[a->len++] = (uint8_t)v;
}

static uint64_t get_varint(const uint8_t *b, size_t *pos) {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
        uint8_t c = b[(*pos)++];
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) return v;
    }
}

void agg_acks_add(agg_acks *a, agg_ackheads *h, const char *subject) {
    size_t len = strlen(subject), hlen = 0;
    uint64_t nums[NUMS];
    int id = -1;
    if (len >= AGG_ACK_MAX) return;
    if (h != NULL) hlen = split(subject, len, nums);
    if (hlen > 0) id = head_id(h, subject, hlen);
    if (id >= 0) {
        reserve(a, 1 + NUMS * 10);
        a->buf[a->len++] = (uint8_t)id;
        for (int k = 0; k < NUMS; k++) put_varint(a, nums[k]);
    } else {
        reserve(a, 1 + 10 + len);
        a->buf[a->len++] = RAW;
        put_varint(a, len);
        memcpy(a->buf + a->len, subject, len);
        a->len += (uint32_t)len;
    }
    a->n++;
}

const char *agg_acks_next(const agg_acks *a, const agg_ackheads *h, size_t *pos, char *buf) {
    uint8_t tag;
    size_t n;
    if (*pos >= a->len) return NULL;
    tag = a->buf[(*pos)++];
    if (tag == RAW) {
        size_t len = (size_t)get_varint(a->buf, pos);
        memcpy(buf, a->buf + *pos, len);
        buf[len] = '\0';
        *pos += len;
        return buf;
    }
    n = h->len[tag];
    memcpy(buf, h->head[tag], n);
    for (int k = 0; k < NUMS; k++) {
        uint64_t v = get_varint(a->buf, pos);
        n += (size_t)snprintf(buf + n, AGG_ACK_MAX - n, k < NUMS - 1 ? "%llu." : "%llu",
                              (unsigned long long)v);
    }
    return buf;
}

void agg_acks_free(agg_acks *a) {
    free(a->buf);
    memset(a, 0, sizeof(*a));
}
