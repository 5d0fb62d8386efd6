#!/usr/bin/env bash
# collector_bench.sh: collector throughput for one and three feeds, JetStream and core.
#   BUILD_DIR=build bash bench/collector_bench.sh [LINES_PER_FEED]
# Starts its own nats-server (JetStream, temporary store) on a free port via the test
# fixture library, then runs bench_collector for each combination. Prints figures only.
set -euo pipefail
SOURCE_DIR=$(cd "$(dirname "$0")/.." && pwd)
export SOURCE_DIR BUILD_DIR=${BUILD_DIR:-$SOURCE_DIR/build}
source "$SOURCE_DIR/tests/integration/lib.sh"
LINES=${1:-300000}
BENCH="$BUILD_DIR/services/collector/bench_collector"
[[ -x $BENCH ]] || BENCH=$(find "$BUILD_DIR" -name bench_collector -type f -perm -u+x | head -1)
mf_start_nats
for transport in jetstream core; do
    for feeds in 1 3; do
        "$BENCH" --collector "$(mf_bin collector)" --nats "$MF_NATS_URL" --feeds "$feeds" \
            --lines "$LINES" --transport "$transport" || echo "(run incomplete)"
    done
done
