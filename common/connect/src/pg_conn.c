/* pg_conn.c: PostgreSQL connections (see pg_conn.h). */
#include "mf/pg_conn.h"

#include <stdio.h>
#include <string.h>

#include "mf/db_conn.h"
#include "mf/log.h"

void mf_pg_error_line(const char *in, char *out, size_t size) {
    size_t n = 0;
    if (size == 0) return;
    for (; in != NULL && *in && n + 1 < size; in++) {
        char ch = *in;
        if (ch == '\n' || ch == '\t' || ch == '\r') ch = ' ';
        if (ch == '"') ch = '\'';
        if (ch == ' ' && n > 0 && out[n - 1] == ' ') continue;
        out[n++] = ch;
    }
    while (n > 0 && out[n - 1] == ' ') n--;
    out[n] = '\0';
}

static void on_notice(void *arg, const char *message) {
    char line[512];
    (void)arg;
    mf_pg_error_line(message, line, sizeof(line));
    mf_log(MF_LOG_DEBUG, "postgres notice: %s", line);
}

mf_status mf_pg_connect(PGconn **out,
                        const mf_config *cfg,
                        const char *application_name,
                        const char *options,
                        char *err,
                        size_t errlen) {
    char port[16], timeout[16], idle[16], interval[16], count[16], password[MF_CFG_STR];
    const char *keys[] = {"host",
                          "port",
                          "user",
                          "dbname",
                          "sslmode",
                          "application_name",
                          "connect_timeout",
                          "keepalives",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "password",
                          "options",
                          NULL};
    const char *vals[sizeof(keys) / sizeof(keys[0])];
    PGconn *c;
    snprintf(port, sizeof(port), "%d", cfg->postgres.port);
    snprintf(timeout, sizeof(timeout), "%d", MF_DB_CONNECT_TIMEOUT_S);
    snprintf(idle, sizeof(idle), "%d", MF_DB_KEEPALIVE_IDLE_S);
    snprintf(interval, sizeof(interval), "%d", MF_DB_KEEPALIVE_INTERVAL_S);
    snprintf(count, sizeof(count), "%d", MF_DB_KEEPALIVE_COUNT);
    mf_config_pg_password(cfg, password, sizeof(password));
    vals[0] = cfg->postgres.host;
    vals[1] = port;
    vals[2] = cfg->postgres.user;
    vals[3] = cfg->postgres.dbname;
    vals[4] = cfg->postgres.sslmode[0] ? cfg->postgres.sslmode : "prefer";
    vals[5] = application_name;
    vals[6] = timeout;
    vals[7] = "1";
    vals[8] = idle;
    vals[9] = interval;
    vals[10] = count;
    /* libpq skips keywords whose value is NULL or empty. */
    vals[11] = password[0] ? password : NULL;
    vals[12] = options;
    vals[13] = NULL;
    c = PQconnectdbParams(keys, vals, 0);
    memset(password, 0, sizeof(password));
    *out = NULL;
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        /* PQerrorMessage never contains the password. */
        mf_pg_error_line(c ? PQerrorMessage(c) : "out of memory", err, errlen);
        PQfinish(c);
        return MF_ERR_DB;
    }
    PQsetNoticeProcessor(c, on_notice, NULL);
    *out = c;
    return MF_OK;
}
