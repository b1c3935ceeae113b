//! Where a holder can be reached: the relays its provider record names.
//!
//! A browser holds relay reservations on its own node and on one other
//! (`peer/connection/node_link.rs`); the relay client confirms each
//! reservation's circuit address, `<node addr>/p2p/<node>/p2p-circuit`, as
//! an external address, and Kademlia puts a peer's external addresses into
//! every provider record it publishes. A fetcher reads them back from its
//! lookup and dials the holder through exactly those nodes, including ones
//! it has never met, instead of trying every node it knows.
//!
//! libp2p-kad hands the addresses of a lookup's providers to the swarm only
//! while the lookup runs, when the swarm asks how to dial one of them
//! ([`record_addrs`] asks the same way), so they are read as each batch of
//! providers arrives.
//!
//! Records come from anyone: an address that is not a node's direct
//! address followed by `/p2p-circuit` is ignored, and at most
//! [`MAX_RECORD_RELAYS`] are taken from one record.

use libp2p::core::Endpoint;
use libp2p::kad::{self, store::RecordStore};
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{ConnectionId, NetworkBehaviour};
use libp2p::{Multiaddr, PeerId};

/// Most relays taken from one holder's record: a browser holds two
/// reservations.
pub const MAX_RECORD_RELAYS: usize = 2;

/// The relays `holder`'s record addresses name, each as the node's address
/// ending in `/p2p/<node>` (what a circuit is dialed through): only
/// addresses of the form `<node addr>/p2p/<node>/p2p-circuit` (or with
/// `/p2p/<holder>` after it) count, never through the holder itself,
/// without duplicates, at most [`MAX_RECORD_RELAYS`].
pub fn relays(holder: &PeerId, addrs: &[Multiaddr]) -> Vec<Multiaddr> {
    let mut relays: Vec<Multiaddr> = Vec::new();
    for addr in addrs {
        let Some(relay) = relay_of(holder, addr) else {
            continue;
        };
        if !relays.contains(&relay) {
            relays.push(relay);
        }
        if relays.len() == MAX_RECORD_RELAYS {
            break;
        }
    }
    relays
}

/// The relay of one circuit address, if it is one.
fn relay_of(holder: &PeerId, addr: &Multiaddr) -> Option<Multiaddr> {
    let mut parts: Vec<Protocol> = addr.iter().collect();
    if parts.last() == Some(&Protocol::P2p(*holder)) {
        parts.pop();
    }
    if parts.pop() != Some(Protocol::P2pCircuit) {
        return None;
    }
    let relay: Multiaddr = parts.into_iter().collect();
    let node = super::addr_peer(&relay)?;
    if node == *holder || super::check_node_addr(&relay, true).is_err() {
        return None;
    }
    Some(relay)
}

/// The addresses `peer`'s provider records gave, while a lookup that found
/// it is still running (empty once it ended). Read as the swarm does before
/// dialing a peer it has no address for.
pub fn record_addrs<S: RecordStore + Send + 'static>(
    kad: &mut kad::Behaviour<S>,
    peer: PeerId,
) -> Vec<Multiaddr> {
    kad.handle_pending_outbound_connection(
        ConnectionId::new_unchecked(0),
        Some(peer),
        &[],
        Endpoint::Dialer,
    )
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> (PeerId, Multiaddr) {
        let id = PeerId::random();
        let addr = format!("/ip4/127.0.0.1/tcp/4003/ws/p2p/{id}")
            .parse()
            .unwrap();
        (id, addr)
    }

    fn circuit(relay: &Multiaddr) -> Multiaddr {
        relay.clone().with(Protocol::P2pCircuit)
    }

    #[test]
    fn a_browsers_two_circuit_addresses_name_its_two_nodes() {
        let holder = PeerId::random();
        let ((_, a), (_, b)) = (node(), node());
        let with_holder = circuit(&b).with(Protocol::P2p(holder));
        assert_eq!(relays(&holder, &[circuit(&a), with_holder]), vec![a, b]);
    }

    #[test]
    fn direct_addresses_and_hostile_ones_are_ignored() {
        let holder = PeerId::random();
        let (_, a) = node();
        let stranger = PeerId::random();
        let addrs: Vec<Multiaddr> = [
            "/ip4/127.0.0.1/tcp/4001".to_string(),
            // No relay peer id.
            "/ip4/127.0.0.1/tcp/4003/ws/p2p-circuit".to_string(),
            // Through the holder itself.
            format!("/ip4/127.0.0.1/tcp/4003/p2p/{holder}/p2p-circuit"),
            // A circuit through a circuit.
            format!("{a}/p2p-circuit/p2p/{stranger}/p2p-circuit"),
            // Ends in someone else's id.
            format!("{a}/p2p-circuit/p2p/{stranger}"),
            // No host.
            format!("/p2p/{stranger}/p2p-circuit"),
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        assert!(relays(&holder, &addrs).is_empty(), "{addrs:?}");
    }

    #[test]
    fn a_record_names_at_most_two_relays_and_each_once() {
        let holder = PeerId::random();
        let nodes: Vec<Multiaddr> = (0..5).map(|_| node().1).collect();
        let mut addrs: Vec<Multiaddr> = nodes.iter().map(circuit).collect();
        addrs.insert(1, circuit(&nodes[0]));
        assert_eq!(relays(&holder, &addrs), nodes[..2].to_vec());
    }
}
