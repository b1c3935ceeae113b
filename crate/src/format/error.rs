//! Everything that can go wrong reading or writing the format, each case
//! distinct so callers (and users) can tell them apart.

use crate::hash::Hash;

/// A format error. Every variant names what was wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The link could not be parsed.
    #[error("malformed link: {reason}")]
    MalformedLink { reason: String },
    /// The link or manifest uses a format version this build cannot read.
    #[error("unsupported format version {found} (this build reads versions 1 to {supported})")]
    UnsupportedVersion { found: u32, supported: u8 },
    /// The manifest's bytes do not hash to the link's manifest hash.
    #[error("the manifest was tampered with: expected hash {expected}, got {actual}")]
    ManifestTampered { expected: Hash, actual: Hash },
    /// The manifest is authentic but its key does not open it.
    #[error("wrong key: the link's key does not open this file's manifest")]
    WrongKey,
    /// The (decrypted) manifest does not follow the format.
    #[error("malformed manifest: {reason}")]
    MalformedManifest { reason: String },
    /// A shard's bytes do not hash to the manifest's hash for it.
    #[error(
        "shard {shard} of segment {segment} was tampered with: expected {expected}, got {actual}"
    )]
    ShardTampered {
        segment: u64,
        shard: usize,
        expected: Hash,
        actual: Hash,
    },
    /// Not enough distinct valid shards to rebuild a segment.
    #[error(
        "{missing} shards of segment {segment} unavailable: it needs {need}, only {have} could be fetched"
    )]
    TooFewShards {
        segment: u64,
        have: usize,
        need: usize,
        missing: usize,
    },
    /// A segment's authentication tag did not verify after decoding.
    #[error("segment {segment} failed authentication")]
    SegmentAuth { segment: u64 },
    /// Input ended early.
    #[error("truncated {what}: expected {expected} bytes, got {got}")]
    Truncated {
        what: &'static str,
        expected: u64,
        got: u64,
    },
    /// A size limit of the format was exceeded.
    #[error("{what} is too large: {size} exceeds the limit of {limit}")]
    TooLarge {
        what: &'static str,
        size: u64,
        limit: u64,
    },
    /// Invalid parameters (segment size, k, n) or a request outside the file.
    #[error("invalid {what}: {reason}")]
    Invalid { what: &'static str, reason: String },
    /// Reading the input failed.
    #[error("cannot read input: {0}")]
    Io(String),
    /// A site's directory document breaks a rule of FORMAT.md ("Sites"),
    /// or a site being built would.
    #[error("not a valid site: {reason}")]
    BadSite { reason: String },
    /// A name record (FORMAT.md, "Names") was refused; the reason says
    /// which check failed.
    #[error("not a valid name record: {reason}")]
    BadName { reason: super::name::NameError },
}

/// Shorthand for results of this module.
pub type Result<T, E = FormatError> = std::result::Result<T, E>;
