#!/usr/bin/env bash
# Runs the benchmarks and prints one JSON line per result:
#   {"name": "...", "value": <number>, "unit": "..."}
# Everything else (build logs, progress) goes to stderr. Each benchmark is a
# step function listed in STEPS; add new ones there.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
bash scripts/setup.sh --test >&2
# Run only some steps: scripts/bench.sh bench_webrtc
if [ "$#" -gt 0 ]; then STEPS_OVERRIDE=("$@"); fi

# Native chunk store: crate/benches/store.rs (store.put.disk, store.get.disk).
bench_store_native() {
  cargo bench -q -p meganet --bench store 2>/dev/null | grep '^{"name"' || true
}

# Browser chunk store in headless Chromium: crate/tests/bench_store.rs
# (store.put.idb, store.get.idb, store.ceiling.idb, ...). The tests are
# #[ignore]d in normal runs; their console output carries the JSON lines.
# No `cargo test -q`: it passes --quiet on to wasm-bindgen-test-runner, which
# then fails.
bench_store_browser() {
  CHROMEDRIVER=/usr/bin/chromedriver \
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  WASM_BINDGEN_TEST_TIMEOUT=600 \
    cargo test -p meganet --release --target wasm32-unknown-unknown --test bench_store \
      -- --include-ignored --nocapture 2>/dev/null | grep '^{"name"' || true
}

# Native format: crate/benches/format.rs (format.encode.native, format.decode.native,
# ceilings format.ceiling.blake3.native and format.ceiling.chacha20poly1305.native).
bench_format_native() {
  cargo bench -q -p meganet --bench format 2>/dev/null | grep '^{"name"' || true
}

# Browser format and audits in headless Chromium: crate/tests/bench_format.rs
# (format.*.wasm; audit.proof_bytes, audit.prove_us.wasm, audit.verify_us.wasm
# beside audit.ceiling.hash_us.wasm, hashing the whole shard once).
bench_format_browser() {
  CHROMEDRIVER=/usr/bin/chromedriver \
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  WASM_BINDGEN_TEST_TIMEOUT=600 \
    cargo test -p meganet --release --target wasm32-unknown-unknown --test bench_format \
      -- --include-ignored --nocapture 2>/dev/null | grep '^{"name"' || true
}

# Browser-to-browser WebRTC between two Chromium processes and a real node:
# bench/webrtc.mjs (webrtc.connect_ms, webrtc.stream.MBps, webrtc.ceiling.MBps).
bench_webrtc() {
  bash scripts/build.sh >&2
  bash scripts/netns.sh node bench/webrtc.mjs 2>/dev/null | grep '^{"name"' || true
}

# The js-libp2p anchor: bench/libp2p.mjs (anchor.libp2p.connect_ms, two
# js-libp2p nodes with @libp2p/webrtc through the same node's relay, beside
# bench_webrtc's webrtc.connect_ms). Needs the build of bench_webrtc.
bench_libp2p() {
  bash scripts/netns.sh node bench/libp2p.mjs 2>/dev/null | grep '^{"name"' || true
}

# Put and get between browsers: bench/swarm.mjs (put.MBps, get.MBps,
# get.MBps.firefox, get.first_byte_ms). Run after bench_webrtc, whose
# webrtc.ceiling.MBps is the reference.
bench_swarm() {
  bash scripts/netns.sh node bench/swarm.mjs 2>/dev/null | grep '^{"name"' || true
}

# The WebTorrent anchor: bench/webtorrent.mjs (anchor.webtorrent.get.MBps,
# anchor.webtorrent.first_piece_ms: WebTorrent 3.0.21's browser build, 64
# MiB between two Chromium processes, a bittorrent-tracker WebSocket server
# as signaling), beside bench_swarm's get.MBps, get.sw.MBps and
# get.first_byte_ms.
bench_webtorrent() {
  bash scripts/netns.sh node bench/webtorrent.mjs 2>/dev/null | grep '^{"name"' || true
}

# Three nodes joined by --peer: bench/multinode.mjs (get.MBps.multinode,
# dht.lookup_ms). Run after bench_swarm, whose get.MBps is the reference.
bench_multinode() {
  bash scripts/netns.sh node bench/multinode.mjs 2>/dev/null | grep '^{"name"' || true
}

# Repair between two real nodes: bench/repair.mjs (repair.MBps beside
# repair.ceiling.place.MBps, the put's own placement rate).
bench_repair() {
  bash scripts/netns.sh node bench/repair.mjs 2>/dev/null | grep '^{"name"' || true
}

# A published site against the same folder over plain HTTP: bench/site.mjs
# (site.first_paint_ms, site.load_ms beside site.http.first_paint_ms and
# site.http.load_ms). Needs the build of bench_webrtc.
bench_site() {
  bash scripts/netns.sh node bench/site.mjs 2>/dev/null | grep '^{"name"' || true
}

# The churn simulator on a small scenario (scenarios/bench-small.toml):
# sim.availability, sim.files_lost, sim.overhead, sim.repair_ratio,
# sim.seconds.
bench_sim() {
  cargo run -q --release -p meganet -- simulate scenarios/bench-small.toml 2>/dev/null | grep '^{"name"' || true
}

# Capacity of one node: crate/benches/node_load.rs holds 1,000 WebSocket
# clients on a real node, each with a relay reservation and a provider
# record (node.peers_held, node.rss_per_peer_KiB, node.cpu_ms_per_peer_minute).
# Its progress and, if fewer held, the reason stay on stderr; the step fails.
bench_node_load() {
  cargo bench -q -p meganet --bench node_load | grep '^{"name"'
}

# Provider lookups in 50, 100 and 200 Kademlia nodes in one process:
# crate/benches/dht_scale.rs (dht.hops.N, dht.messages.N).
bench_dht() {
  cargo bench -q -p meganet --bench dht_scale | grep '^{"name"'
}

STEPS=(
  bench_format_native
  bench_format_browser
  bench_store_native
  bench_store_browser
  bench_node_load
  bench_webrtc
  bench_libp2p
  bench_swarm
  bench_webtorrent
  bench_multinode
  bench_repair
  bench_site
  bench_sim
  bench_dht
)

if [ -n "${STEPS_OVERRIDE+x}" ]; then STEPS=("${STEPS_OVERRIDE[@]}"); fi
status=0
for step in "${STEPS[@]}"; do
  log "bench: $step"
  out=$("$step") || status=1
  if [ -z "$out" ]; then
    log "bench: $step printed no results"
    status=1
  else
    printf '%s\n' "$out"
  fi
done
exit "$status"
