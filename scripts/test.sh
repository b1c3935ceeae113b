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
cargo clippy -p meganet --lib --tests --target wasm32-unknown-unknown -- -D warnings

step "unit and integration tests (native)"
cargo test --workspace

step "wasm tests in headless Chromium"
export CHROMEDRIVER=/usr/bin/chromedriver
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export WASM_BINDGEN_TEST_TIMEOUT=120
# Chromium flags: crate/webdriver.json (the runner reads it from the crate root).
cargo test -p meganet --target wasm32-unknown-unknown --lib --test '*'

step "fuzz smoke run (the long run: docs/FORMAT.md)"
(cd fuzz && for target in link manifest shard block signal stream; do
  if ! out=$(RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$MEGANET_CACHE/target-fuzz" \
      cargo fuzz run "$target" -- -max_total_time=10 -rss_limit_mb=2048 2>&1); then
    echo "$out" | tail -60; exit 1
  fi
  echo "$target: $(echo "$out" | tail -1)"
done)

step "building the app"
bash scripts/build.sh

step "end-to-end tests (real node, real Chromium and Firefox, isolated network namespace)"
rm -rf test-artifacts && mkdir -p test-artifacts
# A private network namespace (scripts/netns.sh): nothing leaves the host.
# Node's runner applies --test-timeout to each test *and* to each file as a
# whole: 600 s leaves the longest file (repair.test.mjs, about 200 s under
# load) room on a slower machine.
bash scripts/netns.sh \
  node --test --test-concurrency=1 --test-timeout=600000 tests/

step "all tests passed"
