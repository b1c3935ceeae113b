//! The streaming encoder: bytes in, sealed and erasure-coded shards out, a
//! segment at a time. It holds one segment of input besides what a push
//! brings. With more than one worker ([`Encoder::with_workers`], native
//! only), the segments one push completes are sealed on that many threads
//! at once; they come out in order all the same.

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
    workers: usize,
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
            workers: 1,
        })
    }

    /// Seals up to `workers` segments at once, each on its own thread
    /// (scoped: they end before a push returns). Only where threads
    /// exist: the browser keeps the default, 1.
    pub fn with_workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// Input a push should bring for every worker to have a segment (0
    /// with one worker: any amount will do).
    pub fn batch_len(&self) -> usize {
        match self.workers {
            1 => 0,
            workers => workers * self.params.segment_size as usize,
        }
    }

    /// The largest file this encoder accepts (the manifest size limit).
    pub fn max_size(&self) -> u64 {
        self.max_segments * u64::from(self.params.segment_size)
    }

    /// Feeds bytes; returns the segments that became complete. A segment is
    /// only sealed once more input shows it is not the last one.
    pub fn push(&mut self, mut data: &[u8]) -> Result<Vec<EncodedSegment>> {
        let seg = self.params.segment_size as usize;
        let mut complete = vec![];
        while !data.is_empty() {
            if self.buf.len() == seg {
                // More input exists, so the buffered segment is not the last.
                complete.push(std::mem::replace(&mut self.buf, Vec::with_capacity(seg)));
            }
            let take = (seg - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            self.size += take as u64;
            data = &data[take..];
        }
        self.seal(complete, false)
    }

    /// Seals the last segment and the manifest.
    pub fn finish(mut self) -> Result<Finished> {
        let segments = match self.buf.is_empty() {
            true => vec![],
            false => {
                let last = std::mem::take(&mut self.buf);
                self.seal(vec![last], true)?
            }
        };
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

    /// Seals `plains`, the next segments in order (`last`: they end the
    /// file), on up to `workers` threads.
    fn seal(&mut self, plains: Vec<Vec<u8>>, last: bool) -> Result<Vec<EncodedSegment>> {
        let first = self.hashes.len() as u64;
        if first + plains.len() as u64 > self.max_segments {
            return Err(FormatError::TooLarge {
                what: "file",
                size: self.size,
                limit: self.max_size(),
            });
        }
        let (key, version, params) = (&self.key, self.version, self.params);
        let jobs = (first..).zip(plains);
        let segments = map_on_workers(self.workers, jobs, |(index, plain)| {
            seal_segment(key, version, &params, index, last, &plain)
        });
        self.hashes.extend(
            segments
                .iter()
                .map(|s| s.shards.iter().map(|s| s.hash).collect()),
        );
        Ok(segments)
    }
}

/// Seals, erasure-codes and hashes segment `index`.
fn seal_segment(
    key: &FileKey,
    version: u8,
    params: &Params,
    index: u64,
    last: bool,
    plain: &[u8],
) -> EncodedSegment {
    let sealed = seal::seal_segment(key, version, index, last, plain);
    let shard_len = params.shard_len(plain.len() as u64);
    let shards = erasure::encode(params, &sealed, shard_len)
        .into_iter()
        .enumerate()
        .map(|(i, bytes)| Shard {
            index: i,
            hash: Hash::of(&bytes),
            bytes,
        })
        .collect();
    EncodedSegment { index, shards }
}

/// `f` over `items`, in order, `workers` at a time on scoped threads (on
/// the caller's thread when there is one worker or one item).
fn map_on_workers<T: Send, R: Send>(
    workers: usize,
    items: impl IntoIterator<Item = T>,
    f: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    let mut items = items.into_iter().peekable();
    let mut out = vec![];
    while items.peek().is_some() {
        let group: Vec<T> = items.by_ref().take(workers).collect();
        if group.len() == 1 {
            out.extend(group.into_iter().map(&f));
            continue;
        }
        let f = &f;
        std::thread::scope(|scope| {
            let running: Vec<_> = group
                .into_iter()
                .map(|item| scope.spawn(move || f(item)))
                .collect();
            for thread in running {
                out.push(
                    thread
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                );
            }
        });
    }
    out
}
