//! The format benchmark body, shared by the native harness
//! (`benches/format.rs`) and the browser one (`tests/bench_format.rs`):
//! encode and decode throughput beside the raw BLAKE3 and ChaCha20-Poly1305
//! ceilings over the same bytes, in the same run.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use meganet::format::{Decoder, Encoder, FileKey, Params};
use web_time::Instant;

const MIB: usize = 1 << 20;

/// Runs every measurement over `file` bytes, the encoder sealing on
/// `workers` threads; `report(name, value)` gets names like
/// `format.encode.<suffix>`, with its unit.
pub fn run(suffix: &str, file: usize, workers: usize, report: &mut dyn FnMut(String, f64, &str)) {
    let data: Vec<u8> = (0..file).map(|i| (i * 7 + (i >> 12)) as u8).collect();
    let mbps = |started: Instant| file as f64 / started.elapsed().as_secs_f64() / 1e6;
    let round = |value: f64| (value * 10.0).round() / 10.0;
    let mut emit = |name: &str, value: f64, unit: &str| {
        report(format!("format.{name}.{suffix}"), value, unit);
    };

    let started = Instant::now();
    for chunk in data.chunks(MIB) {
        std::hint::black_box(blake3::hash(chunk));
    }
    let blake3 = mbps(started);
    emit("ceiling.blake3", round(blake3), "MB/s");

    let cipher = ChaCha20Poly1305::new(Key::from_slice(&[3; 32]));
    let started = Instant::now();
    for chunk in data.chunks(MIB) {
        std::hint::black_box(cipher.encrypt(Nonce::from_slice(&[0; 12]), chunk).unwrap());
    }
    let chacha = mbps(started);
    emit("ceiling.chacha20poly1305", round(chacha), "MB/s");
    // What one core needs at least to encode: seal the file once and hash
    // its shards, n/k times its bytes.
    let params = Params::default();
    let spread = f64::from(params.n) / f64::from(params.k);
    let ceiling = 1.0 / (1.0 / chacha + spread / blake3);
    emit("ceiling.hash_seal", round(ceiling), "MB/s");

    let started = Instant::now();
    let mut enc = Encoder::new(FileKey::random(), params, "bench", "")
        .unwrap()
        .with_workers(workers);
    let mut segments = vec![];
    for chunk in data.chunks(enc.batch_len().max(64 * 1024)) {
        segments.extend(enc.push(chunk).unwrap());
    }
    let finished = enc.finish().unwrap();
    segments.extend(finished.segments);
    let encode = mbps(started);
    emit("encode", round(encode), "MB/s");
    emit(
        "encode.ratio",
        (encode / ceiling * 100.0).round() / 100.0,
        "ratio",
    );

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
    emit("decode", round(mbps(started)), "MB/s");
}
