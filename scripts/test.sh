#!/usr/bin/env bash
# Every test: the pure core natively (cargo test), then the built Worker in
# workerd against real local origins (node --test). `npm test` runs setup first.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
cd "$HOOKGATE_ROOT"

echo "== cargo test (pure core, natively)"
cargo test --quiet --lib --tests

echo "== building the Worker"
build_log="$(mktemp)"
trap 'rm -f "$build_log"' EXIT
bash scripts/build.sh >"$build_log" 2>&1 || { cat "$build_log" >&2; exit 1; }

echo "== end to end: the built Worker in workerd (Miniflare)"
node --test --test-concurrency=1 tests/e2e/*.test.mjs
