//! Browser format benchmarks, run by `scripts/bench.sh` (ignored in normal
//! test runs): encode and decode throughput in Chromium beside the raw
//! BLAKE3 and ChaCha20-Poly1305 ceilings over the same bytes, same run.
//! Results are JSON lines through the console.
#![cfg(all(target_arch = "wasm32", target_os = "unknown"))]

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use meganet::format::{Decoder, Encoder, FileKey, Params};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;
use web_time::Instant;

wasm_bindgen_test_configure!(run_in_browser);

const MIB: usize = 1 << 20;
const FILE: usize = 32 * MIB;

fn report(name: &str, bytes: usize, started: Instant) {
    let mbps = bytes as f64 / started.elapsed().as_secs_f64() / 1e6;
    web_sys::console::log_1(&JsValue::from_str(&format!(
        r#"{{"name":"{name}","value":{mbps:.1},"unit":"MB/s"}}"#
    )));
}

#[wasm_bindgen_test]
#[ignore]
fn bench_format_wasm() {
    let data: Vec<u8> = (0..FILE).map(|i| (i * 7 + (i >> 12)) as u8).collect();

    let started = Instant::now();
    for chunk in data.chunks(MIB) {
        std::hint::black_box(blake3::hash(chunk));
    }
    report("format.ceiling.blake3.wasm", FILE, started);

    let cipher = ChaCha20Poly1305::new(Key::from_slice(&[3; 32]));
    let started = Instant::now();
    for chunk in data.chunks(MIB) {
        std::hint::black_box(cipher.encrypt(Nonce::from_slice(&[0; 12]), chunk).unwrap());
    }
    report("format.ceiling.chacha20poly1305.wasm", FILE, started);

    let started = Instant::now();
    let mut enc = Encoder::new(FileKey::random(), Params::default(), "bench", "").unwrap();
    let mut segments = vec![];
    for chunk in data.chunks(64 * 1024) {
        segments.extend(enc.push(chunk).unwrap());
    }
    let finished = enc.finish().unwrap();
    segments.extend(finished.segments);
    report("format.encode.wasm", FILE, started);

    let decoder = Decoder::open(&finished.link, &finished.manifest_blob).unwrap();
    let started = Instant::now();
    for s in &segments {
        let shards: Vec<(usize, &[u8])> = s.shards[2..6]
            .iter()
            .map(|x| (x.index, &x.bytes[..]))
            .collect();
        std::hint::black_box(decoder.decode_segment(s.index, &shards).unwrap());
    }
    report("format.decode.wasm", FILE, started);
}
