//! Keys and sealing. A random 32-byte file key is the only secret; every
//! AEAD key is derived from it with BLAKE3's key derivation, one key per
//! sealed message, so the ChaCha20-Poly1305 nonce can be fixed at zero and is
//! never reused under one key.

use chacha20poly1305::aead::{Aead, KeyInit, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

use super::error::{FormatError, Result};
use super::VERSION;
use crate::hash::Hash;

/// Poly1305 tag length.
pub const TAG_LEN: usize = 16;
const SEGMENT_CONTEXT: &str = "meganet 2026-11 format v1 segment key";
const MANIFEST_CONTEXT: &str = "meganet 2026-11 format v1 manifest key";
const PROVIDER_CONTEXT: &str = "meganet 2026-11 format v1 provider key";

/// The secret that opens one file. It lives only in the link's fragment.
#[derive(Clone, PartialEq, Eq)]
pub struct FileKey(pub [u8; 32]);

impl std::fmt::Debug for FileKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileKey(..)")
    }
}

impl FileKey {
    /// A fresh random key from the operating system (or `crypto.getRandomValues`).
    pub fn random() -> Self {
        Self(ChaCha20Poly1305::generate_key(&mut OsRng).into())
    }

    /// The AEAD key of segment `index`.
    pub fn segment_key(&self, index: u64) -> [u8; 32] {
        let mut input = [0u8; 40];
        input[..32].copy_from_slice(&self.0);
        input[32..].copy_from_slice(&index.to_le_bytes());
        blake3::derive_key(SEGMENT_CONTEXT, &input)
    }

    /// The AEAD key of the manifest.
    pub fn manifest_key(&self) -> [u8; 32] {
        blake3::derive_key(MANIFEST_CONTEXT, &self.0)
    }

    /// The DHT key under which this file's holders announce themselves:
    /// anyone with the link can look them up, while the key tells the DHT
    /// nothing about the file (a one-way derivation of its key).
    pub fn provider_key(&self) -> Hash {
        Hash(blake3::derive_key(PROVIDER_CONTEXT, &self.0))
    }
}

/// Associated data of a segment: version, index and whether it is the last
/// one, so segments cannot be reordered, and a file cannot be cut short
/// without the new last segment failing.
fn segment_aad(index: u64, last: bool) -> [u8; 10] {
    let mut aad = [0u8; 10];
    aad[0] = VERSION;
    aad[1..9].copy_from_slice(&index.to_le_bytes());
    aad[9] = u8::from(last);
    aad
}

fn cipher(key: &[u8; 32]) -> ChaCha20Poly1305 {
    ChaCha20Poly1305::new(Key::from_slice(key))
}

/// Seals segment `index` (plaintext `plain`), appending ciphertext and tag to `out`.
pub fn seal_segment(key: &FileKey, index: u64, last: bool, plain: &[u8]) -> Vec<u8> {
    let aad = segment_aad(index, last);
    cipher(&key.segment_key(index))
        .encrypt(
            Nonce::from_slice(&[0; 12]),
            Payload {
                msg: plain,
                aad: &aad,
            },
        )
        .expect("ChaCha20-Poly1305 encryption cannot fail for in-memory buffers")
}

/// Opens a sealed segment.
pub fn open_segment(key: &FileKey, index: u64, last: bool, sealed: &[u8]) -> Result<Vec<u8>> {
    let aad = segment_aad(index, last);
    cipher(&key.segment_key(index))
        .decrypt(
            Nonce::from_slice(&[0; 12]),
            Payload {
                msg: sealed,
                aad: &aad,
            },
        )
        .map_err(|_| FormatError::SegmentAuth { segment: index })
}

/// Seals a manifest body under the manifest key, binding `header`.
pub fn seal_manifest(key: &FileKey, header: &[u8], body: &[u8]) -> Vec<u8> {
    cipher(&key.manifest_key())
        .encrypt(
            Nonce::from_slice(&[0; 12]),
            Payload {
                msg: body,
                aad: header,
            },
        )
        .expect("ChaCha20-Poly1305 encryption cannot fail for in-memory buffers")
}

/// Opens a sealed manifest body; failure means the key is wrong (the caller
/// has already checked the blob's hash).
pub fn open_manifest(key: &FileKey, header: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
    cipher(&key.manifest_key())
        .decrypt(
            Nonce::from_slice(&[0; 12]),
            Payload {
                msg: sealed,
                aad: header,
            },
        )
        .map_err(|_| FormatError::WrongKey)
}
