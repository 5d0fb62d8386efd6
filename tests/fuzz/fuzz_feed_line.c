/* libFuzzer target: the feed line parser (the collector's hot path) must never crash, read
 * out of bounds or accept a tick that breaks the rules of docs/design.md section 3. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mf/tick.h"
#include "mf/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mf_tick t;
    char json[512];
    mf_tick back;
    memset(&t, 0, sizeof(t));
    if (mf_feed_line_parse((const char *)data, size, 1795276404307LL, 3600000, 30000, &t) !=
        MF_REJECT_NONE)
        return 0;
    /* Accepted: the invariants every consumer relies on hold, and the tick survives the bus. */
    MF_ASSERT(isfinite(t.price) && t.price > 0);
    MF_ASSERT(strlen(t.symbol) >= 2 && strlen(t.symbol) <= 20);
    MF_ASSERT(!t.has_qty || (isfinite(t.qty) && t.qty >= 0));
    snprintf(t.exchange, sizeof(t.exchange), "exchange1");
    MF_ASSERT(mf_tick_to_json(&t, json, sizeof(json)) > 0);
    MF_ASSERT(mf_tick_from_json(json, strlen(json), &back) == MF_OK);
    MF_ASSERT(memcmp(&back.price, &t.price, sizeof(double)) == 0);
    MF_ASSERT(back.ts == t.ts);
    return 0;
}
