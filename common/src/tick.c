/* tick.c: feed line and bus tick decoding (strict flat-object scanner), tick encoding. */
#include "mf/tick.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flatjson.h"
#include "mf/util.h"

static const char *reject_names[MF_REJECT_COUNT] = {
    "none", "json", "missing", "price", "symbol", "timestamp", "optional", "too_long",
};

const char *mf_reject_str(mf_reject r) {
    return (r >= 0 && r < MF_REJECT_COUNT) ? reject_names[r] : "unknown";
}

int mf_token_valid(const char *s) {
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-';
        if (!ok || n >= MF_NAME_MAX) return 0;
    }
    return n > 0;
}

/* Feed symbols are stricter than bus tokens: [A-Z0-9]{2,20}. */
static int feed_symbol_valid(const char *s, size_t n) {
    if (n < 2 || n > 20) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9'))) return 0;
    return 1;
}

static int key_is(const char *key, size_t klen, const char *name) {
    return strlen(name) == klen && memcmp(key, name, klen) == 0;
}

/* Shared by both decoders: the optional trade fields. Returns 0 when the key is not one of
 * them or its value is fine; -1 on a bad value. */
static int take_optional(mf_tick *t, const char *key, size_t klen, const fj_value *v) {
    long long id;
    if (key_is(key, klen, "qty")) {
        if (v->type == FJ_NULL) return 0;
        if (mf__fj_double(v, &t->qty) != 0 || !isfinite(t->qty) || t->qty < 0) return -1;
        t->has_qty = 1;
    } else if (key_is(key, klen, "id")) {
        if (v->type == FJ_NULL) return 0;
        if (mf__fj_int64(v, &id) != 0 || id < 0) return -1;
        t->id = id;
        t->has_id = 1;
    } else if (key_is(key, klen, "side")) {
        if (v->type == FJ_NULL) return 0;
        if (v->type == FJ_STRING && v->len == 3 && memcmp(v->s, "buy", 3) == 0)
            t->side = MF_SIDE_BUY;
        else if (v->type == FJ_STRING && v->len == 4 && memcmp(v->s, "sell", 4) == 0)
            t->side = MF_SIDE_SELL;
        else
            return -1;
    }
    return 0;
}

typedef struct feed_ctx {
    mf_tick *t;
    int have_symbol, have_price, have_ts;
    mf_reject reason; /* first field-level problem seen */
} feed_ctx;

static void feed_reject(feed_ctx *c, mf_reject r) {
    if (c->reason == MF_REJECT_NONE) c->reason = r;
}

static int on_feed_member(void *ctx, const char *key, size_t klen, const fj_value *v) {
    feed_ctx *c = ctx;
    long long ts;
    if (key_is(key, klen, "symbol")) {
        if (v->type != FJ_STRING) return 0; /* reported as missing */
        if (!feed_symbol_valid(v->s, v->len)) {
            feed_reject(c, MF_REJECT_SYMBOL);
            return 0;
        }
        memcpy(c->t->symbol, v->s, v->len);
        c->t->symbol[v->len] = '\0';
        c->have_symbol = 1;
    } else if (key_is(key, klen, "price")) {
        if (v->type != FJ_NUMBER) return 0;
        if (mf__fj_double(v, &c->t->price) != 0 || !isfinite(c->t->price) || !(c->t->price > 0)) {
            feed_reject(c, MF_REJECT_PRICE);
            return 0;
        }
        c->have_price = 1;
    } else if (key_is(key, klen, "timestamp")) {
        if (v->type != FJ_NUMBER) return 0;
        if (mf__fj_int64(v, &ts) != 0 || ts <= 0) {
            feed_reject(c, MF_REJECT_TIMESTAMP);
            return 0;
        }
        c->t->ts = ts;
        c->have_ts = 1;
    } else if (take_optional(c->t, key, klen, v) != 0) {
        feed_reject(c, MF_REJECT_OPTIONAL);
    }
    return 0;
}

static void tick_clear_optional(mf_tick *t) {
    t->qty = 0;
    t->id = 0;
    t->side = MF_SIDE_NONE;
    t->has_qty = 0;
    t->has_id = 0;
}

mf_reject mf_feed_line_parse(const char *line,
                             size_t len,
                             int64_t now_ms,
                             int64_t max_past_ms,
                             int64_t max_future_ms,
                             mf_tick *out) {
    feed_ctx c = {out, 0, 0, 0, MF_REJECT_NONE};
    if (len > 0 && line[len - 1] == '\r') len--;
    tick_clear_optional(out);
    if (mf__fj_scan(line, len, on_feed_member, &c) != 0) return MF_REJECT_JSON;
    if (c.reason != MF_REJECT_NONE) return c.reason;
    if (!c.have_symbol || !c.have_price || !c.have_ts) return MF_REJECT_MISSING;
    if (max_past_ms > 0 && out->ts < now_ms - max_past_ms) return MF_REJECT_TIMESTAMP;
    if (max_future_ms > 0 && out->ts > now_ms + max_future_ms) return MF_REJECT_TIMESTAMP;
    return MF_REJECT_NONE;
}

/* The encoders below run once per tick on the collector's hot path: mf_put appends, no
 * printf (which cost ~30% of the collector's CPU at 300k ticks/s). */
int mf_tick_to_json(const mf_tick *t, char *buf, size_t size) {
    char num[32];
    char *p = buf, *end;
    int n;
    if (size == 0) return -1;
    end = buf + size - 1; /* room for the NUL */
    if ((n = mf_fmt_double(num, sizeof(num), t->price)) < 0) return -1;
    if (mf_put_str(&p, end, "{\"exchange\":\"") || mf_put_str(&p, end, t->exchange) ||
        mf_put_str(&p, end, "\",\"symbol\":\"") || mf_put_str(&p, end, t->symbol) ||
        mf_put_str(&p, end, "\",\"price\":") || mf_put(&p, end, num, (size_t)n) ||
        mf_put_str(&p, end, ",\"ts\":") || mf_put_i64(&p, end, t->ts) ||
        mf_put_str(&p, end, ",\"recv_ts\":") || mf_put_i64(&p, end, t->recv_ts))
        return -1;
    if (t->has_qty) {
        if ((n = mf_fmt_double(num, sizeof(num), t->qty)) < 0) return -1;
        if (mf_put_str(&p, end, ",\"qty\":") || mf_put(&p, end, num, (size_t)n)) return -1;
    }
    if (t->has_id && (mf_put_str(&p, end, ",\"id\":") || mf_put_i64(&p, end, t->id))) return -1;
    if (t->side != MF_SIDE_NONE &&
        mf_put_str(&p, end, t->side == MF_SIDE_BUY ? ",\"side\":\"buy\"" : ",\"side\":\"sell\""))
        return -1;
    if (mf_put(&p, end, "}", 1)) return -1;
    *p = '\0';
    return (int)(p - buf);
}

typedef struct bus_ctx {
    mf_tick *t;
    int have_ex, have_sym, have_price, have_ts;
    int bad;
} bus_ctx;

static int copy_token(char *dst, const fj_value *v) {
    if (v->type != FJ_STRING || v->len == 0 || v->len > MF_NAME_MAX) return -1;
    memcpy(dst, v->s, v->len);
    dst[v->len] = '\0';
    return mf_token_valid(dst) ? 0 : -1;
}

static int on_bus_member(void *ctx, const char *key, size_t klen, const fj_value *v) {
    bus_ctx *c = ctx;
    long long ts;
    if (key_is(key, klen, "exchange")) {
        c->bad |= copy_token(c->t->exchange, v) != 0;
        c->have_ex = 1;
    } else if (key_is(key, klen, "symbol")) {
        c->bad |= copy_token(c->t->symbol, v) != 0;
        c->have_sym = 1;
    } else if (key_is(key, klen, "price")) {
        c->bad |=
            mf__fj_double(v, &c->t->price) != 0 || !isfinite(c->t->price) || !(c->t->price > 0);
        c->have_price = 1;
    } else if (key_is(key, klen, "ts")) {
        c->bad |= mf__fj_int64(v, &ts) != 0;
        c->t->ts = ts;
        c->have_ts = 1;
    } else if (key_is(key, klen, "recv_ts")) {
        c->bad |= mf__fj_int64(v, &ts) != 0;
        c->t->recv_ts = ts;
    } else {
        c->bad |= take_optional(c->t, key, klen, v) != 0;
    }
    return 0;
}

mf_status mf_tick_from_json(const char *buf, size_t len, mf_tick *out) {
    bus_ctx c = {out, 0, 0, 0, 0, 0};
    tick_clear_optional(out);
    out->recv_ts = 0;
    if (mf__fj_scan(buf, len, on_bus_member, &c) != 0) return MF_ERR_PARSE;
    if (c.bad || !c.have_ex || !c.have_sym || !c.have_price || !c.have_ts) return MF_ERR_PARSE;
    return MF_OK;
}

int mf_tick_msg_id(const mf_tick *t, char *buf, size_t size) {
    char price[32];
    char *p = buf, *end;
    int n = 0;
    if (size == 0) return -1;
    end = buf + size - 1;
    if (!t->has_id && (n = mf_fmt_double(price, sizeof(price), t->price)) < 0) return -1;
    if (mf_put_str(&p, end, t->exchange) || mf_put(&p, end, ":", 1) ||
        mf_put_str(&p, end, t->symbol) || mf_put(&p, end, ":", 1) || mf_put_i64(&p, end, t->ts) ||
        mf_put(&p, end, ":", 1))
        return -1;
    if (t->has_id ? mf_put_i64(&p, end, t->id) : mf_put(&p, end, price, (size_t)n)) return -1;
    *p = '\0';
    return (int)(p - buf);
}

int mf_tick_order(int64_t ts_a,
                  int64_t id_a,
                  double price_a,
                  int64_t ts_b,
                  int64_t id_b,
                  double price_b) {
    if (ts_a != ts_b) return ts_a < ts_b ? -1 : 1;
    if (id_a != id_b) return id_a < id_b ? -1 : 1;
    if (price_a != price_b) return price_a < price_b ? -1 : 1;
    return 0;
}
