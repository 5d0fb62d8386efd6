/* sink_pg.h: the PostgreSQL adapter of the sink port (table aggregated_prices).
 *
 * Each batch is one transaction: record the partials' (producer, seq) in applied_partials
 * (ON CONFLICT DO NOTHING RETURNING), merge only the partials recorded just now per minute in
 * C, and upsert those minute deltas with one INSERT ... ON CONFLICT DO UPDATE (via COPY into
 * session temp tables).
 * Sums are NUMERIC and exact; average_price = price_sum::float8 / tick_count. */
#ifndef PERS_SINK_PG_H
#define PERS_SINK_PG_H

#include <stddef.h>

#include "mf/config.h"
#include "sink.h"

/* Creates the adapter (no connection yet: the first ensure() connects and migrates).
 * `cfg` is borrowed and must outlive the sink (connections read it, mf/pg_conn.h);
 * `migrations_dir` is copied. Caller destroys with sink->destroy(sink->impl), then free(). */
mf_status pers_sink_pg_create(pers_sink **out, const mf_config *cfg, const char *migrations_dir);

/* COPY text rows (tab-separated, newline-terminated) into buf[size]; each returns the length,
 * or -1 when it did not fit. Exposed for tests.
 * Ledger row of a partial: producer, seq, minute. */
int pers_pg_ledger_row(const mf_rollup *r, char *buf, size_t size);
/* Minute delta row: exchange, pair_name, minute, count, exact sum, min, min_ts, max, max_ts,
 * open, open_ts, open_id, close, close_ts, close_id, exact volume, exact notional. */
int pers_pg_minute_row(const mf_rollup *m, char *buf, size_t size);

/* Merges the partials rs[i] with fresh[i] != 0 (all when fresh is NULL) per (exchange,
 * symbol, minute) into out[] (capacity n), as 1 m rollups. Returns how many minutes. */
size_t pers_pg_premerge(const mf_rollup *rs, const unsigned char *fresh, size_t n, mf_rollup *out);

/* Escapes `s` for the COPY text format (backslash, tab, newline, CR) into buf[size].
 * Returns the length, or -1 when it did not fit. */
int pers_pg_copy_escape(const char *s, char *buf, size_t size);

/* Formats a Unix ms instant as a UTC timestamptz literal ("2026-11-21 16:45:00.000+00"). */
int pers_pg_timestamp(int64_t ms, char *buf, size_t size);

#endif
