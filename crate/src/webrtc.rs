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
mod channel;
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

use std::fmt;

/// Why a dial gave way: the remote dialed us at the same moment and its
/// connection is the one kept.
pub const SIMULTANEOUS: &str = "the remote dialed at the same time; its connection is used";
/// ICE tried every candidate pair and none worked.
pub const NO_PAIR: &str = "no candidate pair worked";
/// The setup ran out of time.
pub const TIMED_OUT: &str = "no connection within";

/// Whether a dial error (as text: it reaches the swarm as a transport
/// error) means no direct path exists: ICE found no working pair or ran
/// out of time. The relayed connection may then carry the data. Any other
/// failure (a certificate that does not match its fingerprint, a protocol
/// error) is not a path problem and is reported as it is.
pub fn is_no_direct_path(error: &str) -> bool {
    let at_ice = format!("while {}: ", Stage::Ice);
    error.contains(&at_ice) && (error.contains(NO_PAIR) || error.contains(TIMED_OUT))
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
        let no_pair = Error::at(Stage::Ice, NO_PAIR).to_string();
        let late = Error::at(Stage::Ice, format!("{TIMED_OUT} 10 s")).to_string();
        let dtls = Error::at(Stage::Ice, "DTLS failed: certificate mismatch").to_string();
        let early = Error::at(Stage::Signaling, format!("{TIMED_OUT} 10 s")).to_string();
        assert!(is_no_direct_path(&format!("transport: {no_pair}")));
        assert!(is_no_direct_path(&late));
        assert!(!is_no_direct_path(&dtls));
        assert!(!is_no_direct_path(&early));
    }
}
