#!/usr/bin/env bash
# run.sh: builds every libFuzzer target with clang (ASan+UBSan) and runs each for a while
# on its corpus in tests/fuzz/corpus/<name>. Any crash, leak or sanitizer report fails.
#
# Usage: tests/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]    (default 20 s, every target)
# Longer runs: tests/fuzz/run.sh 3600 feed_line   (new corpus entries land in the corpus dir;
# commit the interesting ones). Crash inputs are written to build-fuzz/crashes/.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
secs=${1:-20}
shift || true
build="$root/build-fuzz"

cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DMF_FUZZ=ON -DMF_BUILD_TESTS=OFF \
    -DMF_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target $(cd "$build" && make help |
    awk '/fuzz_/ {print $2}' | tr '\n' ' ') >/dev/null

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    mapfile -t targets < <(cd "$build/fuzz" && ls fuzz_* | sed 's/^fuzz_//')
fi
mkdir -p "$build/crashes"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
for t in "${targets[@]}"; do
    corpus="$root/tests/fuzz/corpus/$t"
    work="$build/corpus-$t"
    mkdir -p "$corpus" "$work"
    echo "fuzz_$t: ${secs}s"
    "$build/fuzz/fuzz_$t" -max_total_time="$secs" -max_len=8192 -timeout=10 \
        -artifact_prefix="$build/crashes/$t-" -print_final_stats=1 "$work" "$corpus" \
        2>"$build/fuzz_$t.log" || {
        tail -50 "$build/fuzz_$t.log"
        echo "fuzz_$t: FAILED (inputs in $build/crashes)"
        exit 1
    }
    grep -E "stat::number_of_executed_units|cov:" "$build/fuzz_$t.log" | tail -2
done
echo "fuzz: ${#targets[@]} targets, 0 crashes"
