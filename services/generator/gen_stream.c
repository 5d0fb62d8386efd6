/* gen_stream.c: PRNG, random walk, line formatting and fault injection of one feed.
 * Pure logic: see gen_stream.h. The hot path (gen_stream_step) formats with memcpy and the
 * exact fast path of mf_fmt_double; it never calls snprintf for a normal line. */
#include "gen_stream.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_fmt.h"
#include "mf/tick.h"
#include "mf/util.h"

#define WALK_STEP 0.01    /* a step moves the log price by up to +-1% (as the real feeds) */
#define WALK_KAPPA 0.001  /* pull back toward the start: the price stays near it (~13% sd) */
#define QTY_SIGMA 0.8     /* lognormal spread of trade sizes */
#define QTY_NOTIONAL 1000 /* median trade worth, in quote currency */

/* ---- PRNG: xoshiro256** seeded with splitmix64 (public-domain algorithms, Vigna) --------- */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void gen_rng_seed(gen_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

uint64_t gen_rng_next(gen_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double gen_rng_uniform(gen_rng *r) {
    return (double)(gen_rng_next(r) >> 11) * 0x1.0p-53;
}

double gen_rng_normal(gen_rng *r) {
    double u1 = 1.0 - gen_rng_uniform(r); /* (0, 1]: log is finite */
    double u2 = gen_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* ---- fault spec ------------------------------------------------------------------------- */

static int parse_prob(const char *v, double *out) {
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end != '\0' || !(d >= 0.0 && d <= 1.0)) return -1;
    *out = d;
    return 0;
}

static int parse_int(const char *v, int max, int *out) {
    int64_t x;
    if (mf_parse_i64(v, 0, max, &x) != 0) return -1;
    *out = (int)x;
    return 0;
}

static int apply_fault(gen_faults *f, const char *key, const char *val) {
    if (strcmp(key, "malformed") == 0) return parse_prob(val, &f->malformed);
    if (strcmp(key, "duplicate") == 0) return parse_prob(val, &f->duplicate);
    if (strcmp(key, "reorder") == 0) return parse_prob(val, &f->reorder);
    if (strcmp(key, "disconnect_every_s") == 0)
        return parse_int(val, 86400, &f->disconnect_every_s);
    if (strcmp(key, "pause_every_s") == 0) return parse_int(val, 86400, &f->pause_every_s);
    if (strcmp(key, "pause_ms") == 0) return parse_int(val, 3600000, &f->pause_ms);
    return -2;
}

mf_status gen_faults_parse(const char *spec, gen_faults *out, char *err, size_t errlen) {
    char buf[512];
    char *save = NULL;
    memset(out, 0, sizeof(*out));
    if (spec == NULL || spec[0] == '\0' || strcmp(spec, "none") == 0) return MF_OK;
    if (mf_strlcpy(buf, spec, sizeof(buf)) != 0) {
        snprintf(err, errlen, "generator.faults: spec too long");
        return MF_ERR_CONFIG;
    }
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        int rc;
        if (eq == NULL || eq == item || eq[1] == '\0') {
            snprintf(err, errlen, "generator.faults: '%s': expected key=value", item);
            return MF_ERR_CONFIG;
        }
        *eq = '\0';
        rc = apply_fault(out, item, eq + 1);
        if (rc == -2) {
            snprintf(err, errlen,
                     "generator.faults: unknown key '%s' (malformed, duplicate, reorder, "
                     "disconnect_every_s, pause_every_s, pause_ms)",
                     item);
            return MF_ERR_CONFIG;
        }
        if (rc != 0) {
            snprintf(err, errlen,
                     "generator.faults: %s='%s': expected a probability in [0,1] or a whole "
                     "number",
                     item, eq + 1);
            return MF_ERR_CONFIG;
        }
    }
    if (out->pause_every_s > 0 && out->pause_ms <= 0) out->pause_ms = 1000;
    if (out->pause_every_s > 0 && out->pause_ms >= out->pause_every_s * 1000) {
        snprintf(err, errlen, "generator.faults: pause_ms must be shorter than pause_every_s");
        return MF_ERR_CONFIG;
    }
    return MF_OK;
}

/* ---- symbols ---------------------------------------------------------------------------- */

static const struct {
    const char *name;
    double price;
} DEFAULT_SYMBOLS[] = {{"BTCUSDT", 100000},
                       {"DOGEUSDT", 0.3},
                       {"TONUSDT", 3.9},
                       {"SOLUSDT", 200},
                       {"ETHUSDT", 3050}};
#define N_DEFAULT (int)(sizeof(DEFAULT_SYMBOLS) / sizeof(DEFAULT_SYMBOLS[0]))

static int symbol_name_valid(const char *s, size_t len) {
    if (len < 2 || len > GEN_SYMBOL_MAX) return 0;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9'))) return 0;
    return 1;
}

static double default_price(const char *name) {
    for (int i = 0; i < N_DEFAULT; i++)
        if (strcmp(DEFAULT_SYMBOLS[i].name, name) == 0) return DEFAULT_SYMBOLS[i].price;
    return 0;
}

static void symbol_setup(gen_symbol *sym, const char *name, double start) {
    memset(sym, 0, sizeof(*sym));
    mf_strlcpy(sym->name, name, sizeof(sym->name));
    sym->start = start;
    sym->price = start;
    sym->qty_base = QTY_NOTIONAL / start;
    sym->prefix_len =
        (size_t)snprintf(sym->prefix, sizeof(sym->prefix), "{\"symbol\":\"%s\",\"price\":", name);
}

static int parse_symbol_item(char *item, gen_symbol *sym, char *err, size_t errlen) {
    char *colon = strchr(item, ':');
    double start;
    if (colon) *colon = '\0';
    if (!symbol_name_valid(item, strlen(item))) {
        snprintf(err, errlen, "generator.symbols: '%s' is not [A-Z0-9]{2,20}", item);
        return -1;
    }
    start = default_price(item);
    if (colon) {
        char *end;
        start = strtod(colon + 1, &end);
        if (end == colon + 1 || *end != '\0' || !(start >= 1e-6 && start <= 1e12)) {
            snprintf(err, errlen, "generator.symbols: %s: bad price '%s' (1e-6..1e12)", item,
                     colon + 1);
            return -1;
        }
    }
    if (start == 0) {
        snprintf(err, errlen, "generator.symbols: %s has no default price: write %s:<price>", item,
                 item);
        return -1;
    }
    symbol_setup(sym, item, start);
    return 0;
}

mf_status gen_symbols_parse(const char *list, gen_symbol *out, int *n, char *err, size_t errlen) {
    char buf[1024];
    char *save = NULL;
    *n = 0;
    if (list == NULL || list[0] == '\0') {
        for (int i = 0; i < N_DEFAULT; i++)
            symbol_setup(&out[i], DEFAULT_SYMBOLS[i].name, DEFAULT_SYMBOLS[i].price);
        *n = N_DEFAULT;
        return MF_OK;
    }
    if (mf_strlcpy(buf, list, sizeof(buf)) != 0) {
        snprintf(err, errlen, "generator.symbols: list too long");
        return MF_ERR_CONFIG;
    }
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        if (*n >= GEN_MAX_SYMBOLS) {
            snprintf(err, errlen, "generator.symbols: more than %d symbols", GEN_MAX_SYMBOLS);
            return MF_ERR_CONFIG;
        }
        if (parse_symbol_item(item, &out[*n], err, errlen) != 0) return MF_ERR_CONFIG;
        for (int i = 0; i < *n; i++) {
            if (strcmp(out[i].name, out[*n].name) == 0) {
                snprintf(err, errlen, "generator.symbols: %s listed twice", out[i].name);
                return MF_ERR_CONFIG;
            }
        }
        (*n)++;
    }
    if (*n == 0) {
        snprintf(err, errlen, "generator.symbols: empty list");
        return MF_ERR_CONFIG;
    }
    return MF_OK;
}

/* ---- lines ------------------------------------------------------------------------------ */

size_t gen_format_line(char *buf,
                       const gen_symbol *sym,
                       double price,
                       int64_t ts,
                       int has_ext,
                       uint64_t qty_e8,
                       int64_t id,
                       int buy) {
    size_t n = sym->prefix_len;
    int k;
    memcpy(buf, sym->prefix, n);
    k = mf_fmt_double(buf + n, 32, price);
    MF_ASSERT(k > 0);
    n += (size_t)k;
    memcpy(buf + n, ",\"timestamp\":", 13);
    n += 13;
    n += (size_t)gen_fmt_u64(buf + n, (uint64_t)ts);
    if (has_ext) {
        memcpy(buf + n, ",\"qty\":", 7);
        n += 7;
        n += (size_t)gen_fmt_fixed8(buf + n, qty_e8);
        memcpy(buf + n, ",\"id\":", 6);
        n += 6;
        n += (size_t)gen_fmt_u64(buf + n, (uint64_t)id);
        memcpy(buf + n, buy ? ",\"side\":\"buy\"" : ",\"side\":\"sell\"", buy ? 13 : 14);
        n += buy ? 13 : 14;
    }
    buf[n++] = '}';
    return n;
}

static const char *const BAD_SYMBOLS[] = {
    "btcusdt", "BTC-USDT", "B", "", "AAAAAAAAAAAAAAAAAAAAAAAAA", "BTC USDT"};
static const char *const NOT_JSON[] = {"garbage",
                                       "<html><body>502 Bad Gateway</body></html>",
                                       "symbol=BTCUSDT price=1 timestamp=2",
                                       "{",
                                       "[1,2,3]",
                                       "null"};

size_t
gen_format_malformed(char *buf, gen_malformed kind, const gen_symbol *sym, int64_t ts, double cut) {
    char price[32];
    const size_t cap = GEN_OVERLONG_LEN + 256;
    size_t pick = (size_t)(cut * 6) % 6;
    int n = 0;
    mf_fmt_double(price, sizeof(price), sym->price);
    switch (kind) {
    case GEN_BAD_TRUNCATED: {
        size_t len = gen_format_line(buf, sym, sym->price, ts, 0, 0, 0, 0);
        return 1 + (size_t)(cut * (double)(len - 2)); /* 1 .. len-2: never the closing brace */
    }
    case GEN_BAD_NAN:
        n = snprintf(buf, cap, "{\"symbol\":\"%s\",\"price\":NaN,\"timestamp\":%lld}", sym->name,
                     (long long)ts);
        break;
    case GEN_BAD_NEGATIVE:
        n = snprintf(buf, cap, "{\"symbol\":\"%s\",\"price\":-%s,\"timestamp\":%lld}", sym->name,
                     price, (long long)ts);
        break;
    case GEN_BAD_ZERO:
        n = snprintf(buf, cap, "{\"symbol\":\"%s\",\"price\":0,\"timestamp\":%lld}", sym->name,
                     (long long)ts);
        break;
    case GEN_BAD_SYMBOL:
        n = snprintf(buf, cap, "{\"symbol\":\"%s\",\"price\":%s,\"timestamp\":%lld}",
                     BAD_SYMBOLS[pick], price, (long long)ts);
        break;
    case GEN_BAD_OVERLONG: {
        n = snprintf(buf, cap, "{\"symbol\":\"%s\",\"price\":%s,\"timestamp\":%lld,\"pad\":\"",
                     sym->name, price, (long long)ts);
        memset(buf + n, 'x', (size_t)(GEN_OVERLONG_LEN - 2 - n));
        memcpy(buf + GEN_OVERLONG_LEN - 2, "\"}", 2);
        return GEN_OVERLONG_LEN;
    }
    case GEN_BAD_NOT_JSON: n = snprintf(buf, cap, "%s", NOT_JSON[pick]); break;
    case GEN_BAD_MISSING:
        n = snprintf(buf, cap, "{\"symbol\":\"%s\",\"timestamp\":%lld}", sym->name, (long long)ts);
        break;
    case GEN_BAD_STRING_PRICE:
        n = snprintf(buf, cap, "{\"symbol\":\"%s\",\"price\":\"%s\",\"timestamp\":%lld}", sym->name,
                     price, (long long)ts);
        break;
    case GEN_BAD_INFINITE:
    default:
        n = snprintf(buf, cap, "{\"symbol\":\"%s\",\"price\":1e999,\"timestamp\":%lld}", sym->name,
                     (long long)ts);
        break;
    }
    return n > 0 ? (size_t)n : 0;
}

/* ---- stream ----------------------------------------------------------------------------- */

mf_status gen_stream_init(gen_stream *s,
                          const char *symbols,
                          uint64_t seed,
                          int feed_index,
                          int extended,
                          const gen_faults *faults,
                          char *err,
                          size_t errlen) {
    memset(s, 0, sizeof(*s));
    if (gen_symbols_parse(symbols, s->sym, &s->nsym, err, errlen) != MF_OK) return MF_ERR_CONFIG;
    gen_rng_seed(&s->rng, seed + (uint64_t)feed_index);
    s->extended = extended;
    s->next_id = 1;
    if (faults) s->faults = *faults;
    return MF_OK;
}

static void walk(gen_stream *s, gen_symbol *sym) {
    double u = gen_rng_uniform(&s->rng);
    sym->x = sym->x * (1.0 - WALK_KAPPA) + WALK_STEP * (2.0 * u - 1.0);
    sym->price = sym->start * exp(sym->x);
}

static uint64_t draw_qty(gen_stream *s, const gen_symbol *sym) {
    double q = sym->qty_base * exp(QTY_SIGMA * gen_rng_normal(&s->rng));
    double k = nearbyint(q * 1e8);
    return k < 1 ? 1 : (uint64_t)k;
}

/* The timestamp of this step: now, or a few hundred ms before the previous line. */
static int64_t step_ts(gen_stream *s, int64_t now_ms) {
    if (s->faults.reorder > 0 && gen_rng_uniform(&s->rng) < s->faults.reorder) {
        int64_t back = 100 + (int64_t)(gen_rng_uniform(&s->rng) * 400);
        int64_t prev = s->last_ts > 0 ? s->last_ts : now_ms;
        s->stats.reordered++;
        return prev - back > 0 ? prev - back : 1;
    }
    if (now_ms > s->last_ts) s->last_ts = now_ms;
    return now_ms;
}

size_t gen_stream_step(gen_stream *s, int64_t now_ms, char *buf, int *nlines) {
    gen_symbol *sym = &s->sym[s->next_sym];
    uint64_t qty = 0;
    int buy = 0;
    int64_t ts;
    size_t n, len;
    s->next_sym = (s->next_sym + 1) % s->nsym;
    walk(s, sym);
    if (s->extended) {
        qty = draw_qty(s, sym);
        buy = gen_rng_uniform(&s->rng) < 0.5;
    }
    ts = step_ts(s, now_ms);
    len = gen_format_line(buf, sym, sym->price, ts, s->extended, qty, s->next_id, buy);
    if (s->extended) s->next_id++;
    buf[len++] = '\n';
    n = len;
    s->stats.steps++;
    (*nlines)++;
    if (s->faults.duplicate > 0 && gen_rng_uniform(&s->rng) < s->faults.duplicate) {
        memcpy(buf + n, buf, len);
        n += len;
        s->stats.duplicates++;
        (*nlines)++;
    }
    if (s->faults.malformed > 0 && gen_rng_uniform(&s->rng) < s->faults.malformed) {
        gen_malformed kind = (gen_malformed)(gen_rng_next(&s->rng) % GEN_BAD_COUNT);
        double cut = gen_rng_uniform(&s->rng);
        n += gen_format_malformed(buf + n, kind, sym, ts, cut);
        buf[n++] = '\n';
        s->stats.malformed++;
        (*nlines)++;
    }
    return n;
}
