#!/usr/bin/env bash
# Builds the Worker into build/ with worker-build and the project's pinned
# tools. wrangler runs this too ([build] in wrangler.toml).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
cd "$HOOKGATE_ROOT"
for tool in "$WORKER_BUILD_BIN" "$WASM_BINDGEN_BIN" "$ESBUILD_BIN" "$WASM_OPT_BIN"; do
  [ -x "$tool" ] || { echo "build: $tool is missing; run 'npm run setup'" >&2; exit 1; }
done
exec "$WORKER_BUILD_BIN" --release "$@"
