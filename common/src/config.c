/* config.c: table-driven configuration (defaults < INI file < env < flags).
 *
 * Every key is one row of `keys[]`: section, key, type, offset into mf_config, default, and
 * bounds. The INI file is parsed by inih; values from every origin go through set_value(),
 * so a bad value is reported the same way wherever it came from. */
#include "mf/config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mf/log.h"
#include "mf/tick.h"
#include "mf/util.h"

extern char **environ;

typedef enum key_type { T_STR, T_INT, T_I64, T_BOOL, T_TRANSPORT, T_MODE, T_LEVEL } key_type;

typedef struct key_def {
    const char *section;
    const char *key;
    key_type type;
    size_t offset;
    size_t size; /* for strings */
    const char *def;
    int64_t min, max;
    int secret;
} key_def;

#define OFF(f) offsetof(mf_config, f)
#define SZ(f) sizeof(((mf_config *)0)->f)
#define STR(sec, k, f, d) \
    { sec, k, T_STR, OFF(f), SZ(f), d, 0, 0, 0 }
#define SECRET(sec, k, f) \
    { sec, k, T_STR, OFF(f), SZ(f), "", 0, 0, 1 }
#define INT(sec, k, f, d, lo, hi) \
    { sec, k, T_INT, OFF(f), 0, d, lo, hi, 0 }

static const key_def keys[] = {
    {"log", "level", T_LEVEL, OFF(log.level), SZ(log.level), "info", 0, 0, 0},
    STR("log", "instance", log.instance, ""),
    STR("nats", "url", nats.url, "nats://127.0.0.1:4222"),
    STR("nats", "user", nats.user, ""),
    SECRET("nats", "password", nats.password),
    SECRET("nats", "token", nats.token),
    STR("nats", "tls_ca", nats.tls_ca, ""),
    STR("nats", "prefix", nats.prefix, "marketflow"),
    {"nats", "transport", T_TRANSPORT, OFF(nats.transport), 0, "jetstream", 0, 0, 0},
    INT("nats", "stream_replicas", nats.stream_replicas, "1", 1, 5),
    INT("nats", "ticks_max_age_s", nats.ticks_max_age_s, "900", 10, 86400 * 7),
    STR("redis", "host", redis.host, "127.0.0.1"),
    INT("redis", "port", redis.port, "6379", 1, 65535),
    STR("redis", "user", redis.user, ""),
    SECRET("redis", "password", redis.password),
    INT("redis", "db", redis.db, "0", 0, 15),
    INT("redis", "retention_s", redis.retention_s, "600", 10, 86400),
    STR("postgres", "host", postgres.host, "127.0.0.1"),
    INT("postgres", "port", postgres.port, "5432", 1, 65535),
    STR("postgres", "user", postgres.user, "postgres"),
    SECRET("postgres", "password", postgres.password),
    STR("postgres", "password_file", postgres.password_file, ""),
    STR("postgres", "dbname", postgres.dbname, "marketflow"),
    STR("postgres", "sslmode", postgres.sslmode, "prefer"),
    STR("exchanges",
        "live",
        exchanges.live,
        "exchange1=127.0.0.1:40101,exchange2=127.0.0.1:40102,exchange3=127.0.0.1:40103"),
    STR("exchanges",
        "test",
        exchanges.test,
        "exchange1=127.0.0.1:40201,exchange2=127.0.0.1:40202,exchange3=127.0.0.1:40203"),
    {"exchanges", "mode", T_MODE, OFF(exchanges.mode), 0, "test", 0, 0, 0},
    INT("collector", "workers_per_feed", collector.workers_per_feed, "5", 1, 64),
    INT("collector", "max_line", collector.max_line, "4096", 64, 1 << 20),
    INT("collector", "max_inflight", collector.max_inflight, "8192", 1, 1 << 20),
    INT("collector", "buffer", collector.buffer, "65536", 16, 1 << 24),
    INT("aggregator", "workers", aggregator.workers, "2", 1, 64),
    INT("aggregator", "grace_1s_ms", aggregator.grace_1s_ms, "250", 0, 60000),
    INT("aggregator", "grace_1m_ms", aggregator.grace_1m_ms, "2000", 0, 600000),
    INT("aggregator", "max_lateness_s", aggregator.max_lateness_s, "3600", 1, 315360000),
    INT("aggregator", "max_skew_s", aggregator.max_skew_s, "30", 1, 86400),
    INT("aggregator", "latest_interval_ms", aggregator.latest_interval_ms, "100", 0, 60000),
    INT("aggregator", "idle_expiry_s", aggregator.idle_expiry_s, "600", 1, 86400 * 7),
    INT("persister", "batch_rows", persister.batch_rows, "5000", 1, 1000000),
    INT("persister", "flush_ms", persister.flush_ms, "1000", 10, 60000),
    INT("api", "port", api.port, "8080", 1, 65535),
    STR("api", "bind", api.bind, "0.0.0.0"),
    SECRET("api", "mode_token", api.mode_token),
    INT("api", "max_body", api.max_body, "4096", 0, 1 << 20),
    INT("api", "timeout_s", api.timeout_s, "10", 1, 3600),
    STR("generator",
        "listen",
        generator.listen,
        "exchange1=127.0.0.1:40201,exchange2=127.0.0.1:40202,exchange3=127.0.0.1:40203"),
    INT("generator", "interval_ms", generator.interval_ms, "100", 1, 60000),
    INT("generator", "rate", generator.rate, "0", 0, 100000000),
    STR("generator", "symbols", generator.symbols, ""),
    {"generator", "seed", T_I64, OFF(generator.seed), 0, "0", 0, INT64_MAX, 0},
    {"generator", "extended", T_BOOL, OFF(generator.extended), 0, "false", 0, 0, 0},
    STR("generator", "log", generator.log, ""),
    STR("generator", "faults", generator.faults, ""),
    INT("metrics", "port", metrics.port, "0", 0, 65535),
    STR("metrics", "bind", metrics.bind, "0.0.0.0"),
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const key_def *find_key(const char *section, const char *key) {
    for (size_t i = 0; i < NKEYS; i++)
        if (strcasecmp(keys[i].section, section) == 0 && strcasecmp(keys[i].key, key) == 0)
            return &keys[i];
    return NULL;
}

static int section_known(const char *section) {
    for (size_t i = 0; i < NKEYS; i++)
        if (strcasecmp(keys[i].section, section) == 0) return 1;
    return 0;
}

static int
set_value(mf_config *cfg, const key_def *k, const char *value, char *why, size_t whylen) {
    char *field = (char *)cfg + k->offset;
    int64_t v;
    int b;

    switch (k->type) {
    case T_STR:
        if (mf_strlcpy(field, value, k->size) != 0) {
            snprintf(why, whylen, "longer than %zu characters", k->size - 1);
            return -1;
        }
        return 0;
    case T_LEVEL: {
        mf_log_level lvl;
        if (mf_log_level_parse(value, &lvl) != 0) {
            snprintf(why, whylen, "'%s' is not one of debug, info, warn, error", value);
            return -1;
        }
        return mf_strlcpy(field, value, k->size);
    }
    case T_INT:
    case T_I64:
        if (mf_parse_i64(value, k->min, k->max, &v) != 0) {
            snprintf(why, whylen, "'%s' is not an integer in [%lld, %lld]", value,
                     (long long)k->min, (long long)k->max);
            return -1;
        }
        if (k->type == T_INT)
            *(int *)field = (int)v;
        else
            *(int64_t *)field = v;
        return 0;
    case T_BOOL:
        if (mf_parse_bool(value, &b) != 0) {
            snprintf(why, whylen, "'%s' is not a boolean (true/false)", value);
            return -1;
        }
        *(int *)field = b;
        return 0;
    case T_TRANSPORT:
        if (strcasecmp(value, "jetstream") == 0)
            *(mf_transport *)field = MF_TRANSPORT_JETSTREAM;
        else if (strcasecmp(value, "core") == 0)
            *(mf_transport *)field = MF_TRANSPORT_CORE;
        else {
            snprintf(why, whylen, "'%s' is not one of jetstream, core", value);
            return -1;
        }
        return 0;
    case T_MODE:
        if (mf_mode_parse(value, (mf_mode *)field) != 0) {
            snprintf(why, whylen, "'%s' is not one of test, live", value);
            return -1;
        }
        return 0;
    }
    return -1;
}

void mf_config_defaults(mf_config *cfg) {
    char why[256];
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < NKEYS; i++) {
        int rc = set_value(cfg, &keys[i], keys[i].def, why, sizeof(why));
        MF_ASSERT(rc == 0);
    }
}

mf_status mf_config_set(mf_config *cfg,
                        const char *section,
                        const char *key,
                        const char *value,
                        const char *origin,
                        char *err,
                        size_t errlen) {
    const key_def *k = find_key(section, key);
    char why[512];
    if (k == NULL) {
        if (!section_known(section))
            snprintf(err, errlen, "config: unknown section [%s] (%s)", section, origin);
        else
            snprintf(err, errlen, "config: unknown key %s.%s (%s)", section, key, origin);
        return MF_ERR_CONFIG;
    }
    if (set_value(cfg, k, value, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "config: %s.%s: %s (%s)", k->section, k->key, why, origin);
        return MF_ERR_CONFIG;
    }
    return MF_OK;
}

typedef struct ini_ctx {
    mf_config *cfg;
    const char *path;
    char *err;
    size_t errlen;
    int failed;
    FILE *f;
    int lineno; /* Debian's inih passes no line numbers: the reader counts them */
} ini_ctx;

static char *read_line(char *str, int num, void *stream) {
    ini_ctx *c = stream;
    char *r = fgets(str, num, c->f);
    if (r != NULL) c->lineno++;
    return r;
}

static int on_ini(void *user, const char *section, const char *name, const char *value) {
    ini_ctx *c = user;
    int lineno = c->lineno;
    char origin[512];
    if (c->failed) return 0;
    snprintf(origin, sizeof(origin), "%s line %d", c->path, lineno);
    if (mf_config_set(c->cfg, section, name, value, origin, c->err, c->errlen) != MF_OK) {
        c->failed = 1;
        return 0;
    }
    return 1;
}

mf_status mf_config_load_file(mf_config *cfg, const char *path, char *err, size_t errlen) {
    ini_ctx c = {cfg, path, err, errlen, 0, NULL, 0};
    int rc;
    c.f = fopen(path, "r");
    if (c.f == NULL) {
        snprintf(err, errlen, "config: cannot open %s: %s", path, strerror(errno));
        return MF_ERR_CONFIG;
    }
    rc = ini_parse_stream(read_line, &c, on_ini, &c);
    fclose(c.f);
    if (c.failed) return MF_ERR_CONFIG;
    if (rc != 0) {
        snprintf(err, errlen,
                 "config: %s line %d: syntax error (expected [section] or key = "
                 "value)",
                 path, rc);
        return MF_ERR_CONFIG;
    }
    return MF_OK;
}

mf_status mf_config_load_env(mf_config *cfg, char **envp, char *err, size_t errlen) {
    static const char pfx[] = "MARKETFLOW_";
    if (envp == NULL) envp = environ;
    for (size_t i = 0; i < NKEYS; i++) {
        char name[128];
        const char *v;
        snprintf(name, sizeof(name), "%s%s_%s", pfx, keys[i].section, keys[i].key);
        mf_str_upper(name);
        v = NULL;
        for (char **e = envp; *e; e++) {
            size_t n = strlen(name);
            if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') {
                v = *e + n + 1;
                break;
            }
        }
        if (v != NULL) {
            char origin[160];
            snprintf(origin, sizeof(origin), "from env %s", name);
            if (mf_config_set(cfg, keys[i].section, keys[i].key, v, origin, err, errlen) != MF_OK)
                return MF_ERR_CONFIG;
        }
    }
    return MF_OK;
}

mf_status mf_config_validate(const mf_config *cfg, char *err, size_t errlen) {
    mf_endpoint eps[MF_MAX_FEEDS];
    int n;
    char why[256];
    struct {
        const char *name;
        const char *list;
    } lists[] = {{"exchanges.live", cfg->exchanges.live},
                 {"exchanges.test", cfg->exchanges.test},
                 {"generator.listen", cfg->generator.listen}};

    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        if (mf_endpoints_parse(lists[i].list, eps, MF_MAX_FEEDS, &n, why, sizeof(why)) != MF_OK) {
            snprintf(err, errlen, "config: %s: %s", lists[i].name, why);
            return MF_ERR_CONFIG;
        }
    }
    if (!mf_token_valid(cfg->nats.prefix)) {
        snprintf(err, errlen, "config: nats.prefix: '%s' is not a subject token [A-Za-z0-9_-]",
                 cfg->nats.prefix);
        return MF_ERR_CONFIG;
    }
    if (cfg->postgres.password_file[0] && access(cfg->postgres.password_file, R_OK) != 0) {
        snprintf(err, errlen, "config: postgres.password_file: cannot read %s: %s",
                 cfg->postgres.password_file, strerror(errno));
        return MF_ERR_CONFIG;
    }
    return MF_OK;
}

void mf_config_dump(const mf_config *cfg, FILE *f) {
    const char *section = "";
    for (size_t i = 0; i < NKEYS; i++) {
        const key_def *k = &keys[i];
        const char *field = (const char *)cfg + k->offset;
        if (strcmp(section, k->section) != 0) {
            section = k->section;
            fprintf(f, "%s[%s]\n", i ? "\n" : "", section);
        }
        fprintf(f, "%s = ", k->key);
        switch (k->type) {
        case T_STR:
        case T_LEVEL: fprintf(f, "%s\n", k->secret && field[0] ? "***" : field); break;
        case T_INT: fprintf(f, "%d\n", *(const int *)field); break;
        case T_I64: fprintf(f, "%lld\n", (long long)*(const int64_t *)field); break;
        case T_BOOL: fprintf(f, "%s\n", *(const int *)field ? "true" : "false"); break;
        case T_TRANSPORT:
            fprintf(f, "%s\n",
                    *(const mf_transport *)field == MF_TRANSPORT_CORE ? "core" : "jetstream");
            break;
        case T_MODE: fprintf(f, "%s\n", mf_mode_str(*(const mf_mode *)field)); break;
        }
    }
}

void mf_config_log(const mf_config *cfg) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) return;
    mf_config_dump(cfg, f);
    fclose(f);
    /* One line: sections joined, so the whole configuration is one log event. */
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\n') buf[i] = ' ';
    mf_log(MF_LOG_INFO, "config loaded %s", buf);
    free(buf);
}

void mf_config_pg_password(const mf_config *cfg, char *out, size_t outlen) {
    FILE *f;
    out[0] = '\0';
    if (cfg->postgres.password[0]) {
        snprintf(out, outlen, "%s", cfg->postgres.password);
        return;
    }
    if (!cfg->postgres.password_file[0]) return;
    f = fopen(cfg->postgres.password_file, "r");
    if (f == NULL) return;
    if (fgets(out, (int)outlen, f) == NULL) out[0] = '\0';
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
}

const char *mf_mode_str(mf_mode m) {
    return m == MF_MODE_LIVE ? "live" : "test";
}

int mf_mode_parse(const char *s, mf_mode *out) {
    if (strcasecmp(s, "live") == 0)
        *out = MF_MODE_LIVE;
    else if (strcasecmp(s, "test") == 0)
        *out = MF_MODE_TEST;
    else
        return -1;
    return 0;
}

/* ---- endpoint lists ----------------------------------------------------------------------- */

static const char *const feed_kinds[MF_FEED_KIND_COUNT] = {"line", "binance"};

const char *mf_feed_kind_str(mf_feed_kind k) {
    return (unsigned)k < MF_FEED_KIND_COUNT ? feed_kinds[k] : "?";
}

/* host:port (host may be "[v6]" when bracketed) into ep->host / ep->port. `item` names the
 * whole entry in errors. */
static int
parse_hostport(char *hp, int brackets, mf_endpoint *ep, const char *item, char *err, size_t errlen) {
    char *colon = strrchr(hp, ':'), *host = hp;
    int64_t port;
    if (brackets && hp[0] == '[') {
        char *close = strchr(hp, ']');
        if (close == NULL || close[1] != ':') {
            snprintf(err, errlen, "'%s': an IPv6 host is written [addr]:port", item);
            return -1;
        }
        *close = '\0';
        host = hp + 1;
        colon = close + 1;
    }
    if (colon == NULL || colon == host || (!brackets && colon == hp) ||
        mf_parse_i64(colon + 1, 1, 65535, &port) != 0) {
        snprintf(err, errlen, "'%s' needs host:port with a port in 1..65535", item);
        return -1;
    }
    *colon = '\0';
    if (host[0] == '\0') {
        snprintf(err, errlen, "'%s' needs host:port with a port in 1..65535", item);
        return -1;
    }
    if (mf_strlcpy(ep->host, host, sizeof(ep->host)) != 0) {
        snprintf(err, errlen, "host too long in '%s'", item);
        return -1;
    }
    ep->port = (int)port;
    return 0;
}

/* "KIND+TRANSPORT://host:port[/path]" (the text after "name="). */
static int parse_url(char *url, mf_endpoint *ep, const char *item, char *err, size_t errlen) {
    char *sep = strstr(url, "://"), *plus = strchr(url, '+'), *hp, *slash;
    const char *transport;
    int k;
    if (plus == NULL || plus > sep) {
        snprintf(err, errlen, "'%s': a URL is KIND+TRANSPORT://host:port (e.g. line+tcp://)", item);
        return -1;
    }
    *plus = '\0';
    *sep = '\0';
    transport = plus + 1;
    for (k = 0; k < MF_FEED_KIND_COUNT && strcmp(url, feed_kinds[k]) != 0; k++) continue;
    if (k == MF_FEED_KIND_COUNT) {
        snprintf(err, errlen, "'%s': unknown feed kind '%s' (one of line, binance)", item, url);
        return -1;
    }
    ep->kind = (mf_feed_kind)k;
    if (ep->kind == MF_FEED_BINANCE) {
        snprintf(err, errlen, "'%s': feed kind 'binance' is not built yet (only line is)", item);
        return -1;
    }
    if (strcmp(transport, "tcp") != 0) {
        snprintf(err, errlen, "'%s': feed kind line runs over tcp, not '%s'", item, transport);
        return -1;
    }
    hp = sep + 3;
    slash = strchr(hp, '/');
    if (slash != NULL) {
        if (slash[1] != '\0') {
            snprintf(err, errlen, "'%s': feed kind line takes no path", item);
            return -1;
        }
        *slash = '\0';
    }
    return parse_hostport(hp, 1, ep, item, err, errlen);
}

static void endpoint_url(mf_endpoint *ep) {
    const char *transport = "tcp"; /* the one transport built: kind line */
    int v6 = strchr(ep->host, ':') != NULL;
    snprintf(ep->url, sizeof(ep->url), "%s+%s://%s%s%s:%d%s", mf_feed_kind_str(ep->kind), transport,
             v6 ? "[" : "", ep->host, v6 ? "]" : "", ep->port, ep->path);
}

static int parse_endpoint(const char *item, size_t len, mf_endpoint *ep, char *err, size_t errlen) {
    char buf[MF_ENDPOINT_HOST + MF_ENDPOINT_PATH + 64], whole[sizeof(buf)];
    char *eq, *target;
    int rc;
    if (len == 0 || len >= sizeof(buf)) {
        snprintf(err, errlen, "empty or overlong entry");
        return -1;
    }
    memset(ep, 0, sizeof(*ep));
    memcpy(buf, item, len);
    buf[len] = '\0';
    memcpy(whole, buf, len + 1);
    eq = strchr(buf, '=');
    if (eq == NULL || strrchr(buf, ':') == NULL || strrchr(buf, ':') < eq) {
        snprintf(err, errlen, "'%s' is not name=host:port or name=KIND+TRANSPORT://host:port",
                 whole);
        return -1;
    }
    *eq = '\0';
    target = eq + 1;
    if (!mf_token_valid(buf)) {
        snprintf(err, errlen, "exchange name '%s' is not [A-Za-z0-9_-]{1,32}", buf);
        return -1;
    }
    if (mf_strlcpy(ep->name, buf, sizeof(ep->name)) != 0) return -1; /* checked above */
    ep->kind = MF_FEED_LINE;
    if (strstr(target, "://") != NULL)
        rc = parse_url(target, ep, whole, err, errlen);
    else
        rc = parse_hostport(target, 0, ep, whole, err, errlen);
    if (rc == 0) endpoint_url(ep);
    return rc;
}

mf_status
mf_endpoints_parse(const char *list, mf_endpoint *out, int max, int *n, char *err, size_t errlen) {
    const char *p = list;
    *n = 0;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && (*p == ' ' || *p == '\t')) p++, len--;
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) len--;
        if (len > 0) {
            if (*n >= max) {
                snprintf(err, errlen, "more than %d endpoints", max);
                return MF_ERR_CONFIG;
            }
            if (parse_endpoint(p, len, &out[*n], err, errlen) != 0) return MF_ERR_CONFIG;
            for (int i = 0; i < *n; i++) {
                if (strcmp(out[i].name, out[*n].name) == 0) {
                    snprintf(err, errlen, "exchange '%s' listed twice", out[i].name);
                    return MF_ERR_CONFIG;
                }
            }
            (*n)++;
        }
        if (end == NULL) break;
        p = end + 1;
    }
    return MF_OK;
}

void mf_config_dump_endpoints(const mf_config *cfg, FILE *f) {
    const struct {
        const char *name, *list;
    } lists[] = {{"exchanges.live", cfg->exchanges.live},
                 {"exchanges.test", cfg->exchanges.test},
                 {"generator.listen", cfg->generator.listen}};
    mf_endpoint eps[MF_MAX_FEEDS];
    char err[256];
    int n;
    fprintf(f, "\n# endpoints (kind and URL of every entry)\n");
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        if (mf_endpoints_parse(lists[i].list, eps, MF_MAX_FEEDS, &n, err, sizeof(err)) != MF_OK)
            continue;
        for (int k = 0; k < n; k++)
            fprintf(f, "# %s %s kind=%s url=%s\n", lists[i].name, eps[k].name,
                    mf_feed_kind_str(eps[k].kind), eps[k].url);
    }
}
