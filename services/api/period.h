/* period.h: the `period` query parameter of the price routes (docs/design.md section 7).
 *
 * Grammar: a positive decimal integer followed by one unit letter, lower case:
 * s (seconds), m (minutes), h (hours), d (days): "1s", "30s", "5m", "24h", "7d".
 * No sign, no spaces, no fraction. An absent parameter means the default "1m".
 * The longest period accepted is API_PERIOD_MAX_MS (365 days). Pure code, thread-safe. */
#ifndef API_PERIOD_H
#define API_PERIOD_H

#include <stddef.h>
#include <stdint.h>

#define API_PERIOD_DEFAULT "1m"
#define API_PERIOD_MAX_MS (365LL * 86400 * 1000)

/* Parses `s` (NULL = the default) into milliseconds. Returns 0, or -1 after writing one
 * line for the client into err ("what was wrong and what is accepted"). */
int api_period_parse(const char *s, int64_t *ms, char *err, size_t errlen);

#endif
