/* libFuzzer target: the api's period parser (services/api/period.c) must never crash or read
 * out of bounds, and what it accepts follows the grammar of period.h: digits and one unit
 * letter, a positive length of at most API_PERIOD_MAX_MS. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mf/util.h"
#include "period.h"
#include "router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int64_t unit_ms(char u) {
    switch (u) {
    case 's': return 1000;
    case 'm': return 60000;
    case 'h': return 3600000;
    case 'd': return 86400000;
    default: return 0;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    char err[128];
    int64_t ms = -1;
    if (s == NULL) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    err[0] = '\0';
    if (api_period_parse(s, &ms, err, sizeof(err)) == 0) {
        size_t n = strlen(s);
        MF_ASSERT(ms > 0 && ms <= API_PERIOD_MAX_MS);
        MF_ASSERT(n >= 2 && unit_ms(s[n - 1]) > 0);
        for (size_t i = 0; i + 1 < n; i++) MF_ASSERT(s[i] >= '0' && s[i] <= '9');
        MF_ASSERT(ms % unit_ms(s[n - 1]) == 0);
    } else {
        MF_ASSERT(err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL);
    }
    (void)api_symbol_valid(s);
    free(s);
    return 0;
}
