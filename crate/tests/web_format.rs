//! The format in a real browser: a 3 MiB Blob streamed through
//! `read_stream` and the encode loop native files use, then decoded from
//! parity shards only.
#![cfg(all(target_arch = "wasm32", target_os = "unknown"))]

use std::collections::HashMap;

use meganet::format::{
    encode_reader, read_stream, Decoder, Encoder, FileKey, FormatError, Params, Reassembler,
};
use meganet::hash::Hash;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn blob_stream_round_trip() {
    let data: Vec<u8> = (0..(3u32 << 20) + 5).map(|i| (i % 253) as u8).collect();
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(&data[..]));
    let blob = web_sys::Blob::new_with_u8_array_sequence(&parts).unwrap();
    let encoder = Encoder::new(FileKey::random(), Params::default(), "a.bin", "").unwrap();
    let mut store: HashMap<Hash, Vec<u8>> = HashMap::new();
    let mut segments = 0;
    let finished =
        encode_reader::<_, _, _, FormatError>(read_stream(blob.stream()), encoder, |segment| {
            segments += 1;
            for shard in segment.shards {
                store.insert(shard.hash, shard.bytes);
            }
            async { Ok(()) }
        })
        .await
        .unwrap();
    assert_eq!(segments, 4);
    let decoder = Decoder::open(&finished.link, &finished.manifest_blob).unwrap();
    let mut r = Reassembler::new(&decoder, 0..data.len() as u64, 2).unwrap();
    let mut out = vec![];
    while !r.is_done() {
        for (segment, shard, hash) in r.wanted() {
            if shard >= 4 {
                r.add(segment, shard, store[&hash].clone()).unwrap();
            }
        }
        while let Some(chunk) = r.next_chunk().unwrap() {
            out.extend(chunk);
        }
    }
    assert_eq!(out, data);
}
