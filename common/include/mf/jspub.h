/* jspub.h: the one JetStream publisher of marketflow (docs/design.md section 4): core
 * publishes with a reply subject on a private PubAck inbox, a fixed in-flight ring, one
 * outcome classification, retries with the same Nats-Msg-Id and a completion callback per
 * message. Used by the collector (ticks) and the aggregator (rollups).
 *
 * Why not js_PublishMsgAsync: in nats.c 3.4.1 it costs ~14 us of CPU per message (a pending
 * map entry, a timer and thread wake-ups per publish, every PubAck decoded into structs), and
 * its pending map (natsStrHash_Remove) crashed under ~30,000 publishes in flight. Here a
 * message goes out as natsConnection_PublishMsg with reply "<inbox>.<seq>"; the stream answers
 * on that subject and one wildcard subscription takes every answer. The reply names the
 * sequence, not just the slot, so a late PubAck for an earlier occupant of a slot (a copy sent
 * twice) cannot complete the current one.
 *
 * Outcomes (mf_jspub_classify, the one set of rules):
 *   STORED     a PubAck {"stream":..,"seq":..}.
 *   DUPLICATE  a PubAck with "duplicate":true: the stream holds it already (same Msg-Id).
 *   RETRYABLE  a no-responders status (no stream yet, leader moving), an {"error":..} with
 *              code 503 (JetStream unavailable for now), no PubAck within ack_wait_ms
 *              (timeout), or a publish nats.c refused (disconnected). Never reported: the
 *              message is sent again (same natsMsg or same rendering, so the same Msg-Id
 *              and the stream keeps one copy within its duplicate window): replies after
 *              retry_ms, timeouts after ack_wait_ms, refused sends at the next scan.
 *   REFUSED    any other {"error":..} (a JetStream error code: the server would refuse
 *              again). Reported; not retried by the publisher (the owner decides).
 *   ABANDONED  still in flight when the publisher is destroyed. Reported from destroy.
 *
 * Threads: one owner thread calls everything but mf_jspub_wake / mf_jspub_inflight (any
 * thread). nats.c's delivery thread of the inbox subscription only classifies each answer
 * and appends (seq, outcome) to a list under a mutex; the owner applies them in
 * mf_jspub_poll, where the completion callbacks run (on the owner thread).
 *
 * Bounded: at most `slots` messages in flight. While NATS is away nothing is resent (a send
 * the caller makes is still tried: nats.c buffers it while reconnecting); the owner keeps
 * what does not fit (mf_jspub_room) in a buffer of its own policy. */
#ifndef MF_JSPUB_H
#define MF_JSPUB_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <nats/nats.h>

#include "mf/status.h"

typedef enum mf_jspub_outcome {
    MF_JSPUB_STORED,
    MF_JSPUB_DUPLICATE,
    MF_JSPUB_RETRYABLE,
    MF_JSPUB_REFUSED,
    MF_JSPUB_ABANDONED,
} mf_jspub_outcome;

const char *mf_jspub_outcome_str(mf_jspub_outcome o); /* "stored", ...; never NULL */

/* Classifies one answer on the PubAck inbox: `data[0..len)` its body, `no_responders` set
 * for a no-responders status message. Never ABANDONED. */
mf_jspub_outcome mf_jspub_classify(const char *data, int len, int no_responders);

/* One message to send. Everything is borrowed for the duration of the call. */
typedef struct mf_jspub_msg {
    const char *subject;
    const char *msg_id; /* Nats-Msg-Id header */
    const char *data;
    int len;
} mf_jspub_msg;

/* The completion of a message: `user` as given to mf_jspub_send, `out` STORED, DUPLICATE,
 * REFUSED or ABANDONED. Runs on the owner thread; the message's slot is free by then, and the
 * callback may send (a REFUSED message again, say). */
typedef void (*mf_jspub_done_fn)(void *closure, void *user, mf_jspub_outcome out);

/* Renders the message of `user` again for a resend, into *out (valid until the callback is
 * next called). Returns 0, or -1 when it cannot (the message is then REFUSED). */
typedef int (*mf_jspub_render_fn)(void *closure, void *user, mf_jspub_msg *out);

/* The transport: NATS by default; a unit test substitutes its own. */
typedef struct mf_jspub_transport {
    natsStatus (*publish)(void *closure, natsMsg *m); /* must not take ownership of m */
    int (*connected)(void *closure);
    void *closure;
} mf_jspub_transport;

typedef struct mf_jspub_config {
    natsConnection *nc; /* borrowed; NULL only with a test transport (no inbox then) */
    size_t slots;       /* in-flight ring size (>= 1) */
    int ack_wait_ms;    /* no PubAck for this long: sent again */
    int retry_ms;       /* after a RETRYABLE answer: sent again this much later */
    int scan_ms;        /* resends are looked for at most this often (in mf_jspub_poll) */
    /* NULL: the slot keeps the natsMsg and resends it as it is (CPU for memory). Else the
     * natsMsg is freed once sent and rebuilt with render for each resend. */
    mf_jspub_render_fn render;
    mf_jspub_done_fn done; /* may be NULL */
    void *closure;         /* passed to render and done */
    /* Wake the owner from mf_jspub_wait once this many answers are waiting (0: never). */
    size_t wake_after;
    const mf_jspub_transport *transport; /* NULL: natsConnection_PublishMsg on nc */
} mf_jspub_config;

/* What happened since the last mf_jspub_take_counts (owner thread). */
typedef struct mf_jspub_counts {
    long long sent;        /* first sends that nats.c accepted */
    long long resent;      /* sends again: timeout, RETRYABLE answer, refused send */
    long long stored;      /* STORED + DUPLICATE */
    long long duplicates;  /* DUPLICATE */
    long long retryable;   /* RETRYABLE answers (no responders, 503) */
    long long refused;     /* REFUSED answers and messages that could not be built */
    long long send_errors; /* publishes nats.c refused (first sends and resends) */
} mf_jspub_counts;

typedef struct mf_jspub mf_jspub;

/* Subscribes the private inbox (when cfg->nc). `cfg` is copied. */
mf_status mf_jspub_create(mf_jspub **out, const mf_jspub_config *cfg);
/* Unsubscribes the inbox, waits (bounded, 2 s) for its delivery thread, reports every message
 * still in flight as ABANDONED and frees. Accepts NULL. When the delivery thread did not
 * finish in time the memory is left allocated (it may still touch it: we are exiting). */
void mf_jspub_destroy(mf_jspub *p);

/* Free slots in the ring. */
size_t mf_jspub_room(const mf_jspub *p);
/* Sends m in the next slot; `user` comes back in the done callback. MF_ERR_FULL when the ring
 * is full, MF_ERR_NATS when the message could not be built (counted as refused, logged): in
 * both cases nothing is taken and no callback will come. A send nats.c refuses still takes
 * the slot (MF_OK) and is retried. `now_ms` monotonic. */
mf_status mf_jspub_send(mf_jspub *p, const mf_jspub_msg *m, void *user, int64_t now_ms);
/* Applies the answers that arrived (done callbacks), and resends what is due when the last
 * scan is scan_ms old and NATS is connected. Returns how many answers it applied. */
size_t mf_jspub_poll(mf_jspub *p, int64_t now_ms);
/* Sleeps up to timeout_ms; returns earlier on mf_jspub_wake, when `for_answers` and
 * wake_after answers are waiting, or when `work` (may be NULL) is > 0. The owner's producers
 * raise `work` before they call mf_jspub_wake_if_waiting, and the owner checks it after it
 * declared itself waiting, so no wake-up is lost. */
void mf_jspub_wait(mf_jspub *p, int timeout_ms, int for_answers, const atomic_llong *work);
/* Ends the owner's current or next mf_jspub_wait (any thread). */
void mf_jspub_wake(mf_jspub *p);
/* Same, only when the owner waits watching a `work` counter (one atomic load otherwise): for
 * the producers' hot paths. */
void mf_jspub_wake_if_waiting(mf_jspub *p);
/* Adds the counts since the last call to *add and starts again from zero. */
void mf_jspub_take_counts(mf_jspub *p, mf_jspub_counts *add);
/* Messages in flight (sent, no final outcome yet). Any thread. */
long long mf_jspub_inflight(const mf_jspub *p);

/* The inbox handler's work, for tests that drive the publisher without NATS: classifies
 * `reply` (its subject "<inbox>.<seq>", or just "<seq>") and queues the answer. Takes
 * ownership of reply. */
void mf_jspub_deliver(mf_jspub *p, natsMsg *reply);

#endif
