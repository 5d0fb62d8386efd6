/* rollup.c: window partials: their key, their merge (stats.c holds the rules), rollup JSON. */
#include "mf/rollup.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int64_t window_ms[MF_WIN_COUNT] = {1000, 60000};
static const char *window_names[MF_WIN_COUNT] = {"1s", "1m"};

int64_t mf_window_ms(mf_window w) {
    return window_ms[w];
}

const char *mf_window_name(mf_window w) {
    return window_names[w];
}

int mf_window_parse(const char *s, mf_window *out) {
    for (int i = 0; i < MF_WIN_COUNT; i++) {
        if (strcmp(s, window_names[i]) == 0) {
            *out = (mf_window)i;
            return 0;
        }
    }
    return -1;
}

int64_t mf_window_start(int64_t ts, mf_window w) {
    int64_t d = window_ms[w];
    int64_t q = ts / d;
    if (ts % d != 0 && ts < 0) q--;
    return q * d;
}

void mf_rollup_init(mf_rollup *r,
                    const char *exchange,
                    const char *symbol,
                    mf_window w,
                    int64_t start) {
    memset(r, 0, sizeof(*r));
    snprintf(r->exchange, sizeof(r->exchange), "%s", exchange);
    snprintf(r->symbol, sizeof(r->symbol), "%s", symbol);
    r->window = w;
    r->start = start;
    mf_stats_init(&r->st);
}

void mf_rollup_add(mf_rollup *r, const mf_tick *t) {
    mf_stats_add(&r->st, t);
}

static int same_key(const mf_rollup *a, const mf_rollup *b) {
    return a->window == b->window && a->start == b->start &&
           strcmp(a->exchange, b->exchange) == 0 && strcmp(a->symbol, b->symbol) == 0;
}

mf_status mf_rollup_merge(mf_rollup *a, const mf_rollup *b) {
    if (b->st.count == 0) return MF_OK;
    if (a->st.count == 0) { /* a takes b's key */
        memcpy(a->exchange, b->exchange, sizeof(a->exchange));
        memcpy(a->symbol, b->symbol, sizeof(a->symbol));
        a->window = b->window;
        a->start = b->start;
    } else if (!same_key(a, b)) {
        return MF_ERR_INVALID_ARG;
    }
    mf_stats_merge(&a->st, &b->st);
    return MF_OK;
}

int mf_rollup_same(const mf_rollup *a, const mf_rollup *b) {
    return same_key(a, b) && mf_stats_equal(&a->st, &b->st);
}

json_t *mf_rollup_to_jsonobj(const mf_rollup *r) {
    json_t *o = json_object();
    json_object_set_new(o, "exchange", json_string(r->exchange));
    json_object_set_new(o, "symbol", json_string(r->symbol));
    json_object_set_new(o, "window", json_string(mf_window_name(r->window)));
    json_object_set_new(o, "start", json_integer(r->start));
    json_object_set_new(o, "count", json_integer(r->st.count));
    json_object_set_new(o, "sum", json_real(mf_xsum_value(&r->st.sum)));
    json_object_set_new(o, "sum_x", mf_xsum_to_json(&r->st.sum));
    if (r->st.count > 0) {
        json_object_set_new(o, "min", json_real(r->st.min));
        json_object_set_new(o, "min_ts", json_integer(r->st.min_ts));
        json_object_set_new(o, "max", json_real(r->st.max));
        json_object_set_new(o, "max_ts", json_integer(r->st.max_ts));
        json_object_set_new(o, "open", json_real(r->st.open));
        json_object_set_new(o, "open_ts", json_integer(r->st.open_ts));
        json_object_set_new(o, "close", json_real(r->st.close));
        json_object_set_new(o, "close_ts", json_integer(r->st.close_ts));
        if (r->st.open_id >= 0) json_object_set_new(o, "open_id", json_integer(r->st.open_id));
        if (r->st.close_id >= 0) json_object_set_new(o, "close_id", json_integer(r->st.close_id));
    }
    json_object_set_new(o, "volume", json_real(mf_xsum_value(&r->st.volume)));
    json_object_set_new(o, "volume_x", mf_xsum_to_json(&r->st.volume));
    json_object_set_new(o, "notional", json_real(mf_xsum_value(&r->st.notional)));
    json_object_set_new(o, "notional_x", mf_xsum_to_json(&r->st.notional));
    json_object_set_new(o, "producer", json_string(r->producer));
    json_object_set_new(o, "seq", json_integer((json_int_t)r->seq));
    return o;
}

char *mf_rollup_to_json(const mf_rollup *r, size_t *len) {
    json_t *o = mf_rollup_to_jsonobj(r);
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(o);
    if (s && len) *len = strlen(s);
    return s;
}

static int get_i64(const json_t *o, const char *k, int64_t *out, int required) {
    json_t *v = json_object_get(o, k);
    if (v == NULL) return required ? -1 : 0;
    if (!json_is_integer(v)) return -1;
    *out = json_integer_value(v);
    return 0;
}

static int get_dbl(const json_t *o, const char *k, double *out) {
    json_t *v = json_object_get(o, k);
    if (!json_is_number(v)) return -1;
    *out = json_number_value(v);
    return isfinite(*out) ? 0 : -1;
}

/* Exact expansion when present, else the rounded plain value. */
static int get_xsum(const json_t *o, const char *k, const char *kx, mf_xsum *out) {
    json_t *x = json_object_get(o, kx);
    json_t *v = json_object_get(o, k);
    if (x != NULL) return mf_xsum_from_json(x, out) == MF_OK ? 0 : -1;
    if (v == NULL) {
        mf_xsum_init(out);
        return 0;
    }
    return mf_xsum_from_json(v, out) == MF_OK ? 0 : -1;
}

static int get_name(const json_t *o, const char *k, char *dst) {
    const char *s = json_string_value(json_object_get(o, k));
    if (s == NULL || !mf_token_valid(s)) return -1;
    snprintf(dst, MF_NAME_MAX + 1, "%s", s);
    return 0;
}

static int get_stats(const json_t *o, mf_rollup *r) {
    int bad = 0;
    bad |= get_dbl(o, "min", &r->st.min) | get_i64(o, "min_ts", &r->st.min_ts, 1);
    bad |= get_dbl(o, "max", &r->st.max) | get_i64(o, "max_ts", &r->st.max_ts, 1);
    bad |= get_dbl(o, "open", &r->st.open) | get_i64(o, "open_ts", &r->st.open_ts, 1);
    bad |= get_dbl(o, "close", &r->st.close) | get_i64(o, "close_ts", &r->st.close_ts, 1);
    bad |= get_i64(o, "open_id", &r->st.open_id, 0) | get_i64(o, "close_id", &r->st.close_id, 0);
    return bad ? -1 : 0;
}

mf_status mf_rollup_from_jsonobj(const json_t *o, mf_rollup *r) {
    char ex[MF_NAME_MAX + 1], sym[MF_NAME_MAX + 1];
    const char *win = json_string_value(json_object_get(o, "window"));
    const char *producer;
    mf_window w;
    int64_t start = 0, seq = 0;
    if (!json_is_object(o) || get_name(o, "exchange", ex) || get_name(o, "symbol", sym) ||
        win == NULL || mf_window_parse(win, &w) || get_i64(o, "start", &start, 1))
        return MF_ERR_PARSE;
    mf_rollup_init(r, ex, sym, w, start);
    if (get_i64(o, "count", &r->st.count, 1) || r->st.count < 0) return MF_ERR_PARSE;
    if (get_xsum(o, "sum", "sum_x", &r->st.sum) ||
        get_xsum(o, "volume", "volume_x", &r->st.volume) ||
        get_xsum(o, "notional", "notional_x", &r->st.notional))
        return MF_ERR_PARSE;
    if (r->st.count > 0 && get_stats(o, r) != 0) return MF_ERR_PARSE;
    producer = json_string_value(json_object_get(o, "producer"));
    snprintf(r->producer, sizeof(r->producer), "%s", producer ? producer : "");
    if (get_i64(o, "seq", &seq, 0) != 0) return MF_ERR_PARSE;
    r->seq = (uint64_t)seq;
    return MF_OK;
}

mf_status mf_rollup_from_json(const char *buf, size_t len, mf_rollup *out) {
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    mf_status s;
    if (root == NULL) return MF_ERR_PARSE;
    s = mf_rollup_from_jsonobj(root, out);
    json_decref(root);
    return s;
}
