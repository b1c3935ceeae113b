//! Direct connections to other browsers, asked for with `peer.dial(addr)`:
//! first the relayed circuit to the peer, then the `/webrtc` dial over it,
//! then the circuit is closed so every stream takes the direct path. A
//! peer ICE found no direct path to is reached over the relay for a while
//! without trying again. A setup whose signaling stream failed (the
//! circuit was lost, or the remote reset it) is tried once more, over a
//! fresh circuit when the old one is gone.

use std::collections::HashMap;
use std::time::Duration;

use futures::channel::oneshot;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::ConnectionId;
use libp2p::{Multiaddr, PeerId, Swarm};

use crate::peer::swarm::Behaviour;
use crate::webrtc;
use web_time::Instant;

/// Most peers being connected to at once.
const MAX_PENDING: usize = 32;
/// Longest a direct connection may take to set up, every stage included
/// (a WebRTC session alone is limited to 10 s): past it the request fails
/// rather than wait for an event that will not come, such as the remote's
/// side of a simultaneous dial that never completed.
pub const SETUP_DEADLINE: Duration = Duration::from_secs(25);

type Reply = oneshot::Sender<Result<(), String>>;

struct Pending {
    addr: Multiaddr,
    /// The other nodes the circuit may go through.
    relays: Vec<Multiaddr>,
    webrtc_dialed: bool,
    /// Whether the setup was tried again after its signaling failed.
    retried: bool,
    /// Where the setup is, for the error if it never ends.
    stage: &'static str,
    since: Instant,
    replies: Vec<Reply>,
}

/// How long a peer ICE found no direct path to is reached over the relay
/// without trying again: each try costs a WebRTC setup's full 10 s.
pub const RELAY_ONLY_FOR: Duration = Duration::from_secs(300);
/// Most peers remembered as reachable only over the relay.
const MAX_RELAY_ONLY: usize = 256;

/// Direct connections being set up.
pub struct Direct {
    pending: HashMap<PeerId, Pending>,
    /// Peers with no direct path, since when (see [`RELAY_ONLY_FOR`]).
    relay_only: HashMap<PeerId, Instant>,
    /// This peer makes no direct connections ([`crate::webrtc::Paths`]):
    /// the relayed circuit settles every request.
    relay_always: bool,
}

impl Direct {
    pub fn new(paths: crate::webrtc::Paths) -> Self {
        Self {
            pending: HashMap::new(),
            relay_only: HashMap::new(),
            relay_always: !paths.direct(),
        }
    }

    /// Starts connecting to `addr` (`<relay>/p2p-circuit/webrtc/p2p/<peer>`).
    /// The relayed circuit is tried through that relay and through each of
    /// `relays` (the network's other nodes) at once: the peer holds its
    /// reservation on one of them, which the address does not say.
    pub fn connect(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        addr: Multiaddr,
        relays: &[Multiaddr],
        direct_to: impl Fn(&PeerId) -> bool,
        reply: Reply,
    ) {
        let (circuit, peer) = match webrtc::parse_dial_addr(&addr) {
            Ok(parts) => parts,
            Err(e) => {
                let _ = reply.send(Err(e.to_string()));
                return;
            }
        };
        if direct_to(&peer) || (self.is_relay_only(&peer) && swarm.is_connected(&peer)) {
            let _ = reply.send(Ok(()));
            return;
        }
        self.expire();
        if let Some(pending) = self.pending.get_mut(&peer) {
            pending.replies.push(reply);
            return;
        }
        if self.pending.len() >= MAX_PENDING {
            let _ = reply.send(Err(format!(
                "at most {MAX_PENDING} connections may be set up at once"
            )));
            return;
        }
        self.pending.insert(
            peer,
            Pending {
                addr,
                relays: relays.to_vec(),
                webrtc_dialed: false,
                retried: false,
                stage: "the relayed circuit",
                since: Instant::now(),
                replies: vec![reply],
            },
        );
        match swarm.is_connected(&peer) {
            true => self.dial_webrtc(swarm, peer),
            false => self.dial_circuit(swarm, peer, circuit),
        }
    }

    /// Dials the relayed circuit to `peer`: `circuit`, and the same
    /// through each of the pending setup's other nodes.
    fn dial_circuit(&mut self, swarm: &mut Swarm<Behaviour>, peer: PeerId, circuit: Multiaddr) {
        let Some(pending) = self.pending.get_mut(&peer) else {
            return;
        };
        pending.stage = "the relayed circuit";
        let circuits = std::iter::once(circuit)
            .chain(pending.relays.iter().map(|relay| {
                relay
                    .clone()
                    .with(Protocol::P2pCircuit)
                    .with(Protocol::P2p(peer))
            }))
            .collect();
        let opts = DialOpts::peer_id(peer)
            .addresses(circuits)
            .condition(PeerCondition::Always)
            .build();
        if let Err(e) = swarm.dial(opts) {
            self.fail(&peer, format!("cannot reach {peer} through the relay: {e}"));
        }
    }

    fn dial_webrtc(&mut self, swarm: &mut Swarm<Behaviour>, peer: PeerId) {
        let Some(pending) = self.pending.get_mut(&peer) else {
            return;
        };
        if pending.webrtc_dialed {
            return;
        }
        pending.webrtc_dialed = true;
        pending.stage = "the WebRTC setup";
        let opts = DialOpts::peer_id(peer)
            .addresses(vec![pending.addr.clone()])
            .condition(PeerCondition::Always)
            .build();
        if let Err(e) = swarm.dial(opts) {
            self.fail(&peer, format!("cannot dial {peer} over WebRTC: {e}"));
        }
    }

    /// A connection to `peer` is up: relayed ones lead to the WebRTC dial,
    /// a direct one settles the request and retires the relayed ones.
    /// `direct_exists`: a direct connection to `peer` is up already, say
    /// from the remote's simultaneous dial that won while our relayed
    /// circuit was still being set up; then our request is settled by it,
    /// not by a second WebRTC setup over a circuit the remote is retiring.
    pub fn on_established(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        peer: PeerId,
        direct: bool,
        direct_exists: bool,
        relayed: &[ConnectionId],
    ) {
        if !direct {
            if self.is_relay_only(&peer) {
                self.succeed(&peer);
            } else if direct_exists && self.pending.contains_key(&peer) {
                for id in relayed {
                    swarm.close_connection(*id);
                }
                self.succeed(&peer);
            } else {
                self.dial_webrtc(swarm, peer);
            }
            return;
        }
        self.relay_only.remove(&peer);
        for id in relayed {
            swarm.close_connection(*id);
        }
        self.succeed(&peer);
    }

    /// Whether `peer` is reached over the relay: this peer makes no
    /// direct connections, or ICE found no direct path to `peer` within
    /// [`RELAY_ONLY_FOR`].
    fn is_relay_only(&self, peer: &PeerId) -> bool {
        self.relay_always
            || self
                .relay_only
                .get(peer)
                .is_some_and(|since| since.elapsed() < RELAY_ONLY_FOR)
    }

    fn remember_relay_only(&mut self, peer: PeerId) {
        self.relay_only
            .retain(|_, since| since.elapsed() < RELAY_ONLY_FOR);
        if self.relay_only.len() >= MAX_RELAY_ONLY {
            // Forget the oldest: at worst it costs one more direct try.
            if let Some(oldest) = self
                .relay_only
                .iter()
                .min_by_key(|(_, t)| **t)
                .map(|(p, _)| *p)
            {
                self.relay_only.remove(&oldest);
            }
        }
        self.relay_only.insert(peer, Instant::now());
    }

    fn succeed(&mut self, peer: &PeerId) {
        if let Some(pending) = self.pending.remove(peer) {
            for reply in pending.replies {
                let _ = reply.send(Ok(()));
            }
        }
    }

    /// A dial to `peer` failed; `relayed`: a relayed connection to it is
    /// up. When ICE found no direct path, that connection carries the
    /// data instead (within the node's relay budget) and the request
    /// succeeds; `peer.status()` shows the path as `relayed`, and for
    /// [`RELAY_ONLY_FOR`] later requests to that peer use the relay at once.
    pub fn on_dial_error(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        peer: PeerId,
        error: String,
        failure: webrtc::DialFailure,
    ) {
        let relayed = swarm.is_connected(&peer);
        let webrtc_dialed = self.pending.get(&peer).is_some_and(|p| p.webrtc_dialed);
        if relayed && webrtc_dialed && failure == webrtc::DialFailure::NoDirectPath {
            tracing::warn!(%peer, %error, "no direct path: using the relayed connection");
            self.remember_relay_only(peer);
            self.succeed(&peer);
            return;
        }
        if failure == webrtc::DialFailure::Simultaneous {
            // The remote's connection arrives as an inbound one.
            if let Some(pending) = self.pending.get_mut(&peer) {
                pending.stage = "the remote's simultaneous dial";
            }
            return;
        }
        if failure == webrtc::DialFailure::Signaling && self.retry(swarm, peer, relayed) {
            tracing::warn!(%peer, %error, "signaling failed; setting up the connection once more");
            return;
        }
        self.fail(&peer, error);
    }

    /// Tries a setup whose signaling failed once more: over the relayed
    /// connection if it is still up, else over a fresh circuit. False when
    /// it was tried again already (or is not pending).
    fn retry(&mut self, swarm: &mut Swarm<Behaviour>, peer: PeerId, relayed: bool) -> bool {
        let Some(pending) = self.pending.get_mut(&peer) else {
            return false;
        };
        if pending.retried || !pending.webrtc_dialed {
            return false;
        }
        pending.retried = true;
        pending.webrtc_dialed = false;
        if relayed {
            self.dial_webrtc(swarm, peer);
            return true;
        }
        match webrtc::parse_dial_addr(&pending.addr) {
            Ok((circuit, _)) => self.dial_circuit(swarm, peer, circuit),
            Err(e) => self.fail(&peer, e.to_string()),
        }
        true
    }

    /// Fails every setup past [`SETUP_DEADLINE`], naming its stage.
    pub fn expire(&mut self) {
        let late: Vec<PeerId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.since.elapsed() >= SETUP_DEADLINE)
            .map(|(peer, _)| *peer)
            .collect();
        for peer in late {
            let stage = self.pending.get(&peer).map_or("", |p| p.stage);
            self.fail(
                &peer,
                format!(
                    "no direct connection to {peer} within {} s: stuck in {stage}",
                    SETUP_DEADLINE.as_secs()
                ),
            );
        }
    }

    fn fail(&mut self, peer: &PeerId, error: String) {
        if let Some(pending) = self.pending.remove(peer) {
            for reply in pending.replies {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}
