#!/usr/bin/env bash
# Builds everything: the wasm peer (build/pkg), the web bundle (dist/) and
# the native node. MEGANET_PROFILE=debug skips wasm-opt and native release;
# MEGANET_ONLY=web skips the native node (for quick web iterations).
# Outputs a running node uses (dist/, build/bin/meganet) are written
# beside them and renamed over them, so building while `npm start` serves
# neither fails ("Text file busy") nor leaves the node a half-written app.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/setup.sh "$@"

profile="${MEGANET_PROFILE:-release}"
flag=(); [ "$profile" = release ] && flag=(--release)

log "building the wasm peer ($profile)"
RUSTFLAGS="${WASM_RUSTFLAGS:-}" cargo build -p meganet --lib --target wasm32-unknown-unknown "${flag[@]}"
rm -rf build/pkg
wasm-bindgen --target web --out-dir build/pkg --out-name meganet \
  "$CARGO_TARGET_DIR/wasm32-unknown-unknown/$profile/meganet.wasm"
if [ "$profile" = release ]; then
  log "optimizing wasm"
  npx --no-install wasm-opt -Oz --strip-debug --strip-producers --enable-reference-types --enable-bulk-memory \
    --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
    build/pkg/meganet_bg.wasm -o build/pkg/meganet_bg.wasm
fi

log "bundling the web app"
rm -rf dist.next dist.old
npx --no-install webpack --mode production --no-stats --output-path dist.next
[ -d dist ] && mv dist dist.old
mv dist.next dist
rm -rf dist.old

[ "${MEGANET_ONLY:-}" = web ] && exit 0
log "building the native node ($profile)"
cargo build -p meganet --bin meganet "${flag[@]}"
mkdir -p build/bin
install -m 755 "$CARGO_TARGET_DIR/$profile/meganet" build/bin/meganet.next
mv -f build/bin/meganet.next build/bin/meganet
