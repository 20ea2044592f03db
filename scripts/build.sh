#!/usr/bin/env bash
# Builds the Worker into build/ with worker-build and the project's pinned
# tools. wrangler runs this too ([build] in wrangler.toml).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
cd "$HOOKGATE_ROOT"
for tool in "$WORKER_BUILD_BIN" "$WASM_BINDGEN_BIN" "$ESBUILD_BIN" "$WASM_OPT_BIN"; do
  [ -x "$tool" ] || { echo "build: $tool is missing; run 'npm run setup'" >&2; exit 1; }
done
"$WORKER_BUILD_BIN" --release "$@"

# worker-build keeps the wasm "name" section for readable panic traces. It is
# a fifth of the module and hookgate does not panic on request data, so it is
# dropped: a smaller upload starts faster. The features are the ones
# worker-build enables, so nothing newer than workerd supports is emitted.
"$WASM_OPT_BIN" build/index_bg.wasm -o build/index_bg.wasm --strip-debug \
  --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
  --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling
