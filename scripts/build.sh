#!/usr/bin/env bash
# Builds the Worker into build/: cargo (wasm32), wasm-bindgen at exactly
# Cargo.lock's version, hookgate's own entry (src/js/shim.js) bundled by
# esbuild, and wasm-opt. wrangler runs this too ([build] in wrangler.toml).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"
cd "$HOOKGATE_ROOT"
for tool in "$WASM_BINDGEN_BIN" "$ESBUILD_BIN" "$WASM_OPT_BIN"; do
  [ -x "$tool" ] || { echo "build: $tool is missing; run 'npm run setup'" >&2; exit 1; }
done
# Skip when nothing that goes into build/ changed since the last build: wrangler
# dev (4.86) runs this command twice at start (once for the entry point, once
# when its watcher is ready), and the second run then costs nothing.
inputs="$( { find src build.rs Cargo.toml Cargo.lock scripts/build.sh scripts/tools.sh scripts/short-imports.mjs scripts/prune-table.mjs scripts/wasm-leb.mjs -type f -print0 | sort -z | xargs -0 sha256sum; echo "$* ${HOOKGATE_KEEP_NAMES:-}"; } | sha256sum | cut -d' ' -f1)"
if [ -f build/index.js ] && [ -f build/index_bg.wasm ] && [ "$(cat build/.inputs 2>/dev/null)" = "$inputs" ]; then
  echo "build: up to date (inputs unchanged since the last build)"
  exit 0
fi
rm -f build/.inputs

staging=build/.staging
rm -rf "$staging"
mkdir -p "$staging"

# The dashboard's script and style sheet, minified: the module carries them
# (src/admin/mod.rs includes them from here, see build.rs).
dashboard="$PWD/target/dashboard"
mkdir -p "$dashboard"
# The page's indentation goes (a run of white space shows as one space anyway).
sed 's/^[[:space:]]*//' src/admin/dashboard.html > "$dashboard/dashboard.html"
"$ESBUILD_BIN" src/admin/dashboard.js --minify --log-level=warning --outfile="$dashboard/dashboard.js"
"$ESBUILD_BIN" src/admin/dashboard.css --minify --log-level=warning --outfile="$dashboard/dashboard.css"

# Panic locations name the crates' files without the registry's path on this
# machine (~/.cargo/registry/src/index.crates.io-…/base64ct-1.8.3/src/…
# becomes base64ct-1.8.3/src/…): a little shorter, and the same module
# whoever builds it. std's files keep their /rustc/… names (std comes built).
rustflags=""
for registry in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/; do
  rustflags+="${rustflags:+, }\"--remap-path-prefix=$registry=\""
done
HOOKGATE_DASHBOARD_DIR="$dashboard" cargo build --release --target wasm32-unknown-unknown --lib \
  --config "target.wasm32-unknown-unknown.rustflags = [$rustflags]" "$@"

# The module target with the reset-state function and abort handler: the
# entry sets the module up again after a critical error (src/js/shim.js).
"$WASM_BINDGEN_BIN" target/wasm32-unknown-unknown/release/hookgate.wasm \
  --out-dir "$staging" --out-name index --no-typescript --target module \
  --experimental-reset-state-function --force-enable-abort-handler
# Workers import a wasm module as a plain import (the source phase is not
# supported by every bundler and runtime yet).
sed -i 's/^import source wasmModule from/import wasmModule from/' "$staging/index.js"
# The table's entries for wasm-bindgen's closure invoke shims, which nothing
# calls, point at one of them, so wasm-opt drops the rest
# (scripts/prune-table.mjs; upload 125.17 -> 124.22 KiB gzipped).
node scripts/prune-table.mjs "$staging/index_bg.wasm" "$staging/index.js"
# The module's imports from wasm-bindgen's JS get short names in both
# (scripts/short-imports.mjs): the hashes in wasm-bindgen's names were about
# 2.7 KiB of the gzipped upload; the two modules' names, written with every
# import, become "a" and "b" (0.17 KiB). HOOKGATE_KEEP_NAMES=1 keeps them, so a CPU
# profile still names each import's JS function.
[ -n "${HOOKGATE_KEEP_NAMES:-}" ] || node scripts/short-imports.mjs "$staging/index_bg.wasm" "$staging/index.js"

cp src/js/shim.js "$staging/shim.js"
# HOOKGATE_KEEP_NAMES=1 (profiles) keeps the JavaScript's names too.
minify=--minify
[ -n "${HOOKGATE_KEEP_NAMES:-}" ] && minify="--minify-whitespace --minify-syntax"
"$ESBUILD_BIN" "$staging/shim.js" --bundle --format=esm $minify --log-level=warning \
  --log-override:duplicate-object-key=silent \
  --external:./index_bg.wasm --external:cloudflare:workers --outfile="$staging/bundle.js"

# Optimised as worker-build would (-O), and without the "name" section: it is
# a fifth of the module, and a smaller upload starts faster. HOOKGATE_KEEP_NAMES=1
# keeps it, for CPU profiles with named wasm frames (npm run profile). The
# "producers" and "target_features" sections go too: only tools read them.
# The features are the ones the module uses, so nothing newer than workerd
# supports is emitted. A function with one caller is not inlined into it
# (--one-caller-inline-max-function-size=0): the module is 3 % larger, but
# 4 % smaller gzipped (the upload's measure: 122.74 -> 117.95 KiB), most
# likely because gzip finds more repeats in functions that keep their own
# bodies and locals than in callers that took them in.
# --low-memory-unused lets a constant added to a pointer become the load's or
# store's offset: the two differ only when the sum wraps past 4 GiB into the
# first KiB, and no pointer of the module is that close to 2^32 (a Worker's
# memory is far below it), so the same addresses are read and written
# (upload 126.42 -> 126.08 KiB gzipped).
strip=--strip-debug
[ -n "${HOOKGATE_KEEP_NAMES:-}" ] && strip=--debuginfo
"$WASM_OPT_BIN" "$staging/index_bg.wasm" -o "$staging/index_bg.wasm" -O $strip \
  --one-caller-inline-max-function-size=0 --low-memory-unused \
  --strip-producers --strip-target-features \
  --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
  --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling

rm -rf build/index.js build/index_bg.wasm build/worker build/snippets
mv "$staging/bundle.js" build/index.js
mv "$staging/index_bg.wasm" build/index_bg.wasm
rm -rf "$staging"
echo "$inputs" > build/.inputs
echo "build: build/index.js ($(wc -c < build/index.js) bytes), build/index_bg.wasm ($(wc -c < build/index_bg.wasm) bytes)"
