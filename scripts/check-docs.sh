#!/usr/bin/env bash
# Runs what a new user runs, verbatim from the docs of this checkout: the README's first command
# (it builds the release binary, once, and runs the dev chain on 127.0.0.1:9944), its quick
# start, then the SDK tutorial (contracts-sdk/README.md) against that chain. The shell blocks
# are taken from the Markdown files themselves, so the docs cannot drift from what works.
# Needs port 9944 free; takes a release build of the node and a debug build of the SDK's tests
# (about 15 minutes on 2 cores from a cold cache). Not part of scripts/test.sh for that reason.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d)
chain_pid=
cleanup() {
  if [ -n "$chain_pid" ]; then
    pkill -TERM -P "$chain_pid" 2>/dev/null || true
    kill -TERM "$chain_pid" 2>/dev/null || true
    wait "$chain_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The ```sh blocks of FILE between the headings START and STOP, in order.
blocks() {
  awk -v start="$2" -v stop="$3" '
    index($0, start) == 1 { on = 1; next }
    on && index($0, stop) == 1 { exit }
    on && /^```sh$/ { inside = 1; next }
    inside && /^```$/ { inside = 0; next }
    inside { print }
  ' "$1"
}

echo "== README, command 1 (builds the node once, then runs the dev chain)"
command1=$(blocks README.md "## Two commands" "## Quick start" | head -n 1)
echo "$command1"
bash -c "$command1" >"$work/chain.log" 2>&1 &
chain_pid=$!
health='{"jsonrpc":"2.0","id":1,"method":"system_health","params":[]}'
deadline=$((SECONDS + 1800))
until curl -sf -o /dev/null -H 'content-type: application/json' -d "$health" http://127.0.0.1:9944; do
  if ! kill -0 "$chain_pid" 2>/dev/null || [ $SECONDS -gt $deadline ]; then
    echo "the dev chain did not come up:"; tail -n 30 "$work/chain.log"; exit 1
  fi
  sleep 2
done

echo "== README, quick start"
blocks README.md "## Quick start" "## Layout" >"$work/quickstart.sh"
bash -euo pipefail -x "$work/quickstart.sh"

echo "== SDK tutorial"
blocks contracts-sdk/README.md "## Tutorial" "## Writing contracts" >"$work/tutorial.sh"
bash -euo pipefail -x "$work/tutorial.sh"

echo "== the docs ran verbatim; the node was built once:"
grep -c 'Compiling aether-node' "$work/chain.log" || true
