//! What the layout alone allows: checking a shard against the manifest,
//! rebuilding a segment's sealed bytes from any `k` shards, and from them
//! every shard again. A repairer holding only the repair capability does
//! this; the sealed bytes stay sealed (no segment key is involved).

use super::erasure;
use super::error::{FormatError, Result};
use super::manifest::Manifest;
use super::seal::TAG_LEN;
use crate::hash::Hash;

impl Manifest {
    /// The expected hash of a shard, if the position exists.
    pub fn shard_hash(&self, segment: u64, shard: usize) -> Option<Hash> {
        self.shards
            .get(usize::try_from(segment).ok()?)?
            .get(shard)
            .copied()
    }

    /// Checks a shard's bytes against the manifest.
    pub fn verify_shard(&self, segment: u64, shard: usize, bytes: &[u8]) -> Result<()> {
        let expected = self
            .shard_hash(segment, shard)
            .ok_or_else(|| FormatError::Invalid {
                what: "shard position",
                reason: format!("segment {segment} shard {shard} is not part of this file"),
            })?;
        let actual = Hash::of(bytes);
        if actual != expected {
            return Err(FormatError::ShardTampered {
                segment,
                shard,
                expected,
                actual,
            });
        }
        Ok(())
    }

    /// The sealed bytes of segment `segment`, rebuilt from at least `k`
    /// shards `(index, bytes)`, each verified first; duplicate indexes
    /// count once.
    pub fn sealed_segment(&self, segment: u64, shards: &[(usize, &[u8])]) -> Result<Vec<u8>> {
        let mut distinct: Vec<(usize, &[u8])> = Vec::with_capacity(shards.len());
        for &(i, bytes) in shards {
            self.verify_shard(segment, i, bytes)?;
            if !distinct.iter().any(|(j, _)| *j == i) {
                distinct.push((i, bytes));
            }
        }
        let plain_len = self.params.segment_len(self.size, segment);
        let shard_len = self.params.shard_len(plain_len);
        let sealed_len = plain_len as usize + TAG_LEN;
        erasure::decode(&self.params, segment, &distinct, shard_len, sealed_len)
    }

    /// Every shard of segment `segment` (all `n`, in order), rebuilt from at
    /// least `k` of them, each verified against the manifest: what repair
    /// re-places.
    pub fn rebuild_shards(&self, segment: u64, shards: &[(usize, &[u8])]) -> Result<Vec<Vec<u8>>> {
        let sealed = self.sealed_segment(segment, shards)?;
        let plain_len = self.params.segment_len(self.size, segment);
        let all = erasure::encode(&self.params, &sealed, self.params.shard_len(plain_len));
        for (i, bytes) in all.iter().enumerate() {
            self.verify_shard(segment, i, bytes)?;
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use crate::format::{Encoder, FileKey, Manifest, Params};

    #[test]
    fn any_k_shards_rebuild_all_n_with_the_layout_alone() {
        let params = Params {
            segment_size: 1000,
            k: 3,
            n: 6,
        };
        let data: Vec<u8> = (0..2500u32).map(|i| (i * 7) as u8).collect();
        let mut enc = Encoder::new(FileKey([3; 32]), params, "a.bin", "").unwrap();
        let mut segments = enc.push(&data).unwrap();
        let finished = enc.finish().unwrap();
        segments.extend(finished.segments.clone());
        let cap = finished.link.repair_cap().unwrap();
        let layout = Manifest::open_layout(&finished.manifest_blob, &cap).unwrap();
        assert_eq!((layout.name.as_str(), layout.size), ("", 2500));
        for seg in &segments {
            let some: Vec<(usize, &[u8])> = seg.shards[3..]
                .iter()
                .map(|s| (s.index, s.bytes.as_slice()))
                .collect();
            let all = layout.rebuild_shards(seg.index, &some).unwrap();
            let expected: Vec<Vec<u8>> = seg.shards.iter().map(|s| s.bytes.clone()).collect();
            assert_eq!(all, expected);
            let mut bad = seg.shards[4].bytes.clone();
            bad[0] ^= 1;
            let err = layout
                .rebuild_shards(
                    seg.index,
                    &[
                        (0, &seg.shards[0].bytes),
                        (4, &bad),
                        (5, &seg.shards[5].bytes),
                    ],
                )
                .unwrap_err();
            assert!(err.to_string().contains("tampered"), "{err}");
        }
    }
}
