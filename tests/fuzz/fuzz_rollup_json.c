/* libFuzzer target: the rollup decoder (sinks) and the merge of what it accepts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mf/rollup.h"
#include "mf/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mf_rollup r, back, merged;
    char *text;
    size_t len;
    char dec[4096];
    if (mf_rollup_from_json((const char *)data, size, &r) != MF_OK) return 0;
    text = mf_rollup_to_json(&r, &len);
    MF_ASSERT(text != NULL);
    MF_ASSERT(mf_rollup_from_json(text, len, &back) == MF_OK);
    MF_ASSERT(mf_rollup_same(&r, &back));
    free(text);
    merged = r;
    MF_ASSERT(mf_rollup_merge(&merged, &back) == MF_OK);
    MF_ASSERT(merged.st.count == 2 * r.st.count);
    (void)mf_xsum_to_decimal(&merged.st.sum, dec, sizeof(dec));
    return 0;
}
