/* metrics.h: process-wide counters and gauges, exposed in Prometheus text format.
 *
 * Services register a metric once (at start) and keep the returned pointer; hot paths then
 * only do atomic adds. With metrics.port > 0 a small HTTP server (libmicrohttpd, own thread)
 * answers GET /metrics and GET /healthz (200 when the health callback says ready, else 503).
 * The same values are put into every status heartbeat. Thread-safe. */
#ifndef MF_METRICS_H
#define MF_METRICS_H

#include <stdatomic.h>
#include <stddef.h>

#include "mf/status.h"

struct json_t;

/* Registers (or finds) a counter. `name` is a Prometheus name without the "marketflow_"
 * prefix ("collector_lines_total"); `labels` is "" or label pairs ("exchange=\"exchange1\"").
 * Both are copied. The returned pointer stays valid until the process exits. */
atomic_llong *mf_counter(const char *name, const char *labels, const char *help);
/* Same for a gauge (a value that goes up and down). */
atomic_llong *mf_gauge(const char *name, const char *labels, const char *help);

/* Renders every metric as Prometheus text (malloc'ed; caller frees). */
char *mf_metrics_render(size_t *len);
/* Every metric as a JSON object {"name{labels}": value} (new reference). */
struct json_t *mf_metrics_json(void);

/* Readiness callback for /healthz: returns 1 when ready. */
typedef int (*mf_ready_fn)(void *ctx);

/* Starts the HTTP endpoint. MF_ERR_IO (logged, one line) when the port is taken. */
mf_status mf_metrics_serve(const char *bind, int port, mf_ready_fn ready, void *ctx);
void mf_metrics_stop(void); /* idempotent */

#endif
