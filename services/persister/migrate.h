/* migrate.h: versioned schema migrations (sql/migrations/NNN_name.sql) for PostgreSQL.
 *
 * Files are applied in version order, each in its own transaction together with its row in
 * schema_migrations(version, name, applied_at). The whole run holds a session advisory lock,
 * so several persisters starting at once apply every file exactly once. Files must not
 * contain transaction control (BEGIN/COMMIT). */
#ifndef PERS_MIGRATE_H
#define PERS_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

#include "mf/status.h"

#define PERS_MIGRATION_MAX 256

typedef struct pers_migration {
    int version;
    char name[128]; /* file name without the .sql suffix, e.g. "001_init" */
    char path[1024];
} pers_migration;

/* Lists the migrations of `dir`, sorted by version, into out[max]. Files not named
 * <digits>_<name>.sql are ignored. MF_ERR_CONFIG (logged) when the directory cannot be read,
 * holds none, or two files share a version. */
mf_status pers_migrations_list(const char *dir, pers_migration *out, int max, int *n);

/* Parses "001_init.sql" into version 1 and name "001_init". Returns 0, or -1 when the name
 * is not a migration file name. */
int pers_migration_parse_name(const char *file, int *version, char *name, size_t namelen);

/* Applies the migrations of `dir` not yet recorded. *applied receives how many were applied
 * now. MF_ERR_DB on any database failure (logged; nothing half-applied stays behind). */
mf_status pers_migrate(PGconn *conn, const char *dir, int *applied);

#endif
