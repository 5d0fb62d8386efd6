/* pg_conn.h: the one way marketflow opens a PostgreSQL connection (libmarketflow_pg; only
 * the persister and the api link it). Policy: mf/db_conn.h.
 *
 * Parameters come from the [postgres] section: host, port, user, dbname, sslmode (empty means
 * "prefer"), the password, or the first line of postgres.password_file when password is
 * empty (mf_config_pg_password); plus connect_timeout, keepalives* and application_name.
 * Server notices go to the debug log instead of libpq's default stderr lines. */
#ifndef MF_PG_CONN_H
#define MF_PG_CONN_H

#include <libpq-fe.h>
#include <stddef.h>

#include "mf/config.h"
#include "mf/status.h"

/* Connects. `application_name` ("marketflow-api") is shown in pg_stat_activity; `options`
 * is libpq's options parameter ("-c statement_timeout=10000") or NULL. MF_OK and *out (caller
 * PQfinish-es), or MF_ERR_DB with *out NULL and err[errlen] holding libpq's reason on one line
 * (never the password). Logs nothing: callers know whether a failure is news. */
mf_status mf_pg_connect(PGconn **out,
                        const mf_config *cfg,
                        const char *application_name,
                        const char *options,
                        char *err,
                        size_t errlen);

/* Folds a libpq message (several lines, tabs, quotes) into one logfmt-safe line in out[size]:
 * newlines and tabs become single spaces, '"' becomes '\'', trailing space is dropped. */
void mf_pg_error_line(const char *in, char *out, size_t size);

#endif
