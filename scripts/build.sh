#!/usr/bin/env bash
# Builds the Worker into build/ with worker-build and the project's pinned
# tools. wrangler runs this too ([build] in wrangler.toml).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
cd "$HOOKGATE_ROOT"
for tool in "$WORKER_BUILD_BIN" "$WASM_BINDGEN_BIN" "$ESBUILD_BIN" "$WASM_OPT_BIN"; do
  [ -x "$tool" ] || { echo "build: $tool is missing; run 'npm run setup'" >&2; exit 1; }
done
# Skip when nothing that goes into build/ changed since the last build: wrangler
# dev (4.86) runs this command twice at start (once for the entry point, once
# when its watcher is ready), and the second run then costs nothing.
inputs="$( { find src Cargo.toml Cargo.lock scripts/build.sh scripts/tools.sh -type f -print0 | sort -z | xargs -0 sha256sum; echo "$* ${HOOKGATE_KEEP_NAMES:-}"; } | sha256sum | cut -d' ' -f1)"
if [ -f build/index.js ] && [ -f build/index_bg.wasm ] && [ "$(cat build/.inputs 2>/dev/null)" = "$inputs" ]; then
  echo "build: up to date (inputs unchanged since the last build)"
  exit 0
fi
rm -f build/.inputs
"$WORKER_BUILD_BIN" --release "$@"

# worker-build keeps the wasm "name" section for readable panic traces. It is
# a fifth of the module and hookgate does not panic on request data, so it is
# dropped: a smaller upload starts faster. The features are the ones
# worker-build enables, so nothing newer than workerd supports is emitted.
# HOOKGATE_KEEP_NAMES=1 keeps it, for CPU profiles with named wasm frames
# (npm run profile).
if [ -z "${HOOKGATE_KEEP_NAMES:-}" ]; then
  "$WASM_OPT_BIN" build/index_bg.wasm -o build/index_bg.wasm --strip-debug \
    --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
    --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling
fi

echo "$inputs" > build/.inputs
