//! One relay reservation this peer holds on a node: its listener, and
//! whether the node accepted it. The node link holds two, on its own node
//! and on one other, and asks again for one the node accepted and later
//! ended while the connection to it stayed up (the relay dropped it, or
//! the connection that carried it closed beside another): a peer left
//! without it is unreachable there. One the node refused is not asked for
//! again until the next connection, so a refusing relay is not asked in a
//! loop; one that accepts and ends at once is held back by the relay's
//! own reservation rate limit, which refuses.

use libp2p::core::transport::ListenerId;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, Swarm};

use crate::peer::swarm::Behaviour;

/// A reservation's listener, if one is open, and whether it was accepted.
#[derive(Default)]
pub struct Reservation {
    listener: Option<ListenerId>,
    accepted: bool,
}

/// How a reservation's listener ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The node had accepted it: ask again while connected.
    AfterAccepted,
    /// It never got an address (refused, or its connection failed).
    Refused,
}

impl Reservation {
    /// Whether a listener is open (asked for, or accepted).
    pub fn is_open(&self) -> bool {
        self.listener.is_some()
    }

    /// Asks the node at `node_addr` (which must be connected, or the
    /// relay client dials it) for a reservation, unless one is open.
    pub fn make(&mut self, swarm: &mut Swarm<Behaviour>, node_addr: &Multiaddr) {
        if self.is_open() {
            return;
        }
        match swarm.listen_on(node_addr.clone().with(Protocol::P2pCircuit)) {
            Ok(id) => {
                self.listener = Some(id);
                self.accepted = false;
            }
            Err(e) => tracing::warn!(error = %e, %node_addr, "cannot reserve a relay slot"),
        }
    }

    /// A listener has an address: if it is this one, the node accepted.
    pub fn on_listen_addr(&mut self, id: ListenerId) {
        if self.listener == Some(id) {
            self.accepted = true;
        }
    }

    /// A listener closed: if it was this one, how it ended.
    pub fn on_closed(&mut self, id: ListenerId) -> Option<Ended> {
        if self.listener != Some(id) {
            return None;
        }
        self.listener = None;
        Some(if std::mem::take(&mut self.accepted) {
            Ended::AfterAccepted
        } else {
            Ended::Refused
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn open(id: ListenerId) -> Reservation {
        Reservation {
            listener: Some(id),
            accepted: false,
        }
    }

    #[wasm_bindgen_test]
    fn an_accepted_reservation_that_ends_is_told_apart_from_a_refused_one() {
        let (id, other) = (ListenerId::next(), ListenerId::next());
        let mut refused = open(id);
        assert_eq!(refused.on_closed(other), None, "another listener");
        assert!(refused.is_open());
        assert_eq!(refused.on_closed(id), Some(Ended::Refused));
        assert!(!refused.is_open());
        assert_eq!(refused.on_closed(id), None, "closed once");

        let mut accepted = open(id);
        accepted.on_listen_addr(other);
        accepted.on_listen_addr(id);
        assert_eq!(accepted.on_closed(id), Some(Ended::AfterAccepted));
    }
}
