//! The streaming encoder: bytes in, sealed and erasure-coded shards out, a
//! segment at a time. It holds at most two segments of input.

use super::erasure;
use super::error::{FormatError, Result};
use super::link::Link;
use super::manifest::{Manifest, MAX_HINTS, MAX_HINT_LEN, MAX_MANIFEST_LEN};
use super::params::Params;
use super::seal::{self, FileKey};
use crate::hash::Hash;

/// One shard, ready to store: its position, address and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    /// Shard index within its segment (`0..n`; below `k` are data shards).
    pub index: usize,
    /// BLAKE3 of `bytes`: where it is stored.
    pub hash: Hash,
    /// The shard.
    pub bytes: Vec<u8>,
}

/// The `n` shards of one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedSegment {
    /// Segment index in the file.
    pub index: u64,
    /// All `n` shards, in index order.
    pub shards: Vec<Shard>,
}

/// What `finish` returns: the last segments and the sealed manifest.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Segments still held by the encoder (at most one).
    pub segments: Vec<EncodedSegment>,
    /// The manifest, unsealed.
    pub manifest: Manifest,
    /// The sealed manifest: store it like a shard, under `link.manifest`.
    pub manifest_blob: Vec<u8>,
    /// The link that fetches the file.
    pub link: Link,
}

impl Finished {
    /// Reseals the manifest with placement hints (the peers that confirmed
    /// shards, as peer-id bytes); the link changes with the manifest. At
    /// most [`MAX_HINTS`] are kept, longer ones dropped.
    pub fn with_hints(mut self, hints: Vec<Vec<u8>>) -> Result<Self> {
        self.manifest.hints = hints
            .into_iter()
            .filter(|h| h.len() <= MAX_HINT_LEN)
            .take(MAX_HINTS)
            .collect();
        let (blob, hash) = self.manifest.seal(&self.link.key)?;
        self.manifest_blob = blob;
        self.link.manifest = hash;
        Ok(self)
    }
}

/// Encodes one file.
pub struct Encoder {
    version: u8,
    key: FileKey,
    params: Params,
    name: String,
    mime: String,
    buf: Vec<u8>,
    size: u64,
    hashes: Vec<Vec<Hash>>,
    max_segments: u64,
}

impl Encoder {
    /// An encoder for a file called `name` of type `mime`.
    /// An encoder of the current version.
    pub fn new(key: FileKey, params: Params, name: &str, mime: &str) -> Result<Self> {
        Self::with_version(super::VERSION, key, params, name, mime)
    }

    /// An encoder of an older version (its test vectors).
    pub fn with_version(
        version: u8,
        key: FileKey,
        params: Params,
        name: &str,
        mime: &str,
    ) -> Result<Self> {
        params.validate()?;
        let manifest = Manifest {
            version,
            size: 0,
            params,
            name: name.to_owned(),
            mime: mime.to_owned(),
            shards: vec![],
            hints: vec![],
        };
        // Validates name and type lengths now rather than at the end.
        manifest.seal(&key)?;
        let fixed = 96 + name.len() + mime.len();
        let max_segments = ((MAX_MANIFEST_LEN - fixed) / (usize::from(params.n) * 32)) as u64;
        Ok(Self {
            version,
            key,
            params,
            name: name.to_owned(),
            mime: mime.to_owned(),
            buf: Vec::with_capacity(params.segment_size as usize),
            size: 0,
            hashes: vec![],
            max_segments,
        })
    }

    /// The largest file this encoder accepts (the manifest size limit).
    pub fn max_size(&self) -> u64 {
        self.max_segments * u64::from(self.params.segment_size)
    }

    /// Feeds bytes; returns the segments that became complete. A segment is
    /// only sealed once more input shows it is not the last one.
    pub fn push(&mut self, mut data: &[u8]) -> Result<Vec<EncodedSegment>> {
        let seg = self.params.segment_size as usize;
        let mut out = vec![];
        while !data.is_empty() {
            if self.buf.len() == seg {
                // More input exists, so the buffered segment is not the last.
                let segment = std::mem::take(&mut self.buf);
                out.push(self.seal(&segment, false)?);
                self.buf.reserve(seg);
            }
            let take = (seg - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            self.size += take as u64;
            data = &data[take..];
        }
        Ok(out)
    }

    /// Seals the last segment and the manifest.
    pub fn finish(mut self) -> Result<Finished> {
        let mut segments = vec![];
        if !self.buf.is_empty() {
            let segment = std::mem::take(&mut self.buf);
            segments.push(self.seal(&segment, true)?);
        }
        let manifest = Manifest {
            version: self.version,
            size: self.size,
            params: self.params,
            name: self.name,
            mime: self.mime,
            shards: self.hashes,
            hints: vec![],
        };
        let (manifest_blob, hash) = manifest.seal(&self.key)?;
        Ok(Finished {
            segments,
            manifest,
            manifest_blob,
            link: Link {
                version: self.version,
                manifest: hash,
                key: self.key,
            },
        })
    }

    fn seal(&mut self, plain: &[u8], last: bool) -> Result<EncodedSegment> {
        let index = self.hashes.len() as u64;
        if index >= self.max_segments {
            return Err(FormatError::TooLarge {
                what: "file",
                size: self.size,
                limit: self.max_size(),
            });
        }
        let sealed = seal::seal_segment(&self.key, self.version, index, last, plain);
        let shard_len = self.params.shard_len(plain.len() as u64);
        let shards: Vec<Shard> = erasure::encode(&self.params, &sealed, shard_len)
            .into_iter()
            .enumerate()
            .map(|(i, bytes)| Shard {
                index: i,
                hash: Hash::of(&bytes),
                bytes,
            })
            .collect();
        self.hashes.push(shards.iter().map(|s| s.hash).collect());
        Ok(EncodedSegment { index, shards })
    }
}
