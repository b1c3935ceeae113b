//! The driver's side of contributing: answering other peers' block requests
//! from the contributed store (bounded concurrency), announcing this peer as
//! a contributor in the DHT, and finding the peers that announced it.

use std::collections::HashSet;

use futures::channel::oneshot;
use futures::SinkExt;
use libp2p::kad::{self, GetProvidersOk, QueryId, QueryResult};
use libp2p::multiaddr::Protocol;
use libp2p::request_response::ResponseChannel;
use libp2p::{Multiaddr, PeerId};

use super::Driver;
use crate::net::block::{self, BlockRequest, BlockResponse, ErrorCode};
use crate::peer::gate::pace;
use crate::store::Class;

/// Most block requests served at once; more are refused as busy.
pub const MAX_SERVING: usize = 8;
/// Longest a shard waits for the bandwidth cap before the request is
/// answered as busy (the fetcher then tries another holder).
const PACE_LIMIT_MS: u64 = 10_000;
/// Most contributors one lookup returns.
pub const MAX_CONTRIBUTORS: usize = 32;

/// The DHT key every contributing browser provides.
pub fn contributors_key() -> kad::RecordKey {
    kad::RecordKey::new(&"/meganet/contributors/1")
}

/// A contributors lookup in flight.
pub struct Lookup {
    found: HashSet<PeerId>,
    reply: oneshot::Sender<Vec<Multiaddr>>,
}

impl Driver {
    /// Answers one block request from another peer.
    pub(super) fn serve(
        &mut self,
        peer: PeerId,
        request: BlockRequest,
        channel: ResponseChannel<BlockResponse>,
    ) {
        let store = self.contribution.borrow().clone();
        let refuse = |why: &str| BlockResponse::error(ErrorCode::Refused, why);
        let Some(store) = store else {
            let _ = self
                .swarm
                .behaviour_mut()
                .block
                .send_response(channel, refuse("not storing for others"));
            return;
        };
        let gate = self.gate.clone();
        let admitted = gate.borrow().admit_request().and_then(|()| match request {
            BlockRequest::Put(_) => gate.borrow().admit_new_shard(),
            _ => Ok(()),
        });
        if let Err(why) = admitted {
            let _ = self
                .swarm
                .behaviour_mut()
                .block
                .send_response(channel, refuse(&why));
            return;
        }
        if self.serving >= MAX_SERVING {
            let _ = self
                .swarm
                .behaviour_mut()
                .block
                .send_response(channel, refuse("busy; try another holder"));
            return;
        }
        self.serving += 1;
        let mut done = self.served_tx.clone();
        crate::platform::spawn(async move {
            let mut response = block::serve(&store, Class::Contributed, request).await;
            // Shard bytes leave at the policy's bandwidth cap.
            if let BlockResponse::Block(bytes) = &response {
                if let Err(why) = pace(&gate, bytes.len(), PACE_LIMIT_MS).await {
                    response = BlockResponse::error(ErrorCode::Refused, why);
                }
            }
            tracing::debug!(%peer, "served a block request");
            let _ = done.send((channel, response)).await;
        });
    }

    /// A served request finished: send its answer.
    pub(super) fn on_served(
        &mut self,
        channel: ResponseChannel<BlockResponse>,
        response: BlockResponse,
    ) {
        self.serving = self.serving.saturating_sub(1);
        let _ = self
            .swarm
            .behaviour_mut()
            .block
            .send_response(channel, response);
    }

    /// Publishes (or withdraws) this peer as a contributor.
    pub(super) fn announce(&mut self) {
        let key = contributors_key();
        let kad = &mut self.swarm.behaviour_mut().kad;
        if self.contribution.borrow().is_some() {
            if let Err(e) = kad.start_providing(key) {
                tracing::warn!(error = %e, "cannot announce contribution");
            }
        } else {
            kad.stop_providing(&key);
        }
    }

    /// Starts looking up contributors; answers with their `/webrtc`
    /// addresses through our node (the relay both sides use).
    pub(super) fn find_contributors(&mut self, reply: oneshot::Sender<Vec<Multiaddr>>) {
        if !self.is_connected_to_node() {
            let _ = reply.send(Vec::new());
            return;
        }
        let id = self
            .swarm
            .behaviour_mut()
            .kad
            .get_providers(contributors_key());
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
        // draws on contributors from its second window on, so a quick
        // partial list beats a complete late one.
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
        let me = *self.swarm.local_peer_id();
        let Some((_, node_addr)) = self.node.clone() else {
            let _ = lookup.reply.send(Vec::new());
            return;
        };
        let addrs = lookup
            .found
            .into_iter()
            .filter(|p| *p != me)
            .take(MAX_CONTRIBUTORS)
            .map(|peer| {
                node_addr
                    .clone()
                    .with(Protocol::P2pCircuit)
                    .with(Protocol::WebRTC)
                    .with(Protocol::P2p(peer))
            })
            .collect();
        let _ = lookup.reply.send(addrs);
    }
}
