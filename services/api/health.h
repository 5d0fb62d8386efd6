/* health.h: the services' status heartbeats (<prefix>.status.<service>.<instance>, every
 * 2 s) and the verdict of GET /health.
 *
 * The tracker keeps the last status of each (service, instance) with the monotonic time it
 * arrived. An instance is alive when its last status is younger than 3 of its intervals
 * and does not say "state":"stopped". Thread-safe (one mutex; the NATS delivery thread
 * writes, HTTP threads read). */
#ifndef API_HEALTH_H
#define API_HEALTH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct api_health api_health;

api_health *api_health_create(void);
void api_health_destroy(api_health *h); /* accepts NULL */

/* Records a status message (JSON with "service" and "instance"). -1 on bad input. */
int api_health_put(api_health *h, const char *data, size_t len, int64_t now_mono);

/* A JSON array of the instances of `service` (new reference), each
 * {"instance","alive","age_ms","state", plus the service's own fields except "counters"};
 * *alive receives how many are alive. Instances gone for 10 minutes are forgotten. */
json_t *api_health_service(api_health *h, const char *service, int64_t now_mono, int *alive);

typedef struct api_health_in {
    int nats_up, redis_up, pg_up;
    int collectors, aggregators, persisters; /* alive instances */
} api_health_in;

/* "ok", "degraded" or "down" (see docs/api.md): down when NATS is down or neither store is
 * reachable; degraded when one store is down or a role has no live instance. */
const char *api_health_verdict(const api_health_in *in);

#endif
