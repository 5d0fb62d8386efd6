/* cli.c: the command line every service shares. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mf/config.h"
#include "mf/tick.h"
#include "mf/util.h"

static void print_usage(const char *usage, const mf_cli_flag *flags) {
    printf("usage: %s\n\n", usage);
    printf("options:\n");
    for (const mf_cli_flag *f = flags; f && f->name; f++) {
        char left[64];
        snprintf(left, sizeof(left), "%s%s%s", f->name, f->argname ? " " : "",
                 f->argname ? f->argname : "");
        printf("  %-26s %s\n", left, f->help);
    }
    printf("  %-26s %s\n", "--config FILE", "INI configuration file (or env MARKETFLOW_CONFIG)");
    printf("  %-26s %s\n", "--set SECTION.KEY=VALUE", "override one configuration key");
    printf("  %-26s %s\n", "--log-level LEVEL", "debug, info, warn or error");
    printf("  %-26s %s\n", "--check-config", "validate, print the effective configuration, exit");
    printf("  %-26s %s\n", "--help", "print this help and exit");
    printf("\nEvery key can also be set by env MARKETFLOW_<SECTION>_<KEY>, for example\n"
           "MARKETFLOW_NATS_URL=nats://127.0.0.1:4222. Precedence: defaults < file < env < "
           "flags.\n");
}

static const char *prog_name(const char *argv0) {
    const char *s = strrchr(argv0, '/');
    return s ? s + 1 : argv0;
}

/* Finds --config in argv (or MARKETFLOW_CONFIG); the file must load before env and flags. */
static const char *find_config_path(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) return argv[i + 1];
        if (strncmp(argv[i], "--config=", 9) == 0) return argv[i] + 9;
    }
    return getenv("MARKETFLOW_CONFIG");
}

static int apply_set(mf_config *cfg, const char *arg, char *err, size_t errlen) {
    char section[64], key[64];
    const char *dot = strchr(arg, '.');
    const char *eq = strchr(arg, '=');
    if (dot == NULL || eq == NULL || dot > eq || (size_t)(dot - arg) >= sizeof(section) ||
        (size_t)(eq - dot - 1) >= sizeof(key)) {
        snprintf(err, errlen, "--set '%s': expected SECTION.KEY=VALUE", arg);
        return -1;
    }
    memcpy(section, arg, (size_t)(dot - arg));
    section[dot - arg] = '\0';
    memcpy(key, dot + 1, (size_t)(eq - dot - 1));
    key[eq - dot - 1] = '\0';
    return mf_config_set(cfg, section, key, eq + 1, "from --set", err, errlen) == MF_OK ? 0 : -1;
}

/* Splits "--flag=value" or "--flag value". Returns the value, NULL when none, and advances
 * *i past a separate value. */
static const char *flag_value(int argc, char **argv, int *i, const char *name, int *matched) {
    size_t n = strlen(name);
    *matched = 0;
    if (strncmp(argv[*i], name, n) != 0) return NULL;
    if (argv[*i][n] == '=') {
        *matched = 1;
        return argv[*i] + n + 1;
    }
    if (argv[*i][n] != '\0') return NULL;
    *matched = 1;
    if (*i + 1 < argc) return argv[++*i];
    return NULL;
}

static int parse_flags(mf_config *cfg,
                       int argc,
                       char **argv,
                       const mf_cli_flag *flags,
                       void *ctx,
                       int *check,
                       char *err,
                       size_t errlen) {
    static const char *common_valued[] = {"--config", "--set", "--log-level"};
    for (int i = 1; i < argc; i++) {
        int matched = 0;
        const char *v;
        for (size_t c = 0; c < 3 && !matched; c++) {
            v = flag_value(argc, argv, &i, common_valued[c], &matched);
            if (!matched) continue;
            if (v == NULL) {
                snprintf(err, errlen, "%s needs a value", common_valued[c]);
                return -1;
            }
            if (c == 1 && apply_set(cfg, v, err, errlen) != 0) return -1;
            if (c == 2 &&
                mf_config_set(cfg, "log", "level", v, "from --log-level", err, errlen) != MF_OK)
                return -1;
        }
        if (matched) continue;
        if (strcmp(argv[i], "--check-config") == 0) {
            *check = 1;
            continue;
        }
        for (const mf_cli_flag *f = flags; f && f->name && !matched; f++) {
            if (f->argname == NULL) {
                if (strcmp(argv[i], f->name) != 0) continue;
                matched = 1;
                if (f->handler(cfg, ctx, NULL, err, errlen) != 0) return -1;
                continue;
            }
            v = flag_value(argc, argv, &i, f->name, &matched);
            if (!matched) continue;
            if (v == NULL) {
                snprintf(err, errlen, "%s needs a value (%s)", f->name, f->argname);
                return -1;
            }
            if (f->handler(cfg, ctx, v, err, errlen) != 0) return -1;
        }
        if (!matched) {
            snprintf(err, errlen, "unknown argument '%s' (see --help)", argv[i]);
            return -1;
        }
    }
    return 0;
}

mf_cli_result mf_config_cli(mf_config *cfg,
                            int argc,
                            char **argv,
                            const char *usage,
                            const mf_cli_flag *flags,
                            void *ctx) {
    char err[1024];
    const char *prog = prog_name(argv[0]);
    const char *path;
    int check = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_usage(usage, flags);
            return MF_CLI_EXIT_OK;
        }
    }
    mf_config_defaults(cfg);
    path = find_config_path(argc, argv);
    if (path && *path && mf_config_load_file(cfg, path, err, sizeof(err)) != MF_OK) goto bad;
    if (mf_config_load_env(cfg, NULL, err, sizeof(err)) != MF_OK) goto bad;
    if (parse_flags(cfg, argc, argv, flags, ctx, &check, err, sizeof(err)) != 0) goto bad;
    if (mf_config_validate(cfg, err, sizeof(err)) != MF_OK) goto bad;
    if (check) {
        mf_config_dump(cfg, stdout);
        mf_config_dump_endpoints(cfg, stdout);
        return MF_CLI_EXIT_OK;
    }
    return MF_CLI_RUN;

bad:
    fprintf(stderr, "%s: %s\n", prog, err);
    return MF_CLI_EXIT_BAD;
}
