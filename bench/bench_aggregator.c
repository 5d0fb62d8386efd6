/* bench_aggregator: the ceiling the aggregator's jetstream figure is compared with: a bare
 * pull consumer on MARKETFLOW_TICKS (same pull pattern as the aggregator: pipelined requests of
 * 1024 with 200 ms expiry, AckExplicit, MaxAckPending 1,000,000) that decodes each tick with
 * mf_tick_from_json and acks it at once, until the consumer has nothing pending or unacked.
 *
 *   bench_aggregator            (MARKETFLOW_NATS_URL / _PREFIX as usual)
 *
 * Prints: raw_pull ticks=N seconds=S ticks_per_s=R. The consumer "bench-raw" is deleted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mf/config.h"
#include "mf/nats_util.h"
#include "mf/tick.h"
#include "mf/util.h"

static void pull(natsConnection *nc, const char *next, const char *inbox, unsigned long long n) {
    char reply[160];
    const char *body = "{\"batch\":1024,\"expires\":200000000}";
    snprintf(reply, sizeof(reply), "%s.%llu", inbox, n);
    natsConnection_PublishRequest(nc, next, reply, body, (int)strlen(body));
}

int main(void) {
    mf_config cfg;
    mf_nats *n = NULL;
    char err[256], stream[64], inbox_s[128], wild[160], next[256];
    jsConsumerConfig cc;
    jsConsumerInfo *ci = NULL;
    natsSubscription *sub = NULL;
    natsInbox *inbox = NULL;
    long long got = 0, since = 0;
    unsigned long long req = 0;
    int64_t t0 = 0, t_last = 0, last_req = 0;
    mf_config_defaults(&cfg);
    if (mf_config_load_env(&cfg, NULL, err, sizeof(err)) != MF_OK) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    if (mf_nats_connect(&n, &cfg, "bench_aggregator") != MF_OK) return 1;
    mf_nats_stream_name(n, MF_STREAM_TICKS, stream, sizeof(stream));
    jsConsumerConfig_Init(&cc);
    cc.Durable = "bench-raw";
    cc.AckPolicy = js_AckExplicit;
    cc.DeliverPolicy = js_DeliverAll;
    cc.MaxAckPending = 1000000;
    cc.AckWait = 30000000000LL;
    if (js_AddConsumer(&ci, mf_nats_js(n), stream, &cc, NULL, NULL) != NATS_OK) {
        fprintf(stderr, "add consumer: %s\n", nats_GetLastError(NULL));
        return 1;
    }
    jsConsumerInfo_Destroy(ci);
    natsInbox_Create(&inbox);
    snprintf(inbox_s, sizeof(inbox_s), "%s", (const char *)inbox);
    natsInbox_Destroy(inbox);
    snprintf(wild, sizeof(wild), "%s.*", inbox_s);
    snprintf(next, sizeof(next), "$JS.API.CONSUMER.MSG.NEXT.%s.bench-raw", stream);
    natsConnection_SubscribeSync(&sub, mf_nats_conn(n), wild);
    natsSubscription_SetPendingLimits(sub, -1, -1);
    for (int idle = 0; idle < 5;) {
        natsMsg *m = NULL;
        const char *status = NULL;
        int64_t now = mf_mono_ms();
        if (req == 0 || since >= 512 || now - last_req >= 200) {
            pull(mf_nats_conn(n), next, inbox_s, ++req);
            since = 0;
            last_req = now;
        }
        if (natsSubscription_NextMsg(&m, sub, 100) != NATS_OK) {
            if (got > 0) idle++;
            continue;
        }
        if (natsMsgHeader_Get(m, "Status", &status) == NATS_OK && status) {
            natsMsg_Destroy(m);
            if (got > 0) idle++;
            continue;
        }
        mf_tick t;
        if (got == 0) t0 = mf_mono_ns();
        mf_tick_from_json(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), &t);
        natsConnection_Publish(mf_nats_conn(n), natsMsg_GetReply(m), "+ACK", 4);
        natsMsg_Destroy(m);
        t_last = mf_mono_ns();
        got++, since++, idle = 0;
    }
    {
        /* Until the server has every ack (not timed: the rate is up to the last tick). */
        for (;;) {
            ci = NULL;
            if (js_GetConsumerInfo(&ci, mf_nats_js(n), stream, "bench-raw", NULL, NULL) ==
                    NATS_OK &&
                ci->NumAckPending == 0 && ci->NumPending == 0) {
                jsConsumerInfo_Destroy(ci);
                break;
            }
            jsConsumerInfo_Destroy(ci);
            mf_sleep_ms(20);
        }
        printf("raw_pull ticks=%lld seconds=%.2f ticks_per_s=%.0f\n", got,
               (double)(t_last - t0) / 1e9, (double)got / ((double)(t_last - t0) / 1e9));
    }
    js_DeleteConsumer(mf_nats_js(n), stream, "bench-raw", NULL, NULL);
    natsSubscription_Destroy(sub);
    mf_nats_drain(n, 2000);
    mf_nats_destroy(n);
    return 0;
}
