/* redis_conn.c: Redis connections (see redis_conn.h). */
#include "mf/redis_conn.h"

#include <stdio.h>
#include <sys/time.h>

#include "mf/db_conn.h"

/* Runs one setup command. 0, or -1 with err set. */
static int
setup_cmd(redisContext *c, const char *what, int argc, const char **argv, char *err, size_t errlen) {
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    int ok = r != NULL && r->type != REDIS_REPLY_ERROR;
    if (!ok) snprintf(err, errlen, "%s: %s", what, r ? r->str : c->errstr);
    freeReplyObject(r);
    return ok ? 0 : -1;
}

mf_status mf_redis_connect(redisContext **out, const mf_config *cfg, char *err, size_t errlen) {
    struct timeval ct = {MF_DB_CONNECT_TIMEOUT_S, 0};
    struct timeval rt = {MF_DB_REPLY_TIMEOUT_MS / 1000, (MF_DB_REPLY_TIMEOUT_MS % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(cfg->redis.host, cfg->redis.port, ct);
    char db[16];
    *out = NULL;
    if (c == NULL || c->err) {
        snprintf(err, errlen, "connect: %s", c ? c->errstr : "out of memory");
        redisFree(c);
        return MF_ERR_DB;
    }
    if (redisSetTimeout(c, rt) != REDIS_OK || redisEnableKeepAlive(c) != REDIS_OK) {
        snprintf(err, errlen, "socket options: %s", c->errstr);
        redisFree(c);
        return MF_ERR_DB;
    }
    if (cfg->redis.password[0]) {
        const char *user[] = {"AUTH", cfg->redis.user, cfg->redis.password};
        const char *plain[] = {"AUTH", cfg->redis.password};
        int rc = cfg->redis.user[0] ? setup_cmd(c, "AUTH", 3, user, err, errlen)
                                    : setup_cmd(c, "AUTH", 2, plain, err, errlen);
        if (rc != 0) {
            redisFree(c);
            return MF_ERR_DB;
        }
    }
    if (cfg->redis.db != 0) {
        const char *argv[] = {"SELECT", db};
        snprintf(db, sizeof(db), "%d", cfg->redis.db);
        if (setup_cmd(c, "SELECT", 2, argv, err, errlen) != 0) {
            redisFree(c);
            return MF_ERR_DB;
        }
    }
    *out = c;
    return MF_OK;
}
