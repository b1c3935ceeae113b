#!/usr/bin/env bash
# Runs every check and test. Installs what is missing first (scripts/setup.sh).
# Browser tests run in a loopback-only network namespace (see docs/DESIGN.md).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
start=$(date +%s)
step() { log "$* (+$(( $(date +%s) - start )) s)"; }

bash scripts/setup.sh --test

step "formatting"
cargo fmt --all --check

step "clippy (native)"
cargo clippy --workspace --all-targets -- -D warnings
step "clippy (wasm32)"
cargo clippy -p meganet --lib --test '*' --target wasm32-unknown-unknown -- -D warnings

step "unit and integration tests (native)"
cargo test --workspace

step "wasm tests in headless Chromium"
export CHROMEDRIVER=/usr/bin/chromedriver
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export WASM_BINDGEN_TEST_TIMEOUT=120
# Chromium flags: crate/webdriver.json (the runner reads it from the crate root).
cargo test -p meganet --target wasm32-unknown-unknown --lib --test '*'

step "building the app"
bash scripts/build.sh

step "end-to-end tests (real node, real Chromium, loopback-only namespace)"
rm -rf test-artifacts && mkdir -p test-artifacts
unshare -n sh -c 'ip link set lo up && exec "$@"' sh \
  node --test --test-concurrency=1 --test-timeout=300000 tests/

step "all tests passed"
