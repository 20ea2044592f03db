# Sourced by the other scripts: where the pinned build tools live, and the
# variables that make worker-build use them instead of downloading its own.
# HOOKGATE_TOOLS moves the cache; it is shared by every clone on the machine.
HOOKGATE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HOOKGATE_TOOLS="${HOOKGATE_TOOLS:-$HOME/.cache/hookgate}"
WORKER_BUILD_VERSION=0.8.7
# wasm-bindgen's CLI must match the library in Cargo.lock exactly.
WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$HOOKGATE_ROOT/Cargo.lock")"
WORKER_BUILD_BIN="$HOOKGATE_TOOLS/worker-build-$WORKER_BUILD_VERSION/bin/worker-build"
export WASM_BINDGEN_BIN="$HOOKGATE_TOOLS/wasm-bindgen-$WASM_BINDGEN_VERSION/bin/wasm-bindgen"
export ESBUILD_BIN="$HOOKGATE_ROOT/node_modules/.bin/esbuild"
export WASM_OPT_BIN="$HOOKGATE_ROOT/node_modules/.bin/wasm-opt"
