//! The driver's side of the DHT: announcing this peer as a contributor and
//! as a holder of the files it stores shards of (one provider record per
//! file, under the file's provider key), and looking up the providers of a
//! key.
//!
//! Kademlia has no "remove provider" message: a withdrawn record lives on
//! the node until its TTL runs out (the node keeps provider records for an
//! hour; holders re-publish theirs every 20 minutes while they hold).

use std::collections::HashSet;

use futures::channel::oneshot;
use libp2p::kad::{GetProvidersOk, QueryId, QueryResult, RecordKey};
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};

use super::Driver;
use crate::hash::Hash;

/// Most providers one lookup returns.
pub const MAX_CONTRIBUTORS: usize = 32;

/// The DHT key every contributing browser provides.
pub fn contributors_key() -> RecordKey {
    RecordKey::new(&"/meganet/contributors/1")
}

/// A providers lookup in flight.
pub struct Lookup {
    found: HashSet<PeerId>,
    reply: oneshot::Sender<Vec<Multiaddr>>,
}

impl Driver {
    /// Publishes (or withdraws) this peer as a contributor and as a holder
    /// of the files it announced; `forget` drops those files for good (the
    /// contributed data is gone).
    pub(super) fn announce(&mut self, forget: bool) {
        let contributing = self.contribution.borrow().is_some();
        let mut keys = vec![contributors_key()];
        keys.extend(self.provided.keys().map(|k| RecordKey::new(&k.0)));
        if forget {
            self.provided.clear();
        }
        let kad = &mut self.swarm.behaviour_mut().kad;
        for key in keys {
            if contributing && !forget {
                if let Err(e) = kad.start_providing(key) {
                    tracing::warn!(error = %e, "cannot announce in the DHT");
                }
            } else {
                kad.stop_providing(&key);
            }
        }
    }

    /// Another peer stored shards of a file here: announce this peer as
    /// one of its holders. `Err` when not contributing.
    pub(super) fn provide(&mut self, key: Hash) -> Result<(), &'static str> {
        if self.contribution.borrow().is_none() {
            return Err("not storing for others");
        }
        if self.provided.add(key) && self.is_connected_to_node() {
            let kad = &mut self.swarm.behaviour_mut().kad;
            if let Err(e) = kad.start_providing(RecordKey::new(&key.0)) {
                tracing::warn!(error = %e, "cannot announce a file in the DHT");
            }
        }
        Ok(())
    }

    /// The `/webrtc` addresses of `peers` through our node (the relay both
    /// sides use); none without a node.
    pub(super) fn relayed_addrs(&self, peers: impl IntoIterator<Item = PeerId>) -> Vec<Multiaddr> {
        let me = *self.swarm.local_peer_id();
        let Some((_, node_addr)) = &self.node else {
            return Vec::new();
        };
        peers
            .into_iter()
            .filter(|p| *p != me)
            .map(|peer| {
                node_addr
                    .clone()
                    .with(Protocol::P2pCircuit)
                    .with(Protocol::WebRTC)
                    .with(Protocol::P2p(peer))
            })
            .collect()
    }

    /// Starts looking up the providers of `key`; answers with their
    /// `/webrtc` addresses through our node.
    pub(super) fn find_providers(
        &mut self,
        key: RecordKey,
        reply: oneshot::Sender<Vec<Multiaddr>>,
    ) {
        if !self.is_connected_to_node() {
            let _ = reply.send(Vec::new());
            return;
        }
        let id = self.swarm.behaviour_mut().kad.get_providers(key);
        self.lookups.insert(
            id,
            Lookup {
                found: HashSet::new(),
                reply,
            },
        );
    }

    pub(super) fn on_kad_query(&mut self, id: QueryId, result: QueryResult, last: bool) {
        let QueryResult::GetProviders(result) = result else {
            return;
        };
        // The first server that knows providers answers the lookup: a get
        // draws on holders from its second window on, so a quick partial
        // list beats a complete late one.
        let finished = match result {
            Ok(GetProvidersOk::FoundProviders { providers, .. }) => {
                if let Some(lookup) = self.lookups.get_mut(&id) {
                    lookup.found.extend(providers);
                }
                last || self.lookups.get(&id).is_some_and(|l| !l.found.is_empty())
            }
            Ok(GetProvidersOk::FinishedWithNoAdditionalRecord { .. }) | Err(_) => true,
        };
        if !finished {
            return;
        }
        if let Some(mut query) = self.swarm.behaviour_mut().kad.query_mut(&id) {
            query.finish();
        }
        let Some(lookup) = self.lookups.remove(&id) else {
            return;
        };
        let addrs = self.relayed_addrs(lookup.found.into_iter().take(MAX_CONTRIBUTORS + 1));
        let _ = lookup
            .reply
            .send(addrs.into_iter().take(MAX_CONTRIBUTORS).collect());
    }
}
