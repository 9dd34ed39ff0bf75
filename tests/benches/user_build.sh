#!/usr/bin/env bash
# Clean build of a small user crate (tokio with macros + scoped-cancel, one
# #[scoped_cancel] fn) against two revisions of this repository, alternated,
# reporting wall and CPU time and the crates compiled (and which syn).
#
#   tests/benches/user_build.sh BEFORE_REV AFTER_REV [ROUNDS]
#
# Wall time on a shared 2-core machine follows whatever else runs; CPU time
# (user + sys) and the crate list are the steadier figures.
set -euo pipefail
before=${1:?before revision}
after=${2:?after revision}
rounds=${3:-2}
repo=$(git rev-parse --show-toplevel)
work=$(mktemp -d)
trap 'git -C "$repo" worktree remove --force "$work/src-before" >/dev/null 2>&1 || true;
      git -C "$repo" worktree remove --force "$work/src-after" >/dev/null 2>&1 || true;
      rm -rf "$work"' EXIT

for side in before after; do
  rev=$before; [ "$side" = after ] && rev=$after
  git -C "$repo" worktree add -q --detach "$work/src-$side" "$rev"
  mkdir -p "$work/$side/src"
  cat > "$work/$side/Cargo.toml" <<TOML
[package]
name = "user-$side"
version = "0.1.0"
edition = "2021"
[dependencies]
tokio = { version = "1.47", features = ["macros", "rt-multi-thread", "time"] }
scoped-cancel = { path = "$work/src-$side/core" }
[workspace]
TOML
  cat > "$work/$side/src/main.rs" <<'RS'
use scoped_cancel::{scoped_cancel, Registry};
static JOBS: Registry<u64> = Registry::new();
#[scoped_cancel(registry = JOBS, key = id, timeout = "1s")]
async fn job(id: u64) -> Option<u64> { Some(id) }
#[tokio::main]
async fn main() { println!("{:?}", job(7).await); }
RS
  cp "$work/src-$side/Cargo.lock" "$work/$side/Cargo.lock"
  (cd "$work/$side" && cargo fetch -q)
done

for round in $(seq "$rounds"); do
  for side in before after; do
    rm -rf "$work/$side/target"
    log="$work/$side.log"
    (cd "$work/$side" && /usr/bin/time -f "%e %U %S" cargo build --offline 2> "$log" >/dev/null)
    read -r wall user sys < <(tail -1 "$log")
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
    echo "$side round $round: wall ${wall} s, cpu ${cpu} s, crates $(grep -c Compiling "$log"), $(grep -o 'Compiling syn v[0-9.]*' "$log" | sed 's/Compiling //' | tr '\n' ' ')"
  done
done
