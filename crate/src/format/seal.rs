//! Keys and sealing. A random 32-byte file key is the only secret; every
//! AEAD key is derived from it with BLAKE3's key derivation, one key per
//! sealed message, so the ChaCha20-Poly1305 nonce can be fixed at zero and is
//! never reused under one key.
//!
//! From version 2 the manifest's layout is sealed under a *layout key*
//! derived from the file key, and the file's provider key is derived from
//! the layout key: whoever holds the layout key (the repair capability,
//! [`super::RepairCap`]) can read a file's layout and find its holders,
//! but derives no segment key and cannot read its name or type.

use chacha20poly1305::aead::{Aead, KeyInit, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

use super::error::{FormatError, Result};
use crate::hash::Hash;

pub const TAG_LEN: usize = 16;

/// Derivation contexts of one format version.
struct Contexts {
    segment: &'static str,
    layout: &'static str,
    metadata: &'static str,
    provider: &'static str,
}

const V1: Contexts = Contexts {
    segment: "meganet 2026-11 format v1 segment key",
    // Version 1 seals the whole manifest (name and type included) under
    // this one key.
    layout: "meganet 2026-11 format v1 manifest key",
    metadata: "meganet 2026-11 format v1 manifest key",
    provider: "meganet 2026-11 format v1 provider key",
};

const V2: Contexts = Contexts {
    segment: "meganet 2026-12 format v2 segment key",
    layout: "meganet 2026-12 format v2 layout key",
    metadata: "meganet 2026-12 format v2 metadata key",
    provider: "meganet 2026-12 format v2 provider key",
};

fn contexts(version: u8) -> &'static Contexts {
    if version == 1 {
        &V1
    } else {
        &V2
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct FileKey(pub [u8; 32]);

impl std::fmt::Debug for FileKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileKey(..)")
    }
}

/// The key that opens a manifest's layout (sizes, k, n, shard hashes,
/// hints) and nothing else: the secret half of a repair capability.
#[derive(Clone, PartialEq, Eq)]
pub struct LayoutKey(pub [u8; 32]);

impl std::fmt::Debug for LayoutKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LayoutKey(..)")
    }
}

impl LayoutKey {
    /// The DHT key a version-2 file's holders announce (derived from the
    /// layout key, so a repairer finds them).
    pub fn provider_key(&self) -> Hash {
        Hash(blake3::derive_key(V2.provider, &self.0))
    }
}

impl FileKey {
    pub fn random() -> Self {
        Self(ChaCha20Poly1305::generate_key(&mut OsRng).into())
    }

    pub fn segment_key(&self, version: u8, index: u64) -> [u8; 32] {
        let mut input = [0u8; 40];
        input[..32].copy_from_slice(&self.0);
        input[32..].copy_from_slice(&index.to_le_bytes());
        blake3::derive_key(contexts(version).segment, &input)
    }

    /// Version 1: the manifest key. Version 2: the layout key.
    pub fn layout_key(&self, version: u8) -> LayoutKey {
        LayoutKey(blake3::derive_key(contexts(version).layout, &self.0))
    }

    /// Version 2: seals the file's name and type inside the layout.
    pub fn metadata_key(&self) -> [u8; 32] {
        blake3::derive_key(V2.metadata, &self.0)
    }

    /// The DHT key the file's holders announce.
    pub fn provider_key(&self, version: u8) -> Hash {
        if version == 1 {
            Hash(blake3::derive_key(V1.provider, &self.0))
        } else {
            self.layout_key(version).provider_key()
        }
    }
}

fn segment_aad(version: u8, index: u64, last: bool) -> [u8; 10] {
    let mut aad = [0u8; 10];
    aad[0] = version;
    aad[1..9].copy_from_slice(&index.to_le_bytes());
    aad[9] = u8::from(last);
    aad
}

fn cipher(key: &[u8; 32]) -> ChaCha20Poly1305 {
    ChaCha20Poly1305::new(Key::from_slice(key))
}

/// Seals `msg` under `key` (used for exactly one message), zero nonce.
fn seal(key: &[u8; 32], aad: &[u8], msg: &[u8]) -> Vec<u8> {
    cipher(key)
        .encrypt(Nonce::from_slice(&[0; 12]), Payload { msg, aad })
        .expect("ChaCha20-Poly1305 encryption cannot fail for in-memory buffers")
}

fn open(key: &[u8; 32], aad: &[u8], msg: &[u8]) -> Option<Vec<u8>> {
    cipher(key)
        .decrypt(Nonce::from_slice(&[0; 12]), Payload { msg, aad })
        .ok()
}

pub fn seal_segment(key: &FileKey, version: u8, index: u64, last: bool, plain: &[u8]) -> Vec<u8> {
    let aad = segment_aad(version, index, last);
    seal(&key.segment_key(version, index), &aad, plain)
}

pub fn open_segment(
    key: &FileKey,
    version: u8,
    index: u64,
    last: bool,
    sealed: &[u8],
) -> Result<Vec<u8>> {
    let aad = segment_aad(version, index, last);
    open(&key.segment_key(version, index), &aad, sealed)
        .ok_or(FormatError::SegmentAuth { segment: index })
}

pub fn seal_manifest(key: &LayoutKey, header: &[u8], body: &[u8]) -> Vec<u8> {
    seal(&key.0, header, body)
}

pub fn open_manifest(key: &LayoutKey, header: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
    open(&key.0, header, sealed).ok_or(FormatError::WrongKey)
}

/// Version 2's name and type, sealed inside the layout; the associated
/// data is the manifest header.
pub fn seal_metadata(key: &FileKey, header: &[u8], body: &[u8]) -> Vec<u8> {
    seal(&key.metadata_key(), header, body)
}

pub fn open_metadata(key: &FileKey, header: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
    open(&key.metadata_key(), header, sealed).ok_or(FormatError::WrongKey)
}
