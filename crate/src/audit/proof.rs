//! Range proofs over BLAKE3's own tree (the bao idea, over one small range).
//!
//! A shard of `len` bytes is a BLAKE3 tree of 1024-byte chunks: each parent
//! splits its bytes at [`left_subtree_len`] (the largest power-of-two
//! number of chunks below the whole). A proof for a range of chunks is
//! the range's bytes, then the chaining value of every subtree the range
//! does not touch, in the order a left-first walk meets them. Prover and
//! verifier run the same walk ([`walk`]); only what they do at its leaves
//! differs. Its size is the range plus at most two chaining values per
//! tree level: for a 4 MiB shard (12 levels) and a 2-chunk range, at most
//! 2,048 + 24 × 32 = 2,816 bytes.

use blake3::hazmat::{
    left_subtree_len, merge_subtrees_non_root, merge_subtrees_root, ChainingValue, HasherExt, Mode,
};
use blake3::{Hasher, CHUNK_LEN};

use crate::hash::Hash;

/// Most chunks one audit asks for.
pub const MAX_AUDIT_CHUNKS: u8 = 2;
/// Largest proof: the range, plus two chaining values for each of up to 32
/// tree levels (more than any shard the store accepts).
pub const MAX_PROOF: usize = MAX_AUDIT_CHUNKS as usize * CHUNK_LEN + 2 * 32 * 32;
const _: () = assert!(MAX_PROOF < 5000, "an audit proof stays under 5 KB");

const CV_LEN: usize = 32;
const CHUNK: u64 = CHUNK_LEN as u64;

/// Which chunks of a shard an audit asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkRange {
    /// Index of the first 1024-byte chunk.
    pub first: u32,
    /// How many chunks (1 to [`MAX_AUDIT_CHUNKS`]).
    pub count: u8,
}

impl ChunkRange {
    /// A random range of a shard of `len` bytes, from `random` (any value;
    /// the caller draws it fresh for each audit).
    pub fn random(len: u64, count: u8, random: u64) -> Self {
        let chunks = len.div_ceil(CHUNK).max(1);
        let count = count.clamp(1, MAX_AUDIT_CHUNKS);
        let starts = chunks.saturating_sub(u64::from(count) - 1).max(1);
        Self {
            first: u32::try_from(random % starts).unwrap_or(u32::MAX),
            count,
        }
    }

    /// The byte range this asks for in a shard of `len` bytes.
    pub fn bytes(&self, len: u64) -> Result<std::ops::Range<u64>, AuditError> {
        let start = u64::from(self.first) * CHUNK;
        let end = (start + u64::from(self.count) * CHUNK).min(len);
        let empty_shard = len == 0 && self.first == 0;
        if self.count == 0 || self.count > MAX_AUDIT_CHUNKS || (start >= len && !empty_shard) {
            return Err(AuditError::BadRange {
                first: self.first,
                count: self.count,
                len,
            });
        }
        Ok(start..end)
    }
}

/// Why an audit failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// The range is empty, too long, or past the shard's end.
    #[error(
        "audit range of {count} chunks from chunk {first} does not fit a {len}-byte shard (1 to {MAX_AUDIT_CHUNKS} chunks inside it)"
    )]
    BadRange { first: u32, count: u8, len: u64 },
    /// The proof is longer than any honest one.
    #[error("a {0}-byte audit proof exceeds the limit of {MAX_PROOF}")]
    TooLarge(usize),
    /// The proof has the wrong length for its range and shard.
    #[error("the audit proof is {got} bytes where its range and shard need {want}")]
    WrongLength { got: usize, want: usize },
    /// The proof is well formed but does not hash to the shard.
    #[error("the audit proof does not match shard {0}: the holder does not have these bytes")]
    Mismatch(Hash),
}

/// A tree node's hash: a chaining value, or the root's hash.
enum Node {
    Cv(ChainingValue),
    Root(Hash),
}

/// What a walk does at its leaves.
trait Leaves {
    /// The subtree `[offset, offset + len)` lies inside the range.
    fn inside(&mut self, offset: u64, len: u64, root: bool) -> Node;
    /// The subtree lies outside the range: its chaining value.
    fn outside(&mut self, offset: u64, len: u64) -> ChainingValue;
}

/// Walks the tree of a `len`-byte input, left first, descending only into
/// subtrees that part of `range` lies in, and returns the root hash.
fn walk(leaves: &mut impl Leaves, len: u64, range: &std::ops::Range<u64>) -> Hash {
    match walk_node(leaves, 0, len, range, true) {
        Node::Root(hash) => hash,
        // A walk from the root always ends at the root.
        Node::Cv(cv) => Hash(cv),
    }
}

fn walk_node(
    leaves: &mut impl Leaves,
    offset: u64,
    len: u64,
    range: &std::ops::Range<u64>,
    root: bool,
) -> Node {
    let end = offset + len;
    let covered = range.start <= offset && end <= range.end;
    if covered || len <= CHUNK {
        return leaves.inside(offset, len, root);
    }
    let left_len = left_subtree_len(len);
    let mut child = |start: u64, child_len: u64| {
        let touched = start < range.end && range.start < start + child_len;
        if touched {
            match walk_node(leaves, start, child_len, range, false) {
                Node::Cv(cv) | Node::Root(Hash(cv)) => cv,
            }
        } else {
            leaves.outside(start, child_len)
        }
    };
    let left = child(offset, left_len);
    let right = child(offset + left_len, len - left_len);
    if root {
        Node::Root(Hash(
            *merge_subtrees_root(&left, &right, Mode::Hash).as_bytes(),
        ))
    } else {
        Node::Cv(merge_subtrees_non_root(&left, &right, Mode::Hash))
    }
}

/// Hashes `bytes`, which sit at `offset` of the input, as a subtree.
fn subtree(bytes: &[u8], offset: u64, root: bool) -> Node {
    if root {
        Node::Root(Hash::of(bytes))
    } else {
        Node::Cv(
            Hasher::new()
                .set_input_offset(offset)
                .update(bytes)
                .finalize_non_root(),
        )
    }
}

/// Proves that `shard` holds `range`: its bytes, then the chaining values
/// of the subtrees outside it.
pub fn prove(shard: &[u8], range: ChunkRange) -> Result<Vec<u8>, AuditError> {
    let bytes = range.bytes(shard.len() as u64)?;
    let slice = |r: std::ops::Range<u64>| &shard[r.start as usize..r.end as usize];
    let mut proof = slice(bytes.clone()).to_vec();
    struct Prover<'a> {
        shard: &'a [u8],
        proof: &'a mut Vec<u8>,
    }
    impl Leaves for Prover<'_> {
        fn inside(&mut self, offset: u64, len: u64, root: bool) -> Node {
            subtree(
                &self.shard[offset as usize..(offset + len) as usize],
                offset,
                root,
            )
        }
        fn outside(&mut self, offset: u64, len: u64) -> ChainingValue {
            let cv = Hasher::new()
                .set_input_offset(offset)
                .update(&self.shard[offset as usize..(offset + len) as usize])
                .finalize_non_root();
            self.proof.extend_from_slice(&cv);
            cv
        }
    }
    let len = shard.len() as u64;
    walk(
        &mut Prover {
            shard,
            proof: &mut proof,
        },
        len,
        &bytes,
    );
    Ok(proof)
}

/// Checks that `proof` shows `range` of the `len`-byte shard `hash`.
pub fn verify(hash: &Hash, len: u64, range: ChunkRange, proof: &[u8]) -> Result<(), AuditError> {
    if proof.len() > MAX_PROOF {
        return Err(AuditError::TooLarge(proof.len()));
    }
    let bytes = range.bytes(len)?;
    let data_len = (bytes.end - bytes.start) as usize;
    let want = data_len + CV_LEN * outside_count(len, &bytes);
    if proof.len() != want {
        return Err(AuditError::WrongLength {
            got: proof.len(),
            want,
        });
    }
    let (data, cvs) = proof.split_at(data_len);
    struct Verifier<'a> {
        data: &'a [u8],
        start: u64,
        cvs: std::slice::ChunksExact<'a, u8>,
    }
    impl Leaves for Verifier<'_> {
        fn inside(&mut self, offset: u64, len: u64, root: bool) -> Node {
            let from = (offset - self.start) as usize;
            subtree(&self.data[from..from + len as usize], offset, root)
        }
        fn outside(&mut self, _: u64, _: u64) -> ChainingValue {
            // The length was checked: there is one value per outside leaf.
            let next = self.cvs.next().unwrap_or(&[0; CV_LEN]);
            next.try_into().unwrap_or([0; CV_LEN])
        }
    }
    let mut verifier = Verifier {
        data,
        start: bytes.start,
        cvs: cvs.chunks_exact(CV_LEN),
    };
    if walk(&mut verifier, len, &bytes) == *hash {
        Ok(())
    } else {
        Err(AuditError::Mismatch(*hash))
    }
}

/// How many chaining values a proof of `range` carries.
fn outside_count(len: u64, range: &std::ops::Range<u64>) -> usize {
    struct Count(usize);
    impl Leaves for Count {
        fn inside(&mut self, _: u64, _: u64, _: bool) -> Node {
            Node::Cv([0; CV_LEN])
        }
        fn outside(&mut self, _: u64, _: u64) -> ChainingValue {
            self.0 += 1;
            [0; CV_LEN]
        }
    }
    let mut count = Count(0);
    walk(&mut count, len, range);
    count.0
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn shard(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn every_range_of_every_tree_shape_proves_and_verifies() {
        for len in [0, 1, 1023, 1024, 1025, 2048, 3000, 4096, 5121, 70_000] {
            let bytes = shard(len);
            let hash = Hash::of(&bytes);
            let chunks = (len as u64).div_ceil(CHUNK).max(1) as u32;
            for count in 1..=MAX_AUDIT_CHUNKS {
                for first in 0..chunks {
                    let range = ChunkRange { first, count };
                    let proof = prove(&bytes, range).unwrap();
                    verify(&hash, len as u64, range, &proof)
                        .unwrap_or_else(|e| panic!("len {len} {range:?}: {e}"));
                }
            }
        }
    }

    #[test]
    fn a_proof_of_a_full_size_shard_stays_under_5_kb() {
        let bytes = shard(crate::net::block::MAX_BLOCK);
        let hash = Hash::of(&bytes);
        let len = bytes.len() as u64;
        let mut largest = 0;
        for random in [0, 1, 2047, 2048, 4094, 4095, 1234, 777] {
            let range = ChunkRange::random(len, MAX_AUDIT_CHUNKS, random);
            let proof = prove(&bytes, range).unwrap();
            verify(&hash, len, range, &proof).unwrap();
            largest = largest.max(proof.len());
        }
        assert!(largest <= 2 * 1024 + 24 * 32, "{largest}");
    }

    #[test]
    fn a_holder_without_the_bytes_is_caught() {
        let bytes = shard(10_000);
        let hash = Hash::of(&bytes);
        let range = ChunkRange { first: 3, count: 2 };
        let proof = prove(&bytes, range).unwrap();
        // One flipped bit anywhere: in the range's bytes or a chaining value.
        for at in [0, 1500, 2047, 2048, proof.len() - 1] {
            let mut bad = proof.clone();
            bad[at] ^= 1;
            assert_eq!(
                verify(&hash, 10_000, range, &bad),
                Err(AuditError::Mismatch(hash))
            );
        }
        // A proof of other chunks, or of another shard.
        let other = prove(&bytes, ChunkRange { first: 4, count: 2 }).unwrap();
        assert!(verify(&hash, 10_000, range, &other).is_err());
        let mut changed = bytes.clone();
        changed[9_999] ^= 1;
        let forged = prove(&changed, range).unwrap();
        assert_eq!(
            verify(&hash, 10_000, range, &forged),
            Err(AuditError::Mismatch(hash))
        );
    }

    #[test]
    fn bad_sizes_and_ranges_are_errors() {
        let bytes = shard(5000);
        let hash = Hash::of(&bytes);
        let range = ChunkRange { first: 1, count: 1 };
        let proof = prove(&bytes, range).unwrap();
        assert!(matches!(
            verify(&hash, 5000, range, &proof[..proof.len() - 1]),
            Err(AuditError::WrongLength { .. })
        ));
        assert!(matches!(
            verify(&hash, 5000, range, &[proof.clone(), vec![0; 32]].concat()),
            Err(AuditError::WrongLength { .. })
        ));
        assert!(matches!(
            verify(&hash, 5000, range, &vec![0; MAX_PROOF + 1]),
            Err(AuditError::TooLarge(_))
        ));
        // The verifier takes the length from the file's layout; a proof
        // made for another tree shape does not fit it.
        assert!(verify(&hash, 2048, range, &proof).is_err());
        assert!(verify(&hash, 70_000, range, &proof).is_err());
        for bad in [
            ChunkRange { first: 5, count: 1 },
            ChunkRange { first: 0, count: 0 },
            ChunkRange { first: 0, count: 3 },
            ChunkRange {
                first: u32::MAX,
                count: 2,
            },
        ] {
            assert!(matches!(
                prove(&bytes, bad),
                Err(AuditError::BadRange { .. })
            ));
            assert!(matches!(
                verify(&hash, 5000, bad, &proof),
                Err(AuditError::BadRange { .. })
            ));
        }
    }

    proptest! {
        #[test]
        fn random_ranges_of_random_shards_verify(len in 0usize..40_000, random: u64, count in 1u8..=2) {
            let bytes = shard(len);
            let range = ChunkRange::random(len as u64, count, random);
            let proof = prove(&bytes, range).unwrap();
            prop_assert!(verify(&Hash::of(&bytes), len as u64, range, &proof).is_ok());
        }
    }
}
