/* Unit tests of config.c and cli.c: defaults, precedence file < env < flags, bad values,
 * endpoint lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "mf/config.h"

static char g_path[64];

static void write_file(const char *text) {
    FILE *f;
    snprintf(g_path, sizeof(g_path), "/tmp/mf-test-config-%d.ini", (int)getpid());
    f = fopen(g_path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int teardown(void **state) {
    (void)state;
    if (g_path[0]) unlink(g_path);
    unsetenv("MARKETFLOW_API_PORT");
    unsetenv("MARKETFLOW_NATS_TRANSPORT");
    unsetenv("MARKETFLOW_CONFIG");
    return 0;
}

static void test_defaults(void **state) {
    mf_config c;
    (void)state;
    mf_config_defaults(&c);
    assert_string_equal(c.nats.url, "nats://127.0.0.1:4222");
    assert_string_equal(c.nats.prefix, "marketflow");
    assert_int_equal(c.nats.transport, MF_TRANSPORT_JETSTREAM);
    assert_int_equal(c.redis.port, 6379);
    assert_int_equal(c.redis.retention_s, 600);
    assert_int_equal(c.postgres.port, 5432);
    assert_string_equal(c.postgres.dbname, "marketflow");
    assert_int_equal(c.collector.workers_per_feed, 5);
    assert_int_equal(c.collector.max_line, 4096);
    assert_int_equal(c.aggregator.grace_1s_ms, 250);
    assert_int_equal(c.aggregator.grace_1m_ms, 2000);
    assert_int_equal(c.aggregator.max_lateness_s, 3600);
    assert_int_equal(c.aggregator.max_skew_s, 30);
    assert_int_equal(c.aggregator.latest_interval_ms, 100);
    assert_int_equal(c.persister.flush_ms, 1000);
    assert_int_equal(c.api.port, 8080);
    assert_int_equal(c.exchanges.mode, MF_MODE_TEST);
    assert_int_equal(c.metrics.port, 0);
    assert_int_equal(mf_config_validate(&c, (char[256]){0}, 256), MF_OK);
}

static void test_precedence_file_env_flags(void **state) {
    mf_config c;
    char *argv_file[] = {"prog", "--config", g_path, NULL};
    char *argv_flag[] = {"prog", "--config", g_path, "--set", "api.port=9002", NULL};
    (void)state;
    write_file("# comment\n[api]\nport = 9000\n[nats]\nprefix = mfx\n");
    assert_int_equal(mf_config_cli(&c, 3, argv_file, "prog", NULL, NULL), MF_CLI_RUN);
    assert_int_equal(c.api.port, 9000);
    assert_string_equal(c.nats.prefix, "mfx");

    setenv("MARKETFLOW_API_PORT", "9001", 1);
    assert_int_equal(mf_config_cli(&c, 3, argv_file, "prog", NULL, NULL), MF_CLI_RUN);
    assert_int_equal(c.api.port, 9001); /* env beats file */
    assert_string_equal(c.nats.prefix, "mfx");

    assert_int_equal(mf_config_cli(&c, 5, argv_flag, "prog", NULL, NULL), MF_CLI_RUN);
    assert_int_equal(c.api.port, 9002); /* flag beats env */

    /* MARKETFLOW_CONFIG names the file when --config is absent. */
    unsetenv("MARKETFLOW_API_PORT");
    setenv("MARKETFLOW_CONFIG", g_path, 1);
    assert_int_equal(mf_config_cli(&c, 1, (char *[]){"prog", NULL}, "prog", NULL, NULL),
                     MF_CLI_RUN);
    assert_int_equal(c.api.port, 9000);
}

static void test_bad_values(void **state) {
    mf_config c;
    char err[512];
    (void)state;
    mf_config_defaults(&c);
    assert_int_equal(mf_config_set(&c, "api", "port", "70000", "test", err, sizeof(err)),
                     MF_ERR_CONFIG);
    assert_non_null(strstr(err, "api.port"));
    assert_non_null(strstr(err, "70000"));
    assert_null(strchr(err, '\n'));
    assert_int_equal(mf_config_set(&c, "api", "port", "12abc", "t", err, sizeof(err)),
                     MF_ERR_CONFIG);
    assert_int_equal(mf_config_set(&c, "api", "port", "", "t", err, sizeof(err)), MF_ERR_CONFIG);
    assert_int_equal(mf_config_set(&c, "nats", "transport", "udp", "t", err, sizeof(err)),
                     MF_ERR_CONFIG);
    assert_non_null(strstr(err, "jetstream"));
    assert_int_equal(mf_config_set(&c, "generator", "extended", "maybe", "t", err, sizeof(err)),
                     MF_ERR_CONFIG);
    assert_int_equal(mf_config_set(&c, "nosuch", "key", "1", "t", err, sizeof(err)), MF_ERR_CONFIG);
    assert_non_null(strstr(err, "unknown section"));
    assert_int_equal(mf_config_set(&c, "api", "nosuch", "1", "t", err, sizeof(err)), MF_ERR_CONFIG);
    assert_non_null(strstr(err, "unknown key api.nosuch"));
    assert_int_equal(c.api.port, 8080); /* untouched by failed sets */
}

static void test_bad_file_and_env(void **state) {
    mf_config c;
    char err[512];
    char *env_bad[] = {"MARKETFLOW_NATS_TRANSPORT=carrier-pigeon", NULL};
    char *env_ok[] = {"MARKETFLOW_UNKNOWN_THING=1", "MARKETFLOW_REDIS_PORT=7000", NULL};
    (void)state;
    mf_config_defaults(&c);
    write_file("[api]\nport = 8081\nbogus = 1\n");
    assert_int_equal(mf_config_load_file(&c, g_path, err, sizeof(err)), MF_ERR_CONFIG);
    assert_non_null(strstr(err, "line 3"));
    write_file("[api\nport = 1\n");
    assert_int_equal(mf_config_load_file(&c, g_path, err, sizeof(err)), MF_ERR_CONFIG);
    assert_int_equal(mf_config_load_file(&c, "/nonexistent/x.ini", err, sizeof(err)),
                     MF_ERR_CONFIG);
    assert_non_null(strstr(err, "cannot open"));
    assert_int_equal(mf_config_load_env(&c, env_bad, err, sizeof(err)), MF_ERR_CONFIG);
    assert_non_null(strstr(err, "MARKETFLOW_NATS_TRANSPORT"));
    assert_int_equal(mf_config_load_env(&c, env_ok, err, sizeof(err)), MF_OK);
    assert_int_equal(c.redis.port, 7000);
}

static void test_cli(void **state) {
    mf_config c;
    char *help[] = {"prog", "--help", NULL};
    char *unknown[] = {"prog", "--frobnicate", NULL};
    char *noval[] = {"prog", "--set", NULL};
    char *badset[] = {"prog", "--set", "apiport=1", NULL};
    char *badlist[] = {"prog", "--set", "exchanges.live=exchange1=host", NULL};
    FILE *saved = stdout;
    (void)state;
    stdout = fopen("/dev/null", "w");
    assert_int_equal(mf_config_cli(&c, 2, help, "prog", NULL, NULL), MF_CLI_EXIT_OK);
    fclose(stdout);
    stdout = saved;
    assert_int_equal(mf_config_cli(&c, 2, unknown, "prog", NULL, NULL), MF_CLI_EXIT_BAD);
    assert_int_equal(mf_config_cli(&c, 2, noval, "prog", NULL, NULL), MF_CLI_EXIT_BAD);
    assert_int_equal(mf_config_cli(&c, 3, badset, "prog", NULL, NULL), MF_CLI_EXIT_BAD);
    assert_int_equal(mf_config_cli(&c, 3, badlist, "prog", NULL, NULL), MF_CLI_EXIT_BAD);
}

static int on_port(mf_config *cfg, void *ctx, const char *v, char *err, size_t errlen) {
    (void)ctx;
    return mf_config_set(cfg, "api", "port", v, "from --port", err, errlen) == MF_OK ? 0 : -1;
}

static void test_service_flags(void **state) {
    mf_config c;
    mf_cli_flag flags[] = {{"--port", "N", "port", on_port}, {NULL, NULL, NULL, NULL}};
    char *ok[] = {"prog", "--port", "9100", NULL};
    char *ok2[] = {"prog", "--port=9101", NULL};
    char *bad[] = {"prog", "--port", "0", NULL};
    (void)state;
    assert_int_equal(mf_config_cli(&c, 3, ok, "prog", flags, NULL), MF_CLI_RUN);
    assert_int_equal(c.api.port, 9100);
    assert_int_equal(mf_config_cli(&c, 2, ok2, "prog", flags, NULL), MF_CLI_RUN);
    assert_int_equal(c.api.port, 9101);
    assert_int_equal(mf_config_cli(&c, 3, bad, "prog", flags, NULL), MF_CLI_EXIT_BAD);
}

static void test_endpoints(void **state) {
    mf_endpoint eps[MF_MAX_FEEDS];
    int n;
    char err[256];
    (void)state;
    assert_int_equal(mf_endpoints_parse("exchange1=127.0.0.1:40101, ex-2=localhost:1", eps,
                                        MF_MAX_FEEDS, &n, err, sizeof(err)),
                     MF_OK);
    assert_int_equal(n, 2);
    assert_string_equal(eps[0].name, "exchange1");
    assert_string_equal(eps[0].host, "127.0.0.1");
    assert_int_equal(eps[0].port, 40101);
    assert_string_equal(eps[1].name, "ex-2");
    assert_int_equal(mf_endpoints_parse("", eps, MF_MAX_FEEDS, &n, err, sizeof(err)), MF_OK);
    assert_int_equal(n, 0);
    assert_int_equal(mf_endpoints_parse("a=h:0", eps, MF_MAX_FEEDS, &n, err, sizeof(err)),
                     MF_ERR_CONFIG);
    assert_int_equal(mf_endpoints_parse("a=h", eps, MF_MAX_FEEDS, &n, err, sizeof(err)),
                     MF_ERR_CONFIG);
    assert_int_equal(mf_endpoints_parse("a b=h:1", eps, MF_MAX_FEEDS, &n, err, sizeof(err)),
                     MF_ERR_CONFIG);
    assert_int_equal(mf_endpoints_parse("a=h:1,a=g:2", eps, MF_MAX_FEEDS, &n, err, sizeof(err)),
                     MF_ERR_CONFIG);
    assert_non_null(strstr(err, "twice"));
}

/* One entry through the parser: MF_OK and the fields, or MF_ERR_CONFIG and a reason
 * containing `why`. */
static void expect_endpoint(const char *list, const char *host, int port, const char *url) {
    mf_endpoint eps[MF_MAX_FEEDS];
    int n = -1;
    char err[256] = "";
    assert_int_equal(mf_endpoints_parse(list, eps, MF_MAX_FEEDS, &n, err, sizeof(err)), MF_OK);
    assert_int_equal(n, 1);
    assert_int_equal(eps[0].kind, MF_FEED_LINE);
    assert_string_equal(eps[0].host, host);
    assert_int_equal(eps[0].port, port);
    assert_string_equal(eps[0].path, "");
    assert_string_equal(eps[0].url, url);
}

static void expect_endpoint_error(const char *list, const char *why) {
    mf_endpoint eps[MF_MAX_FEEDS];
    int n;
    char err[256] = "";
    assert_int_equal(mf_endpoints_parse(list, eps, MF_MAX_FEEDS, &n, err, sizeof(err)),
                     MF_ERR_CONFIG);
    if (strstr(err, why) == NULL) fail_msg("'%s': error '%s' lacks '%s'", list, err, why);
}

static void test_endpoint_urls(void **state) {
    mf_endpoint eps[MF_MAX_FEEDS];
    int n;
    char err[256];
    (void)state;
    /* The short form is kind line over TCP; both forms give the same endpoint. */
    expect_endpoint("ex1=127.0.0.1:40101", "127.0.0.1", 40101, "line+tcp://127.0.0.1:40101");
    expect_endpoint("ex1=line+tcp://127.0.0.1:40101", "127.0.0.1", 40101,
                    "line+tcp://127.0.0.1:40101");
    expect_endpoint("ex1=line+tcp://localhost:7/", "localhost", 7, "line+tcp://localhost:7");
    expect_endpoint("ex1=line+tcp://[::1]:40101", "::1", 40101, "line+tcp://[::1]:40101");
    expect_endpoint("ex1=::1:9", "::1", 9, "line+tcp://[::1]:9"); /* short form: last ':' */
    /* Mixed forms in one list. */
    assert_int_equal(
        mf_endpoints_parse("a=h:1, b=line+tcp://g:2", eps, MF_MAX_FEEDS, &n, err, sizeof(err)),
        MF_OK);
    assert_int_equal(n, 2);
    assert_string_equal(eps[1].name, "b");
    assert_string_equal(eps[1].host, "g");
    assert_int_equal(eps[1].port, 2);
    /* Clear errors. */
    expect_endpoint_error("ex1=binance+wss://stream.example:9443/stream?streams=btcusdt@trade",
                          "feed kind 'binance' is not built yet");
    expect_endpoint_error("ex1=kraken+wss://h:1", "unknown feed kind 'kraken'");
    expect_endpoint_error("ex1=line+udp://h:1", "line runs over tcp, not 'udp'");
    expect_endpoint_error("ex1=line://h:1", "KIND+TRANSPORT://");
    expect_endpoint_error("ex1=line+tcp://h:1/x", "takes no path");
    expect_endpoint_error("ex1=line+tcp://h:0", "port in 1..65535");
    expect_endpoint_error("ex1=line+tcp://h:99999", "port in 1..65535");
    expect_endpoint_error("ex1=line+tcp://:5", "port in 1..65535");
    expect_endpoint_error("ex1=line+tcp://h", "port in 1..65535");
    expect_endpoint_error("ex1=line+tcp://[::1:5", "[addr]:port");
    expect_endpoint_error("ex1=:5", "port in 1..65535");
    expect_endpoint_error("e x=line+tcp://h:1", "exchange name 'e x'");
    expect_endpoint_error("a=line+tcp://h:1,a=h:2", "listed twice");
    assert_string_equal(mf_feed_kind_str(MF_FEED_LINE), "line");
    assert_string_equal(mf_feed_kind_str(MF_FEED_BINANCE), "binance");
}

/* --check-config: a binance entry is refused with its reason, the kinds and URLs of the
 * accepted entries are printed. */
static void test_check_config_endpoints(void **state) {
    mf_config c;
    char *buf = NULL, err[256] = "";
    size_t len = 0;
    FILE *f;
    (void)state;
    mf_config_defaults(&c);
    assert_int_equal(mf_config_set(&c, "exchanges", "live", "x1=h:1,x2=line+tcp://[::1]:2", "t",
                                   err, sizeof(err)),
                     MF_OK);
    assert_int_equal(mf_config_validate(&c, err, sizeof(err)), MF_OK);
    f = open_memstream(&buf, &len);
    mf_config_dump_endpoints(&c, f);
    fclose(f);
    assert_non_null(strstr(buf, "# exchanges.live x1 kind=line url=line+tcp://h:1\n"));
    assert_non_null(strstr(buf, "# exchanges.live x2 kind=line url=line+tcp://[::1]:2\n"));
    assert_non_null(
        strstr(buf, "# exchanges.test exchange1 kind=line url=line+tcp://127.0.0.1:40201\n"));
    free(buf);
    assert_int_equal(
        mf_config_set(&c, "exchanges", "test", "b=binance+wss://h:1/stream", "t", err, sizeof(err)),
        MF_OK);
    assert_int_equal(mf_config_validate(&c, err, sizeof(err)), MF_ERR_CONFIG);
    assert_non_null(strstr(err, "exchanges.test"));
    assert_non_null(strstr(err, "not built yet"));
}

static void test_password_file_and_dump(void **state) {
    mf_config c;
    char pw[128], err[256];
    char *buf = NULL;
    size_t len = 0;
    FILE *f;
    (void)state;
    mf_config_defaults(&c);
    write_file("s3cret\n");
    assert_int_equal(mf_config_set(&c, "postgres", "password_file", g_path, "t", err, sizeof(err)),
                     MF_OK);
    assert_int_equal(mf_config_validate(&c, err, sizeof(err)), MF_OK);
    mf_config_pg_password(&c, pw, sizeof(pw));
    assert_string_equal(pw, "s3cret");
    mf_config_set(&c, "postgres", "password", "direct", "t", err, sizeof(err));
    mf_config_pg_password(&c, pw, sizeof(pw));
    assert_string_equal(pw, "direct");
    mf_config_set(&c, "nats", "token", "tok123", "t", err, sizeof(err));
    f = open_memstream(&buf, &len);
    mf_config_dump(&c, f);
    fclose(f);
    assert_null(strstr(buf, "direct")); /* secrets are masked */
    assert_null(strstr(buf, "tok123"));
    assert_non_null(strstr(buf, "password = ***"));
    free(buf);
    mf_config_set(&c, "postgres", "password_file", "/nonexistent/pw", "t", err, sizeof(err));
    assert_int_equal(mf_config_validate(&c, err, sizeof(err)), MF_ERR_CONFIG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_defaults, teardown),
        cmocka_unit_test_teardown(test_precedence_file_env_flags, teardown),
        cmocka_unit_test_teardown(test_bad_values, teardown),
        cmocka_unit_test_teardown(test_bad_file_and_env, teardown),
        cmocka_unit_test_teardown(test_cli, teardown),
        cmocka_unit_test_teardown(test_service_flags, teardown),
        cmocka_unit_test_teardown(test_endpoints, teardown),
        cmocka_unit_test_teardown(test_endpoint_urls, teardown),
        cmocka_unit_test_teardown(test_check_config_endpoints, teardown),
        cmocka_unit_test_teardown(test_password_file_and_dump, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
