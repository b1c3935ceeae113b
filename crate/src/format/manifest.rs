//! The manifest: everything needed to fetch and rebuild a file, sealed with
//! the file key. Its sealed bytes are stored like any shard, and their hash
//! names the file.
//!
//! Sealed layout: `"MGNT"`, version (1 byte), then ChaCha20-Poly1305 of the
//! body with those 5 bytes as associated data. The body (little-endian):
//! `u64 size, u32 segment_size, u8 k, u8 n, u16+bytes name, u16+bytes type,
//! u32 segment_count, segment_count * n * 32 bytes of shard hashes,
//! u16 hint_count, hint_count * (u8+bytes hint)`; nothing may follow.

use super::error::{FormatError, Result};
use super::params::Params;
use super::repair::RepairCap;
use super::seal::{self, FileKey, TAG_LEN};
use super::{VERSION, VERSIONS};
use crate::hash::Hash;

/// The magic at the start of every sealed manifest.
pub const MAGIC: &[u8; 4] = b"MGNT";
/// Largest sealed manifest (about 256 GiB of file at the default parameters).
pub const MAX_MANIFEST_LEN: usize = 64 << 20;
/// Longest file name, in bytes of UTF-8.
pub const MAX_NAME_LEN: usize = 1024;
/// Longest MIME type.
pub const MAX_TYPE_LEN: usize = 255;
/// Most placement hints, and the longest one.
pub const MAX_HINTS: usize = 64;
/// Longest placement hint (a peer id is 38 bytes).
pub const MAX_HINT_LEN: usize = 128;
const HEADER_LEN: usize = 5;
/// Version 2's sealed name and type: two lengths, both texts, the tag.
const MAX_METADATA_LEN: usize = 4 + MAX_NAME_LEN + MAX_TYPE_LEN + TAG_LEN;

/// A file's description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The format version it is sealed in.
    pub version: u8,
    /// Plaintext size in bytes.
    pub size: u64,
    /// Segment size and erasure code.
    pub params: Params,
    /// File name as given by the uploader (may be empty).
    pub name: String,
    /// MIME type (may be empty).
    pub mime: String,
    /// For each segment, the hashes of its `n` shards in shard order.
    pub shards: Vec<Vec<Hash>>,
    /// Where shards were placed (peer ids as bytes); advisory only.
    pub hints: Vec<Vec<u8>>,
}

impl Manifest {
    /// Serializes and seals; returns the blob and its hash.
    pub fn seal(&self, key: &FileKey) -> Result<(Vec<u8>, Hash)> {
        let header = header(self.version);
        let body = self.encode(key, &header)?;
        let mut blob = header.to_vec();
        let layout_key = key.layout_key(self.version);
        blob.extend_from_slice(&seal::seal_manifest(&layout_key, &header, &body));
        let hash = Hash::of(&blob);
        Ok((blob, hash))
    }

    /// Checks a sealed manifest against the link's hash, opens and parses it.
    /// Opens the manifest `blob` that must hash to `expected` with a
    /// file key: layout, name and type.
    pub fn open(blob: &[u8], expected: &Hash, key: &FileKey) -> Result<Self> {
        let version = authentic_version(blob, expected)?;
        let header = &blob[..HEADER_LEN];
        let body = seal::open_manifest(&key.layout_key(version), header, &blob[HEADER_LEN..])?;
        let (mut manifest, metadata) = Self::decode_versioned(&body, version)?;
        if let Some(sealed) = metadata {
            let plain = seal::open_metadata(key, header, sealed)?;
            let mut r = Reader {
                buf: &plain,
                pos: 0,
            };
            manifest.name = r.text(MAX_NAME_LEN, "file name")?;
            manifest.mime = r.text(MAX_TYPE_LEN, "file type")?;
            r.end()?;
        }
        Ok(manifest)
    }

    /// Opens the layout of a version-2 manifest with its repair
    /// capability: everything but the name and type (left empty).
    pub fn open_layout(blob: &[u8], cap: &RepairCap) -> Result<Self> {
        let version = authentic_version(blob, &cap.manifest)?;
        if version == 1 {
            return Err(super::repair::no_capability());
        }
        let body = seal::open_manifest(&cap.key, &blob[..HEADER_LEN], &blob[HEADER_LEN..])?;
        Ok(Self::decode_versioned(&body, version)?.0)
    }

    fn encode(&self, key: &FileKey, header: &[u8]) -> Result<Vec<u8>> {
        self.check()?;
        let n = usize::from(self.params.n);
        let mut out = Vec::with_capacity(64 + self.shards.len() * n * 32);
        out.extend_from_slice(&self.size.to_le_bytes());
        out.extend_from_slice(&self.params.segment_size.to_le_bytes());
        out.push(self.params.k);
        out.push(self.params.n);
        let mut texts = Vec::with_capacity(4 + self.name.len() + self.mime.len());
        for text in [&self.name, &self.mime] {
            texts.extend_from_slice(&(text.len() as u16).to_le_bytes());
            texts.extend_from_slice(text.as_bytes());
        }
        if self.version == 1 {
            out.extend_from_slice(&texts);
        } else {
            let sealed = seal::seal_metadata(key, header, &texts);
            out.extend_from_slice(&(sealed.len() as u16).to_le_bytes());
            out.extend_from_slice(&sealed);
        }
        out.extend_from_slice(&(self.shards.len() as u32).to_le_bytes());
        for hash in self.shards.iter().flatten() {
            out.extend_from_slice(&hash.0);
        }
        out.extend_from_slice(&(self.hints.len() as u16).to_le_bytes());
        for hint in &self.hints {
            out.push(hint.len() as u8);
            out.extend_from_slice(hint);
        }
        if out.len() + HEADER_LEN + TAG_LEN > MAX_MANIFEST_LEN {
            return Err(FormatError::TooLarge {
                what: "manifest",
                size: (out.len() + HEADER_LEN + TAG_LEN) as u64,
                limit: MAX_MANIFEST_LEN as u64,
            });
        }
        Ok(out)
    }

    /// Parses a decrypted body. Public for fuzzing; never panics.
    /// Parses an opened body of the current version (name and type
    /// sealed, so left empty).
    pub fn decode(body: &[u8]) -> Result<Self> {
        Ok(Self::decode_versioned(body, VERSION)?.0)
    }

    /// Parses an opened body of `version`; from version 2, also returns
    /// the sealed name and type.
    fn decode_versioned(body: &[u8], version: u8) -> Result<(Self, Option<&[u8]>)> {
        let mut r = Reader { buf: body, pos: 0 };
        let size = r.u64()?;
        let segment_size = r.u32()?;
        let k = r.u8()?;
        let n = r.u8()?;
        let params = Params { segment_size, k, n };
        params.validate().map_err(|e| malformed(e.to_string()))?;
        let (name, mime, metadata) = if version == 1 {
            let name = r.text(MAX_NAME_LEN, "file name")?;
            (name, r.text(MAX_TYPE_LEN, "file type")?, None)
        } else {
            let len = usize::from(r.u16()?);
            if len > MAX_METADATA_LEN {
                return Err(malformed(format!(
                    "the sealed name and type are {len} bytes (limit {MAX_METADATA_LEN})"
                )));
            }
            (String::new(), String::new(), Some(r.take(len)?))
        };
        let count = u64::from(r.u32()?);
        if count != params.segment_count(size) {
            return Err(malformed(format!(
                "{count} segments listed, but a {size}-byte file has {}",
                params.segment_count(size)
            )));
        }
        let per_segment = usize::from(n) * 32;
        let need = (count as usize).saturating_mul(per_segment);
        if need > r.remaining() {
            return Err(FormatError::Truncated {
                what: "manifest shard list",
                expected: need as u64,
                got: r.remaining() as u64,
            });
        }
        let mut shards = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let row = r.take(per_segment)?;
            shards.push(
                row.chunks_exact(32)
                    .map(|c| Hash(c.try_into().expect("chunks_exact(32)")))
                    .collect(),
            );
        }
        let hint_count = usize::from(r.u16()?);
        if hint_count > MAX_HINTS {
            return Err(malformed(format!(
                "{hint_count} placement hints (limit {MAX_HINTS})"
            )));
        }
        let mut hints = Vec::with_capacity(hint_count);
        for _ in 0..hint_count {
            let len = usize::from(r.u8()?);
            if len > MAX_HINT_LEN {
                return Err(malformed(format!(
                    "a {len}-byte placement hint (limit {MAX_HINT_LEN})"
                )));
            }
            hints.push(r.take(len)?.to_vec());
        }
        r.end()?;
        let manifest = Self {
            version,
            size,
            params,
            name,
            mime,
            shards,
            hints,
        };
        Ok((manifest, metadata))
    }

    fn check(&self) -> Result<()> {
        self.params.validate()?;
        let invalid = |reason: String| FormatError::Invalid {
            what: "manifest",
            reason,
        };
        if self.name.len() > MAX_NAME_LEN || self.mime.len() > MAX_TYPE_LEN {
            return Err(invalid("file name or type too long".into()));
        }
        if self.shards.len() as u64 != self.params.segment_count(self.size)
            || self
                .shards
                .iter()
                .any(|s| s.len() != usize::from(self.params.n))
        {
            return Err(invalid("shard list does not match size and n".into()));
        }
        if self.hints.len() > MAX_HINTS || self.hints.iter().any(|h| h.len() > MAX_HINT_LEN) {
            return Err(invalid("too many or too long placement hints".into()));
        }
        Ok(())
    }
}

fn header(version: u8) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..4].copy_from_slice(MAGIC);
    h[4] = version;
    h
}

/// Checks `blob`'s size, its hash against `expected` (the link's or the
/// capability's), its length, magic and version; returns the version.
fn authentic_version(blob: &[u8], expected: &Hash) -> Result<u8> {
    if blob.len() > MAX_MANIFEST_LEN {
        return Err(FormatError::TooLarge {
            what: "manifest",
            size: blob.len() as u64,
            limit: MAX_MANIFEST_LEN as u64,
        });
    }
    let actual = Hash::of(blob);
    if actual != *expected {
        return Err(FormatError::ManifestTampered {
            expected: *expected,
            actual,
        });
    }
    if blob.len() < HEADER_LEN + TAG_LEN {
        return Err(FormatError::Truncated {
            what: "manifest",
            expected: (HEADER_LEN + TAG_LEN) as u64,
            got: blob.len() as u64,
        });
    }
    if &blob[..4] != MAGIC {
        return Err(FormatError::MalformedManifest {
            reason: "it does not start with MGNT".into(),
        });
    }
    if !VERSIONS.contains(&blob[4]) {
        return Err(FormatError::UnsupportedVersion {
            found: u32::from(blob[4]),
            supported: VERSION,
        });
    }
    Ok(blob[4])
}

fn malformed(reason: String) -> FormatError {
    FormatError::MalformedManifest { reason }
}

/// A bounds-checked little-endian reader.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn end(&self) -> Result<()> {
        if self.remaining() != 0 {
            return Err(malformed(format!(
                "{} unexpected bytes at the end",
                self.remaining()
            )));
        }
        Ok(())
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8]> {
        if len > self.remaining() {
            return Err(FormatError::Truncated {
                what: "manifest",
                expected: (self.pos + len) as u64,
                got: self.buf.len() as u64,
            });
        }
        let out = &self.buf[self.pos..self.pos + len];
        self.pos += len;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        Ok(self.take(N)?.try_into().expect("take(N) has N bytes"))
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn text(&mut self, limit: usize, what: &str) -> Result<String> {
        let len = usize::from(self.u16()?);
        if len > limit {
            return Err(malformed(format!(
                "the {what} is {len} bytes (limit {limit})"
            )));
        }
        String::from_utf8(self.take(len)?.to_vec())
            .map_err(|_| malformed(format!("the {what} is not UTF-8")))
    }
}
