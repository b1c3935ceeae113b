//! The task that owns the browser peer's swarm and keeps it connected to
//! its node. It only routes: each command, swarm event and timer goes to
//! the part that owns that protocol's state, each in its own file:
//!
//! - [`node_link`]: the link to the node (bootstrap document, dial,
//!   backoff, relay reservation) and the directory of the other nodes;
//! - [`node_dials`]: connections to those other nodes;
//! - [`connections`]: the open connections and their upgrade from relayed
//!   to direct, whose setups [`direct`] carries out;
//! - [`listen`]: listen addresses, and WebRTC listeners on reservations;
//! - [`ping`]: failed pings, which close a connection;
//! - [`requests`]: block requests this peer sends;
//! - [`serve`]: block requests this peer answers;
//! - [`announce`]: the DHT (announcements and provider lookups).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use futures::channel::{mpsc, oneshot};
use futures::future::{FusedFuture, FutureExt};
use futures::StreamExt;
use libp2p::core::ConnectedPoint;
use libp2p::kad::RecordKey;
use libp2p::request_response;
use libp2p::swarm::{ConnectionId, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm};

use super::contribute;
use super::status::Status;
use super::swarm::{Behaviour, BehaviourEvent};
use crate::net::block::{BlockRequest, BlockResponse};
use crate::net::Bootstrap;

mod announce;
mod connections;
mod direct;
mod listen;
mod node_dials;
mod node_link;
mod ping;
mod placers;
mod requests;
mod reservation;
mod serve;
pub use announce::MAX_PROVIDERS;

use announce::Announce;
use connections::Connections;
use listen::Listen;
use node_dials::NodeDials;
use node_link::NodeLink;
use ping::Pings;
use requests::Requests;
pub use serve::Serve;
use serve::Served;

/// Work for the driver, and where its answer goes.
pub enum Command {
    /// A block request for `to`, or for the node when `None`.
    Block {
        to: Option<PeerId>,
        request: BlockRequest,
        reply: requests::Reply,
    },
    /// The `/webrtc` addresses of the peers that provide `key` in the
    /// DHT: one bucket of contributors or one file's holders.
    Providers {
        key: RecordKey,
        reply: oneshot::Sender<Vec<Multiaddr>>,
    },
    /// Every value the DHT holds under `key` (name records); `None`
    /// while the node is not connected.
    Values {
        key: RecordKey,
        reply: oneshot::Sender<Option<Vec<Vec<u8>>>>,
    },
    /// Puts `value` under `key` on the network's nodes (a name record);
    /// answered once one took it, or with why none did.
    PutValue {
        key: RecordKey,
        value: Vec<u8>,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// The network's other nodes, at the addresses a browser dials.
    Nodes {
        reply: oneshot::Sender<Vec<Multiaddr>>,
    },
    /// How to reach `peers`: another node at its own address, a browser
    /// at its `/webrtc` address through our node.
    Addrs {
        peers: Vec<PeerId>,
        reply: oneshot::Sender<Vec<Multiaddr>>,
    },
    /// Contribution was switched on or off: announce or withdraw; `forget`
    /// (on leaving) also drops the files this peer announced it holds.
    Announce { forget: bool },
    /// A connection to another node's address (from [`Command::Nodes`]),
    /// or a direct one to a browser's `/webrtc` address.
    Connect {
        addr: Multiaddr,
        reply: oneshot::Sender<Result<(), String>>,
    },
}

/// Most commands waiting for the driver; senders wait when it is full.
pub const COMMAND_QUEUE: usize = 16;

/// How often stuck direct-connection setups are looked for.
const SWEEP: Duration = Duration::from_secs(5);

/// The task that owns the swarm; each protocol's state is in its part.
pub struct Driver {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    node: NodeLink,
    node_dials: NodeDials,
    connections: Connections,
    listen: Listen,
    pings: Pings,
    requests: Requests,
    serve: Serve,
    announce: Announce,
}

enum Wake {
    Command(Command),
    Served(Served),
    Swarm(Box<SwarmEvent<BehaviourEvent>>),
    Bootstrap(Result<Bootstrap, String>),
    Retry,
    Sweep,
}

impl Driver {
    pub fn new(
        swarm: Swarm<Behaviour>,
        bootstrap_url: String,
        status: Rc<RefCell<Status>>,
        commands: mpsc::Receiver<Command>,
        contribution: contribute::Shared,
        serve: Serve,
        webrtc: crate::webrtc::Handles,
    ) -> Self {
        Self {
            serve,
            announce: Announce::new(contribution),
            commands,
            requests: Requests::default(),
            swarm,
            node: NodeLink::new(bootstrap_url, status.clone(), webrtc.ice_servers),
            node_dials: NodeDials::default(),
            connections: Connections::new(status.clone(), webrtc.dial_failures, webrtc.paths),
            listen: Listen::new(status, webrtc.paths),
            pings: Pings::default(),
        }
    }

    /// Runs until the page goes away.
    pub async fn run(mut self) {
        let mut fetch = self.node.fetch_bootstrap();
        let mut retry: node_link::Retry = futures::future::Fuse::terminated();
        let sweep = || crate::platform::sleep(SWEEP).boxed_local().fuse();
        let mut sweeping = sweep();
        loop {
            let wake = futures::select! {
                () = sweeping => Wake::Sweep,
                event = self.swarm.select_next_some() => Wake::Swarm(Box::new(event)),
                result = fetch => Wake::Bootstrap(result),
                () = retry => Wake::Retry,
                command = self.commands.select_next_some() => Wake::Command(command),
                served = self.serve.served().select_next_some() => Wake::Served(served),
            };
            match wake {
                Wake::Sweep => {
                    self.connections.expire();
                    sweeping = sweep();
                }
                Wake::Served(served) => self.serve.on_served(&mut self.swarm, served),
                Wake::Command(command) => self.on_command(command),
                Wake::Swarm(event) => {
                    if self.on_event(*event) && retry.is_terminated() && fetch.is_terminated() {
                        retry = self.node.schedule_retry();
                    }
                }
                Wake::Bootstrap(result) => {
                    if let Err(e) = result.and_then(|doc| self.node.dial(&mut self.swarm, &doc)) {
                        retry = self.node.retry_after(e);
                    }
                }
                Wake::Retry => fetch = self.node.fetch_bootstrap(),
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        let swarm = &mut self.swarm;
        match command {
            Command::Block { to, request, reply } => {
                self.requests
                    .send(swarm, self.node.peer(), to, request, reply);
            }
            Command::Providers { key, reply } => {
                self.announce.find_providers(swarm, &self.node, key, reply);
            }
            Command::Values { key, reply } => {
                self.announce.find_values(swarm, &self.node, key, reply);
            }
            Command::PutValue { key, value, reply } => {
                self.announce
                    .put_value(swarm, &self.node, key, value, reply);
            }
            Command::Nodes { reply } => {
                let _ = reply.send(self.node.other_nodes());
            }
            Command::Addrs { peers, reply } => {
                let _ = reply.send(self.node.addrs_of(*swarm.local_peer_id(), peers));
            }
            Command::Announce { forget } => self.announce.announce(swarm, forget),
            Command::Connect { addr, reply } => match crate::net::addr_peer(&addr) {
                Some(peer) if self.node.is_other_node(&peer) => {
                    self.node_dials.dial(swarm, peer, addr, reply);
                }
                holder => {
                    let named = holder.map(|p| self.announce.take_relays(&p));
                    let relays = self.node.relays_for(swarm, named.unwrap_or_default());
                    self.connections.connect(swarm, addr, &relays, reply);
                }
            },
        }
    }

    /// Hands one swarm event to the part that owns its state; returns true
    /// when the node link was lost.
    fn on_event(&mut self, event: SwarmEvent<BehaviourEvent>) -> bool {
        let swarm = &mut self.swarm;
        match event {
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            } => self.on_established(peer_id, connection_id, &endpoint),
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                num_established,
                cause,
                ..
            } => {
                self.pings.forget(connection_id);
                self.connections
                    .on_closed(peer_id, connection_id, cause.as_ref());
                if num_established == 0 && self.node.is_other_node(&peer_id) {
                    self.node.on_other_node_lost(swarm, peer_id);
                }
                return self
                    .node
                    .on_closed(peer_id, num_established, cause.as_ref());
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                if peer_id.is_some_and(|p| self.node.is_other_node(&p)) {
                    self.node_dials.on_dial_error(peer_id, &error.to_string());
                    return false;
                }
                self.connections.on_dial_error(swarm, peer_id, &error);
                return self.node.on_dial_error(swarm, peer_id, &error);
            }
            SwarmEvent::NewListenAddr {
                listener_id,
                address,
            } => {
                self.node.on_listen_addr(listener_id);
                self.listen.on_new(swarm, &address);
            }
            SwarmEvent::ListenerClosed {
                listener_id,
                addresses,
                ..
            } => {
                self.node.on_listener_closed(swarm, listener_id);
                self.listen.on_closed(swarm, &addresses);
            }
            SwarmEvent::ExternalAddrConfirmed { .. } => self.announce.on_external_addr(swarm),
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                self.listen.on_expired(swarm, &address);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Ping(event)) => self.pings.on_event(swarm, event),
            SwarmEvent::Behaviour(BehaviourEvent::Block(event)) => self.on_block(event),
            SwarmEvent::Behaviour(BehaviourEvent::Kad(event)) => {
                self.announce.on_kad(swarm, &self.node, event);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(event)) => {
                self.announce.on_identify(swarm, event);
            }
            _ => {}
        }
        false
    }

    /// A connection is up: to the node, it is the node link's; to another
    /// node, a dial's answer; to another browser, a step of a
    /// direct-connection upgrade. Then the status lists it.
    fn on_established(&mut self, peer: PeerId, id: ConnectionId, endpoint: &ConnectedPoint) {
        let (info, kind) = self.connections.insert(peer, id, endpoint);
        if self.node.is(&peer) {
            self.node.on_connected(&mut self.swarm, peer, &info);
        } else if self.node.is_other_node(&peer) {
            self.node_dials.on_established(peer);
            self.node.on_other_node_connected(&mut self.swarm, peer);
        } else {
            self.connections.upgrade(&mut self.swarm, peer, kind);
        }
        self.connections.publish();
    }

    /// Requests from other peers are served; the rest answer ours.
    fn on_block(&mut self, event: request_response::Event<BlockRequest, BlockResponse>) {
        match event {
            request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
                ..
            } => {
                let (swarm, node) = (&mut self.swarm, &self.node);
                self.serve
                    .on_request(swarm, &mut self.announce, node, peer, request, channel);
            }
            event => self.requests.on_event(event),
        }
    }
}
