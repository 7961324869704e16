#!/usr/bin/env bash
# Runs every check and test of the workspace: formatting, clippy (warnings are errors), then
# all tests (unit, integration, end-to-end, and the bounded fuzz properties).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
  cargo test --workspace --doc
else
  cargo test --workspace --no-fail-fast
fi
