//! The format benchmark body, shared by the native harness
//! (`benches/format.rs`) and the browser one (`tests/bench_format.rs`):
//! encode and decode throughput beside the raw BLAKE3 and ChaCha20-Poly1305
//! ceilings over the same bytes, in the same run.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use meganet::format::{Decoder, Encoder, FileKey, Params};
use web_time::Instant;

const MIB: usize = 1 << 20;

/// Runs every measurement over `file` bytes; `report(name, MB/s)` gets
/// names like `format.encode.<suffix>`.
pub fn run(suffix: &str, file: usize, report: &mut dyn FnMut(String, f64)) {
    let data: Vec<u8> = (0..file).map(|i| (i * 7 + (i >> 12)) as u8).collect();
    let mut measure = |name: &str, started: Instant| {
        let mbps = file as f64 / started.elapsed().as_secs_f64() / 1e6;
        report(
            format!("format.{name}.{suffix}"),
            (mbps * 10.0).round() / 10.0,
        );
    };

    let started = Instant::now();
    for chunk in data.chunks(MIB) {
        std::hint::black_box(blake3::hash(chunk));
    }
    measure("ceiling.blake3", started);

    let cipher = ChaCha20Poly1305::new(Key::from_slice(&[3; 32]));
    let started = Instant::now();
    for chunk in data.chunks(MIB) {
        std::hint::black_box(cipher.encrypt(Nonce::from_slice(&[0; 12]), chunk).unwrap());
    }
    measure("ceiling.chacha20poly1305", started);

    let started = Instant::now();
    let mut enc = Encoder::new(FileKey::random(), Params::default(), "bench", "").unwrap();
    let mut segments = vec![];
    for chunk in data.chunks(64 * 1024) {
        segments.extend(enc.push(chunk).unwrap());
    }
    let finished = enc.finish().unwrap();
    segments.extend(finished.segments);
    measure("encode", started);

    // Decode from shards 2..6: two data shards lost, so Reed-Solomon works.
    let decoder = Decoder::open(&finished.link, &finished.manifest_blob).unwrap();
    let started = Instant::now();
    for s in &segments {
        let shards: Vec<(usize, &[u8])> = s.shards[2..6]
            .iter()
            .map(|x| (x.index, &x.bytes[..]))
            .collect();
        std::hint::black_box(decoder.decode_segment(s.index, &shards).unwrap());
    }
    measure("decode", started);
}
