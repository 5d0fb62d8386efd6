/* period.c: the period grammar of the price routes. */
#include "period.h"

#include <stdio.h>
#include <string.h>

#define ACCEPTED \
    "expected a positive integer with a unit s, m, h or d (e.g. 30s, 5m, 24h), at most 365d"

static int64_t unit_ms(char u) {
    switch (u) {
    case 's': return 1000;
    case 'm': return 60 * 1000;
    case 'h': return 3600 * 1000;
    case 'd': return 86400LL * 1000;
    default: return 0;
    }
}

int api_period_parse(const char *s, int64_t *ms, char *err, size_t errlen) {
    size_t len, i;
    int64_t n = 0, unit;
    if (s == NULL) s = API_PERIOD_DEFAULT;
    len = strlen(s);
    if (len == 0) {
        snprintf(err, errlen, "period is empty; %s", ACCEPTED);
        return -1;
    }
    unit = unit_ms(s[len - 1]);
    if (len < 2 || unit == 0) {
        snprintf(err, errlen, "period '%.40s' has no valid unit; %s", s, ACCEPTED);
        return -1;
    }
    for (i = 0; i + 1 < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            snprintf(err, errlen, "period '%.40s' is not a positive integer with a unit; %s", s,
                     ACCEPTED);
            return -1;
        }
        if (n > API_PERIOD_MAX_MS) continue; /* absurdly large; keep scanning for garbage */
        n = n * 10 + (s[i] - '0');
    }
    if (n == 0) {
        snprintf(err, errlen, "period '%.40s' must be positive; %s", s, ACCEPTED);
        return -1;
    }
    if (n > API_PERIOD_MAX_MS / unit) {
        snprintf(err, errlen, "period '%.40s' is absurdly large; %s", s, ACCEPTED);
        return -1;
    }
    *ms = n * unit;
    return 0;
}
