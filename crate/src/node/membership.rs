//! Which peers are Kademlia servers to this node, and joining the nodes
//! given with `--peer`.
//!
//! Only nodes enter the routing table (Kademlia inserts nothing on its
//! own here): the configured ones, and peers that claim the DHT protocol
//! *and* accept a connection this node dials to an address they say they
//! listen on. A browser cannot accept one, so a browser that claims to be
//! a server stays out. A configured node that cannot be reached, or that
//! disconnects, is dialed again after a pause of 1 s, doubling to 60 s;
//! the node runs meanwhile and serves its own browsers.
//!
//! After a node joins, this one looks for nodes again (a DHT lookup of
//! its own id) 2 s later, then at doubling pauses up to 5 minutes: a
//! node that joined a peer before that peer had met the others still
//! finds them.
//!
//! The nodes connected now form the directory that `/bootstrap.json`
//! hands to browsers and the CLI, so they can reach holders on any node.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use libp2p::core::ConnectedPoint;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, DialError};
use libp2p::{identify, Multiaddr, PeerId, Swarm};

use super::swarm::Behaviour;

use crate::net::{NodeEntry, KAD_PROTOCOL, MAX_NODES, MAX_NODE_ADDRS};

/// First pause before dialing a configured node again.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// Longest pause between two dials of a configured node.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Most dial-backs to unverified peers in flight.
const MAX_VERIFYING: usize = 64;
/// First pause before this node looks for nodes again (a DHT lookup of
/// its own id) after a node joined; doubles up to [`MAX_LOOKUP_PAUSE`].
/// Kademlia's own lookup runs once, half a second after a join: a node
/// that joins a peer which has not yet met the others finds nobody, and
/// would wait for Kademlia's next one, 5 minutes on.
const FIRST_LOOKUP_PAUSE: Duration = Duration::from_secs(2);
/// Longest pause between two such lookups.
const MAX_LOOKUP_PAUSE: Duration = Duration::from_secs(300);

/// A node given with `--peer`.
struct Configured {
    peer: PeerId,
    addr: Multiaddr,
    backoff: Duration,
    /// When to dial again; `None` while connected or dialing.
    due: Option<Instant>,
}

/// The node's DHT neighbours.
#[derive(Default)]
pub struct Membership {
    configured: Vec<Configured>,
    /// Nodes connected now, with the addresses they listen on.
    nodes: HashMap<PeerId, Vec<Multiaddr>>,
    /// Connections this node dialed.
    dialed: HashSet<ConnectionId>,
    /// Dial-backs to peers that claim to be servers.
    verifying: HashMap<ConnectionId, PeerId>,
    lookups: Lookups,
}

/// When this node looks for nodes next (none before a node joined), and
/// the pause after that.
#[derive(Default)]
struct Lookups(Option<(Instant, Duration)>);

impl Lookups {
    /// A node joined: look again soon.
    fn joined(&mut self, now: Instant) {
        self.0 = Some((now + FIRST_LOOKUP_PAUSE, FIRST_LOOKUP_PAUSE));
    }

    /// Whether a lookup is due now; if so, the next one is set.
    fn take_due(&mut self, now: Instant) -> bool {
        match self.0 {
            Some((due, pause)) if due <= now => {
                let pause = (pause * 2).min(MAX_LOOKUP_PAUSE);
                self.0 = Some((now + pause, pause));
                true
            }
            _ => false,
        }
    }
}

impl Membership {
    /// Dials every configured node (`addrs` each end in `/p2p/<id>`).
    pub fn join(swarm: &mut Swarm<Behaviour>, addrs: &[Multiaddr]) -> Self {
        let mut membership = Self::default();
        for addr in addrs {
            let Some(Protocol::P2p(peer)) = addr.iter().last() else {
                continue;
            };
            if peer == *swarm.local_peer_id() {
                tracing::warn!(%addr, "--peer names this node itself; ignored");
                continue;
            }
            membership.configured.push(Configured {
                peer,
                addr: addr.clone(),
                backoff: FIRST_BACKOFF,
                due: Some(Instant::now()),
            });
        }
        membership.tick(swarm, Instant::now());
        membership
    }

    /// Dials the configured nodes whose pause is over, and looks for
    /// nodes when that is due.
    pub fn tick(&mut self, swarm: &mut Swarm<Behaviour>, now: Instant) {
        if self.lookups.take_due(now) {
            // With no known peer there is nothing to ask, and nothing lost.
            let _ = swarm.behaviour_mut().kad.bootstrap();
        }
        for c in &mut self.configured {
            if c.due.is_none_or(|due| due > now) {
                continue;
            }
            c.due = None;
            let opts = DialOpts::peer_id(c.peer)
                .addresses(vec![c.addr.clone()])
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .build();
            let id = opts.connection_id();
            match swarm.dial(opts) {
                Ok(()) => {
                    self.dialed.insert(id);
                }
                Err(e) => {
                    // Already connected or dialing: nothing to do now.
                    tracing::debug!(addr = %c.addr, error = %e, "not dialing a peer node");
                }
            }
        }
    }

    /// A connection is up.
    pub fn on_established(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        peer: PeerId,
        id: ConnectionId,
        endpoint: &ConnectedPoint,
    ) {
        if let Some(c) = self.configured.iter_mut().find(|c| c.peer == peer) {
            c.backoff = FIRST_BACKOFF;
            c.due = None;
            let addr = without_peer(&c.addr);
            tracing::info!(%peer, %addr, "joined a peer node");
            self.admit(swarm, peer, vec![addr]);
        }
        if self.verifying.remove(&id).is_some() {
            let addr = without_peer(endpoint.get_remote_address());
            tracing::info!(%peer, %addr, "verified a peer as a node: it accepted a connection");
            self.admit(swarm, peer, vec![addr]);
        }
    }

    /// A connection closed; `remaining` are still open to `peer`.
    pub fn on_closed(&mut self, peer: PeerId, id: ConnectionId, remaining: u32) {
        self.dialed.remove(&id);
        self.verifying.remove(&id);
        if remaining > 0 {
            return;
        }
        if self.nodes.remove(&peer).is_some() {
            tracing::info!(%peer, "a peer node disconnected");
        }
        if let Some(c) = self.configured.iter_mut().find(|c| c.peer == peer) {
            schedule(c, "disconnected");
        }
    }

    /// A dial failed.
    pub fn on_dial_error(&mut self, peer: Option<PeerId>, id: ConnectionId, error: &DialError) {
        self.dialed.remove(&id);
        if let Some(claimed) = self.verifying.remove(&id) {
            tracing::info!(peer = %claimed, %error, "a peer that claims to be a node did not accept a connection; not a DHT server");
        }
        let Some(peer) = peer else { return };
        if matches!(error, DialError::DialPeerConditionFalse(_)) {
            return;
        }
        if let Some(c) = self.configured.iter_mut().find(|c| c.peer == peer) {
            if c.due.is_none() && !self.nodes.contains_key(&peer) {
                schedule(c, &error.to_string());
            }
        }
    }

    /// A peer said what it speaks and where it listens.
    pub fn on_identify(&mut self, swarm: &mut Swarm<Behaviour>, event: identify::Event) {
        let identify::Event::Received {
            connection_id,
            peer_id,
            info,
        } = event
        else {
            return;
        };
        if !info.protocols.contains(&KAD_PROTOCOL) {
            return;
        }
        let addrs: Vec<Multiaddr> = info
            .listen_addrs
            .iter()
            .map(without_peer)
            .filter(|a| crate::net::check_node_addr(a, false).is_ok())
            .take(MAX_NODE_ADDRS)
            .collect();
        let trusted = self.nodes.contains_key(&peer_id)
            || self.configured.iter().any(|c| c.peer == peer_id)
            || self.dialed.contains(&connection_id);
        if trusted {
            self.admit(swarm, peer_id, addrs);
            return;
        }
        let tcp: Vec<Multiaddr> = addrs.into_iter().filter(is_plain_tcp).collect();
        if tcp.is_empty() || self.verifying.len() >= MAX_VERIFYING {
            return;
        }
        if self.verifying.values().any(|p| *p == peer_id) {
            return;
        }
        let opts = DialOpts::peer_id(peer_id)
            .addresses(tcp)
            .condition(PeerCondition::Always)
            .build();
        let id = opts.connection_id();
        if swarm.dial(opts).is_ok() {
            self.verifying.insert(id, peer_id);
            self.dialed.insert(id);
        }
    }

    /// `peer` is a node: it joins the routing table and the directory.
    fn admit(&mut self, swarm: &mut Swarm<Behaviour>, peer: PeerId, addrs: Vec<Multiaddr>) {
        if self.nodes.len() >= MAX_NODES && !self.nodes.contains_key(&peer) {
            return;
        }
        let kad = &mut swarm.behaviour_mut().kad;
        for addr in &addrs {
            kad.add_address(&peer, addr.clone());
        }
        if !self.nodes.contains_key(&peer) {
            // The network changed: what the others know changes too.
            self.lookups.joined(Instant::now());
        }
        let entry = self.nodes.entry(peer).or_default();
        for addr in addrs {
            if !entry.contains(&addr) && entry.len() < MAX_NODE_ADDRS {
                entry.push(addr);
            }
        }
    }

    /// True when `peer` is a member node connected now.
    pub fn is_node(&self, peer: &PeerId) -> bool {
        self.nodes.contains_key(peer)
    }

    /// The nodes connected now, for `/bootstrap.json`.
    pub fn directory(&self) -> Vec<NodeEntry> {
        let mut out: Vec<NodeEntry> = self
            .nodes
            .iter()
            .map(|(peer, addrs)| NodeEntry {
                peer_id: peer.to_string(),
                addrs: addrs.iter().map(|a| a.to_string()).collect(),
            })
            .collect();
        out.sort_by(|a, b| a.peer_id.cmp(&b.peer_id));
        out
    }
}

/// Sets `c`'s next dial after its backoff, which then doubles.
fn schedule(c: &mut Configured, why: &str) {
    // A dial error spans several lines; the log keeps one line per event.
    let why = why.split_whitespace().collect::<Vec<_>>().join(" ");
    tracing::warn!(
        addr = %c.addr,
        retry_in_secs = c.backoff.as_secs(),
        "cannot reach peer node ({why}); retrying"
    );
    c.due = Some(Instant::now() + c.backoff);
    c.backoff = (c.backoff * 2).min(MAX_BACKOFF);
}

/// `addr` without a trailing `/p2p/<id>`.
fn without_peer(addr: &Multiaddr) -> Multiaddr {
    let mut addr = addr.clone();
    if matches!(addr.iter().last(), Some(Protocol::P2p(_))) {
        addr.pop();
    }
    addr
}

/// A TCP address without WebSocket or anything after.
fn is_plain_tcp(addr: &Multiaddr) -> bool {
    let parts: Vec<Protocol> = addr.iter().collect();
    parts.len() == 2 && matches!(parts[1], Protocol::Tcp(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_a_peer_id_and_knows_plain_tcp() {
        let peer = PeerId::random();
        let addr: Multiaddr = format!("/ip4/127.0.0.1/tcp/4003/p2p/{peer}")
            .parse()
            .unwrap();
        let bare = without_peer(&addr);
        assert_eq!(bare.to_string(), "/ip4/127.0.0.1/tcp/4003");
        assert!(is_plain_tcp(&bare));
        assert!(!is_plain_tcp(
            &"/ip4/127.0.0.1/tcp/4001/ws".parse().unwrap()
        ));
        assert!(!is_plain_tcp(
            &"/ip4/127.0.0.1/udp/4002/webrtc-direct".parse().unwrap()
        ));
    }

    #[test]
    fn lookups_follow_a_join_at_doubling_pauses() {
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        let mut lookups = Lookups::default();
        assert!(!lookups.take_due(at(1000)), "none before a node joined");
        lookups.joined(start);
        let fired: Vec<u64> = (0..=2000).filter(|&s| lookups.take_due(at(s))).collect();
        assert_eq!(fired[..8], [2, 6, 14, 30, 62, 126, 254, 510]);
        assert!(fired.windows(2).all(|w| w[1] - w[0] <= 300));
        lookups.joined(at(2000));
        assert!(
            lookups.take_due(at(2002)),
            "a new node brings the pause back to 2 s"
        );
    }

    #[test]
    fn backoff_doubles_to_a_ceiling() {
        let mut c = Configured {
            peer: PeerId::random(),
            addr: "/ip4/127.0.0.1/tcp/1".parse().unwrap(),
            backoff: FIRST_BACKOFF,
            due: None,
        };
        let waits: Vec<u64> = (0..9)
            .map(|_| {
                let wait = c.backoff.as_secs();
                schedule(&mut c, "test");
                wait
            })
            .collect();
        assert_eq!(waits, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert!(c.due.is_some());
    }
}
