//! The format's test vectors (crate/tests/vectors/format_v1.json and
//! format_v2.json), checked natively and, with wasm-bindgen-test, in
//! headless Chromium: version 1 is still read, so its vectors stay.
//! Regenerate (only when a format version is added) with
//! `MEGANET_WRITE_VECTORS=1 cargo test --test format_vectors`.

use meganet::format::{Decoder, Encoder, FileKey, Link, Manifest, Params, RepairCap};
use meganet::hash::Hash;
use serde_json::{json, Value};

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

const VECTORS: [(u8, &str); 2] = [
    (1, include_str!("vectors/format_v1.json")),
    (2, include_str!("vectors/format_v2.json")),
];

fn file_key() -> FileKey {
    FileKey(std::array::from_fn(|i| i as u8))
}

fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 256) as u8).collect()
}

fn hashes(v: &[Hash]) -> Vec<String> {
    v.iter().map(Hash::to_hex).collect()
}

/// Computes every vector of `version` from the fixed inputs.
fn compute(version: u8) -> Value {
    let key = file_key();
    let params = Params {
        segment_size: 64,
        k: 2,
        n: 4,
    };
    let data = plaintext(150);
    let mut enc =
        Encoder::with_version(version, key.clone(), params, "hello.txt", "text/plain").unwrap();
    let mut segments = enc.push(&data).unwrap();
    let finished = enc.finish().unwrap();
    segments.extend(finished.segments.clone());
    let one = plaintext(20);
    let sealed = {
        let mut e = Encoder::with_version(
            version,
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
    let keys = if version == 1 {
        json!({
            "segment0": hex::encode(key.segment_key(1, 0)),
            "segment1": hex::encode(key.segment_key(1, 1)),
            "manifest": hex::encode(key.layout_key(1).0),
        })
    } else {
        json!({
            "segment0": hex::encode(key.segment_key(2, 0)),
            "segment1": hex::encode(key.segment_key(2, 1)),
            "layout": hex::encode(key.layout_key(2).0),
            "metadata": hex::encode(key.metadata_key()),
            "provider": link.provider_key().to_hex(),
        })
    };
    let other = if version == 1 { 2 } else { 1 };
    let mut vectors = json!({
        "formatVersion": version,
        "fileKey": hex::encode(key.0),
        "keys": keys,
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
                { "text": format!("https://meganet.example/#3.{}", &link.fragment()[2..]), "error": "unsupported format version 3" },
                { "text": format!("https://meganet.example/#{other}.{}", &link.fragment()[2..]), "error": format!("the link says format version {other}") },
                { "text": "https://meganet.example/#1.abc.def", "error": "must be 43 base64url characters" },
                { "text": format!("meganet:{}", &link.fragment()[..link.fragment().len() - 5]), "error": "file key must be 43" },
                { "text": "meganet:1.only-two", "error": "3 dot-separated parts" },
                { "text": "", "error": "empty" },
            ],
        },
    });
    if version == 2 {
        let cap = link.repair_cap().unwrap();
        vectors["repairCap"] = json!({
            "comment": "opens the layout (name and type empty), derives the provider key, derives no segment key",
            "text": cap.to_string(),
        });
    }
    vectors
}

fn check(version: u8, text: &str) {
    let expected: Value = serde_json::from_str(text).expect("vectors parse");
    let actual = compute(version);
    assert_eq!(actual, expected, "the format changed: vectors differ");
    // Links parse as the vectors say, in every form.
    for v in expected["links"]["valid"].as_array().unwrap() {
        let link: Link = v["text"].as_str().unwrap().parse().unwrap();
        assert_eq!(link.manifest.to_hex(), v["manifestHash"]);
        assert_eq!(hex::encode(link.key.0), v["fileKey"]);
    }
    let file = &expected["file"];
    let blob = hex::decode(file["manifestBlob"].as_str().unwrap()).unwrap();
    for v in expected["links"]["invalid"].as_array().unwrap() {
        // A link of the other version parses, then its key opens nothing.
        let err = match v["text"].as_str().unwrap().parse::<Link>() {
            Ok(link) => Decoder::open(&link, &blob).unwrap_err().to_string(),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(v["error"].as_str().unwrap()), "{err}");
    }
    // The stored manifest opens and the stored shards rebuild the plaintext.
    let link: Link = file["link"].as_str().unwrap().parse().unwrap();
    let decoder = Decoder::open(&link, &blob).unwrap();
    assert_eq!(decoder.manifest().name, "hello.txt");
    assert_eq!(decoder.manifest().size, 150);
    if let Some(text) = expected["repairCap"]["text"].as_str() {
        let cap: RepairCap = text.parse().unwrap();
        let layout = Manifest::open_layout(&blob, &cap).unwrap();
        assert_eq!((layout.name.as_str(), layout.mime.as_str()), ("", ""));
        assert_eq!(layout.shards, decoder.manifest().shards);
        assert_eq!(cap.provider_key(), link.provider_key());
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn vectors_match() {
    #[cfg(not(target_arch = "wasm32"))]
    if std::env::var_os("MEGANET_WRITE_VECTORS").is_some() {
        for (version, _) in VECTORS {
            let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors");
            let path = format!("{dir}/format_v{version}.json");
            let text = serde_json::to_string_pretty(&compute(version)).unwrap();
            std::fs::write(path, text + "\n").unwrap();
        }
        return;
    }
    for (version, text) in VECTORS {
        check(version, text);
    }
}
