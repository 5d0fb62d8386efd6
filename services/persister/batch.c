/* batch.c: payload validation and in-batch deduplication for the persister. */
#include "batch.h"

#include <stdlib.h>
#include <string.h>

#include "mf/util.h"

static const char *reject_names[PERS_REJECT_COUNT] = {"ok", "json", "window", "producer", "empty"};

const char *pers_reject_str(pers_reject r) {
    return (r >= 0 && r < PERS_REJECT_COUNT) ? reject_names[r] : "unknown";
}

pers_reject pers_parse(const char *buf, size_t len, mf_rollup *out) {
    if (buf == NULL || mf_rollup_from_json(buf, len, out) != MF_OK) return PERS_REJECT_JSON;
    if (out->window != MF_WIN_1S) return PERS_REJECT_WINDOW;
    if (out->producer[0] == '\0') return PERS_REJECT_PRODUCER;
    if (out->st.count == 0) return PERS_REJECT_EMPTY;
    return PERS_OK;
}

static int cmp_key(const mf_rollup *a, const mf_rollup *b) {
    int c = strcmp(a->producer, b->producer);
    if (c != 0) return c;
    return a->seq < b->seq ? -1 : (a->seq > b->seq ? 1 : 0);
}

static int cmp_index(const void *pa, const void *pb, void *ctx) {
    const mf_rollup *base = ctx;
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    int c = cmp_key(&base[a], &base[b]);
    if (c != 0) return c;
    return a < b ? -1 : (a > b ? 1 : 0);
}

size_t pers_dedupe(const mf_rollup *in, size_t n, mf_rollup *out) {
    size_t *idx, kept = 0;
    if (n == 0) return 0;
    idx = mf_xmalloc(n * sizeof(*idx));
    for (size_t i = 0; i < n; i++) idx[i] = i;
    qsort_r(idx, n, sizeof(*idx), cmp_index, (void *)in);
    for (size_t i = 0; i < n; i++) {
        if (kept > 0 && cmp_key(&out[kept - 1], &in[idx[i]]) == 0) continue;
        out[kept++] = in[idx[i]];
    }
    free(idx);
    return kept;
}
