/* redis_keys.c: builders of the Redis key schema (see redis_keys.h). */
#include "mf/redis_keys.h"

#include "mf/tick.h"
#include "mf/util.h"

/* buf = head + "<ex>:<sym>" (+ ":<start>" when with_start). */
static int build(char *buf,
                 size_t size,
                 const char *head,
                 const char *ex,
                 const char *sym,
                 int with_start,
                 int64_t start) {
    char *p = buf;
    const char *end;
    if (buf == NULL || size == 0 || ex == NULL || sym == NULL || !mf_token_valid(ex) ||
        !mf_token_valid(sym))
        return -1;
    end = buf + size - 1;
    if (mf_put_str(&p, end, head) || mf_put_str(&p, end, ex) || mf_put(&p, end, ":", 1) ||
        mf_put_str(&p, end, sym))
        return -1;
    if (with_start && (mf_put(&p, end, ":", 1) || mf_put_i64(&p, end, start))) return -1;
    *p = '\0';
    return (int)(p - buf);
}

int mf_rkey_latest(char *buf, size_t size, const char *ex, const char *sym) {
    return build(buf, size, "mf:latest:", ex, sym, 0, 0);
}

int mf_rkey_1s(char *buf, size_t size, const char *ex, const char *sym, int64_t start) {
    return build(buf, size, "mf:1s:", ex, sym, 1, start);
}

int mf_rkey_1s_seen(char *buf, size_t size, const char *ex, const char *sym, int64_t start) {
    return build(buf, size, "mf:1s:seen:", ex, sym, 1, start);
}

int mf_rkey_1s_idx(char *buf, size_t size, const char *ex, const char *sym) {
    return build(buf, size, "mf:1s:idx:", ex, sym, 0, 0);
}

int mf_rkey_symbol_member(char *buf, size_t size, const char *ex, const char *sym) {
    return build(buf, size, "", ex, sym, 0, 0);
}
