# Sourced by the other scripts: where the pinned build tools live.
# HOOKGATE_TOOLS moves the cache; it is shared by every clone on the machine.
HOOKGATE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HOOKGATE_TOOLS="${HOOKGATE_TOOLS:-$HOME/.cache/hookgate}"
# wasm-bindgen's CLI must match the library in Cargo.lock exactly.
WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$HOOKGATE_ROOT/Cargo.lock")"
# cargo-fuzz, for `npm run fuzz` only (scripts/fuzz.sh installs it when missing).
CARGO_FUZZ_VERSION=0.13.2
CARGO_FUZZ_BIN="$HOOKGATE_TOOLS/cargo-fuzz-$CARGO_FUZZ_VERSION/bin/cargo-fuzz"
export WASM_BINDGEN_BIN="$HOOKGATE_TOOLS/wasm-bindgen-$WASM_BINDGEN_VERSION/bin/wasm-bindgen"
export ESBUILD_BIN="$HOOKGATE_ROOT/node_modules/.bin/esbuild"
export WASM_OPT_BIN="$HOOKGATE_ROOT/node_modules/.bin/wasm-opt"
