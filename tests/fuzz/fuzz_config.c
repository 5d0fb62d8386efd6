/* libFuzzer target: the INI configuration loader (inih + our table) and validation. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mf/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char path[64];
    mf_config cfg;
    char err[512];
    FILE *f;
    if (path[0] == '\0') snprintf(path, sizeof(path), "/tmp/mf-fuzz-config-%d.ini", getpid());
    f = fopen(path, "w");
    if (f == NULL) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    mf_config_defaults(&cfg);
    if (mf_config_load_file(&cfg, path, err, sizeof(err)) == MF_OK)
        (void)mf_config_validate(&cfg, err, sizeof(err));
    else if (strchr(err, '\n') != NULL)
        __builtin_trap(); /* an error is always one line */
    return 0;
}
