# shellcheck shell=bash
# api_lib.sh: REST checks against the oracle, shared by the whole-stack tests (source after
# lib.sh; needs MF_API_URL). api_oracle.py recomputes every answer from raw ticks.
API_ORACLE="python3 $SOURCE_DIR/tests/integration/api_oracle.py"

# mf_api_req PATH: GET $MF_API_URL/PATH into BODY (and CODE); fails the test unless 200.
mf_api_req() {
    BODY=$(curl -sS -w '\n%{http_code}' "$MF_API_URL$1")
    CODE=${BODY##*$'\n'}
    BODY=${BODY%$'\n'*}
    [[ $CODE == 200 ]] || mf_fail "$1 -> $CODE: $BODY"
}

# mf_api_check_all PERIOD SOURCE_RE TICKS [REFRESH_CMD]: average, highest and lowest of
# BTCUSDT over all exchanges and over exchange2 for ?period=PERIOD; each answer's source must
# match SOURCE_RE and its value equal the oracle over the ticks in the JSON-lines file TICKS.
# REFRESH_CMD (default: sleep 0.3, the lag of a bus capture) runs between the answer and the
# oracle, to let TICKS catch up with it.
mf_api_check_all() {
    local period=$1 source_re=$2 ticks=$3 refresh=${4:-"sleep 0.3"} kind ex path
    for kind in average highest lowest; do
        for ex in "" exchange2; do
            path="/prices/$kind/${ex:+$ex/}BTCUSDT?period=$period"
            mf_api_req "$path"
            [[ $(jq -r .source <<<"$BODY") =~ ^($source_re)$ ]] || mf_fail "$path source: $BODY"
            $refresh
            $API_ORACLE check "$ticks" "$BODY" "$kind" "$ex" BTCUSDT || mf_fail "$path: $BODY"
        done
    done
}

# mf_api_stack_servers: what the whole-stack tests run the services against: nats-server,
# PostgreSQL and Redis on free ports, three feed ports, the api port; test mode, a cache
# retention of 60 s (so that longer periods need PostgreSQL), flushes every 500 ms and an api
# settle time of 3 s.
mf_api_stack_servers() {
    mf_start_nats
    mf_start_postgres
    mf_start_redis
    mf_feeds 3
    mf_setup_api
    export MARKETFLOW_EXCHANGES_MODE=test MARKETFLOW_REDIS_RETENTION_S=60
    export MARKETFLOW_PERSISTER_FLUSH_MS=500 MARKETFLOW_API_SETTLE_MS=3000
}
