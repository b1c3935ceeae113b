#!/usr/bin/env bash
# Installs what meganet needs on a fresh machine and skips what is present:
# the wasm target, wasm-bindgen-cli at the Cargo.lock version, npm packages,
# and (for tests) Debian's chromium, chromium-driver, firefox-esr,
# webkit2gtk-driver, xvfb, nginx and libnss3-tools (certutil), and cargo-fuzz.
#   scripts/setup.sh          build tools only
#   scripts/setup.sh --test   also the browsers the tests drive
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# wasm-bindgen-cli must match the wasm-bindgen crate exactly.
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  log "installing wasm-bindgen-cli $want (a few minutes, once)"
  cargo install wasm-bindgen-cli --version "$want" --locked --root "$MEGANET_TOOLS"
fi

stamp="node_modules/.meganet-lock"
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  log "installing npm packages"
  # No install scripts: none of ours needs one, and webtorrent's
  # node-datachannel would download a prebuilt binary (no network here;
  # the benchmark uses WebTorrent's browser build, which does not need it).
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

if [ "${1:-}" = "--test" ]; then
  if ! cargo fuzz --version >/dev/null 2>&1; then
    log "installing cargo-fuzz (a few minutes, once)"
    cargo install cargo-fuzz --locked --root "$MEGANET_TOOLS"
  fi
  missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
  [ -x /usr/bin/firefox-esr ] || missing+=(firefox-esr)
  # WebKit: WebKitGTK's WebDriver and the MiniBrowser it drives, on Xvfb.
  [ -x /usr/bin/WebKitWebDriver ] || missing+=(webkit2gtk-driver)
  [ -x /usr/bin/Xvfb ] || missing+=(xvfb)
  # And a WebKitGTK page with a persistent profile (tests/store-crash.test.mjs),
  # driven from Debian's Python (tests/lib/webkit_persistent.py).
  /usr/bin/python3 -c "import gi; gi.require_version('WebKit2', '4.1')" 2>/dev/null \
    || missing+=(python3-gi gir1.2-webkit2-4.1)
  # tests/proxy.test.mjs: nginx in front of a node, and certutil to make
  # the browsers trust the test's certificate authority.
  [ -x /usr/sbin/nginx ] || missing+=(nginx)
  [ -x /usr/bin/certutil ] || missing+=(libnss3-tools)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]} from Debian"
    sudo_=""; [ "$(id -u)" = 0 ] || sudo_=sudo
    $sudo_ apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi
