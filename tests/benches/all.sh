#!/usr/bin/env bash
# Re-measures every table of BENCHMARKS.md, one bench at a time (nothing
# else should run meanwhile: the timed benches share the machine's cores
# with whatever else does), into one folder of Markdown tables.
#
#   bash tests/benches/all.sh [OUT]      # OUT defaults to target/bench-results
#   SKIP="compile fanout" bash tests/benches/all.sh   # leave some out
#
# Parts (names for SKIP): instructions overhead contention fanout memory
# nesting policy observe tower groups after_cancel shield live_memory
# compile. The per-call, contention, fan-out, memory, nesting, policy,
# group, after_cancel, shield and live-memory tables measure
# scoped-cancel's default build (`--no-default-features` on the tests
# crate); `observe` compares the `tracing` and `metrics` features compiled
# in against compiled out. `groups`, `after_cancel` and `shield` also count
# instructions (unless `instructions` is skipped too): the current-thread
# group rows only, as idle or busy workers make the multi-thread counts
# vary from run to run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
OUT=${1:-$ROOT/target/bench-results}
mkdir -p "$OUT"
SKIP=${SKIP:-}
DEFAULT=--no-default-features

skip() { [[ " $SKIP " == *" $1 "* ]]; }
bench() { # bench TARGET [cargo flags...] -- [bench args...]
    local target=$1
    shift
    local flags=()
    while (($#)) && [[ $1 != -- ]]; do flags+=("$1"); shift; done
    (($#)) && shift
    cargo bench -q -p scoped-cancel-tests --bench "$target" "${flags[@]}" -- "$@"
}
note() { printf '\n== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)" >&2; }

# Build everything first, so no compile overlaps a timed run.
note build
for target in overhead contention fanout memory nesting policy tower_latency \
    groups after_cancel shield live_memory; do
    cargo bench -q -p scoped-cancel-tests --bench "$target" $DEFAULT --no-run
done
cargo bench -q -p scoped-cancel-tests --bench observe --no-run

if ! skip instructions; then
    note "instructions per call"
    SC_BENCH_CARGO_FLAGS=$DEFAULT bash tests/benches/instructions.sh >"$OUT/instructions.md"
    SC_BENCH_CARGO_FLAGS=$DEFAULT SC_BENCH_TARGET=nesting bash tests/benches/instructions.sh \
        "nested depth 1:" "nested depth 3" "nested depth 1, parent" >"$OUT/nesting-instructions.md"
    SC_BENCH_CARGO_FLAGS=$DEFAULT SC_BENCH_TARGET=policy bash tests/benches/instructions.sh \
        "replace, free key" "replace, live holder" >"$OUT/policy-instructions.md"
    # These two run batches of 500 tasks, not 5,000 calls.
    SC_BENCH_CARGO_FLAGS=$DEFAULT SC_BENCH_TARGET=policy SC_BENCH_BATCH=500 \
        bash tests/benches/instructions.sh "replace, running calls" "wait hand-off" \
        >>"$OUT/policy-instructions.md"
fi
if ! skip observe; then
    note "observability compiled in"
    for flags in "$DEFAULT" "" "$DEFAULT --features scoped-cancel/tracing" \
        "$DEFAULT --features scoped-cancel/metrics"; do
        printf '\nflags: %s\n' "${flags:-(default: both features)}"
        SC_BENCH_CARGO_FLAGS=$flags bash tests/benches/instructions.sh \
            =keyed-instant =anon-instant =anon-child-instant =enter-drop =registry-run
    done >"$OUT/observe-compiled-in.md"
    note "observability with a listener"
    bench observe -- >"$OUT/observe-listener.md"
fi
skip overhead || { note overhead; bench overhead $DEFAULT -- >"$OUT/overhead.md"; }
skip contention || { note contention; SC_BENCH_ROUNDS=${CONTENTION_ROUNDS:-151} bench contention $DEFAULT -- >"$OUT/contention.md"; }
skip fanout || { note fanout; bench fanout $DEFAULT -- >"$OUT/fanout.md"; }
skip memory || { note memory; bench memory $DEFAULT -- >"$OUT/memory.md"; }
skip nesting || { note nesting; bench nesting $DEFAULT -- >"$OUT/nesting.md"; }
skip policy || { note policy; bench policy $DEFAULT -- >"$OUT/policy.md"; }
skip tower || { note tower; bench tower_latency $DEFAULT -- >"$OUT/tower.md"; }
# Instructions of one of the new targets' cases: instr TARGET OUTFILE CASES...
instr() {
    local target=$1 out=$2
    shift 2
    skip instructions ||
        SC_BENCH_CARGO_FLAGS=$DEFAULT SC_BENCH_TARGET=$target bash tests/benches/instructions.sh \
            "$@" >"$OUT/$out"
}
skip groups || {
    note "task groups"
    instr groups groups-instructions.md =ct-10-instant =ct-10-wait =ct-10-fail \
        =ct-1000-instant =ct-1000-wait =ct-1000-fail
    bench groups $DEFAULT -- >"$OUT/groups.md"
}
skip after_cancel || {
    note after_cancel
    instr after_cancel after-cancel-instructions.md =live =brief
    bench after_cancel $DEFAULT -- >"$OUT/after-cancel.md"
}
skip shield || {
    note shield
    instr shield shield-instructions.md =shield-instant =shield-wait \
        =shield-in-scope-instant =shield-in-scope-wait
    bench shield $DEFAULT -- >"$OUT/shield.md"
}
skip live_memory || { note "live memory"; bench live_memory $DEFAULT -- >"$OUT/live-memory.md"; }
skip compile || { note "compile time"; bash tests/benches/compile_time.sh >"$OUT/compile-time.md"; }
note "done: $OUT"
