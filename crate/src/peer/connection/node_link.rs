//! The link to the node: fetch the bootstrap document, dial the node, hold
//! a relay reservation on it, and retry with backoff when it goes away.
//! The status shows the link as `node`. The document also lists the other
//! nodes of the network (the directory), which hold shards too: they are
//! dialed over WebSocket when a put or a get needs them.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use futures::future::{Fuse, FutureExt, LocalBoxFuture};
use libp2p::core::transport::ListenerId;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionError, DialError};
use libp2p::{Multiaddr, PeerId, Swarm};

use super::reservation::{Ended, Reservation};
use crate::net::Bootstrap;
use crate::peer::bootstrap;
use crate::peer::status::{self, ConnectionInfo, Status};
use crate::peer::swarm::Behaviour;
use crate::webrtc::session::IceServers;

/// First retry delay; doubles per failure up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(500);
/// Longest wait between attempts: a restarted node is found within seconds.
const MAX_BACKOFF: Duration = Duration::from_secs(4);

/// A bootstrap document being fetched.
pub type Fetch = Fuse<LocalBoxFuture<'static, Result<Bootstrap, String>>>;
/// The wait before the next attempt.
pub type Retry = Fuse<LocalBoxFuture<'static, ()>>;

/// The node this peer keeps a link to, and how the link is doing.
pub struct NodeLink {
    bootstrap_url: String,
    status: Rc<RefCell<Status>>,
    /// The node the last bootstrap document named, and the address dialed.
    node: Option<(PeerId, Multiaddr)>,
    /// Failed attempts since the node was last connected: the backoff.
    failures: u32,
    /// STUN servers for WebRTC sessions, from the bootstrap document.
    ice_servers: IceServers,
    /// The network's other nodes, from the bootstrap document.
    others: Vec<(PeerId, Multiaddr)>,
    /// The reservation on our node, through which other browsers reach us.
    home: Reservation,
    /// The second reservation, on one other node, so losing our node
    /// does not make this peer unreachable.
    backup: Reservation,
}

impl NodeLink {
    pub fn new(
        bootstrap_url: String,
        status: Rc<RefCell<Status>>,
        ice_servers: IceServers,
    ) -> Self {
        Self {
            bootstrap_url,
            status,
            node: None,
            failures: 0,
            ice_servers,
            others: Vec::new(),
            home: Reservation::default(),
            backup: Reservation::default(),
        }
    }

    /// The node's peer id, once a bootstrap document named one.
    pub fn peer(&self) -> Option<PeerId> {
        self.node.as_ref().map(|(p, _)| *p)
    }

    /// Whether `peer` is the node.
    pub fn is(&self, peer: &PeerId) -> bool {
        self.node.as_ref().is_some_and(|(p, _)| p == peer)
    }

    pub fn is_connected(&self, swarm: &Swarm<Behaviour>) -> bool {
        self.node
            .as_ref()
            .is_some_and(|(p, _)| swarm.is_connected(p))
    }

    /// Whether `peer` is one of the network's other nodes.
    pub fn is_other_node(&self, peer: &PeerId) -> bool {
        self.others.iter().any(|(p, _)| p == peer)
    }

    /// The other node this peer holds its second reservation on: the first
    /// in the rendezvous order for its own peer id, so peers spread evenly
    /// over the nodes.
    fn backup_node(&self, me: PeerId) -> Option<&(PeerId, Multiaddr)> {
        let key = crate::hash::Hash::of(&me.to_bytes());
        let peers: Vec<PeerId> = self.others.iter().map(|(p, _)| *p).collect();
        let first = *crate::transfer::rotation::rank_nodes(&key, &peers).first()?;
        self.others.iter().find(|(p, _)| *p == first)
    }

    /// Dials the backup node; its reservation follows once connected
    /// ([`Self::on_other_node_connected`]).
    fn dial_backup(&mut self, swarm: &mut Swarm<Behaviour>) {
        if self.backup.is_open() {
            return;
        }
        let Some((peer, addr)) = self.backup_node(*swarm.local_peer_id()).cloned() else {
            return;
        };
        if swarm.is_connected(&peer) {
            self.reserve_backup_on(swarm, peer);
            return;
        }
        let opts = DialOpts::peer_id(peer)
            .addresses(vec![addr])
            .condition(PeerCondition::DisconnectedAndNotDialing)
            .build();
        if let Err(e) = swarm.dial(opts) {
            tracing::debug!(error = %e, "not dialing the backup node now");
        }
    }

    /// Another node is connected: if it is the backup, reserve on it.
    pub fn on_other_node_connected(&mut self, swarm: &mut Swarm<Behaviour>, peer: PeerId) {
        self.reserve_backup_on(swarm, peer);
    }

    fn reserve_backup_on(&mut self, swarm: &mut Swarm<Behaviour>, peer: PeerId) {
        let Some((backup, addr)) = self.backup_node(*swarm.local_peer_id()).cloned() else {
            return;
        };
        if backup == peer {
            self.backup.make(swarm, &addr);
        }
    }

    /// The last connection to another node closed: if it carried the
    /// second reservation (already closed), redial it.
    pub fn on_other_node_lost(&mut self, swarm: &mut Swarm<Behaviour>, peer: PeerId) {
        let me = *swarm.local_peer_id();
        let is_backup = self.backup_node(me).is_some_and(|(p, _)| *p == peer);
        if is_backup && !self.backup.is_open() {
            self.dial_backup(swarm);
        }
    }

    /// A listener has an address: a reservation was accepted.
    pub fn on_listen_addr(&mut self, id: ListenerId) {
        self.home.on_listen_addr(id);
        self.backup.on_listen_addr(id);
    }

    /// A listener closed: if it was a reservation, it is made again (see
    /// [`Reservation`]). The backup node is redialed when its connection
    /// is gone; our node, by the link's own retry.
    pub fn on_listener_closed(&mut self, swarm: &mut Swarm<Behaviour>, id: ListenerId) {
        if self.home.on_closed(id) == Some(Ended::AfterAccepted) && self.is_connected(swarm) {
            if let Some((peer, addr)) = self.node.clone() {
                tracing::info!(%peer, "the reservation on our node ended; asking again");
                self.home.make(swarm, &addr);
            }
        }
        let Some(ended) = self.backup.on_closed(id) else {
            return;
        };
        let me = *swarm.local_peer_id();
        let Some((peer, _)) = self.backup_node(me).cloned() else {
            return;
        };
        if !swarm.is_connected(&peer) {
            self.dial_backup(swarm);
        } else if ended == Ended::AfterAccepted {
            tracing::info!(%peer, "the second reservation ended; asking again");
            self.reserve_backup_on(swarm, peer);
        }
    }

    /// The other nodes' WebSocket addresses.
    pub fn other_nodes(&self) -> Vec<Multiaddr> {
        self.others.iter().map(|(_, a)| a.clone()).collect()
    }

    /// The other nodes connected now: the relays a circuit may go through
    /// besides our node's (one not connected would be dialed by the relay
    /// client, racing our own dial to it).
    fn connected_other_nodes(&self, swarm: &Swarm<Behaviour>) -> Vec<Multiaddr> {
        self.others
            .iter()
            .filter(|(p, _)| swarm.is_connected(p))
            .map(|(_, a)| a.clone())
            .collect()
    }

    /// The relays a circuit to a browser goes through besides our node's:
    /// those its provider record `named` (the nodes it holds reservations
    /// on, see [`crate::net::relays`]), else every other node connected
    /// now. A named node we know but are not connected to is left to our
    /// own dials to it; if that leaves nothing, every connected node is
    /// tried after all.
    pub fn relays_for(&self, swarm: &Swarm<Behaviour>, named: Vec<Multiaddr>) -> Vec<Multiaddr> {
        let names_ours = named
            .iter()
            .any(|r| crate::net::addr_peer(r).is_some_and(|p| self.is(&p)));
        let usable: Vec<Multiaddr> = named
            .into_iter()
            .filter(|r| match crate::net::addr_peer(r) {
                Some(p) if self.is(&p) => false,
                Some(p) if self.is_other_node(&p) => swarm.is_connected(&p),
                Some(_) => true,
                None => false,
            })
            .collect();
        if usable.is_empty() && !names_ours {
            self.connected_other_nodes(swarm)
        } else {
            usable
        }
    }

    /// How to reach each of `peers`, leaving out `me` and our own node:
    /// another node at its WebSocket address, a browser at its `/webrtc`
    /// address through our node (the relay both sides use). None without
    /// a node.
    pub fn addrs_of(&self, me: PeerId, peers: impl IntoIterator<Item = PeerId>) -> Vec<Multiaddr> {
        let Some((node, node_addr)) = &self.node else {
            return Vec::new();
        };
        peers
            .into_iter()
            .filter(|p| p != &me && p != node)
            .map(|peer| match self.others.iter().find(|(p, _)| *p == peer) {
                Some((_, addr)) => addr.clone(),
                None => node_addr
                    .clone()
                    .with(Protocol::P2pCircuit)
                    .with(Protocol::WebRTC)
                    .with(Protocol::P2p(peer)),
            })
            .collect()
    }

    pub fn fetch_bootstrap(&self) -> Fetch {
        let url = self.bootstrap_url.clone();
        status::update(&self.status, |s| {
            s.node.state = "connecting";
            s.node.retry_in_ms = None;
        });
        async move { bootstrap::fetch(&url).await }
            .boxed_local()
            .fuse()
    }

    /// Dials the node `doc` names, and takes its STUN servers.
    pub fn dial(&mut self, swarm: &mut Swarm<Behaviour>, doc: &Bootstrap) -> Result<(), String> {
        self.ice_servers.set(bootstrap::stun_servers(doc));
        let addr = bootstrap::pick_address(doc).ok_or_else(|| bootstrap::no_address(doc))?;
        let peer: PeerId = doc
            .peer_id
            .parse()
            .map_err(|_| format!("invalid node peer id {:?}", doc.peer_id))?;
        self.node = Some((peer, addr.clone()));
        self.others = bootstrap::other_nodes(doc, peer);
        let others = self.others.len();
        status::update(&self.status, |s| {
            s.node.other_nodes = others;
            s.node.repair_threshold = doc.repair_threshold;
            s.node.lease_secs = doc.lease_secs;
        });
        swarm
            .dial(addr.clone())
            .map_err(|e| format!("cannot dial {addr}: {e}"))
    }

    /// An attempt failed with `error`: shows it, and waits to try again.
    pub fn retry_after(&mut self, error: String) -> Retry {
        self.set_unreachable(error);
        self.schedule_retry()
    }

    pub fn schedule_retry(&mut self) -> Retry {
        let delay = backoff(self.failures);
        self.failures = self.failures.saturating_add(1);
        let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        status::update(&self.status, |s| s.node.retry_in_ms = Some(millis));
        crate::platform::sleep(delay).boxed_local().fuse()
    }

    fn set_unreachable(&self, error: String) {
        tracing::warn!(%error, "node unreachable");
        status::update(&self.status, |s| {
            s.node.state = "unreachable";
            s.node.error = Some(error);
        });
    }

    /// A connection to the node is up (`info`, as the status lists it).
    pub fn on_connected(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        peer: PeerId,
        info: &ConnectionInfo,
    ) {
        self.failures = 0;
        // The node is our DHT entry point from the first moment, not only
        // once identify has run: lookups made right after start need it.
        if let Some((_, addr)) = &self.node {
            swarm.behaviour_mut().kad.add_address(&peer, addr.clone());
        }
        status::update(&self.status, |s| {
            s.node.state = "connected";
            s.node.peer_id = Some(peer.to_string());
            s.node.transport = Some(info.connection.transport.clone());
            s.node.addr = Some(info.connection.addr.clone());
            s.node.error = None;
            s.node.retry_in_ms = None;
        });
        // Hold a reservation so other browsers can reach us through the node.
        if let Some((_, addr)) = self.node.clone() {
            self.home.make(swarm, &addr);
        }
        self.dial_backup(swarm);
    }

    /// A connection to `peer` closed, `remaining` left; true when that was
    /// the node's last one (the link is lost).
    pub fn on_closed(&self, peer: PeerId, remaining: u32, cause: Option<&ConnectionError>) -> bool {
        let node_lost = remaining == 0 && self.is(&peer);
        if node_lost {
            let reason = cause.map_or("closed".to_owned(), |c| c.to_string());
            self.set_unreachable(format!("connection to the node lost: {reason}"));
        }
        node_lost
    }

    /// A dial failed; true when it was to the node and no connection to
    /// it is left (the link is lost).
    pub fn on_dial_error(
        &self,
        swarm: &Swarm<Behaviour>,
        peer: Option<PeerId>,
        error: &DialError,
    ) -> bool {
        let is_node = peer.is_some_and(|p| self.is(&p));
        if is_node && !self.is_connected(swarm) {
            self.set_unreachable(format!("cannot connect to the node: {error}"));
            return true;
        }
        false
    }
}

/// The wait before the next attempt after `failures` failed ones.
fn backoff(failures: u32) -> Duration {
    MIN_BACKOFF
        .saturating_mul(1 << failures.min(8))
        .min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn backoff_doubles_up_to_the_cap() {
        let ms = |failures| backoff(failures).as_millis();
        assert_eq!(ms(0), 500);
        assert_eq!(ms(1), 1000);
        assert_eq!(ms(2), 2000);
        assert_eq!(ms(3), 4000);
        assert_eq!(ms(4), 4000);
        assert_eq!(ms(u32::MAX), 4000);
    }
}
