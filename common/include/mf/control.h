/* control.h: the control-mode message on <prefix>.control.mode (docs/design.md section 4),
 * the one place that encodes it, decodes it and reads the stored one.
 *
 * Payload: {"mode":"live"|"test","at":<Unix ms>,"by":"<who>"}. The decoder's rules, shared by
 * every reader (collector, api):
 *   - accepted: one JSON object (whitespace around it allowed) whose "mode" is the string
 *     "live" or "test" (ASCII case-insensitive, as exchanges.mode);
 *   - rejected (MF_ERR_PARSE): empty or invalid JSON, anything but an object, duplicate keys
 *     (two readers could otherwise pick different modes), "mode" missing, not a string, or
 *     another word;
 *   - "at" is optional: an integer is taken, anything else counts as absent (0);
 *   - "by" is optional: a string is taken (cut to MF_CONTROL_BY_MAX - 1 bytes), anything else
 *     counts as absent ("");
 *   - other keys are ignored, so later fields do not break older readers.
 * `nats pub <prefix>.control.mode '{"mode":"test"}'` is therefore a valid switch.
 *
 * The MARKETFLOW_CONTROL stream keeps the last message per subject: the current mode for a
 * process that starts later. mf_control_read_stored reads it in both transports (in
 * transport=core it opens a JetStream context of its own for the one read). */
#ifndef MF_CONTROL_H
#define MF_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "mf/config.h"
#include "mf/nats_util.h"
#include "mf/status.h"

#define MF_CONTROL_BY_MAX 96

typedef struct mf_control_msg {
    mf_mode mode;
    int64_t at;                 /* when it was requested, Unix ms; 0 when absent */
    char by[MF_CONTROL_BY_MAX]; /* who requested it; "" when absent */
} mf_control_msg;

/* Encodes `m` as the JSON payload into buf (NUL-terminated). "at" is written when non-zero
 * and "by" when non-empty. Returns the length, or -1 when it does not fit. */
int mf_control_encode(const mf_control_msg *m, char *buf, size_t size);

/* Decodes a payload (borrowed; need not be NUL-terminated) with the rules above. MF_OK and
 * *out filled, or MF_ERR_PARSE (*out untouched). */
mf_status mf_control_decode(const char *data, size_t len, mf_control_msg *out);

/* Reads and decodes the message kept on <prefix>.control.mode in the CONTROL stream. MF_OK;
 * MF_ERR_NOT_FOUND when the stream or the message does not exist; MF_ERR_PARSE when the kept
 * message breaks the rules; MF_ERR_NATS when the server could not be asked. Logs nothing:
 * callers say what they fall back to. Thread-safe (nats.c). */
mf_status mf_control_read_stored(mf_nats *n, mf_control_msg *out);

#endif
