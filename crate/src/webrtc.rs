//! Browser-to-browser libp2p connections: the libp2p `/webrtc` protocol
//! (libp2p/specs `webrtc/webrtc.md`), which rust-libp2p lacks.
//!
//! A listener holds a relay reservation on a node and advertises
//! `<node>/p2p-circuit/webrtc/p2p/<id>`. A dialer first reaches it over that
//! relayed circuit, opens `/webrtc-signaling/0.0.1`, and the two exchange an
//! SDP offer, an answer and trickled ICE candidates; the result is a direct
//! `RTCPeerConnection`. No Noise handshake follows: the SDPs, carrying the
//! DTLS fingerprints, travelled over the authenticated relayed connection.
//! Each libp2p stream is then one data channel (see [`connection`]).
//!
//! The shape follows libp2p's relay client: a [`Transport`] that the swarm
//! dials and listens through, and a [`service`] task that owns the
//! signaling streams, joined by bounded channels.
//!
//! Only [`signal`] and [`stream`] (the wire formats, with their varints) are platform
//! independent; the rest needs a browser's WebRTC.

pub mod signal;
pub mod stream;
mod varint;

#[cfg(wasm_browser)]
pub(crate) mod channel;
#[cfg(wasm_browser)]
pub mod connection;
#[cfg(wasm_browser)]
pub mod service;
#[cfg(wasm_browser)]
pub mod session;
#[cfg(wasm_browser)]
mod transport;

#[cfg(wasm_browser)]
pub use transport::Transport;

/// What the swarm driver shares with the WebRTC transport: the ICE
/// servers its setups use (set from the bootstrap document), the
/// failures of its dials, and whether direct connections are made at all.
#[cfg(wasm_browser)]
#[derive(Clone)]
pub struct Handles {
    pub ice_servers: session::IceServers,
    pub dial_failures: DialFailures,
    pub paths: Paths,
}

#[cfg(wasm_browser)]
impl Handles {
    pub fn new(paths: Paths) -> Self {
        Self {
            ice_servers: session::IceServers::default(),
            dial_failures: DialFailures::default(),
            paths,
        }
    }
}

/// Whether this peer connects to other browsers directly. When it does
/// not, it neither dials nor answers WebRTC: every connection to another
/// browser stays on the node's relay (within the relay's budget), and a
/// remote that dials it learns at once that no direct path exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paths {
    /// Direct connections when ICE finds a path, the relay otherwise.
    Direct,
    /// This browser has no `RTCPeerConnection` (not built in, or turned
    /// off by policy): relayed only.
    NoWebRtc,
    /// The user asked that no other browser learn this peer's address:
    /// relayed only.
    Private,
}

impl Paths {
    /// `direct`, `no-webrtc` or `private`, as the status shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::NoWebRtc => "no-webrtc",
            Self::Private => "private",
        }
    }

    /// Whether WebRTC is dialed and answered.
    pub fn direct(self) -> bool {
        self == Self::Direct
    }
}

use std::fmt;

/// ICE tried every candidate pair and none worked.
pub const NO_PAIR: &str = "no candidate pair worked";
/// The setup ran out of time.
pub const TIMED_OUT: &str = "no connection within";
/// The remote does not take direct connections (see [`Paths`]).
pub const NO_WEBRTC: &str = "the peer takes no direct connections";

/// What a failed dial means to the swarm driver, which gets the error
/// itself only as text (libp2p's transport wrappers hide the inner error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialFailure {
    /// ICE found no working pair or ran out of time: no direct path
    /// exists, and the relayed connection may carry the data instead.
    NoDirectPath,
    /// The remote dialed us at the same moment; its connection is kept.
    Simultaneous,
    /// The signaling stream failed before the offer and answer were
    /// exchanged (the relayed connection was lost, or the remote reset
    /// the stream): worth one more try over a fresh circuit.
    Signaling,
    /// Anything else (a certificate that does not match its fingerprint,
    /// a protocol error): reported as it is.
    Other,
}

/// Most dial failures remembered before the driver takes them.
#[cfg(feature = "net")]
const MAX_DIAL_FAILURES: usize = 256;

/// The failures of recent WebRTC dials, by peer. The transport records
/// each one as its dial fails, before the swarm reports that dial; the
/// driver takes it when it handles the report.
#[cfg(feature = "net")]
#[derive(Debug, Clone, Default)]
pub struct DialFailures(
    std::sync::Arc<std::sync::Mutex<std::collections::HashMap<libp2p::PeerId, DialFailure>>>,
);

#[cfg(feature = "net")]
impl DialFailures {
    /// Records why the dial to `peer` failed.
    pub fn record(&self, peer: libp2p::PeerId, failure: DialFailure) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= MAX_DIAL_FAILURES {
                // Reports the driver never took: forget them all.
                map.clear();
            }
            map.insert(peer, failure);
        }
    }

    /// Why the last WebRTC dial to `peer` failed ([`DialFailure::Other`]
    /// when none is recorded, as for a dial over another transport).
    pub fn take(&self, peer: &libp2p::PeerId) -> DialFailure {
        let taken = self.0.lock().ok().and_then(|mut map| map.remove(peer));
        taken.unwrap_or(DialFailure::Other)
    }
}

/// Where connection setup failed, for errors users can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Opening the signaling stream over the relayed connection.
    OpenSignaling,
    /// Creating the local `RTCPeerConnection` and its description.
    Setup,
    /// Exchanging offer and answer.
    Signaling,
    /// ICE connectivity checks and DTLS.
    Ice,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::OpenSignaling => "opening the signaling stream",
            Self::Setup => "setting up the peer connection",
            Self::Signaling => "signaling (offer and answer)",
            Self::Ice => "ICE connectivity",
        })
    }
}

/// Why a WebRTC connection could not be made or was lost.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("WebRTC failed while {stage}: {reason}")]
    Failed { stage: Stage, reason: String },
    /// ICE found no working pair, or ran out of time.
    #[error("WebRTC failed while {stage}: {0}", stage = Stage::Ice)]
    NoDirectPath(String),
    #[error("WebRTC connection: the remote dialed at the same time; its connection is used")]
    Simultaneous,
    #[error("WebRTC connection: {0}")]
    Connection(&'static str),
    #[error("not a browser-to-browser address (want <relay>/p2p-circuit/webrtc/p2p/<peer>): {0}")]
    Address(String),
}

impl Error {
    pub fn at(stage: Stage, reason: impl fmt::Display) -> Self {
        Self::Failed {
            stage,
            reason: reason.to_string(),
        }
    }

    /// What this error means for a dial.
    pub fn dial_failure(&self) -> DialFailure {
        match self {
            Self::NoDirectPath(_) => DialFailure::NoDirectPath,
            Self::Simultaneous => DialFailure::Simultaneous,
            Self::Failed {
                stage: Stage::OpenSignaling | Stage::Signaling,
                ..
            } => DialFailure::Signaling,
            _ => DialFailure::Other,
        }
    }
}

/// The `/webrtc` address of a dialable browser, split into the relayed
/// circuit that reaches it and its peer id.
#[cfg(feature = "net")]
pub fn parse_dial_addr(
    addr: &libp2p::Multiaddr,
) -> Result<(libp2p::Multiaddr, libp2p::PeerId), Error> {
    use libp2p::multiaddr::Protocol;
    let mut parts: Vec<Protocol> = addr.iter().collect();
    let peer = match parts.pop() {
        Some(Protocol::P2p(peer)) => peer,
        _ => return Err(Error::Address(addr.to_string())),
    };
    if parts.pop() != Some(Protocol::WebRTC) || parts.last() != Some(&Protocol::P2pCircuit) {
        return Err(Error::Address(addr.to_string()));
    }
    let circuit = parts.into_iter().chain([Protocol::P2p(peer)]).collect();
    Ok((circuit, peer))
}

#[cfg(all(test, feature = "net"))]
mod tests {
    use super::*;

    #[test]
    fn splits_dial_addresses() {
        let relay =
            "/ip4/127.0.0.1/tcp/1/ws/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN";
        let peer = "12D3KooWRBhwfeP2Y4TCx1SM6s9rUoHhR5STiGwxBhgFRcw3UERE";
        let addr = format!("{relay}/p2p-circuit/webrtc/p2p/{peer}")
            .parse()
            .unwrap();
        let (circuit, id) = parse_dial_addr(&addr).unwrap();
        assert_eq!(
            circuit.to_string(),
            format!("{relay}/p2p-circuit/p2p/{peer}")
        );
        assert_eq!(id.to_string(), peer);
        for bad in [
            format!("{relay}/p2p-circuit/p2p/{peer}"),
            format!("{relay}/webrtc/p2p/{peer}"),
            format!("{relay}/p2p-circuit/webrtc"),
        ] {
            assert!(parse_dial_addr(&bad.parse().unwrap()).is_err(), "{bad}");
        }
    }

    #[test]
    fn tells_a_missing_path_from_other_failures() {
        let no_pair = Error::NoDirectPath(NO_PAIR.into());
        assert_eq!(no_pair.dial_failure(), DialFailure::NoDirectPath);
        assert_eq!(
            no_pair.to_string(),
            "WebRTC failed while ICE connectivity: no candidate pair worked"
        );
        let dtls = Error::at(Stage::Ice, "DTLS failed: certificate mismatch");
        assert_eq!(dtls.dial_failure(), DialFailure::Other);
        let lost = Error::at(
            Stage::Signaling,
            "signaling stream failed: connection is closed",
        );
        assert_eq!(lost.dial_failure(), DialFailure::Signaling);
        assert_eq!(
            Error::at(
                Stage::OpenSignaling,
                "no relayed connection answered in time"
            )
            .dial_failure(),
            DialFailure::Signaling
        );
        assert_eq!(
            Error::at(Stage::Setup, "offer without SDP").dial_failure(),
            DialFailure::Other
        );
        assert_eq!(
            Error::Simultaneous.dial_failure(),
            DialFailure::Simultaneous
        );
    }

    #[test]
    fn dial_failures_are_taken_once_and_bounded() {
        let failures = DialFailures::default();
        let peer = libp2p::PeerId::random();
        failures.record(peer, DialFailure::NoDirectPath);
        assert_eq!(failures.take(&peer), DialFailure::NoDirectPath);
        assert_eq!(failures.take(&peer), DialFailure::Other);
        for _ in 0..MAX_DIAL_FAILURES + 5 {
            failures.record(libp2p::PeerId::random(), DialFailure::Other);
        }
        assert!(failures.0.lock().unwrap().len() <= MAX_DIAL_FAILURES);
    }
}
