/* config.h: the one configuration of every marketflow service.
 *
 * Filled in this order, each step overriding the one before:
 *   1. built-in defaults (they run against the local stack of deploy/local),
 *   2. the INI file given by --config FILE or MARKETFLOW_CONFIG (parsed by inih),
 *   3. the environment: MARKETFLOW_<SECTION>_<KEY>, e.g. MARKETFLOW_NATS_URL,
 *   4. command-line flags: --set section.key=value (repeatable) and the service's own flags.
 * Then every value is validated in one pass. The first bad value produces one clear line
 * ("config: nats.transport: 'udp' is not one of jetstream, core (from env
 * MARKETFLOW_NATS_TRANSPORT)") and the load fails with MF_ERR_CONFIG; mains exit 2.
 *
 * The struct is plain data, read-only after start, shared by all threads without locks.
 * Strings are fixed-size arrays owned by the struct. */
#ifndef MF_CONFIG_H
#define MF_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "mf/status.h"

#define MF_CFG_STR 256
#define MF_CFG_LONGSTR 1024
#define MF_MAX_FEEDS 16

typedef enum mf_transport { MF_TRANSPORT_JETSTREAM = 0, MF_TRANSPORT_CORE } mf_transport;
typedef enum mf_mode { MF_MODE_TEST = 0, MF_MODE_LIVE } mf_mode;

typedef struct mf_config {
    struct {
        char level[16];    /* debug, info, warn, error */
        char instance[64]; /* instance id in logs and status subjects; default host-pid */
    } log;
    struct {
        char url[MF_CFG_STR];
        char user[MF_CFG_STR];
        char password[MF_CFG_STR]; /* secret: never logged */
        char token[MF_CFG_STR];    /* secret */
        char tls_ca[MF_CFG_STR];
        char prefix[64];
        mf_transport transport;
        int stream_replicas; /* replicas of the JetStream streams (1 local, 3 in k8s prod) */
        int ticks_max_age_s; /* MARKETFLOW_TICKS max age (900) */
    } nats;
    struct {
        char host[MF_CFG_STR];
        int port;
        char user[MF_CFG_STR];     /* ACL user for AUTH; empty = the default user */
        char password[MF_CFG_STR]; /* secret */
        int db;
        int retention_s;
    } redis;
    struct {
        char host[MF_CFG_STR];
        int port;
        char user[MF_CFG_STR];
        char password[MF_CFG_STR]; /* secret */
        char password_file[MF_CFG_STR];
        char dbname[MF_CFG_STR];
        char sslmode[32];
    } postgres;
    struct {
        char live[MF_CFG_LONGSTR]; /* name=host:port,... */
        char test[MF_CFG_LONGSTR];
        mf_mode mode; /* mode assumed when the bus holds none */
    } exchanges;
    struct {
        int workers_per_feed;
        int max_line;
        int max_inflight; /* async JetStream publishes in flight per collector */
        int buffer;       /* ticks held while NATS is away before counting drops */
    } collector;
    struct {
        int workers;
        int grace_1s_ms;
        int grace_1m_ms;
        int max_lateness_s;
        int max_skew_s;
        int latest_interval_ms;
        int idle_expiry_s; /* per-key state of keys idle this long is freed */
    } aggregator;
    struct {
        int batch_rows;
        int flush_ms;
    } persister;
    struct {
        int port;
        char bind[64];
        char mode_token[MF_CFG_STR]; /* secret; empty = POST /mode is open */
        int max_body;                /* bytes */
        int timeout_s;               /* idle connection timeout */
    } api;
    struct {
        char listen[MF_CFG_LONGSTR]; /* name=host:port,... */
        int interval_ms;
        int rate;                     /* lines/s per feed; 0 = one line per symbol per interval */
        char symbols[MF_CFG_LONGSTR]; /* comma-separated; empty = the five default symbols */
        int64_t seed;
        int extended;            /* bool: add qty, id, side */
        char log[MF_CFG_STR];    /* file that receives every line sent, or empty */
        char faults[MF_CFG_STR]; /* fault injection spec, see the generator docs */
    } generator;
    struct {
        int port; /* 0 = off */
        char bind[64];
    } metrics;
} mf_config;

/* Fills `cfg` with the built-in defaults. */
void mf_config_defaults(mf_config *cfg);

/* Loads an INI file over `cfg`. Unknown sections or keys are errors (typos must not pass
 * silently). `err` receives one line on failure. */
mf_status mf_config_load_file(mf_config *cfg, const char *path, char *err, size_t errlen);

/* Applies every MARKETFLOW_<SECTION>_<KEY> variable found in `envp` (NULL = environ).
 * Unknown MARKETFLOW_* variables are ignored (k8s injects others). */
mf_status mf_config_load_env(mf_config *cfg, char **envp, char *err, size_t errlen);

/* Sets one value by "section.key" name. `origin` is used in error messages. */
mf_status mf_config_set(mf_config *cfg,
                        const char *section,
                        const char *key,
                        const char *value,
                        const char *origin,
                        char *err,
                        size_t errlen);

/* Cross-field validation (e.g. endpoint lists parse, password_file readable). */
mf_status mf_config_validate(const mf_config *cfg, char *err, size_t errlen);

/* Logs the effective configuration once, secrets masked. */
void mf_config_log(const mf_config *cfg);

/* Writes the effective configuration as INI to `f`, secrets masked. */
void mf_config_dump(const mf_config *cfg, FILE *f);

/* Returns the PostgreSQL password: postgres.password, else the first line of
 * postgres.password_file. Writes "" when neither. */
void mf_config_pg_password(const mf_config *cfg, char *out, size_t outlen);

/* ---- command line ---------------------------------------------------------------------- */

/* A service-specific flag. `handler` receives the value (NULL for flags without one) and
 * returns 0, or -1 after writing a one-line error into err. */
typedef struct mf_cli_flag {
    const char *name;    /* "--port" */
    const char *argname; /* "N", or NULL when the flag takes no value */
    const char *help;
    int (*handler)(mf_config *cfg, void *ctx, const char *value, char *err, size_t errlen);
} mf_cli_flag;

typedef enum mf_cli_result {
    MF_CLI_RUN = 0,  /* go on and run */
    MF_CLI_EXIT_OK,  /* --help or --check-config printed what it had to: exit 0 */
    MF_CLI_EXIT_BAD, /* an error line was printed: exit 2 */
} mf_cli_result;

/* Parses argv for a service: defaults -> --config/MARKETFLOW_CONFIG file -> env -> flags,
 * then validates. Common flags: --help, --config FILE, --set section.key=value,
 * --check-config (validate, print the effective config, exit), --log-level L.
 * `usage` is the first line of --help ("marketflow-api [--port <N>] [--config <file>]").
 * Errors are printed to stderr as one line prefixed with the program name. */
mf_cli_result mf_config_cli(mf_config *cfg,
                            int argc,
                            char **argv,
                            const char *usage,
                            const mf_cli_flag *flags,
                            void *ctx);

/* ---- endpoint lists (docs/design.md sections 8 and 10, docs/configuration.md) ------------
 *
 * A list is comma-separated entries "name=target". A target is either
 *   host:port                          the short form: kind line over TCP (wave 1 configs), or
 *   KIND+TRANSPORT://host:port[/path]   a URL: the feed kind, then how it is reached.
 * Kinds: line (transport tcp, no path) is built; binance (transport ws or wss, a path such as
 * /stream?streams=btcusdt@trade) is recognised and rejected as not built yet. An IPv6 host
 * is written in brackets in a URL ("line+tcp://[::1]:40101"). */

typedef enum mf_feed_kind { MF_FEED_LINE = 0, MF_FEED_BINANCE, MF_FEED_KIND_COUNT } mf_feed_kind;

#define MF_ENDPOINT_HOST 128
#define MF_ENDPOINT_PATH 512

typedef struct mf_endpoint {
    char name[33]; /* exchange name, [A-Za-z0-9_-]{1,32} */
    mf_feed_kind kind;
    char host[MF_ENDPOINT_HOST];
    int port;
    char path[MF_ENDPOINT_PATH]; /* "" or "/..." (path and query), kinds that take one */
    char url[MF_ENDPOINT_HOST + MF_ENDPOINT_PATH + 32]; /* canonical URL, e.g. line+tcp://h:1 */
} mf_endpoint;

/* Parses an endpoint list into out[max]. Returns MF_OK and sets *n, or MF_ERR_CONFIG with a
 * one-line reason in err. Duplicated names, unknown kinds or transports and kinds that are
 * not built yet are rejected. */
mf_status
mf_endpoints_parse(const char *list, mf_endpoint *out, int max, int *n, char *err, size_t errlen);

/* "line", "binance". */
const char *mf_feed_kind_str(mf_feed_kind k);

/* Writes one "# <list> <name> kind=<kind> url=<url>" comment line per endpoint of the three
 * endpoint lists (exchanges.live, exchanges.test, generator.listen); --check-config prints
 * them after the configuration. Lists that do not parse are skipped (validate rejects them). */
void mf_config_dump_endpoints(const mf_config *cfg, FILE *f);

const char *mf_mode_str(mf_mode m);
int mf_mode_parse(const char *s, mf_mode *out); /* "live" / "test" -> 0; else -1 */

#endif
