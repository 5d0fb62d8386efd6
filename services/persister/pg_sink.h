/* pg_sink.h: the PostgreSQL adapter of the sink port (table aggregated_prices).
 *
 * Each batch is one transaction: COPY the raw partials into a session temp table, record
 * their (producer, seq) in applied_partials (ON CONFLICT DO NOTHING), and merge only the
 * partials recorded just now into minute rows with one INSERT ... ON CONFLICT DO UPDATE.
 * Sums are NUMERIC and exact; average_price = price_sum::float8 / tick_count. */
#ifndef PERS_PG_SINK_H
#define PERS_PG_SINK_H

#include <stddef.h>

#include "mf/config.h"
#include "sink.h"

/* Creates the adapter (no connection yet: the first ensure() connects and migrates).
 * `migrations_dir` is copied. Caller destroys with sink->destroy(sink->impl), then free(). */
mf_status pers_pg_sink_create(pers_sink **out, const mf_config *cfg, const char *migrations_dir);

/* Appends one COPY text row for `r` (tab-separated, newline-terminated) into buf[size].
 * Returns its length, or -1 when it did not fit. Exposed for tests. */
int pers_pg_copy_row(const mf_rollup *r, char *buf, size_t size);

/* Escapes `s` for the COPY text format (backslash, tab, newline, CR) into buf[size].
 * Returns the length, or -1 when it did not fit. */
int pers_pg_copy_escape(const char *s, char *buf, size_t size);

/* Formats a Unix ms instant as a UTC timestamptz literal ("2026-11-21 16:45:00.000+00"). */
int pers_pg_timestamp(int64_t ms, char *buf, size_t size);

#endif
