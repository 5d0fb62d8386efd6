/* migrate.c: schema migrations under a PostgreSQL advisory lock. */
#include "migrate.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mf/log.h"
#include "mf/pg_conn.h"
#include "mf/util.h"

/* pg_advisory_lock key: "mfmigr" in ASCII, shared by every persister of a database. */
#define MIGRATE_LOCK_KEY "120364979513714"

int pers_migration_parse_name(const char *file, int *version, char *name, size_t namelen) {
    size_t len = strlen(file), digits = 0;
    int64_t v;
    char num[16];
    while (isdigit((unsigned char)file[digits])) digits++;
    if (digits == 0 || digits >= sizeof(num) || file[digits] != '_') return -1;
    if (len < digits + 6 || strcmp(file + len - 4, ".sql") != 0) return -1;
    for (size_t i = digits + 1; i < len - 4; i++) {
        char c = file[i];
        if (!(isalnum((unsigned char)c) || c == '_' || c == '-')) return -1;
    }
    memcpy(num, file, digits);
    num[digits] = '\0';
    if (mf_parse_i64(num, 0, 1000000000, &v) != 0) return -1;
    if (len - 4 >= namelen) return -1;
    memcpy(name, file, len - 4);
    name[len - 4] = '\0';
    *version = (int)v;
    return 0;
}

static int cmp_migration(const void *a, const void *b) {
    const pers_migration *x = a, *y = b;
    return x->version < y->version ? -1 : (x->version > y->version);
}

mf_status pers_migrations_list(const char *dir, pers_migration *out, int max, int *n) {
    DIR *d = opendir(dir);
    struct dirent *e;
    *n = 0;
    if (d == NULL) {
        mf_log(MF_LOG_ERROR, "migrations: cannot read directory dir=%s", dir);
        return MF_ERR_CONFIG;
    }
    while ((e = readdir(d)) != NULL && *n < max) {
        pers_migration *m = &out[*n];
        if (pers_migration_parse_name(e->d_name, &m->version, m->name, sizeof(m->name)) != 0)
            continue;
        if (snprintf(m->path, sizeof(m->path), "%s/%s", dir, e->d_name) >= (int)sizeof(m->path))
            continue;
        (*n)++;
    }
    closedir(d);
    qsort(out, (size_t)*n, sizeof(*out), cmp_migration);
    for (int i = 1; i < *n; i++) {
        if (out[i].version == out[i - 1].version) {
            mf_log(MF_LOG_ERROR, "migrations: version %d used twice (%s, %s)", out[i].version,
                   out[i - 1].name, out[i].name);
            return MF_ERR_CONFIG;
        }
    }
    if (*n == 0) {
        mf_log(MF_LOG_ERROR, "migrations: no NNN_name.sql file in dir=%s", dir);
        return MF_ERR_CONFIG;
    }
    return MF_OK;
}

/* Runs one statement; logs and returns MF_ERR_DB unless the result has status `want`. */
static mf_status exec_expect(PGconn *c,
                             const char *sql,
                             int nparams,
                             const char *const *params,
                             ExecStatusType want,
                             PGresult **keep) {
    PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != want) {
        char msg[512];
        mf_pg_error_line(r ? PQresultErrorMessage(r) : PQerrorMessage(c), msg, sizeof(msg));
        mf_log(MF_LOG_ERROR, "migrations: statement failed: %s", msg);
        PQclear(r);
        return MF_ERR_DB;
    }
    if (keep)
        *keep = r;
    else
        PQclear(r);
    return MF_OK;
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    char *buf;
    long len;
    if (f == NULL) return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    buf = mf_xmalloc((size_t)len + 1);
    if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        fclose(f);
        return NULL;
    }
    buf[len] = '\0';
    fclose(f);
    return buf;
}

static int recorded(PGresult *done, int version) {
    for (int i = 0; i < PQntuples(done); i++)
        if (atoi(PQgetvalue(done, i, 0)) == version) return 1;
    return 0;
}

/* One migration file and its schema_migrations row, in one transaction. The file is static
 * SQL from the installation (no data is interpolated), so it runs through the simple query
 * protocol, which accepts several statements. */
static mf_status apply_one(PGconn *c, const pers_migration *m) {
    char version[16];
    const char *params[2] = {version, m->name};
    char *sql = read_file(m->path);
    PGresult *r;
    mf_status s;
    if (sql == NULL) {
        mf_log(MF_LOG_ERROR, "migrations: cannot read file=%s", m->path);
        return MF_ERR_DB;
    }
    snprintf(version, sizeof(version), "%d", m->version);
    s = exec_expect(c, "BEGIN", 0, NULL, PGRES_COMMAND_OK, NULL);
    if (s == MF_OK) {
        r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
            char msg[512];
            mf_pg_error_line(r ? PQresultErrorMessage(r) : PQerrorMessage(c), msg, sizeof(msg));
            mf_log(MF_LOG_ERROR, "migrations: %s failed: %s", m->name, msg);
            s = MF_ERR_DB;
        }
        PQclear(r);
    }
    if (s == MF_OK)
        s = exec_expect(c,
                        "INSERT INTO schema_migrations (version, name, applied_at) "
                        "VALUES ($1::int, $2, now())",
                        2, params, PGRES_COMMAND_OK, NULL);
    if (s == MF_OK) s = exec_expect(c, "COMMIT", 0, NULL, PGRES_COMMAND_OK, NULL);
    if (s != MF_OK) PQclear(PQexec(c, "ROLLBACK"));
    free(sql);
    if (s == MF_OK)
        mf_log(MF_LOG_INFO, "migration applied version=%d name=%s", m->version, m->name);
    return s;
}

static mf_status apply_missing(PGconn *c, const pers_migration *list, int n, int *applied) {
    PGresult *done = NULL;
    mf_status s = exec_expect(c,
                              "CREATE TABLE IF NOT EXISTS schema_migrations ("
                              "version int PRIMARY KEY, name text NOT NULL, "
                              "applied_at timestamptz NOT NULL DEFAULT now())",
                              0, NULL, PGRES_COMMAND_OK, NULL);
    if (s == MF_OK)
        s = exec_expect(c, "SELECT version FROM schema_migrations ORDER BY version", 0, NULL,
                        PGRES_TUPLES_OK, &done);
    for (int i = 0; s == MF_OK && i < n; i++) {
        if (recorded(done, list[i].version)) continue;
        s = apply_one(c, &list[i]);
        if (s == MF_OK) (*applied)++;
    }
    PQclear(done);
    return s;
}

mf_status pers_migrate(PGconn *c, const char *dir, int *applied) {
    static pers_migration list[PERS_MIGRATION_MAX]; /* only the core thread migrates */
    const char *key[1] = {MIGRATE_LOCK_KEY};
    int n = 0;
    mf_status s;
    *applied = 0;
    s = pers_migrations_list(dir, list, PERS_MIGRATION_MAX, &n);
    if (s != MF_OK) return MF_ERR_DB;
    s = exec_expect(c, "SELECT pg_advisory_lock($1::bigint)", 1, key, PGRES_TUPLES_OK, NULL);
    if (s != MF_OK) return s;
    s = apply_missing(c, list, n, applied);
    /* Released explicitly; a lost connection releases it too. */
    exec_expect(c, "SELECT pg_advisory_unlock($1::bigint)", 1, key, PGRES_TUPLES_OK, NULL);
    return s;
}
