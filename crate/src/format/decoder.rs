//! The decoder: a verified manifest, then shards in any order, plaintext
//! out in order. `Reassembler` bounds memory to a window of segments and
//! answers byte ranges by decoding only the segments they touch.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use super::error::{FormatError, Result};
use super::link::Link;
use super::manifest::Manifest;
use super::seal::{self, FileKey};
use crate::hash::Hash;

/// An opened file: its manifest and key.
#[derive(Debug, Clone)]
pub struct Decoder {
    key: FileKey,
    manifest: Arc<Manifest>,
}

impl Decoder {
    /// Verifies `manifest_blob` against the link and opens it.
    pub fn open(link: &Link, manifest_blob: &[u8]) -> Result<Self> {
        let manifest = Manifest::open(manifest_blob, &link.manifest, &link.key)?;
        if manifest.version != link.version {
            // The link's version chooses the provider key: it must agree.
            return Err(FormatError::MalformedLink {
                reason: format!(
                    "the link says format version {}, its manifest is version {}",
                    link.version, manifest.version
                ),
            });
        }
        Ok(Self {
            key: link.key.clone(),
            manifest: Arc::new(manifest),
        })
    }

    /// The file's manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Number of segments.
    pub fn segment_count(&self) -> u64 {
        self.manifest.shards.len() as u64
    }

    /// Plaintext byte range of segment `index`.
    pub fn segment_range(&self, index: u64) -> Range<u64> {
        let seg = u64::from(self.manifest.params.segment_size);
        let start = index * seg;
        start..(start + seg).min(self.manifest.size)
    }

    /// The plaintext bytes `start..end` (`end` past the file, or `None`,
    /// stops at its end; `None` altogether is the whole file); an error
    /// when `start` lies past the end.
    pub fn clip_range(&self, range: Option<(u64, Option<u64>)>) -> Result<Range<u64>> {
        let size = self.manifest.size;
        let Some((start, end)) = range else {
            return Ok(0..size);
        };
        let range = start..end.unwrap_or(size).min(size);
        self.segments_for(&range)?;
        Ok(range)
    }

    /// The segments that hold the plaintext bytes `range`.
    pub fn segments_for(&self, range: &Range<u64>) -> Result<Range<u64>> {
        let size = self.manifest.size;
        if range.start > range.end || range.end > size {
            return Err(FormatError::Invalid {
                what: "byte range",
                reason: format!(
                    "{}..{} is not within the file's {size} bytes",
                    range.start, range.end
                ),
            });
        }
        if range.is_empty() {
            return Ok(0..0);
        }
        let seg = u64::from(self.manifest.params.segment_size);
        Ok(range.start / seg..range.end.div_ceil(seg))
    }

    /// The expected hash of a shard, if the position exists.
    pub fn shard_hash(&self, segment: u64, shard: usize) -> Option<Hash> {
        self.manifest.shard_hash(segment, shard)
    }

    /// Checks a shard's bytes against the manifest.
    pub fn verify_shard(&self, segment: u64, shard: usize, bytes: &[u8]) -> Result<()> {
        self.manifest.verify_shard(segment, shard, bytes)
    }

    /// Rebuilds and opens one segment from at least `k` shards, verifying
    /// each. Duplicate indexes count once.
    pub fn decode_segment(&self, segment: u64, shards: &[(usize, &[u8])]) -> Result<Vec<u8>> {
        let sealed = self.manifest.sealed_segment(segment, shards)?;
        let last = segment + 1 == self.segment_count();
        seal::open_segment(&self.key, self.manifest.version, segment, last, &sealed)
    }
}

/// Collects shards for a byte range and yields its plaintext in order,
/// holding at most `window` segments of shards.
#[derive(Debug)]
pub struct Reassembler {
    decoder: Decoder,
    range: Range<u64>,
    next: u64,
    end: u64,
    window: u64,
    pending: BTreeMap<u64, BTreeMap<usize, Vec<u8>>>,
}

impl Reassembler {
    /// Plans the plaintext `range` (the whole file: `0..size`).
    pub fn new(decoder: &Decoder, range: Range<u64>, window: u64) -> Result<Self> {
        let segments = decoder.segments_for(&range)?;
        Ok(Self {
            decoder: decoder.clone(),
            range,
            next: segments.start,
            end: segments.end,
            window: window.max(1),
            pending: BTreeMap::new(),
        })
    }

    /// Changes how many segments ahead are planned (at least one).
    pub fn set_window(&mut self, window: u64) {
        self.window = window.max(1);
    }

    /// How many segments ahead are planned.
    pub fn window(&self) -> u64 {
        self.window
    }

    /// Segments still to be produced.
    pub fn remaining_segments(&self) -> Range<u64> {
        self.next..self.end
    }

    /// True once every segment of the range has been produced.
    pub fn is_done(&self) -> bool {
        self.next >= self.end
    }

    /// Shards worth fetching now: for each unfinished segment in the window,
    /// the positions not yet held, data shards first.
    pub fn wanted(&self) -> Vec<(u64, usize, Hash)> {
        let k = usize::from(self.decoder.manifest.params.k);
        let mut out = vec![];
        for segment in self.next..self.end.min(self.next + self.window) {
            let held = self.pending.get(&segment);
            if held.is_some_and(|h| h.len() >= k) {
                continue;
            }
            for (i, hash) in self.decoder.manifest.shards[segment as usize]
                .iter()
                .enumerate()
            {
                if !held.is_some_and(|h| h.contains_key(&i)) {
                    out.push((segment, i, *hash));
                }
            }
        }
        out
    }

    /// The fewest shards worth fetching now: for each unfinished segment in
    /// the window, as many positions as it still lacks of `k`, skipping
    /// those in `skip` (unavailable or bad). Data shards come first, since
    /// they need no Reed-Solomon work.
    pub fn plan(&self, skip: &std::collections::HashSet<(u64, usize)>) -> Vec<(u64, usize, Hash)> {
        let k = usize::from(self.decoder.manifest.params.k);
        let mut out = vec![];
        for segment in self.next..self.end.min(self.next + self.window) {
            let held = self.pending.get(&segment).map_or(0, BTreeMap::len);
            let missing = k.saturating_sub(held);
            out.extend(
                self.wanted_in(segment)
                    .filter(|(s, i, _)| !skip.contains(&(*s, *i)))
                    .take(missing),
            );
        }
        out
    }

    fn wanted_in(&self, segment: u64) -> impl Iterator<Item = (u64, usize, Hash)> + '_ {
        let held = self.pending.get(&segment);
        self.decoder.manifest.shards[segment as usize]
            .iter()
            .enumerate()
            .filter(move |(i, _)| !held.is_some_and(|h| h.contains_key(i)))
            .map(move |(i, hash)| (segment, i, *hash))
    }

    /// Adds a shard. It is verified first (a bad one is an error naming it);
    /// returns false when the shard is not needed (outside the window, or
    /// the segment already has `k`).
    pub fn add(&mut self, segment: u64, shard: usize, bytes: Vec<u8>) -> Result<bool> {
        self.decoder.verify_shard(segment, shard, &bytes)?;
        if segment < self.next || segment >= self.end.min(self.next + self.window) {
            return Ok(false);
        }
        let k = usize::from(self.decoder.manifest.params.k);
        let held = self.pending.entry(segment).or_default();
        if held.len() >= k || held.contains_key(&shard) {
            return Ok(false);
        }
        held.insert(shard, bytes);
        Ok(true)
    }

    /// The bytes of a shard added and not yet decoded.
    pub fn held(&self, segment: u64, shard: usize) -> Option<&[u8]> {
        Some(self.pending.get(&segment)?.get(&shard)?.as_slice())
    }

    /// The next piece of plaintext, once its segment has `k` shards.
    pub fn next_chunk(&mut self) -> Result<Option<Vec<u8>>> {
        if self.is_done() {
            return Ok(None);
        }
        let k = usize::from(self.decoder.manifest.params.k);
        if self.pending.get(&self.next).is_none_or(|h| h.len() < k) {
            return Ok(None);
        }
        let held = self.pending.remove(&self.next).unwrap_or_default();
        let shards: Vec<(usize, &[u8])> = held.iter().map(|(i, b)| (*i, b.as_slice())).collect();
        let mut plain = self.decoder.decode_segment(self.next, &shards)?;
        let seg_range = self.decoder.segment_range(self.next);
        let from = self.range.start.saturating_sub(seg_range.start) as usize;
        let to = (self.range.end.min(seg_range.end) - seg_range.start) as usize;
        plain.truncate(to);
        plain.drain(..from.min(plain.len()));
        self.next += 1;
        Ok(Some(plain))
    }

    /// [`Self::next_chunk`]; each chunk grows the window by one, up to
    /// `max_window`: a reader that goes on earns a deeper read-ahead, one
    /// that reads a little and stops (a `<video>` probing) costs little.
    pub fn next_chunk_growing(&mut self, max_window: u64) -> Result<Option<Vec<u8>>> {
        let chunk = self.next_chunk()?;
        if chunk.is_some() {
            self.set_window((self.window + 1).min(max_window));
        }
        Ok(chunk)
    }

    /// Call when no more shards will come: an error unless every segment
    /// was produced, naming the first segment short of shards.
    pub fn finish(&self) -> Result<()> {
        if self.is_done() {
            return Ok(());
        }
        let k = usize::from(self.decoder.manifest.params.k);
        let have = self.pending.get(&self.next).map_or(0, BTreeMap::len);
        Err(FormatError::TooFewShards {
            segment: self.next,
            have,
            need: k,
            missing: k - have,
        })
    }
}
