//! Native format benchmarks, printed as JSON lines by `npm run bench`:
//! encode and decode throughput beside their ceilings (raw BLAKE3 and raw
//! ChaCha20-Poly1305 over the same bytes, same run).

use std::time::Instant;

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use meganet::format::{Decoder, Encoder, FileKey, Params};

const MIB: usize = 1 << 20;
const FILE: usize = 64 * MIB;

fn report(name: &str, bytes: usize, started: Instant) {
    let mbps = bytes as f64 / started.elapsed().as_secs_f64() / 1e6;
    println!(r#"{{"name":"{name}","value":{:.1},"unit":"MB/s"}}"#, mbps);
}

fn main() {
    let data: Vec<u8> = (0..FILE).map(|i| (i * 7 + (i >> 12)) as u8).collect();

    let started = Instant::now();
    for chunk in data.chunks(MIB) {
        std::hint::black_box(blake3::hash(chunk));
    }
    report("format.ceiling.blake3.native", FILE, started);

    let cipher = ChaCha20Poly1305::new(Key::from_slice(&[3; 32]));
    let started = Instant::now();
    for chunk in data.chunks(MIB) {
        std::hint::black_box(cipher.encrypt(Nonce::from_slice(&[0; 12]), chunk).unwrap());
    }
    report("format.ceiling.chacha20poly1305.native", FILE, started);

    let started = Instant::now();
    let mut enc = Encoder::new(FileKey::random(), Params::default(), "bench", "").unwrap();
    let mut segments = vec![];
    for chunk in data.chunks(64 * 1024) {
        segments.extend(enc.push(chunk).unwrap());
    }
    let finished = enc.finish().unwrap();
    segments.extend(finished.segments);
    report("format.encode.native", FILE, started);

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
    report("format.decode.native", FILE, started);
}
