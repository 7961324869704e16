#!/usr/bin/env bash
# Runs every check and test of the workspace: formatting, clippy (warnings are errors), all
# tests (unit, integration, end-to-end, bounded fuzz), then the native-stack attack suites in
# release. Set AETHER_FUZZ_CASES to fuzz longer than the default.
set -euo pipefail
cd "$(dirname "$0")/.."

# A clean CI build gains nothing from incremental state, and it takes gigabytes of disk.
if [ "${CI:-}" = true ]; then
  export CARGO_INCREMENTAL=0
fi

run_tests() {
  if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --no-fail-fast "$@"
  else
    cargo test --no-fail-fast "$@"
  fi
}

# Contract examples are built for this target by their tests (the build installs it if
# missing; doing it first keeps the tests' output clean).
if command -v rustup >/dev/null 2>&1; then
  rustup target add wasm32v1-none >/dev/null
fi

cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
run_tests --workspace
cargo test --workspace --doc
# Optimised code uses the native stack differently: run the suites that attack it (deep
# recursion, host re-entry, memory.grow loops, arbitrary modules) in release as well.
run_tests --release -p aether-engine --test hostile --test fuzz
# The consensus simulator's full campaigns (1,000 random fault mixes, Twins, determinism) need
# optimised BLS and ParityDB to fit their budget. The golden traces must come out the same
# in release as in the debug run above.
run_tests --release -p aether-tests --test simulator --test golden
