//! Dials to the network's other nodes (the directory in the bootstrap
//! document), over WebSocket: a put places shards on them and a get asks
//! them, as it asks browsers. Each dial is answered when the connection is
//! up or the dial failed; the caller bounds the wait.

use std::collections::HashMap;

use futures::channel::oneshot;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::{Multiaddr, PeerId, Swarm};

use crate::net::MAX_NODES;
use crate::peer::swarm::Behaviour;

type Reply = oneshot::Sender<Result<(), String>>;

/// Most callers waiting for one node's dial.
const MAX_WAITING: usize = 16;

/// The dials to other nodes under way, and who waits for each.
#[derive(Default)]
pub struct NodeDials {
    pending: HashMap<PeerId, Vec<Reply>>,
}

impl NodeDials {
    /// Connects to the node `peer` at `addr`; answered at once when a
    /// connection is up already.
    pub fn dial(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        peer: PeerId,
        addr: Multiaddr,
        reply: Reply,
    ) {
        if swarm.is_connected(&peer) {
            let _ = reply.send(Ok(()));
            return;
        }
        if let Some(waiting) = self.pending.get_mut(&peer) {
            waiting.retain(|r| !r.is_canceled());
            if waiting.len() >= MAX_WAITING {
                let _ = reply.send(Err(format!("too many requests wait for node {peer}")));
            } else {
                waiting.push(reply);
            }
            return;
        }
        if self.pending.len() >= MAX_NODES {
            let _ = reply.send(Err(format!("at most {MAX_NODES} nodes are dialed at once")));
            return;
        }
        let opts = DialOpts::peer_id(peer)
            .addresses(vec![addr.clone()])
            .condition(PeerCondition::Disconnected)
            .build();
        match swarm.dial(opts) {
            Ok(()) => {
                self.pending.insert(peer, vec![reply]);
            }
            Err(e) => {
                let _ = reply.send(Err(format!("cannot dial node {addr}: {e}")));
            }
        }
    }

    /// A connection to `peer` is up: its waiters are answered.
    pub fn on_established(&mut self, peer: PeerId) {
        for reply in self.pending.remove(&peer).unwrap_or_default() {
            let _ = reply.send(Ok(()));
        }
    }

    /// A dial to `peer` failed with `error`.
    pub fn on_dial_error(&mut self, peer: Option<PeerId>, error: &str) {
        let Some(waiting) = peer.and_then(|p| self.pending.remove(&p)) else {
            return;
        };
        for reply in waiting {
            let _ = reply.send(Err(format!("cannot reach the node: {error}")));
        }
    }
}
