//! [`Shard`]: bytes whose BLAKE3 hash is known to be the one they carry.
//!
//! The store takes only these. A `Shard` is made by hashing its bytes
//! ([`Shard::new`]) or by checking them against a claimed hash
//! ([`Shard::check`]), and by nothing else, so every shard is verified
//! before it is stored, exactly once, by whoever first holds its bytes: a
//! node hashes a block a peer sent it, an uploader the shards it encoded.
//! The store used to hash again what its callers had just hashed; on the
//! browser's one thread that second pass was a fifth of a put's time.

use super::StoreError;
use crate::hash::Hash;

/// A shard's bytes and their hash, known to match.
#[derive(Clone, PartialEq, Eq)]
pub struct Shard {
    hash: Hash,
    bytes: Vec<u8>,
}

impl Shard {
    /// Hashes `bytes`.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self {
            hash: Hash::of(&bytes),
            bytes,
        }
    }

    /// Checks that `bytes` hash to `expected`: [`StoreError::HashMismatch`]
    /// if not.
    pub fn check(expected: Hash, bytes: Vec<u8>) -> Result<Self, StoreError> {
        let shard = Self::new(bytes);
        if shard.hash != expected {
            return Err(StoreError::HashMismatch {
                expected,
                actual: shard.hash,
            });
        }
        Ok(shard)
    }

    pub fn hash(&self) -> Hash {
        self.hash
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn into_parts(self) -> (Hash, Vec<u8>) {
        (self.hash, self.bytes)
    }
}

impl std::fmt::Debug for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Shard({}, {} bytes)", self.hash, self.bytes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_refuses_bytes_of_another_hash() {
        let good = Shard::new(b"some shard".to_vec());
        assert_eq!(
            Shard::check(good.hash(), good.bytes().to_vec()).unwrap(),
            good
        );
        let err = Shard::check(good.hash(), b"another shard".to_vec()).unwrap_err();
        assert_eq!(
            err,
            StoreError::HashMismatch {
                expected: good.hash(),
                actual: Hash::of(b"another shard"),
            }
        );
    }
}
