#!/usr/bin/env bash
# collector_mode: the collector follows marketflow.control.mode: the mode stored in the
# CONTROL stream when it starts, then switches published on the subject (plain publish, no
# REST), both ways, without a restart; malformed control messages are counted and ignored.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
CAT="$BUILD_DIR/tests/tools/mf-cat"
CHECK="python3 $SOURCE_DIR/tests/integration/collector_check.py"
FEED="$SOURCE_DIR/tests/integration/fake_feed.py"
[[ -x $CAT ]] || mf_fail "mf-cat not built ($CAT)"

mf_start_nats
PL=$(mf_free_port)
PT=$(mf_free_port)
mf_start_bg live python3 "$FEED" --port "$PL" --stream --symbols LIVEUSDT --events "$MF_TMP/live.ev"
mf_start_bg test python3 "$FEED" --port "$PT" --stream --symbols TESTUSDT --events "$MF_TMP/test.ev"
export MARKETFLOW_EXCHANGES_LIVE="exchange1=127.0.0.1:$PL"
export MARKETFLOW_EXCHANGES_TEST="exchange1=127.0.0.1:$PT"
export MARKETFLOW_EXCHANGES_MODE=test # the default; the stored mode must win

# The mode current before the collector starts: live (stored in the CONTROL stream).
"$CAT" pub marketflow.control.mode '{"mode":"live","at":1,"by":"collector_mode"}' --js
mf_start_bg collector "$(mf_bin collector)"

one_tick() { # one_tick SYMBOL: a tick of SYMBOL arrives within 5 s
    "$CAT" sub "marketflow.ticks.exchange1.$1" --count 1 --timeout-ms 5000 >"$MF_TMP/one.json"
    [[ -s $MF_TMP/one.json ]]
}
no_ticks() { # no_ticks SYMBOL: none for 1.5 s
    "$CAT" sub "marketflow.ticks.exchange1.$1" --count 1 --timeout-ms 1500 >"$MF_TMP/none.json"
    [[ ! -s $MF_TMP/none.json ]]
}
status() {
    "$CAT" sub 'marketflow.status.collector.>' --count 1 --timeout-ms 5000 >"$MF_TMP/status.json"
    $CHECK status "$MF_TMP/status.json" "$@"
}
ev_count() { grep -c "^$2" "$MF_TMP/$1.ev" 2>/dev/null || true; }

mf_wait_for 10 one_tick LIVEUSDT
grep -q "current mode live (from the CONTROL stream)" "$MF_TMP/collector.log" ||
    mf_fail "the stored mode was not read at start"
[[ $(ev_count test connect) -eq 0 ]] || mf_fail "test feed was opened in live mode"
mf_wait_for 10 status mode='"live"' feeds.0.endpoint="\"127.0.0.1:$PL\""

# Malformed control messages: counted, ignored.
"$CAT" pub marketflow.control.mode 'not json'
"$CAT" pub marketflow.control.mode '{"mode":"sideways"}'
mf_wait_for 10 status mode='"live"' control.malformed=2

# live -> test by a plain publish on the subject.
"$CAT" pub marketflow.control.mode '{"mode":"test","at":2,"by":"collector_mode"}'
mf_wait_for 10 one_tick TESTUSDT
mf_wait_for 5 grep -q "disconnect 1" "$MF_TMP/live.ev"
no_ticks LIVEUSDT || mf_fail "live ticks after switching to test"
mf_wait_for 10 status mode='"test"' feeds.0.endpoint="\"127.0.0.1:$PT\""

# test -> live.
"$CAT" pub marketflow.control.mode '{"mode":"live","at":3,"by":"collector_mode"}'
mf_wait_for 10 one_tick LIVEUSDT
mf_wait_for 5 grep -q "disconnect 1" "$MF_TMP/test.ev"
no_ticks TESTUSDT || mf_fail "test ticks after switching to live"
[[ $(grep -c 'msg="running' "$MF_TMP/collector.log") -eq 1 ]] || mf_fail "collector restarted"
[[ $(ev_count live connect) -eq 2 ]] || mf_fail "live feed connections: $(ev_count live connect)"

# A restarted collector picks up the last switch (test, stored by the plain publish).
"$CAT" pub marketflow.control.mode '{"mode":"test","at":4,"by":"collector_mode"}'
mf_wait_for 10 one_tick TESTUSDT
mf_stop_bg collector
[[ $(mf_exit_code collector) -eq 0 ]] || mf_fail "collector exit code $(mf_exit_code collector)"
mf_start_bg collector2 "$(mf_bin collector)"
mf_wait_for 10 grep -q "current mode test (from the CONTROL stream)" "$MF_TMP/collector2.log"
mf_wait_for 10 one_tick TESTUSDT
mf_pass "mode from the stream at start, switches both ways, malformed ignored"
