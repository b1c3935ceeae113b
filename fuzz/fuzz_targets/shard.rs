//! Shard decoding never panics: arbitrary bytes offered as any shard of a
//! real file are rejected with an error, never accepted or a crash.
#![no_main]
use libfuzzer_sys::fuzz_target;
use meganet::format::{Decoder, Encoder, FileKey, Params, Reassembler};

fuzz_target!(|data: &[u8]| {
    let params = Params { segment_size: 64, k: 2, n: 4 };
    let mut enc = Encoder::new(FileKey([1; 32]), params, "f", "").unwrap();
    let mut segments = enc.push(&[7u8; 200]).unwrap();
    let done = enc.finish().unwrap();
    segments.extend(done.segments.clone());
    let decoder = Decoder::open(&done.link, &done.manifest_blob).unwrap();
    let (segment, shard) = match data.first() {
        Some(b) => (u64::from(b % 5), usize::from(b / 5 % 5)),
        None => (0, 0),
    };
    let bytes = data.get(1..).unwrap_or_default().to_vec();
    let genuine = segments.get(segment as usize).and_then(|s| s.shards.get(shard)).map(|s| &s.bytes);
    let mut r = Reassembler::new(&decoder, 0..200, 4).unwrap();
    match r.add(segment, shard, bytes.clone()) {
        Ok(_) => assert_eq!(Some(&bytes), genuine, "only genuine bytes are accepted"),
        Err(_) => assert_ne!(Some(&bytes), genuine),
    }
    let _ = decoder.decode_segment(segment, &[(shard, &bytes), (shard, &bytes)]);
});
