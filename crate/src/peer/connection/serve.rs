//! The driver's side of contributing: answering other peers' block requests
//! from the contributed store (bounded concurrency, paced by the policy),
//! and from the uploads this peer is still placing ([`stash`]), which
//! anyone may read, outside the policy but within the same bounds.
//!
//! A shard is stored for another peer only with a placement ticket signed
//! by a node of this network ([`crate::net::ticket`]), or within a small
//! allowance per peer ([`UNTICKETED_PER_WINDOW`] an hour): what a browser
//! keeps for others is what the network placed, counted against its
//! uploader's budget on the node that signed.

use futures::channel::mpsc;
use futures::SinkExt;
use libp2p::request_response::ResponseChannel;
use libp2p::{PeerId, Swarm};

use super::announce::Announce;
use super::node_link::NodeLink;
use super::placers::Placers;
use crate::hash::Hash;
use crate::net::block::{self, BlockRequest, BlockResponse, ErrorCode};
use crate::net::ticket::Ticket;
use crate::peer::gate::{now_ms, pace, SharedGate};
use crate::peer::swarm::Behaviour;
use crate::peer::{contribute, stash};
use crate::policy::Allowance;
use crate::store::{Class, Store};

/// Most block requests served at once; more are refused as busy.
pub const MAX_SERVING: usize = 8;
/// Bytes a peer may store here without placement tickets, per
/// [`UNTICKETED_WINDOW_MS`]: a few small shards, for a peer whose node is
/// briefly out of reach; a fresh identity gets no more than that.
pub const UNTICKETED_PER_WINDOW: u64 = 2 * 1024 * 1024;
/// The window the allowance without tickets is counted over.
const UNTICKETED_WINDOW_MS: f64 = 3_600_000.0;
/// Most peers counted for it at once.
const UNTICKETED_PEERS: usize = 1024;
/// Longest a shard waits for the bandwidth cap before the request is
/// answered as busy (the fetcher then tries another holder).
const PACE_LIMIT_MS: u64 = 10_000;

/// A served block request's answer, back from its task, with the peer
/// when it placed a shard here.
pub type Served = (
    ResponseChannel<BlockResponse>,
    BlockResponse,
    Option<PeerId>,
);

/// What serving needs: the store, the policy's gate, and the requests in
/// progress (each in its own task, answering over a channel).
pub struct Serve {
    contribution: contribute::Shared,
    stash: stash::Shared,
    gate: SharedGate,
    /// Requests being served; at most [`MAX_SERVING`].
    serving: usize,
    /// Who placed shards here, and so may ask for announcements.
    placers: Placers,
    /// Bytes stored per peer without a ticket.
    unticketed: Allowance<PeerId>,
    served_tx: mpsc::Sender<Served>,
    served_rx: mpsc::Receiver<Served>,
}

impl Serve {
    pub fn new(contribution: contribute::Shared, stash: stash::Shared, gate: SharedGate) -> Self {
        let (served_tx, served_rx) = mpsc::channel(MAX_SERVING);
        Self {
            contribution,
            stash,
            gate,
            serving: 0,
            placers: Placers::default(),
            unticketed: Allowance::new(
                UNTICKETED_PER_WINDOW,
                UNTICKETED_WINDOW_MS,
                UNTICKETED_PEERS,
            ),
            served_tx,
            served_rx,
        }
    }

    /// The answers of served requests, as their tasks finish.
    pub fn served(&mut self) -> &mut mpsc::Receiver<Served> {
        &mut self.served_rx
    }

    /// Answers one block request from another peer. A `Provide` request
    /// is answered at once: the DHT announcement is `announce`'s.
    pub fn on_request(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        announce: &mut Announce,
        node: &NodeLink,
        peer: PeerId,
        request: BlockRequest,
        channel: ResponseChannel<BlockResponse>,
    ) {
        let refuse = |why: &str| BlockResponse::error(ErrorCode::Refused, why);
        let stashed = self.stash.borrow().clone();
        if let Some(stash) = stashed.filter(|s| stash::answers(s, &request)) {
            self.serve_stashed(swarm, peer, stash, request, channel);
            return;
        }
        let store = self.contribution.borrow().clone();
        let Some(store) = store else {
            respond(swarm, channel, refuse("not storing for others"));
            return;
        };
        let gate = self.gate.clone();
        let admitted = gate.borrow().admit_request().and_then(|()| match &request {
            BlockRequest::Put { block, ticket } => gate
                .borrow()
                .admit_new_shard()
                .and_then(|()| self.admit_put(node, peer, block, ticket.as_ref())),
            _ => Ok(()),
        });
        if let Err(why) = admitted {
            respond(swarm, channel, refuse(&why));
            return;
        }
        if let BlockRequest::Provide(key) = request {
            if !self.placers.take(&peer) {
                let why = "announce only files whose pieces you placed here";
                respond(swarm, channel, refuse(why));
                return;
            }
            let response = match announce.provide(swarm, node, key) {
                Ok(()) => BlockResponse::Stored(key),
                Err(why) => refuse(why),
            };
            respond(swarm, channel, response);
            return;
        }
        let is_put = matches!(request, BlockRequest::Put { .. });
        let serving = Serving {
            store,
            class: Class::Contributed,
            paced: true,
            is_put,
        };
        self.spawn(swarm, peer, serving, request, channel);
    }

    /// Whether `block` from `peer` may be stored: with a ticket a node of
    /// this network signed for it, or within the peer's allowance.
    fn admit_put(
        &mut self,
        node: &NodeLink,
        peer: PeerId,
        block: &[u8],
        ticket: Option<&Ticket>,
    ) -> Result<(), String> {
        let now = now_ms();
        let Some(ticket) = ticket else {
            let cost = (block.len() as u64).max(1);
            if self.unticketed.take(peer, cost, now) {
                return Ok(());
            }
            return Err(format!(
                "a placement ticket from a node is needed: a peer may store {} MiB an hour here without one",
                UNTICKETED_PER_WINDOW >> 20
            ));
        };
        ticket
            .covers(&Hash::of(block), block.len(), (now / 1000.0) as u64)
            .and_then(|()| ticket.verify(|p| node.is(p) || node.is_other_node(p)))
            .map_err(|e| e.to_string())
    }

    /// Answers a request about shards of an upload still being placed: HAS
    /// at once (with what is contributed, when contributing), the rest
    /// like any served shard but not paced by the policy.
    fn serve_stashed(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        peer: PeerId,
        stash: Store,
        request: BlockRequest,
        channel: ResponseChannel<BlockResponse>,
    ) {
        if let BlockRequest::Has(hashes) = &request {
            let contributed = self.contribution.borrow().clone();
            let flags = [Some(&stash), contributed.as_ref()]
                .into_iter()
                .flatten()
                .filter_map(|store| store.has(hashes).ok())
                .reduce(|a, b| a.into_iter().zip(b).map(|(a, b)| a || b).collect());
            // What it keeps is the contributed store's; an upload's stash
            // is left once placed.
            let storage = contributed.as_ref().unwrap_or(&stash).storage();
            let response = match flags {
                Some(flags) => BlockResponse::Have { flags, storage },
                None => BlockResponse::error(ErrorCode::BadRequest, "too many hashes"),
            };
            respond(swarm, channel, response);
            return;
        }
        let serving = Serving {
            store: stash,
            class: Class::Own,
            paced: false,
            is_put: false,
        };
        self.spawn(swarm, peer, serving, request, channel);
    }

    /// Serves `request` in a task of its own, within [`MAX_SERVING`] and the
    /// peer's byte allowance.
    fn spawn(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        peer: PeerId,
        serving: Serving,
        request: BlockRequest,
        channel: ResponseChannel<BlockResponse>,
    ) {
        const OVER_SHARE: &str =
            "this peer has been served its share from this holder for now; try another holder";
        let refuse = |why: &str| BlockResponse::error(ErrorCode::Refused, why);
        if self.serving >= MAX_SERVING {
            respond(swarm, channel, refuse("busy; try another holder"));
            return;
        }
        // Shard bytes count against the peer's allowance: a reservation
        // of one block's worth, trued up once the answer's size is known.
        let gate = self.gate.clone();
        let reserved = gate.borrow_mut().reserve(peer, block::MAX_BLOCK as u64);
        if reserved == 0 {
            respond(swarm, channel, refuse(OVER_SHARE));
            return;
        }
        self.serving += 1;
        let mut done = self.served_tx.clone();
        crate::platform::spawn(async move {
            let Serving {
                store,
                class,
                paced,
                is_put,
            } = serving;
            let mut response = block::serve(&store, class, request).await;
            // Contributed shard bytes leave at the policy's bandwidth cap.
            let mut sent = 0;
            if let BlockResponse::Block(bytes) = &response {
                if bytes.len() as u64 > reserved {
                    response = refuse(OVER_SHARE);
                } else if let Err(why) = match paced {
                    true => pace(&gate, bytes.len(), PACE_LIMIT_MS).await,
                    false => Ok(()),
                } {
                    response = BlockResponse::error(ErrorCode::Refused, why);
                } else {
                    sent = bytes.len() as u64;
                }
            }
            gate.borrow_mut().refund(peer, reserved - sent);
            tracing::debug!(%peer, "served a block request");
            let placed = (is_put && matches!(response, BlockResponse::Stored(_))).then_some(peer);
            let _ = done.send((channel, response, placed)).await;
        });
    }

    /// A served request finished: send its answer.
    pub fn on_served(&mut self, swarm: &mut Swarm<Behaviour>, (channel, response, placed): Served) {
        self.serving = self.serving.saturating_sub(1);
        if let Some(peer) = placed {
            self.placers.placed(peer);
        }
        respond(swarm, channel, response);
    }
}

/// Where a request is served from, and how.
struct Serving {
    store: Store,
    class: Class,
    /// Paced by the policy's bandwidth cap (contributed shards).
    paced: bool,
    /// A PUT: its peer becomes a placer once it is stored.
    is_put: bool,
}

fn respond(
    swarm: &mut Swarm<Behaviour>,
    channel: ResponseChannel<BlockResponse>,
    response: BlockResponse,
) {
    let _ = swarm.behaviour_mut().block.send_response(channel, response);
}
