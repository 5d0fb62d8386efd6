/* gen_fmt.c: integer and fixed-point formatting for generated lines (see gen_fmt.h). */
#include "gen_fmt.h"

#include <string.h>

#include "mf/tick.h"

int gen_fmt_u64(char *buf, uint64_t v) {
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (int i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
    return n;
}

int gen_fmt_fixed8(char *buf, uint64_t k) {
    int n = gen_fmt_u64(buf, k / 100000000ULL);
    uint64_t frac = k % 100000000ULL;
    buf[n++] = '.';
    for (int i = 7; i >= 0; i--) {
        buf[n + i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    return n + 8;
}
