//! Manifest decoding never panics: not on a decrypted body (`decode`), not
//! on a sealed blob whose hash matches (`open`).
#![no_main]
use libfuzzer_sys::fuzz_target;
use meganet::format::{FileKey, Manifest};
use meganet::hash::Hash;

fuzz_target!(|data: &[u8]| {
    let _ = Manifest::decode(data);
    let _ = Manifest::open(data, &Hash::of(data), &FileKey([0; 32]));
});
