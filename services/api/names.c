/* names.c: small case-insensitive sets of exchange names. */
#include <string.h>
#include <strings.h>

#include "mf/util.h"
#include "store.h"

int api_names_find(const api_names *set, const char *name) {
    for (int i = 0; i < set->n; i++)
        if (strcasecmp(set->name[i], name) == 0) return i;
    return -1;
}

int api_names_add(api_names *set, const char *name) {
    if (api_names_find(set, name) >= 0) return 0;
    if (set->n >= API_MAX_EXCHANGES) return -1;
    if (mf_strlcpy(set->name[set->n], name, sizeof(set->name[0])) != 0) return -1;
    set->n++;
    return 0;
}
