//! The driver's side of the DHT: announcing this peer as a contributor
//! (under its bucket's key, [`contributors::key_of`]) and
//! as a holder of the files it stores shards of (one provider record per
//! file, under the file's provider key), looking up the providers of a
//! key, the values under a key (name records, GET_VALUE), and putting a
//! value on the network's nodes (a name record published from the page).
//!
//! Kademlia has no "remove provider" message: a withdrawn record lives on
//! the node until its TTL runs out (the node keeps provider records for an
//! hour; holders re-publish theirs every 20 minutes while they hold).

use std::collections::{HashMap, HashSet};

use futures::channel::oneshot;
use libp2p::kad::{self, GetProvidersOk, QueryId, QueryResult, RecordKey};
use libp2p::{identify, Multiaddr, PeerId, Swarm};

use super::node_link::NodeLink;
use crate::hash::Hash;
use crate::net::{contributors, relays, KAD_PROTOCOL};
use crate::peer::contribute;
use crate::peer::provided::Provided;
use crate::peer::swarm::Behaviour;

/// Most providers one lookup returns.
pub const MAX_PROVIDERS: usize = 32;
/// Most holders whose record relays are remembered until dialed.
const MAX_REMEMBERED_RELAYS: usize = 1024;

/// A providers lookup in flight.
struct Lookup {
    found: HashSet<PeerId>,
    reply: oneshot::Sender<Vec<Multiaddr>>,
}

/// Most values one value lookup collects (one per node that answers).
const MAX_VALUES: usize = 64;

/// A value lookup in flight: what came back so far.
struct ValueLookup {
    found: Vec<Vec<u8>>,
    reply: oneshot::Sender<Option<Vec<Vec<u8>>>>,
}

/// A value put in flight: answered once some node took it (whether it
/// kept it is its own rule), or with why none did.
type ValuePut = oneshot::Sender<Result<(), String>>;

/// What this peer announces, and the lookups in flight.
pub struct Announce {
    /// The contributed store, while contributing.
    contribution: contribute::Shared,
    /// The files this peer announces it holds shards of.
    provided: Provided,
    lookups: HashMap<QueryId, Lookup>,
    values: HashMap<QueryId, ValueLookup>,
    puts: HashMap<QueryId, ValuePut>,
    /// The relays each found holder's record names ([`relays::relays`]),
    /// until a dial takes them.
    relays: HashMap<PeerId, Vec<Multiaddr>>,
}

impl Announce {
    /// Loads the files an earlier page announced.
    pub fn new(contribution: contribute::Shared) -> Self {
        Self {
            contribution,
            provided: Provided::load(),
            lookups: HashMap::new(),
            values: HashMap::new(),
            puts: HashMap::new(),
            relays: HashMap::new(),
        }
    }

    /// Publishes (or withdraws) this peer as a contributor and as a holder
    /// of the files it announced; `forget` drops those files for good (the
    /// contributed data is gone).
    pub fn announce(&mut self, swarm: &mut Swarm<Behaviour>, forget: bool) {
        let contributing = self.contribution.borrow().is_some();
        let mut keys = vec![contributors::key_of(swarm.local_peer_id())];
        keys.extend(self.provided.keys().map(|k| RecordKey::new(&k.0)));
        if forget {
            self.provided.clear();
        }
        let kad = &mut swarm.behaviour_mut().kad;
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

    /// A relay reservation was confirmed (or another external address):
    /// records carry the addresses of their publication, so a contributor
    /// publishes again and fetchers learn the new circuit.
    pub fn on_external_addr(&mut self, swarm: &mut Swarm<Behaviour>) {
        if self.contribution.borrow().is_some() {
            self.announce(swarm, false);
        }
    }

    /// Another peer stored shards of a file here: announce this peer as
    /// one of its holders. `Err` when not contributing.
    pub fn provide(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        node: &NodeLink,
        key: Hash,
    ) -> Result<(), &'static str> {
        if self.contribution.borrow().is_none() {
            return Err("not storing for others");
        }
        if self.provided.add(key) && node.is_connected(swarm) {
            let kad = &mut swarm.behaviour_mut().kad;
            if let Err(e) = kad.start_providing(RecordKey::new(&key.0)) {
                tracing::warn!(error = %e, "cannot announce a file in the DHT");
            }
        }
        Ok(())
    }

    /// A peer told us what it is: a DHT node's addresses go to Kademlia.
    pub fn on_identify(&mut self, swarm: &mut Swarm<Behaviour>, event: identify::Event) {
        let identify::Event::Received { peer_id, info, .. } = event else {
            return;
        };
        if info.protocols.contains(&KAD_PROTOCOL) {
            for addr in info.listen_addrs {
                swarm.behaviour_mut().kad.add_address(&peer_id, addr);
            }
            // A (re)connected DHT node: (re)announce what we offer.
            if self.contribution.borrow().is_some() {
                self.announce(swarm, false);
            }
        }
    }

    /// Starts looking up the providers of `key`; answers with their
    /// `/webrtc` addresses through our node.
    pub fn find_providers(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        node: &NodeLink,
        key: RecordKey,
        reply: oneshot::Sender<Vec<Multiaddr>>,
    ) {
        if !node.is_connected(swarm) {
            let _ = reply.send(Vec::new());
            return;
        }
        let id = swarm.behaviour_mut().kad.get_providers(key);
        self.lookups.insert(
            id,
            Lookup {
                found: HashSet::new(),
                reply,
            },
        );
    }

    /// Starts looking up every value the DHT holds under `key`; answers
    /// `None` while the node is not connected.
    pub fn find_values(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        node: &NodeLink,
        key: RecordKey,
        reply: oneshot::Sender<Option<Vec<Vec<u8>>>>,
    ) {
        if !node.is_connected(swarm) {
            let _ = reply.send(None);
            return;
        }
        let id = swarm.behaviour_mut().kad.get_record(key);
        self.values.insert(
            id,
            ValueLookup {
                found: Vec::new(),
                reply,
            },
        );
    }

    /// Puts `value` under `key` on our node and every other node of the
    /// directory (PUT_VALUE): each node checks it by its own rules (a name
    /// record: signature, size, sequence) and keeps it or not; the caller
    /// reads it back to know.
    pub fn put_value(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        node: &NodeLink,
        key: RecordKey,
        value: Vec<u8>,
        reply: ValuePut,
    ) {
        let Some(ours) = node.peer().filter(|_| node.is_connected(swarm)) else {
            let _ = reply.send(Err("no node is connected".into()));
            return;
        };
        let others = node.other_nodes();
        let mut nodes: Vec<PeerId> = others.iter().filter_map(crate::net::addr_peer).collect();
        nodes.insert(0, ours);
        nodes.dedup();
        let record = kad::Record {
            key,
            value,
            publisher: None,
            // Each node keeps it as its own rules say.
            expires: None,
        };
        let kad = &mut swarm.behaviour_mut().kad;
        let id = kad.put_record_to(record, nodes.into_iter(), kad::Quorum::One);
        self.puts.insert(id, reply);
    }

    /// Kademlia progress: provider and value lookups are waited for.
    pub fn on_kad(&mut self, swarm: &mut Swarm<Behaviour>, node: &NodeLink, event: kad::Event) {
        if let kad::Event::OutboundQueryProgressed {
            id, result, step, ..
        } = event
        {
            self.on_query(swarm, node, id, result, step.last);
        }
    }

    fn on_query(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        node: &NodeLink,
        id: QueryId,
        result: QueryResult,
        last: bool,
    ) {
        let result = match result {
            QueryResult::GetProviders(result) => result,
            QueryResult::GetRecord(result) => return self.on_values(swarm, id, result, last),
            QueryResult::PutRecord(result) => {
                if let Some(reply) = self.puts.remove(&id) {
                    let _ = reply.send(match result {
                        Ok(_) => Ok(()),
                        Err(e) => Err(e.to_string()),
                    });
                }
                return;
            }
            _ => return,
        };
        // The first server that knows providers answers the lookup: a get
        // draws on holders from its second window on, so a quick partial
        // list beats a complete late one.
        let finished = match result {
            Ok(GetProvidersOk::FoundProviders { providers, .. }) => {
                self.remember_relays(swarm, &providers);
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
        if let Some(mut query) = swarm.behaviour_mut().kad.query_mut(&id) {
            query.finish();
        }
        let Some(lookup) = self.lookups.remove(&id) else {
            return;
        };
        let me = *swarm.local_peer_id();
        // Room for `me` and our node, which are left out.
        let addrs = node.addrs_of(me, lookup.found.into_iter().take(MAX_PROVIDERS + 2));
        let _ = lookup
            .reply
            .send(addrs.into_iter().take(MAX_PROVIDERS).collect());
    }

    /// A value lookup's progress: every value found is kept (the caller
    /// picks the newest valid one) until the lookup ends.
    fn on_values(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        id: QueryId,
        result: Result<kad::GetRecordOk, kad::GetRecordError>,
        last: bool,
    ) {
        let Some(lookup) = self.values.get_mut(&id) else {
            return;
        };
        if let Ok(kad::GetRecordOk::FoundRecord(found)) = result {
            lookup.found.push(found.record.value);
        }
        if !last && lookup.found.len() < MAX_VALUES {
            return;
        }
        if let Some(mut query) = swarm.behaviour_mut().kad.query_mut(&id) {
            query.finish();
        }
        if let Some(lookup) = self.values.remove(&id) {
            let _ = lookup.reply.send(Some(lookup.found));
        }
    }

    /// Keeps the relays the records of `providers` name, read while their
    /// lookup still runs (see [`relays`]).
    fn remember_relays(&mut self, swarm: &mut Swarm<Behaviour>, providers: &HashSet<PeerId>) {
        for peer in providers {
            let addrs = relays::record_addrs(&mut swarm.behaviour_mut().kad, *peer);
            let named = relays::relays(peer, &addrs);
            if named.is_empty() {
                continue;
            }
            if self.relays.len() >= MAX_REMEMBERED_RELAYS {
                self.relays.clear();
            }
            self.relays.insert(*peer, named);
        }
    }

    /// The relays `peer`'s record named, once: a later dial (after this one
    /// failed, say, because the record is stale) tries every node instead.
    pub fn take_relays(&mut self, peer: &PeerId) -> Vec<Multiaddr> {
        self.relays.remove(peer).unwrap_or_default()
    }
}
