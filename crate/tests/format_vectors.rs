//! The format's test vectors (crate/tests/vectors/format_v1.json), checked
//! natively and, with wasm-bindgen-test, in headless Chromium. Regenerate
//! (only when the format version changes) with
//! `MEGANET_WRITE_VECTORS=1 cargo test --test format_vectors`.

use meganet::format::{Decoder, Encoder, FileKey, Link, Params};
use meganet::hash::Hash;
use serde_json::{json, Value};

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

const VECTORS: &str = include_str!("vectors/format_v1.json");

fn file_key() -> FileKey {
    FileKey(std::array::from_fn(|i| i as u8))
}

fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 256) as u8).collect()
}

fn hashes(v: &[Hash]) -> Vec<String> {
    v.iter().map(Hash::to_hex).collect()
}

/// Computes every vector from the fixed inputs.
fn compute() -> Value {
    let key = file_key();
    let params = Params {
        segment_size: 64,
        k: 2,
        n: 4,
    };
    let data = plaintext(150);
    let mut enc = Encoder::new(key.clone(), params, "hello.txt", "text/plain").unwrap();
    let mut segments = enc.push(&data).unwrap();
    let finished = enc.finish().unwrap();
    segments.extend(finished.segments.clone());
    let one = plaintext(20);
    let sealed = {
        let mut e = Encoder::new(
            key.clone(),
            Params {
                segment_size: 64,
                k: 1,
                n: 1,
            },
            "",
            "",
        )
        .unwrap();
        e.push(&one).unwrap();
        e.finish().unwrap().segments[0].shards[0].bytes.clone()
    };
    let link = &finished.link;
    json!({
        "formatVersion": 1,
        "fileKey": hex::encode(key.0),
        "keys": {
            "segment0": hex::encode(key.segment_key(0)),
            "segment1": hex::encode(key.segment_key(1)),
            "manifest": hex::encode(key.manifest_key()),
        },
        "sealedSegment": {
            "comment": "segment 0 of a one-segment file (last = true); k = n = 1, so the shard is the sealed bytes (even length)",
            "index": 0, "last": true,
            "plaintext": hex::encode(&one),
            "sealed": hex::encode(&sealed),
        },
        "file": {
            "params": { "segmentSize": 64, "k": 2, "n": 4 },
            "name": "hello.txt", "mime": "text/plain",
            "plaintext": hex::encode(&data),
            "shardHashes": segments.iter().map(|s| hashes(&s.shards.iter().map(|x| x.hash).collect::<Vec<_>>())).collect::<Vec<_>>(),
            "manifestBlob": hex::encode(&finished.manifest_blob),
            "manifestHash": link.manifest.to_hex(),
            "link": link.to_url("https://meganet.example/"),
        },
        "links": {
            "valid": [
                { "text": link.to_url("https://meganet.example/"), "manifestHash": link.manifest.to_hex(), "fileKey": hex::encode(link.key.0) },
                { "text": link.to_string(), "manifestHash": link.manifest.to_hex(), "fileKey": hex::encode(link.key.0) },
                { "text": link.fragment(), "manifestHash": link.manifest.to_hex(), "fileKey": hex::encode(link.key.0) },
            ],
            "invalid": [
                { "text": "https://meganet.example/", "error": "no #fragment" },
                { "text": format!("https://meganet.example/#2.{}", &link.fragment()[2..]), "error": "unsupported format version 2" },
                { "text": "https://meganet.example/#1.abc.def", "error": "must be 43 base64url characters" },
                { "text": format!("meganet:{}", &link.fragment()[..link.fragment().len() - 5]), "error": "file key must be 43" },
                { "text": "meganet:1.only-two", "error": "3 dot-separated parts" },
                { "text": "", "error": "empty" },
            ],
        },
    })
}

fn check() {
    let expected: Value = serde_json::from_str(VECTORS).expect("vectors parse");
    let actual = compute();
    assert_eq!(actual, expected, "the format changed: vectors differ");
    // Links parse as the vectors say, in every form.
    for v in expected["links"]["valid"].as_array().unwrap() {
        let link: Link = v["text"].as_str().unwrap().parse().unwrap();
        assert_eq!(link.manifest.to_hex(), v["manifestHash"]);
        assert_eq!(hex::encode(link.key.0), v["fileKey"]);
    }
    for v in expected["links"]["invalid"].as_array().unwrap() {
        let err = v["text"]
            .as_str()
            .unwrap()
            .parse::<Link>()
            .unwrap_err()
            .to_string();
        assert!(err.contains(v["error"].as_str().unwrap()), "{err}");
    }
    // The stored manifest opens and the stored shards rebuild the plaintext.
    let file = &expected["file"];
    let link: Link = file["link"].as_str().unwrap().parse().unwrap();
    let blob = hex::decode(file["manifestBlob"].as_str().unwrap()).unwrap();
    let decoder = Decoder::open(&link, &blob).unwrap();
    assert_eq!(decoder.manifest().name, "hello.txt");
    assert_eq!(decoder.manifest().size, 150);
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn vectors_match() {
    #[cfg(not(target_arch = "wasm32"))]
    if std::env::var_os("MEGANET_WRITE_VECTORS").is_some() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/format_v1.json");
        let text = serde_json::to_string_pretty(&compute()).unwrap();
        std::fs::write(path, text + "\n").unwrap();
        return;
    }
    check();
}
