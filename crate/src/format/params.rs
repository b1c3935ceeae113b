//! Encoding parameters: segment size and the erasure code's k of n.

use super::error::{FormatError, Result};

/// Default plaintext segment size: 1 MiB. Large enough that per-segment
/// overhead (a 16-byte tag, n hashes in the manifest) is negligible, small
/// enough that a few segments in flight stay a few megabytes of memory.
pub const DEFAULT_SEGMENT_SIZE: u32 = 1 << 20;
/// Smallest allowed segment size (tests use small segments).
pub const MIN_SEGMENT_SIZE: u32 = 64;
/// Largest allowed segment size: bounds the memory one segment takes.
pub const MAX_SEGMENT_SIZE: u32 = 4 << 20;
/// Default data shards per segment.
pub const DEFAULT_K: u8 = 4;
/// Default total shards per segment (data + parity).
pub const DEFAULT_N: u8 = 8;
/// Most shards a segment may have.
pub const MAX_N: u8 = 64;

/// How a file is cut and coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Plaintext bytes per segment (the last segment may be shorter).
    pub segment_size: u32,
    /// Shards needed to rebuild a segment.
    pub k: u8,
    /// Shards made per segment.
    pub n: u8,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            segment_size: DEFAULT_SEGMENT_SIZE,
            k: DEFAULT_K,
            n: DEFAULT_N,
        }
    }
}

impl Params {
    /// Checks the limits; every constructor path goes through here.
    pub fn validate(&self) -> Result<()> {
        let invalid = |reason: String| FormatError::Invalid {
            what: "parameters",
            reason,
        };
        if !(MIN_SEGMENT_SIZE..=MAX_SEGMENT_SIZE).contains(&self.segment_size) {
            return Err(invalid(format!(
                "segment size {} is outside {MIN_SEGMENT_SIZE}..={MAX_SEGMENT_SIZE}",
                self.segment_size
            )));
        }
        if self.k == 0 || self.n < self.k || self.n > MAX_N {
            return Err(invalid(format!(
                "k={} n={} (need 1 <= k <= n <= {MAX_N})",
                self.k, self.n
            )));
        }
        Ok(())
    }

    /// Number of segments of a file of `size` bytes (0 for an empty file).
    pub fn segment_count(&self, size: u64) -> u64 {
        size.div_ceil(u64::from(self.segment_size))
    }

    /// Plaintext length of segment `index` of a file of `size` bytes.
    pub fn segment_len(&self, size: u64, index: u64) -> u64 {
        let seg = u64::from(self.segment_size);
        let start = index.saturating_mul(seg);
        size.saturating_sub(start).min(seg)
    }

    /// Length of each shard of a segment whose plaintext is `plain_len` bytes.
    pub fn shard_len(&self, plain_len: u64) -> usize {
        let sealed = plain_len as usize + super::seal::TAG_LEN;
        let len = sealed.div_ceil(usize::from(self.k));
        // The erasure code works on 2-byte symbols.
        len + (len & 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_arithmetic() {
        let p = Params {
            segment_size: 100,
            k: 4,
            n: 8,
        };
        assert_eq!(p.segment_count(0), 0);
        assert_eq!(p.segment_count(1), 1);
        assert_eq!(p.segment_count(100), 1);
        assert_eq!(p.segment_count(101), 2);
        assert_eq!(p.segment_len(101, 1), 1);
        assert_eq!(p.segment_len(101, 0), 100);
        assert_eq!(p.shard_len(100), 30); // (100 + 16) / 4 = 29, rounded up to even
    }

    #[test]
    fn limits() {
        assert!(Params::default().validate().is_ok());
        for (s, k, n) in [
            (10, 4, 8),
            (1 << 20, 0, 8),
            (1 << 20, 5, 4),
            (1 << 20, 4, 65),
            (8 << 20, 4, 8),
        ] {
            let p = Params {
                segment_size: s,
                k,
                n,
            };
            assert!(p.validate().is_err(), "{p:?}");
        }
    }
}
