//! The open connections, which the status lists, and the upgrade of
//! connections to other browsers from relayed to direct ([`Direct`]): it
//! needs to know which connections to a peer are relayed, to retire them,
//! and whether a direct one is up already.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use futures::channel::oneshot;
use libp2p::core::ConnectedPoint;
use libp2p::swarm::{ConnectionError, ConnectionId, DialError};
use libp2p::{Multiaddr, PeerId, Swarm};

use super::direct::Direct;
use crate::net::{PeerConnection, TransportKind};
use crate::peer::status::{self, ConnectionInfo, Status};
use crate::peer::swarm::Behaviour;

/// Every open connection, and the direct connections being set up.
pub struct Connections {
    open: HashMap<ConnectionId, ConnectionInfo>,
    direct: Direct,
    status: Rc<RefCell<Status>>,
    /// Why WebRTC dials failed, recorded by the transport.
    dial_failures: crate::webrtc::DialFailures,
}

impl Connections {
    pub fn new(
        status: Rc<RefCell<Status>>,
        dial_failures: crate::webrtc::DialFailures,
        paths: crate::webrtc::Paths,
    ) -> Self {
        Self {
            open: HashMap::new(),
            direct: Direct::new(paths),
            status,
            dial_failures,
        }
    }

    /// Records a new connection (the status shows it on [`Self::publish`]);
    /// returns it as listed, and its transport.
    pub fn insert(
        &mut self,
        peer: PeerId,
        id: ConnectionId,
        endpoint: &ConnectedPoint,
    ) -> (ConnectionInfo, TransportKind) {
        let addr = endpoint.get_remote_address().clone();
        let kind = TransportKind::of_endpoint(endpoint);
        let relayed = kind == TransportKind::Relay;
        let info = ConnectionInfo {
            connection: PeerConnection {
                peer_id: peer.to_string(),
                transport: kind.as_str().to_owned(),
                addr: addr.to_string(),
            },
            path: if relayed { "relayed" } else { "direct" },
        };
        self.open.insert(id, info.clone());
        (info, kind)
    }

    /// A connection to another browser is up, over `kind`: the next step
    /// of its upgrade, if one is under way.
    pub fn upgrade(&mut self, swarm: &mut Swarm<Behaviour>, peer: PeerId, kind: TransportKind) {
        let relayed = relayed_to(&self.open, &peer);
        let direct = kind == TransportKind::WebRtc;
        // For a relayed connection: whether a direct one is up already.
        let direct_exists = direct_to(&self.open, &peer);
        self.direct
            .on_established(swarm, peer, direct, direct_exists, &relayed);
    }

    /// Shows the open connections in the status.
    pub fn publish(&self) {
        let mut list: Vec<ConnectionInfo> = self.open.values().cloned().collect();
        list.sort_by(|a, b| a.connection.addr.cmp(&b.connection.addr));
        status::update(&self.status, |s| s.connections = list);
    }

    /// A connection closed: the status drops it; a `cause` is logged.
    pub fn on_closed(&mut self, peer: PeerId, id: ConnectionId, cause: Option<&ConnectionError>) {
        let path = self.open.remove(&id);
        self.publish();
        if let Some(cause) = cause {
            let path = path.map_or("unknown", |c| c.path);
            tracing::warn!(%peer, path, %cause, "connection lost");
        }
    }

    /// A dial failed: an upgrade to `peer` may go on over the relayed
    /// connection, or fail.
    pub fn on_dial_error(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        peer: Option<PeerId>,
        error: &DialError,
    ) {
        if let Some(peer) = peer {
            let failure = self.dial_failures.take(&peer);
            self.direct
                .on_dial_error(swarm, peer, error.to_string(), failure);
        }
    }

    /// Starts a direct connection to `addr` (`Command::Connect`), whose
    /// relayed circuit may go through any of `relays` too.
    pub fn connect(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        addr: Multiaddr,
        relays: &[Multiaddr],
        reply: oneshot::Sender<Result<(), String>>,
    ) {
        let open = &self.open;
        let has_direct = |peer: &PeerId| direct_to(open, peer);
        self.direct.connect(swarm, addr, relays, has_direct, reply);
    }

    /// Fails the direct-connection setups that got stuck.
    pub fn expire(&mut self) {
        self.direct.expire();
    }
}

/// Whether a direct connection to `peer` is among `open`.
fn direct_to(open: &HashMap<ConnectionId, ConnectionInfo>, peer: &PeerId) -> bool {
    let peer = peer.to_string();
    open.values()
        .any(|c| c.path == "direct" && c.connection.peer_id == peer)
}

/// The relayed connections to `peer` among `open`.
fn relayed_to(open: &HashMap<ConnectionId, ConnectionInfo>, peer: &PeerId) -> Vec<ConnectionId> {
    let peer = peer.to_string();
    open.iter()
        .filter(|(_, c)| c.path == "relayed" && c.connection.peer_id == peer)
        .map(|(id, _)| *id)
        .collect()
}
