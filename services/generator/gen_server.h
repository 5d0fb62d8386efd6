/* gen_server.h: the generator's TCP side: one listener and one thread per simulated exchange.
 *
 * Each feed thread owns its listener, its clients, its gen_stream and its part of the line
 * log. It generates one stream of lines and broadcasts every line to each client connected
 * at that moment; with no client it generates nothing. Sockets are non-blocking; every
 * client has a bounded output buffer and a client whose buffer would overflow is dropped, so
 * a reader that stops never slows the others. The log file (optional) gets one
 * "<exchange> <line>" per line that reached at least one client. */
#ifndef GEN_SERVER_H
#define GEN_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "mf/config.h"
#include "mf/status.h"

#define GEN_DEFAULT_CLIENT_BUFFER (4u << 20)

typedef struct gen_options {
    int64_t count;        /* lines per feed, then the feed ends (0 = unlimited) */
    size_t client_buffer; /* bytes of output held per client before it is dropped */
} gen_options;

typedef struct gen_server gen_server;

/* Validates the generator configuration (listen list, symbols, faults), opens the log file
 * and binds every listener. On failure prints nothing and writes one line into err:
 * MF_ERR_CONFIG for a bad value (exit 2), MF_ERR_IO for a port in use or an unwritable log
 * (exit 1). `cfg` and `opt` are copied. Caller frees with gen_server_destroy. */
mf_status gen_server_create(gen_server **out,
                            const mf_config *cfg,
                            const gen_options *opt,
                            char *err,
                            size_t errlen);

/* Starts the feed threads. */
mf_status gen_server_start(gen_server *srv);

/* 1 once every feed reached its --count and closed its clients (never without a count). */
int gen_server_done(gen_server *srv);

/* Logs one line of totals per feed (called periodically by main). Thread-safe. */
void gen_server_log_totals(gen_server *srv);

/* Stops the feeds: generation ends, pending output is flushed for up to 1 s, clients are
 * closed, the log is flushed, threads are joined. Idempotent. */
void gen_server_stop(gen_server *srv);

/* Frees everything (accepts NULL). Calls gen_server_stop first if needed. */
void gen_server_destroy(gen_server *srv);

#endif
