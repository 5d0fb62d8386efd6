/* redis_keys.h: the Redis key schema of marketflow (docs/design.md section 6), in one place.
 * The persister (--sink redis) writes every key; the api only reads them.
 *
 *   mf:latest:<ex>:<sym>          HASH  price, ts, recv_ts: the newest price of the key
 *   mf:1s:<ex>:<sym>:<start>      HASH  one merged 1 s bucket (start = Unix ms): count, min,
 *                                       min_ts, max, max_ts, open, open_ts, open_id, close,
 *                                       close_ts, close_id, sum_x, volume_x, notional_x
 *                                       (the *_x fields are exact sums: mf_xsum parts printed
 *                                       %.17g, comma-separated); expires retention + 60 s
 *                                       after its start
 *   mf:1s:seen:<ex>:<sym>:<start> SET   "<producer>:<seq>" of the partials merged into the
 *                                       bucket (the dedupe of redeliveries); same expiry
 *   mf:1s:idx:<ex>:<sym>          ZSET  bucket starts (member = score = start), trimmed to
 *                                       the retention window
 *   mf:symbols                    SET   "<ex>:<sym>" of every key seen
 *   mf:exchanges                  SET   every exchange seen
 *
 * <ex> and <sym> are bus tokens ([A-Za-z0-9_-]{1,32}, mf_token_valid), so ':' cannot occur
 * inside them. Builders write a NUL-terminated key into buf[size] and return its length, or
 * -1 when a token is invalid or the key does not fit. Pure functions, no printf. */
#ifndef MF_REDIS_KEYS_H
#define MF_REDIS_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define MF_RKEY_MAX 128 /* room for any key of the schema */
#define MF_RKEY_SYMBOLS "mf:symbols"
#define MF_RKEY_EXCHANGES "mf:exchanges"

int mf_rkey_latest(char *buf, size_t size, const char *ex, const char *sym);
int mf_rkey_1s(char *buf, size_t size, const char *ex, const char *sym, int64_t start);
int mf_rkey_1s_seen(char *buf, size_t size, const char *ex, const char *sym, int64_t start);
int mf_rkey_1s_idx(char *buf, size_t size, const char *ex, const char *sym);
/* "<ex>:<sym>": a member of mf:symbols. */
int mf_rkey_symbol_member(char *buf, size_t size, const char *ex, const char *sym);

#endif
