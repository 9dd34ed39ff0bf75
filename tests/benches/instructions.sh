#!/usr/bin/env bash
# Instructions per call, ours vs hand-written, counted by callgrind: a
# repeatable number on machines whose timings are noisy.
#
#   bash tests/benches/instructions.sh [=case-id | "filter" ...]
#
# `SC_BENCH_TARGET=policy` counts the cases of another bench target (default
# `overhead`); `SC_BENCH_BATCH` is that target's calls per batch at scale 1
# (default 5,000; 500 for the policy bench's wait hand-off, whose batch is
# 500 tasks).
#
# Environment: SC_BENCH_TARGET picks the bench target (default `overhead`;
# `observe` for the listener cases); SC_BENCH_CARGO_FLAGS adds cargo flags,
# e.g. `--no-default-features` to build scoped-cancel without its `tracing`
# and `metrics` features (the tests crate enables them by default), so that
# two runs compare compiled-in against compiled-out.
#
# For each per-call case of the `overhead` bench given (default: all of
# them), runs one side at a time under callgrind at
# two batch sizes and divides the difference in instructions by the
# difference in calls, so start-up and runtime creation cancel out.
# SC_BENCH_TARGET names another bench target with the same batch shape
# (5 warm-up batches and rounds of 5,000 × scale), e.g. `nesting`, `shield`,
# `after_cancel` (per registration) or `groups` (per task; its
# current-thread `ct-*` cases: the multi-thread ones vary from run to run).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
TARGET=${SC_BENCH_TARGET:-overhead}
BATCH=${SC_BENCH_BATCH:-5000}
# shellcheck disable=SC2086 # flags are words
BIN=$(cargo bench -p scoped-cancel-tests --bench "$TARGET" ${SC_BENCH_CARGO_FLAGS:-} --no-run \
    --message-format=json 2>/dev/null |
    sed -n "s/.*\"executable\":\"\([^\"]*$TARGET[^\"]*\)\".*/\1/p" | tail -n 1)
[[ -x "$BIN" ]] || { echo "could not build the $TARGET bench" >&2; exit 1; }

# Case ids (`=id` selects exactly one case; see overhead.rs for the list).
if (($# == 0)); then
    set -- =keyed-instant =keyed-wait =keyed-instant-select =keyed-wait-select \
        =keyed-timeout-instant =keyed-timeout-wait =keyed-child-instant =keyed-child-wait \
        =anon-instant =anon-wait =anon-instant-select =anon-wait-select \
        =anon-child-instant =anon-child-wait =enter-drop =registry-run =root-run =cancelled \
        =naive-keyed-instant =naive-keyed-wait =naive-anon-instant =naive-anon-wait \
        =naive-enter-drop =track-keyed-instant =track-keyed-wait =track-anon-instant \
        =track-anon-wait
fi

# Instructions for one side of one case at batch scale $3.
count() {
    local out
    out=$(SC_BENCH_SIDE=$2 SC_BENCH_ROUNDS=1 SC_BENCH_SCALE=$3 \
        valgrind --tool=callgrind --callgrind-out-file=/dev/null "$BIN" "$1" 2>&1 >/dev/null |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
    echo "$out"
}

# The bench runs 5 warm-up batches + 1 round = 6 batches of $BATCH × scale.
calls_at() { echo $((6 * BATCH * $1)); }

printf '| case | ours (instructions/call) | hand-written | ratio |\n|---|---:|---:|---:|\n'
for filter in "$@"; do
    declare -A per
    for side in ours hand; do
        a=$(count "$filter" "$side" 1)
        b=$(count "$filter" "$side" 2)
        per[$side]=$(awk -v a="$a" -v b="$b" -v ca="$(calls_at 1)" -v cb="$(calls_at 2)" \
            'BEGIN { printf "%.0f", (b - a) / (cb - ca) }')
    done
    printf '| %s | %s | %s | %.3f |\n' "$filter" "${per[ours]}" "${per[hand]}" \
        "$(awk -v o="${per[ours]}" -v h="${per[hand]}" 'BEGIN { print o / h }')"
    unset per
done
