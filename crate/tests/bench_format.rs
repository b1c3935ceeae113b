//! Browser format benchmarks, run by `scripts/bench.sh` (ignored in normal
//! test runs); the body is `benches/format_common.rs`, shared with the
//! native harness. Results are JSON lines through the console.
#![cfg(all(target_arch = "wasm32", target_os = "unknown"))]

#[path = "../benches/format_common.rs"]
mod common;

use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
#[ignore]
fn bench_format_wasm() {
    common::run("wasm", 32 << 20, 1, &mut |name, value, unit| {
        web_sys::console::log_1(&JsValue::from_str(&format!(
            r#"{{"name":"{name}","value":{value},"unit":"{unit}"}}"#
        )));
    });
}

/// Audits in the browser (`audit.*`): proving and checking a random
/// 2-chunk range of a full shard of the default parameters, beside the
/// ceiling of hashing that whole shard once, in the same run.
#[wasm_bindgen_test]
#[ignore]
fn bench_audit_wasm() {
    use meganet::audit::{prove, verify, ChunkRange, MAX_AUDIT_CHUNKS};
    use meganet::format::Params;
    use meganet::hash::Hash;
    use web_time::Instant;

    const ROUNDS: u32 = 200;
    let params = Params::default();
    let len = params.shard_len(u64::from(params.segment_size));
    let shard: Vec<u8> = (0..len).map(|i| (i * 13 + (i >> 10)) as u8).collect();
    let hash = Hash::of(&shard);
    let ranges: Vec<ChunkRange> = (0..ROUNDS)
        .map(|i| ChunkRange::random(len as u64, MAX_AUDIT_CHUNKS, u64::from(i) * 2_654_435_761))
        .collect();
    let micros = |started: Instant| started.elapsed().as_secs_f64() * 1e6 / f64::from(ROUNDS);
    let report = |name: &str, value: f64, unit: &str| {
        web_sys::console::log_1(&JsValue::from_str(&format!(
            r#"{{"name":"{name}","value":{},"unit":"{unit}"}}"#,
            (value * 10.0).round() / 10.0
        )));
    };

    let started = Instant::now();
    for _ in 0..ROUNDS {
        std::hint::black_box(Hash::of(&shard));
    }
    report("audit.ceiling.hash_us.wasm", micros(started), "us");

    let started = Instant::now();
    let proofs: Vec<Vec<u8>> = ranges.iter().map(|r| prove(&shard, *r).unwrap()).collect();
    report("audit.prove_us.wasm", micros(started), "us");

    let started = Instant::now();
    for (range, proof) in ranges.iter().zip(&proofs) {
        verify(&hash, len as u64, *range, proof).unwrap();
    }
    report("audit.verify_us.wasm", micros(started), "us");
    let largest = proofs.iter().map(Vec::len).max().unwrap_or(0);
    report("audit.proof_bytes", largest as f64, "bytes");
    report("audit.shard_bytes", len as f64, "bytes");
}
