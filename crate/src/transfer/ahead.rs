//! Read-ahead for a reader that asks for a file's shards one window at a
//! time and decodes each window before asking for the next: the service
//! worker's gateway asks the tab, where the connections are, so without
//! read-ahead the network idles while the worker decodes and the worker
//! idles while the tab fetches. From the shards just asked for, [`Layout`]
//! names the ones the next window will ask for, so the tab fetches them
//! meanwhile.
//!
//! The getter's window grows by one segment per segment it yields, up to
//! its limit (see [`crate::transfer::Config::window`], 8): once it asks
//! for full windows it asks for the next 8 segments after each, the same
//! shard positions in each (the first `k` it lacks). That is the guess.
//! Before that (the first 15 segments of a stream) nothing is read ahead:
//! a reader that stops early (a cancelled download, a media element's
//! short range requests around a seek) would waste it.

use std::collections::HashMap;

use crate::format::Manifest;
use crate::hash::Hash;

/// Most segments read ahead (the getter's default window).
pub const MAX_AHEAD_SEGMENTS: usize = 8;
/// Most shard bytes read ahead: a full window of 1 MiB segments, whose
/// `k` shards come to a little more than 1 MiB (the seal's tag, padding).
pub const MAX_AHEAD_BYTES: usize = 9 << 20;

/// Where each shard of one file sits: segment and position.
pub struct Layout {
    shards: Vec<Vec<Hash>>,
    at: HashMap<Hash, (usize, usize)>,
    /// Bytes of the largest shard (every segment but the last).
    shard_len: usize,
}

impl Layout {
    pub fn new(manifest: &Manifest) -> Self {
        let mut at = HashMap::new();
        for (segment, hashes) in manifest.shards.iter().enumerate() {
            for (position, hash) in hashes.iter().enumerate() {
                // A hash twice (identical shards) keeps its first place.
                at.entry(*hash).or_insert((segment, position));
            }
        }
        let params = &manifest.params;
        let first = params.segment_len(manifest.size, 0);
        Self {
            shards: manifest.shards.clone(),
            at,
            shard_len: params.shard_len(first).max(1),
        }
    }

    /// The shards the window after `asked` will want, when `asked` spans a
    /// full window ([`MAX_AHEAD_SEGMENTS`]): as many segments again (at
    /// most [`MAX_AHEAD_BYTES`]), right after its last and before segment
    /// `end` (where the reader's range ends), at the positions asked in
    /// that last segment. Empty for a shorter window, when `asked` names
    /// no shard of the file, or when it reaches `end`.
    pub fn next_window(&self, asked: &[Hash], end: usize) -> Vec<Hash> {
        let places: Vec<(usize, usize)> = asked
            .iter()
            .filter_map(|h| self.at.get(h))
            .copied()
            .collect();
        let Some(last) = places.iter().map(|(segment, _)| *segment).max() else {
            return Vec::new();
        };
        let first = places
            .iter()
            .map(|(segment, _)| *segment)
            .min()
            .unwrap_or(last);
        let mut positions: Vec<usize> = places
            .iter()
            .filter(|(segment, _)| *segment == last)
            .map(|(_, position)| *position)
            .collect();
        positions.sort_unstable();
        positions.dedup();
        if last - first + 1 < MAX_AHEAD_SEGMENTS {
            return Vec::new();
        }
        let per_segment = positions.len() * self.shard_len;
        let by_bytes = (MAX_AHEAD_BYTES / per_segment.max(1)).max(1);
        let segments = MAX_AHEAD_SEGMENTS.min(by_bytes);
        self.shards
            .iter()
            .take(end)
            .skip(last + 1)
            .take(segments)
            .flat_map(|hashes| positions.iter().filter_map(|p| hashes.get(*p)).copied())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Params;

    /// A manifest of `segments` full segments of `segment_size`, k = 4 of
    /// n = 8, each shard's hash naming its place.
    fn manifest(segments: usize, segment_size: u32) -> Manifest {
        let shards = (0..segments)
            .map(|s| {
                (0..8)
                    .map(|p| Hash::of(format!("{s}/{p}").as_bytes()))
                    .collect()
            })
            .collect();
        Manifest {
            version: 2,
            size: segments as u64 * u64::from(segment_size),
            params: Params {
                segment_size,
                k: 4,
                n: 8,
            },
            name: String::new(),
            mime: String::new(),
            shards,
            hints: Vec::new(),
        }
    }

    fn hashes(m: &Manifest, segments: std::ops::Range<usize>, positions: &[usize]) -> Vec<Hash> {
        segments
            .flat_map(|s| positions.iter().map(move |p| m.shards[s][*p]))
            .collect()
    }

    #[test]
    fn the_guess_follows_the_getters_full_windows() {
        let m = manifest(40, 1 << 20);
        let layout = Layout::new(&m);
        let data = [0, 1, 2, 3];
        // The growing window (1 segment asked, then 2, then 4): nothing.
        for early in [0..1, 1..3, 3..7] {
            assert!(layout
                .next_window(&hashes(&m, early, &data), usize::MAX)
                .is_empty());
        }
        // Full windows of 8: the next 8.
        assert_eq!(
            layout.next_window(&hashes(&m, 7..15, &data), usize::MAX),
            hashes(&m, 15..23, &data)
        );
        // The positions asked in the last segment: a holder lacked shard 1.
        let mut asked = hashes(&m, 7..14, &data);
        asked.extend(hashes(&m, 14..15, &[0, 2, 3, 5]));
        assert_eq!(
            layout.next_window(&asked, usize::MAX),
            hashes(&m, 15..23, &[0, 2, 3, 5])
        );
    }

    #[test]
    fn the_guess_stops_at_the_end_and_within_its_bytes() {
        let m = manifest(10, 1 << 20);
        let layout = Layout::new(&m);
        let data = [0, 1, 2, 3];
        assert_eq!(
            layout.next_window(&hashes(&m, 0..8, &data), usize::MAX),
            hashes(&m, 8..10, &data)
        );
        assert!(layout
            .next_window(&hashes(&m, 2..10, &data), usize::MAX)
            .is_empty());
        // A range ending in segment 8 (segments up to 9): nothing past it.
        assert_eq!(
            layout.next_window(&hashes(&m, 0..8, &data), 9),
            hashes(&m, 8..9, &data)
        );
        assert!(layout.next_window(&hashes(&m, 1..9, &data), 9).is_empty());
        // Not a shard of this file (the manifest, another file's): nothing.
        assert!(layout
            .next_window(&[Hash::of(b"elsewhere")], usize::MAX)
            .is_empty());
        assert!(layout.next_window(&[], usize::MAX).is_empty());
        // 4 MiB segments: a segment's 4 shards are just over 4 MiB, so two
        // segments are read ahead.
        let big = manifest(10, 4 << 20);
        let layout = Layout::new(&big);
        let ahead = layout.next_window(&hashes(&big, 0..8, &data), usize::MAX);
        assert_eq!(ahead, hashes(&big, 8..10, &data));
    }
}
