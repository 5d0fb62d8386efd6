/* control.h: the mode the collector follows (docs/design.md section 4, <prefix>.control.mode).
 *
 * At start the current mode is the last message kept on the subject in the CONTROL stream
 * (read in both transports), or exchanges.mode when the stream holds none (or cannot be
 * read). Afterwards a core subscription on the subject delivers switches. Payloads are
 * decoded by mf_control_decode (mf/control.h: one set of rules for every reader); anything
 * it rejects is ignored and counted. The subscription is made before the stream is read, so
 * no switch published in between is missed; a live message always wins over the stored
 * one. Thread-safe. */
#ifndef COLL_CONTROL_H
#define COLL_CONTROL_H

#include <jansson.h>

#include "mf/config.h"
#include "mf/nats_util.h"
#include "mf/status.h"

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

/* The precedence rule, without NATS or locks (the caller serialises; exposed for the unit
 * test). `source` is "default", "stream" or "bus". */
typedef struct coll__mode_state {
    mf_mode wanted;
    int changed;     /* set when wanted changed since the last take; 1 at start */
    int live_seen;   /* a message came on the subscription */
    char source[32]; /* where `wanted` came from */
} coll__mode_state;

void coll__mode_init(coll__mode_state *st, mf_mode default_mode);
/* Offers a mode: one from the subscription (`live` = 1) always wins; the stored one (live =
 * 0) only while no live message was seen. */
void coll__mode_offer(coll__mode_state *st, mf_mode m, const char *source, int live);
/* As coll_control_take. */
int coll__mode_take(coll__mode_state *st, mf_mode *mode);

#endif
