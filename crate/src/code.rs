//! Stable error codes: the one vocabulary every layer's error maps to, and
//! what JavaScript sees as `Error.code`. The page chooses its advice by
//! code (`www/fetch-help.js`), never by message text, so a code is a
//! promise: renaming one breaks the page, and a test checks that the page
//! has advice for every code here and for no other.

use std::fmt;

/// Why something failed, in a word a program can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The link could not be parsed.
    LinkMalformed,
    /// The link or manifest uses a newer format version.
    LinkVersion,
    /// The manifest's bytes do not match the link's hash.
    ManifestTampered,
    /// The link's key does not open the manifest.
    WrongKey,
    /// The decrypted manifest does not follow the format.
    ManifestMalformed,
    /// A segment (or shard) failed its check: the data was altered.
    SegmentAuth,
    /// No reachable holder has the file's manifest.
    NotFound,
    /// Too few shards of some segment could be fetched.
    Unavailable,
    /// The node could not be reached in time (the peer keeps retrying).
    NotConnected,
    /// A holder has no room.
    StorageFull,
    /// A node refused an upload: this peer, or its network address, has
    /// used its storage budget there.
    OverBudget,
    /// A holder refused (rate limit, not accepting).
    Refused,
    /// A holder did not answer in time.
    Timeout,
    /// The file is larger than the format can describe.
    TooLarge,
    /// A call got wrong arguments.
    InvalidArgument,
    /// Reading the input file or stream failed.
    InputFailed,
    /// The peer has stopped.
    Stopped,
    /// A peer answered something that breaks the protocol.
    Protocol,
    /// Anything else.
    Internal,
    /// Raised by the page: the browser stopped the service worker serving a
    /// download. Listed here so that every code has one home.
    StreamLost,
    /// Raised by the page: no service worker can stream here and the file
    /// is too large to hold in memory.
    NoStreaming,
}

impl ErrorCode {
    /// Every code, for the page's advice table and its test.
    pub const ALL: [ErrorCode; 21] = [
        Self::LinkMalformed,
        Self::LinkVersion,
        Self::ManifestTampered,
        Self::WrongKey,
        Self::ManifestMalformed,
        Self::SegmentAuth,
        Self::NotFound,
        Self::Unavailable,
        Self::NotConnected,
        Self::StorageFull,
        Self::OverBudget,
        Self::Refused,
        Self::Timeout,
        Self::TooLarge,
        Self::InvalidArgument,
        Self::InputFailed,
        Self::Stopped,
        Self::Protocol,
        Self::Internal,
        Self::StreamLost,
        Self::NoStreaming,
    ];

    /// The code as JavaScript sees it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LinkMalformed => "link-malformed",
            Self::LinkVersion => "link-version",
            Self::ManifestTampered => "manifest-tampered",
            Self::WrongKey => "wrong-key",
            Self::ManifestMalformed => "manifest-malformed",
            Self::SegmentAuth => "segment-auth",
            Self::NotFound => "not-found",
            Self::Unavailable => "unavailable",
            Self::NotConnected => "not-connected",
            Self::StorageFull => "storage-full",
            Self::OverBudget => "over-budget",
            Self::Refused => "refused",
            Self::Timeout => "timeout",
            Self::TooLarge => "too-large",
            Self::InvalidArgument => "invalid-argument",
            Self::InputFailed => "input-failed",
            Self::Stopped => "stopped",
            Self::Protocol => "protocol",
            Self::Internal => "internal",
            Self::StreamLost => "stream-lost",
            Self::NoStreaming => "no-streaming",
        }
    }
}

impl std::str::FromStr for ErrorCode {
    type Err = ();

    /// The code JavaScript names (`as_str`), for errors that come back
    /// from another context with their code.
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|c| c.as_str() == s).ok_or(())
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl crate::format::FormatError {
    /// This error's stable code.
    pub fn code(&self) -> ErrorCode {
        use crate::format::FormatError as E;
        match self {
            E::MalformedLink { .. } => ErrorCode::LinkMalformed,
            E::UnsupportedVersion { .. } => ErrorCode::LinkVersion,
            E::ManifestTampered { .. } => ErrorCode::ManifestTampered,
            E::WrongKey => ErrorCode::WrongKey,
            // A site's document is data the link opens, checked like a
            // manifest: the same advice (ask for the link again) fits.
            E::MalformedManifest { .. } | E::Truncated { .. } | E::BadSite { .. } => {
                ErrorCode::ManifestMalformed
            }
            E::ShardTampered { .. } | E::SegmentAuth { .. } => ErrorCode::SegmentAuth,
            E::TooFewShards { .. } => ErrorCode::Unavailable,
            E::TooLarge { .. } => ErrorCode::TooLarge,
            E::Invalid { .. } => ErrorCode::InvalidArgument,
            E::Io(_) => ErrorCode::InputFailed,
            E::BadName { reason } => {
                use crate::format::NameError as N;
                match reason {
                    // Forged or altered: tampering, as with a manifest.
                    N::BadSignature | N::OtherPublisher => ErrorCode::ManifestTampered,
                    N::SealedLink => ErrorCode::WrongKey,
                    N::UnknownVersion(_) => ErrorCode::LinkVersion,
                    _ => ErrorCode::ManifestMalformed,
                }
            }
        }
    }
}

impl crate::store::StoreError {
    /// This error's stable code.
    pub fn code(&self) -> ErrorCode {
        use crate::store::StoreError as E;
        match self {
            E::QuotaExceeded { .. } => ErrorCode::StorageFull,
            E::TooLarge { .. } | E::TooMany { .. } => ErrorCode::InvalidArgument,
            E::HashMismatch { .. } | E::Corrupt { .. } => ErrorCode::SegmentAuth,
            E::NotFound(_) => ErrorCode::NotFound,
            _ => ErrorCode::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;
    use std::collections::BTreeSet;

    /// The page's advice table (`www/fetch-help.js`) names exactly the
    /// codes the crate has: no advice for a code that never comes, and no
    /// code without advice. Entries there are lines like `  'not-found': {`.
    #[test]
    fn the_page_has_advice_for_every_code_and_no_other() {
        let page = include_str!("../../www/fetch-help.js");
        let handled: BTreeSet<&str> = page
            .lines()
            .filter_map(|line| {
                let rest = line.trim_start().strip_prefix('\'')?;
                let (code, tail) = rest.split_once('\'')?;
                tail.trim_start().starts_with(": {").then_some(code)
            })
            .collect();
        let ours: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        for code in ErrorCode::ALL {
            assert_eq!(code.as_str().parse(), Ok(code));
        }
        assert_eq!(ours.len(), ErrorCode::ALL.len(), "codes are distinct");
        let no_advice: Vec<_> = ours.difference(&handled).collect();
        let unknown: Vec<_> = handled.difference(&ours).collect();
        assert!(
            no_advice.is_empty(),
            "codes without advice in fetch-help.js: {no_advice:?}"
        );
        assert!(
            unknown.is_empty(),
            "fetch-help.js handles codes the crate never produces: {unknown:?}"
        );
    }
}
