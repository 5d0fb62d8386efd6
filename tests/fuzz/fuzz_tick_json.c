/* libFuzzer target: the bus tick decoder (aggregator intake). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mf/tick.h"
#include "mf/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mf_tick t, back;
    char json[512];
    if (mf_tick_from_json((const char *)data, size, &t) != MF_OK) return 0;
    MF_ASSERT(mf_token_valid(t.exchange) && mf_token_valid(t.symbol));
    MF_ASSERT(isfinite(t.price) && t.price > 0);
    MF_ASSERT(mf_tick_to_json(&t, json, sizeof(json)) > 0);
    MF_ASSERT(mf_tick_from_json(json, strlen(json), &back) == MF_OK);
    MF_ASSERT(memcmp(&back.price, &t.price, sizeof(double)) == 0);
    return 0;
}
