/* jspull.h: a JetStream pull consumer driven by hand, beside the bus helper (nats_util.h):
 * explicit pull requests on a private inbox, a batch size and an expiry per request, the
 * status messages handled here.
 *
 * Why not natsSubscription_Fetch: with messages left over from an expired request, nats.c
 * 3.4.1's Fetch wrote past its batch array (a crash under load in the aggregator; topping a
 * partial batch up with smaller fetches did the same in the persister, seen under ASan).
 * Two ways to drive it: mf_jspull_next (pipelined requests, for a consumer that acks as it
 * goes: the aggregator) and mf_jspull_fetch (one request at a time: the persister).
 * Here a plain synchronous subscription on "<inbox>.*" receives the messages, and requests
 * ({"batch":B,"expires":E}) go to $JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer> with reply
 * "<inbox>.<n>", so a status names the request it ends.
 *
 * Requests are pipelined: a new one goes out when half a batch arrived since the last one,
 * when the last one ended, or once its expiry passed, so the server always holds one while
 * the caller works. Messages carry their stream subject and cannot be attributed to a
 * request; nothing here needs that. Status messages (on the inbox, header "Status"):
 *   408 request expired, 404 no messages: the request ended (quietly);
 *   409 (max waiting / max bytes exceeded, consumer deleted, leadership change): the request
 *       ended, logged (rate limited);
 *   100 idle heartbeat / flow control: ignored;
 *   anything else: logged.
 * Only messages on the inbox have their headers parsed (nats.c builds a header map on first
 * access: -15% CPU per message if done for every one).
 * Acks: natsMsg_Ack needs a JetStream subscription, which this is not: mf_jspull_reply sends
 * "+ACK" (or -NAK, +TERM, +WPI) to the message's reply subject, which is all natsMsg_Ack does.
 * (natsMsg_GetMetaData works on these messages: it only parses the reply subject.)
 *
 * One thread owns an mf_jspull (all calls). The consumer must exist (created by the caller). */
#ifndef MF_JSPULL_H
#define MF_JSPULL_H

#include <nats/nats.h>

#include "mf/status.h"

typedef struct mf_jspull_config {
    const char *stream;   /* copied */
    const char *consumer; /* copied */
    int batch;            /* messages per request (>= 2) */
    int expires_ms;       /* expiry of each request (> 0) */
} mf_jspull_config;

typedef struct mf_jspull mf_jspull;

/* Subscribes the private inbox; sends no request yet. `nc` is borrowed. */
mf_status mf_jspull_create(mf_jspull **out, natsConnection *nc, const mf_jspull_config *cfg);
/* Sends a request when one is due (see above), then waits up to wait_ms for a message.
 * MF_OK: *msg is a message of the consumer, the caller's to natsMsg_Destroy. MF_ERR_TIMEOUT:
 * none came, a status message came instead, or the inbox failed (logged; it slept 100 ms). */
mf_status mf_jspull_next(mf_jspull *p, natsMsg **msg, int wait_ms);
/* No more requests; mf_jspull_next still returns what the outstanding ones deliver (they end
 * within expires_ms). */
void mf_jspull_stop_requests(mf_jspull *p);
/* Unsubscribes and frees (accepts NULL). The consumer stays on the server. */
void mf_jspull_destroy(mf_jspull *p);

/* One request at a time instead (a consumer that holds a batch until it is written, and
 * must not have more delivered meanwhile): asks for `max` messages expiring in timeout_ms and
 * collects them into msgs[0..*count) (the caller's to destroy) until `max` came, the request
 * ended (a status) or timeout_ms (+100 ms) passed. Never more than `max`: messages delivered
 * late for an earlier request are taken first, the rest stays for the next call. MF_OK with
 * *count > 0; MF_ERR_TIMEOUT when none came; MF_ERR_NOT_FOUND when the server answered that
 * the consumer is not there (no responders, 409 consumer deleted): the caller binds again.
 * Do not mix with mf_jspull_next on one mf_jspull. */
mf_status mf_jspull_fetch(mf_jspull *p, natsMsg **msgs, int max, int timeout_ms, int *count);

/* Acknowledgements of a message of a pull consumer, sent to its reply subject: what
 * natsMsg_Ack / Nak / Term / InProgress send (they refuse messages from a plain
 * subscription). */
typedef enum mf_jspull_reply_kind {
    MF_JSPULL_ACK,      /* "+ACK" */
    MF_JSPULL_NAK,      /* "-NAK": redeliver now */
    MF_JSPULL_TERM,     /* "+TERM": never redeliver */
    MF_JSPULL_PROGRESS, /* "+WPI": restart its AckWait */
} mf_jspull_reply_kind;
natsStatus mf_jspull_reply(natsConnection *nc, natsMsg *m, mf_jspull_reply_kind kind);
/* MF_JSPULL_ACK by reply subject (what natsMsg_Ack sends). */
natsStatus mf_jspull_ack(natsConnection *nc, const char *reply);

#endif
