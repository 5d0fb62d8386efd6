/* persister_bench: preloads MARKETFLOW_ROLLUPS with synthetic 1 s rollup partials, so that
 * bench/persister_bench.sh can time how fast each persister sink drains them.
 *
 *   bench_persister COUNT SYMBOLS [SPAN_S [TAG]]
 *
 * Publishes COUNT partials of SYMBOLS keys (exchange1..3 x SYM<n>) from two producers, with
 * starts spread over the last SPAN_S seconds (default 500, inside the cache's retention), as
 * JetStream async publishes; producers are TAG-a and TAG-b (default "bench"). Prints the publish
 * rate. Connection from MARKETFLOW_NATS_URL. */
#include <inttypes.h>
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mf/config.h"
#include "mf/log.h"
#include "mf/nats_util.h"
#include "mf/rollup.h"
#include "mf/subject.h"
#include "mf/util.h"

static void
make_partial(mf_rollup *r, int64_t i, int symbols, int64_t first_start, const char *tag) {
    char ex[16], sym[16];
    int k = (int)(i % symbols);
    int64_t slot = i / symbols; /* per key: producer a, b, a, b, ... */
    int64_t start = first_start + (slot / 2) * 1000;
    double base = 100.0 + k;
    snprintf(ex, sizeof(ex), "exchange%d", k % 3 + 1);
    snprintf(sym, sizeof(sym), "SYM%d", k);
    mf_rollup_init(r, ex, sym, MF_WIN_1S, start);
    for (int t = 0; t < 5; t++) {
        mf_tick tk = {0};
        snprintf(tk.exchange, sizeof(tk.exchange), "%s", ex);
        snprintf(tk.symbol, sizeof(tk.symbol), "%s", sym);
        tk.price = base + 0.001 * (double)((i * 7 + t * 13) % 1000) + 1e-9 * (double)t;
        tk.ts = start + t * 100 + (slot % 2);
        tk.qty = 0.5 + t;
        tk.has_qty = 1;
        mf_rollup_add(r, &tk);
    }
    snprintf(r->producer, sizeof(r->producer), "%s-%c", tag, slot % 2 ? 'b' : 'a');
    r->seq = (uint64_t)i + 1;
}

int main(int argc, char **argv) {
    mf_config cfg;
    mf_nats *n = NULL;
    char err[256], subj[160];
    int64_t count, symbols, span = 500, t0, t1;
    if (argc < 3 || mf_parse_i64(argv[1], 1, 100000000, &count) != 0 ||
        mf_parse_i64(argv[2], 1, 100000, &symbols) != 0 ||
        (argc > 3 && mf_parse_i64(argv[3], 1, 3000, &span) != 0)) {
        fprintf(stderr, "usage: bench_persister COUNT SYMBOLS [SPAN_S [TAG]]\n");
        return 2;
    }
    mf_log_init("bench", "bench", MF_LOG_WARN);
    mf_config_defaults(&cfg);
    if (mf_config_load_env(&cfg, NULL, err, sizeof(err)) != MF_OK) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    cfg.collector.max_inflight = 4096;
    if (mf_nats_connect(&n, &cfg, "bench-persister") != MF_OK ||
        mf_nats_ensure_stream(n, MF_STREAM_ROLLUPS) != MF_OK)
        return 1;
    t0 = mf_mono_ms();
    {
        int64_t per_key = count / symbols + 1;
        int64_t first_start = (mf_now_ms() / 1000 - span) * 1000;
        if (per_key / 2 > span) first_start = (mf_now_ms() / 1000 - per_key / 2) * 1000;
        for (int64_t i = 0; i < count; i++) {
            mf_rollup r;
            size_t len = 0;
            char *json;
            natsStatus ns;
            make_partial(&r, i, (int)symbols, first_start, argc > 4 ? argv[4] : "bench");
            json = mf_rollup_to_json(&r, &len);
            mf_subject_rollup(subj, sizeof(subj), mf_nats_prefix(n), "1s", r.exchange, r.symbol);
            /* Stalls (too many in flight) are waited out, not counted as failures. */
            while ((ns = js_PublishAsync(mf_nats_js(n), subj, json, (int)len, NULL)) ==
                   NATS_TIMEOUT)
                ;
            free(json);
            if (ns != NATS_OK) return mf_nats_fail(ns, "publish") == MF_OK ? 0 : 1;
        }
    }
    if (js_PublishAsyncComplete(mf_nats_js(n), NULL) != NATS_OK) {
        fprintf(stderr, "publish did not complete\n");
        return 1;
    }
    t1 = mf_mono_ms();
    printf("preloaded %" PRId64 " rollups (%" PRId64 " keys) in %.2f s: %.0f rollups/s\n", count,
           symbols, (double)(t1 - t0) / 1000.0,
           (double)count * 1000.0 / (double)(t1 - t0 > 0 ? t1 - t0 : 1));
    mf_nats_destroy(n);
    return 0;
}
