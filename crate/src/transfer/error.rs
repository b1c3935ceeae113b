//! What can go wrong moving a file, each case with its stable
//! [`ErrorCode`], and whether trying again may help.

use crate::code::ErrorCode;
use crate::format::FormatError;
use crate::net::block::{BlockResponse, ErrorCode as WireCode};

/// A put or get failed, or one request of it did.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransferError {
    /// The link, the manifest or the data broke the format's rules.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// No holder reached had the manifest.
    #[error("file not found: no reachable peer holds it (it may have been removed, or the link is wrong)")]
    NotFound,
    /// A segment could not be rebuilt: too few of its shards were had.
    #[error("{shortage}{why}")]
    Unavailable {
        /// The format's [`FormatError::TooFewShards`].
        shortage: FormatError,
        /// What the holders said, for whoever debugs it (may be empty).
        why: String,
    },
    /// The node is not connected (and was not within the wait).
    #[error("not connected to the node: {0}")]
    NotConnected(String),
    /// The connection to a holder failed or was lost mid-request.
    #[error("{holder}: connection failed: {message}")]
    Unreachable { holder: String, message: String },
    /// A holder did not answer in time.
    #[error("no answer from {holder} within {secs} s")]
    Timeout { holder: String, secs: u64 },
    /// A holder has no room.
    #[error("{holder} is full: {message}")]
    Full { holder: String, message: String },
    /// A holder refused a PUT: the uploader (or its network address) has
    /// used its storage budget there.
    #[error("{holder} refused the upload: {message}")]
    OverBudget { holder: String, message: String },
    /// A holder refused (not accepting new data).
    #[error("{holder} refused: {message}")]
    Refused { holder: String, message: String },
    /// A holder is over a rate limit: the request may be sent again
    /// shortly (a fast command-line put can outrun a node's limit).
    #[error("{holder} is busy: {message}")]
    Busy { holder: String, message: String },
    /// A holder answered something the protocol does not allow.
    #[error("{holder} broke the protocol: {message}")]
    Protocol { holder: String, message: String },
    /// The caller's arguments were wrong.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Storing locally failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The peer stopped (its page is closing).
    #[error("the peer has stopped")]
    Stopped,
    /// An error another context reported with its code (the service
    /// worker's gateway hears the tab's errors this way).
    #[error("{message}")]
    Relayed { code: ErrorCode, message: String },
    /// Anything else, said plainly.
    #[error("{0}")]
    Internal(String),
}

impl TransferError {
    /// This error's stable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Format(e) => e.code(),
            Self::NotFound => ErrorCode::NotFound,
            Self::Unavailable { .. } => ErrorCode::Unavailable,
            Self::NotConnected(_) | Self::Unreachable { .. } => ErrorCode::NotConnected,
            Self::Timeout { .. } => ErrorCode::Timeout,
            Self::Full { .. } => ErrorCode::StorageFull,
            Self::OverBudget { .. } => ErrorCode::OverBudget,
            Self::Refused { .. } | Self::Busy { .. } => ErrorCode::Refused,
            Self::Protocol { .. } => ErrorCode::Protocol,
            Self::InvalidArgument(_) => ErrorCode::InvalidArgument,
            Self::Store(e) => e.code(),
            Self::Stopped => ErrorCode::Stopped,
            Self::Relayed { code, .. } => *code,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    /// A holder's answer that is not what a `what` request expects: its
    /// error, kept with the kind its wire code names, or a breach of the
    /// protocol.
    pub fn unexpected(holder: &impl std::fmt::Display, what: &str, answer: BlockResponse) -> Self {
        let holder = holder.to_string();
        match answer {
            BlockResponse::Error { code, message } => match code {
                WireCode::Full => Self::Full { holder, message },
                WireCode::Refused => Self::Refused { holder, message },
                WireCode::Busy => Self::Busy { holder, message },
                WireCode::OverBudget => Self::OverBudget { holder, message },
                WireCode::BadRequest => Self::Protocol {
                    holder,
                    message: format!("it calls our {what} malformed: {message}"),
                },
                WireCode::Internal => {
                    Self::Internal(format!("{holder} failed a {what}: {message}"))
                }
            },
            other => Self::Protocol {
                holder,
                message: format!("answered a {what} with {}", other.kind()),
            },
        }
    }

    /// True when the same request may succeed later: the holder was slow
    /// or its connection dropped. A refusal, a full store or a broken
    /// answer is final for that holder.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::NotConnected(_)
            | Self::Unreachable { .. }
            | Self::Timeout { .. }
            | Self::Busy { .. } => true,
            Self::Relayed { code, .. } => {
                matches!(code, ErrorCode::NotConnected | ErrorCode::Timeout)
            }
            _ => false,
        }
    }
}

/// Shorthand for results of this module.
pub type Result<T, E = TransferError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_limited_holder_is_asked_again_a_refusal_is_final() {
        let answer = |code| BlockResponse::error(code, "why");
        let busy = TransferError::unexpected(&"node", "PUT", answer(WireCode::Busy));
        assert!(busy.is_transient(), "{busy:?}");
        assert_eq!(busy.code(), ErrorCode::Refused);
        let refused = TransferError::unexpected(&"node", "PUT", answer(WireCode::Refused));
        assert!(!refused.is_transient(), "{refused:?}");
        // Through the wire: the code survives encoding.
        let decoded = BlockResponse::decode(&answer(WireCode::Busy).encode()).unwrap();
        assert_eq!(decoded, answer(WireCode::Busy));
    }
}
