/* control.h: the mode the collector follows (DESIGN section 4, <prefix>.control.mode).
 *
 * At start the current mode is the last message kept on the subject in the CONTROL stream,
 * or exchanges.mode when the stream holds none (or cannot be read). Afterwards a core
 * subscription on the subject delivers switches. Payload {"mode":"live"|"test",...};
 * anything else is ignored and counted. The subscription is made before the stream is read,
 * so no switch published in between is missed; a live message always wins over the stored
 * one. Thread-safe. */
#ifndef COLL_CONTROL_H
#define COLL_CONTROL_H

#include <jansson.h>

#include "mf/config.h"
#include "mf/nats_util.h"
#include "mf/status.h"

/* Parses a control payload. Returns 0 and sets *mode, or -1 when malformed. */
int coll_control_parse(const char *data, int len, mf_mode *mode);

typedef struct coll_control coll_control;

/* Subscribes and reads the current mode. `n` is borrowed. */
mf_status coll_control_create(coll_control **out, mf_nats *n, mf_mode default_mode);
/* Returns 1 and sets *mode when the wanted mode changed since the last call (the first call
 * always returns 1), else 0. */
int coll_control_take(coll_control *ctl, mf_mode *mode);
/* Unsubscribes and frees (accepts NULL). */
void coll_control_destroy(coll_control *ctl);
/* Adds "control":{messages, malformed, source}. */
void coll_control_status_fill(json_t *status, coll_control *ctl);

#endif
