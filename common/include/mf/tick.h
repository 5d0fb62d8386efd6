/* tick.h: the normalised tick, the feed line parser and the tick JSON of the bus.
 *
 * Feed line (docs/design.md section 3):
 * {"symbol":"BTCUSDT","price":100143.27,"timestamp":1742457126123} plus optional "qty", "id",
 * "side". Bus tick (docs/design.md section 4):
 * {"exchange","symbol","price","ts","recv_ts"} plus "qty", "id", "side" when present.
 *
 * Both decoders are strict, allocation-free scanners of one flat JSON object (the hot path;
 * jansson costs ~10x more), with the same acceptance as a JSON parser plus the field rules.
 * Numbers are converted with strtod, so a price printed with 17 significant digits comes
 * back bit for bit. Inputs are borrowed (ptr, len) and need not be NUL-terminated. */
#ifndef MF_TICK_H
#define MF_TICK_H

#include <stddef.h>
#include <stdint.h>

#include "mf/status.h"

#define MF_NAME_MAX 32 /* exchange and symbol tokens: [A-Za-z0-9_-]{1,32} on the bus */

typedef enum mf_side { MF_SIDE_NONE = 0, MF_SIDE_BUY, MF_SIDE_SELL } mf_side;

typedef struct mf_tick {
    char exchange[MF_NAME_MAX + 1];
    char symbol[MF_NAME_MAX + 1];
    double price;    /* finite, > 0 */
    int64_t ts;      /* event time, Unix ms (the feed's timestamp) */
    int64_t recv_ts; /* when the collector read the line, Unix ms */
    double qty;      /* valid when has_qty */
    int64_t id;      /* valid when has_id */
    mf_side side;
    unsigned char has_qty;
    unsigned char has_id;
} mf_tick;

/* Why a line was rejected; indexes the collectors' per-reason counters. */
typedef enum mf_reject {
    MF_REJECT_NONE = 0,
    MF_REJECT_JSON,      /* not one valid flat JSON object */
    MF_REJECT_MISSING,   /* symbol, price or timestamp missing or of the wrong type */
    MF_REJECT_PRICE,     /* non-finite, zero or negative price */
    MF_REJECT_SYMBOL,    /* symbol not [A-Z0-9]{2,20} */
    MF_REJECT_TIMESTAMP, /* not an integer, or too far from now */
    MF_REJECT_OPTIONAL,  /* qty negative or non-finite, id not an integer, side not buy/sell */
    MF_REJECT_TOO_LONG,  /* line longer than collector.max_line */
    MF_REJECT_COUNT
} mf_reject;

const char *mf_reject_str(mf_reject r); /* "json", "missing", "price", ... */

/* Parses one feed line (without its newline; a trailing \r is tolerated) into `out`.
 * Fills symbol, price, ts and the optional fields; leaves exchange and recv_ts alone.
 * The timestamp must lie in [now_ms - max_past_ms, now_ms + max_future_ms]; a bound of 0
 * disables that side. Returns MF_REJECT_NONE or the reason. */
mf_reject mf_feed_line_parse(const char *line,
                             size_t len,
                             int64_t now_ms,
                             int64_t max_past_ms,
                             int64_t max_future_ms,
                             mf_tick *out);

/* Formats a double in the shortest form that strtod reads back bit for bit (at most 17
 * significant digits). Returns the length, or -1 if it did not fit. */
int mf_fmt_double(char *buf, size_t size, double x);

/* Encodes a bus tick into buf (no NUL counted). Returns the length, or -1 if it did not fit.
 * Doubles are printed by mf_fmt_double (shortest round-trip form), so they read back exactly. */
int mf_tick_to_json(const mf_tick *t, char *buf, size_t size);

/* Decodes a bus tick. MF_ERR_PARSE on malformed JSON, missing or invalid fields. */
mf_status mf_tick_from_json(const char *buf, size_t len, mf_tick *out);

/* 1 when `s` matches [A-Za-z0-9_-]{1,32}: a valid subject token for exchange or symbol. */
int mf_token_valid(const char *s);

/* The JetStream dedupe id of a tick: exchange:symbol:ts:id, or exchange:symbol:ts:price
 * (price as mf_fmt_double prints it) when the feed has no id. Returns the length or -1. */
int mf_tick_msg_id(const mf_tick *t, char *buf, size_t size);

/* Total order used for open/close ties: by ts, then id (ticks without id sort first), then
 * price. Returns <0, 0, >0. Order-independent merging depends on this being total. */
int mf_tick_order(int64_t ts_a,
                  int64_t id_a,
                  double price_a,
                  int64_t ts_b,
                  int64_t id_b,
                  double price_b);

#endif
