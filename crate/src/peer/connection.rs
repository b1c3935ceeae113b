//! Keeps the browser peer connected to its node: fetch the bootstrap
//! document, dial, hold a relay reservation, and retry with backoff when the
//! node goes away.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use futures::channel::{mpsc, oneshot};
use futures::future::{FusedFuture, FutureExt, LocalBoxFuture};
use futures::StreamExt;
use libp2p::core::transport::ListenerId;
use libp2p::kad::RecordKey;
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundRequestId};
use libp2p::swarm::{ConnectionId, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm};

use super::bootstrap;
use super::contribute;
use super::direct::Direct;
use super::provided::Provided;
use super::status::{self, ConnectionInfo, Status};
use super::swarm::{Behaviour, BehaviourEvent};
use crate::net::block::{BlockRequest, BlockResponse};
use crate::net::{Bootstrap, PeerConnection, TransportKind, KAD_PROTOCOL};

mod announce;
mod serve;
pub use announce::{contributors_key, MAX_CONTRIBUTORS};

/// Work for the driver, and where its answer goes.
pub enum Command {
    /// A block request for `to`, or for the node when `None`.
    Block {
        to: Option<PeerId>,
        request: BlockRequest,
        reply: oneshot::Sender<Result<BlockResponse, String>>,
    },
    /// The `/webrtc` addresses of the peers that provide `key` in the
    /// DHT: every contributor ([`contributors_key`]) or one file's holders.
    Providers {
        key: RecordKey,
        reply: oneshot::Sender<Vec<Multiaddr>>,
    },
    /// The `/webrtc` addresses of `peers` through the node.
    Addrs {
        peers: Vec<PeerId>,
        reply: oneshot::Sender<Vec<Multiaddr>>,
    },
    /// Contribution was switched on or off: announce or withdraw; `forget`
    /// (on leaving) also drops the files this peer announced it holds.
    Announce { forget: bool },
    /// A direct connection to a browser's `/webrtc` address.
    Connect {
        addr: Multiaddr,
        reply: oneshot::Sender<Result<(), String>>,
    },
}

/// Most commands waiting for the driver; senders wait when it is full.
pub const COMMAND_QUEUE: usize = 16;

/// First retry delay; doubles per failure up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(500);
/// Longest wait between attempts: a restarted node is found within seconds.
const MAX_BACKOFF: Duration = Duration::from_secs(4);

/// How often stuck direct-connection setups are looked for.
const SWEEP: Duration = Duration::from_secs(5);

/// The task that owns the swarm.
pub struct Driver {
    swarm: Swarm<Behaviour>,
    bootstrap_url: String,
    status: Rc<RefCell<Status>>,
    node: Option<(PeerId, Multiaddr)>,
    connections: HashMap<ConnectionId, ConnectionInfo>,
    failures: u32,
    commands: mpsc::Receiver<Command>,
    pending: HashMap<OutboundRequestId, oneshot::Sender<Result<BlockResponse, String>>>,
    direct: Direct,
    webrtc_listeners: HashMap<Multiaddr, ListenerId>,
    contribution: contribute::Shared,
    gate: super::gate::SharedGate,
    serving: usize,
    served_tx: mpsc::Sender<Served>,
    served_rx: mpsc::Receiver<Served>,
    lookups: HashMap<libp2p::kad::QueryId, announce::Lookup>,
    /// The files this peer announces it holds shards of.
    provided: Provided,
    /// STUN servers for WebRTC sessions, from the bootstrap document.
    ice_servers: crate::webrtc::session::IceServers,
    /// Failed pings in a row, by connection (see [`Driver::on_ping`]).
    ping_failures: HashMap<ConnectionId, u8>,
}

/// Failed pings in a row that close a connection. One is not enough: a
/// single stream can fail to open on a working connection, and closing
/// it would cut every transfer on it. A remote that closed its side or
/// vanished is noticed sooner by the WebRTC transport itself.
const PING_FAILURES_TO_CLOSE: u8 = 2;

/// A served block request's answer, back from its task.
type Served = (
    request_response::ResponseChannel<BlockResponse>,
    BlockResponse,
);

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
        gate: super::gate::SharedGate,
        ice_servers: crate::webrtc::session::IceServers,
    ) -> Self {
        let (served_tx, served_rx) = mpsc::channel(serve::MAX_SERVING);
        Self {
            ice_servers,
            contribution,
            gate,
            serving: 0,
            served_tx,
            served_rx,
            lookups: HashMap::new(),
            provided: Provided::load(),
            commands,
            pending: HashMap::new(),
            swarm,
            bootstrap_url,
            status,
            node: None,
            connections: HashMap::new(),
            failures: 0,
            direct: Direct::default(),
            webrtc_listeners: HashMap::new(),
            ping_failures: HashMap::new(),
        }
    }

    /// Closes a connection whose pings failed [`PING_FAILURES_TO_CLOSE`]
    /// times in a row: the peer stopped answering.
    fn on_ping(
        &mut self,
        peer: PeerId,
        connection: ConnectionId,
        error: Option<libp2p::ping::Failure>,
    ) {
        let Some(error) = error else {
            self.ping_failures.remove(&connection);
            return;
        };
        let failures = self.ping_failures.entry(connection).or_default();
        *failures += 1;
        if *failures < PING_FAILURES_TO_CLOSE {
            tracing::warn!(%peer, %error, "ping failed");
            return;
        }
        tracing::warn!(%peer, %error, failures = *failures, "pings failed; closing the connection");
        self.swarm.close_connection(connection);
    }

    /// Runs until the page goes away.
    pub async fn run(mut self) {
        let mut fetch = self.fetch_bootstrap();
        let mut retry: futures::future::Fuse<LocalBoxFuture<'static, ()>> =
            futures::future::Fuse::terminated();
        let sweep = || crate::platform::sleep(SWEEP).boxed_local().fuse();
        let mut sweeping = sweep();
        loop {
            let wake = futures::select! {
                () = sweeping => Wake::Sweep,
                event = self.swarm.select_next_some() => Wake::Swarm(Box::new(event)),
                result = fetch => Wake::Bootstrap(result),
                () = retry => Wake::Retry,
                command = self.commands.select_next_some() => Wake::Command(command),
                served = self.served_rx.select_next_some() => Wake::Served(served),
            };
            match wake {
                Wake::Sweep => {
                    self.direct.expire();
                    sweeping = sweep();
                }
                Wake::Served((channel, response)) => self.on_served(channel, response),
                Wake::Command(command) => self.on_command(command),
                Wake::Swarm(event) => {
                    if self.on_event(*event) && retry.is_terminated() && fetch.is_terminated() {
                        retry = self.schedule_retry();
                    }
                }
                Wake::Bootstrap(Ok(doc)) => {
                    if let Err(e) = self.dial(&doc) {
                        self.set_unreachable(e);
                        retry = self.schedule_retry();
                    }
                }
                Wake::Bootstrap(Err(e)) => {
                    self.set_unreachable(e);
                    retry = self.schedule_retry();
                }
                Wake::Retry => fetch = self.fetch_bootstrap(),
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Block { to, request, reply } => self.send_block_request(to, request, reply),
            Command::Providers { key, reply } => self.find_providers(key, reply),
            Command::Addrs { peers, reply } => {
                let _ = reply.send(self.relayed_addrs(peers));
            }
            Command::Announce { forget } => self.announce(forget),
            Command::Connect { addr, reply } => {
                let connections = &self.connections;
                let has_direct = |peer: &PeerId| direct_to(connections, peer);
                self.direct
                    .connect(&mut self.swarm, addr, has_direct, reply);
            }
        }
    }

    /// Sends a block request to `to` (default: the node), or fails it at
    /// once when that peer is not connected.
    fn send_block_request(
        &mut self,
        to: Option<PeerId>,
        request: BlockRequest,
        reply: oneshot::Sender<Result<BlockResponse, String>>,
    ) {
        if let Some(peer) = to {
            if !self.swarm.is_connected(&peer) {
                let _ = reply.send(Err(format!("not connected to {peer}")));
                return;
            }
            let id = self
                .swarm
                .behaviour_mut()
                .block
                .send_request(&peer, request);
            self.pending.insert(id, reply);
            return;
        }
        let node = self.node.as_ref().map(|(p, _)| *p);
        match node {
            Some(peer) if self.swarm.is_connected(&peer) => {
                self.send_block_request(Some(peer), request, reply);
            }
            _ => {
                let _ = reply.send(Err(
                    "not connected to the node; retrying in the background".into()
                ));
            }
        }
    }

    fn on_block_event(&mut self, event: request_response::Event<BlockRequest, BlockResponse>) {
        match event {
            request_response::Event::Message {
                message:
                    request_response::Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                if let Some(reply) = self.pending.remove(&request_id) {
                    let _ = reply.send(Ok(response));
                }
            }
            request_response::Event::OutboundFailure {
                request_id, error, ..
            } => {
                if let Some(reply) = self.pending.remove(&request_id) {
                    let _ = reply.send(Err(format!("block request failed: {error}")));
                }
            }
            _ => {}
        }
    }

    fn fetch_bootstrap(
        &self,
    ) -> futures::future::Fuse<LocalBoxFuture<'static, Result<Bootstrap, String>>> {
        let url = self.bootstrap_url.clone();
        status::update(&self.status, |s| {
            s.node.state = "connecting";
            s.node.retry_in_ms = None;
        });
        async move { bootstrap::fetch(&url).await }
            .boxed_local()
            .fuse()
    }

    fn schedule_retry(&mut self) -> futures::future::Fuse<LocalBoxFuture<'static, ()>> {
        let delay = MIN_BACKOFF
            .saturating_mul(1 << self.failures.min(8))
            .min(MAX_BACKOFF);
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

    fn dial(&mut self, doc: &Bootstrap) -> Result<(), String> {
        self.ice_servers.set(bootstrap::stun_servers(doc));
        let addr = bootstrap::pick_address(doc)
            .ok_or_else(|| "the node offers no WebSocket address".to_owned())?;
        let peer: PeerId = doc
            .peer_id
            .parse()
            .map_err(|_| format!("invalid node peer id {:?}", doc.peer_id))?;
        self.node = Some((peer, addr.clone()));
        self.swarm
            .dial(addr.clone())
            .map_err(|e| format!("cannot dial {addr}: {e}"))
    }

    /// Handles one swarm event; returns true when the node link was lost.
    fn on_event(&mut self, event: SwarmEvent<BehaviourEvent>) -> bool {
        match event {
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            } => {
                let addr = endpoint.get_remote_address().clone();
                let kind = TransportKind::of_endpoint(&endpoint);
                let relayed = kind == TransportKind::Relay;
                let info = ConnectionInfo {
                    connection: PeerConnection {
                        peer_id: peer_id.to_string(),
                        transport: kind.as_str().to_owned(),
                        addr: addr.to_string(),
                    },
                    path: if relayed { "relayed" } else { "direct" },
                };
                self.connections.insert(connection_id, info.clone());
                if self.node.as_ref().is_some_and(|(p, _)| *p == peer_id) {
                    self.on_node_connected(peer_id, &info);
                } else {
                    let relayed_ids: Vec<ConnectionId> = self
                        .connections
                        .iter()
                        .filter(|(_, c)| {
                            c.path == "relayed" && c.connection.peer_id == info.connection.peer_id
                        })
                        .map(|(id, _)| *id)
                        .collect();
                    let direct = kind == TransportKind::WebRtc;
                    // For a relayed connection: whether a direct one is up already.
                    let direct_exists = direct_to(&self.connections, &peer_id);
                    self.direct.on_established(
                        &mut self.swarm,
                        peer_id,
                        direct,
                        direct_exists,
                        &relayed_ids,
                    );
                }
                self.publish_connections();
                false
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                num_established,
                cause,
                ..
            } => {
                let path = self.connections.remove(&connection_id);
                self.ping_failures.remove(&connection_id);
                self.publish_connections();
                if let Some(cause) = &cause {
                    let path = path.map_or("unknown", |c| c.path);
                    tracing::warn!(peer = %peer_id, path, %cause, "connection lost");
                }
                let node_lost =
                    num_established == 0 && self.node.as_ref().is_some_and(|(p, _)| *p == peer_id);
                if node_lost {
                    let reason = cause.map_or("closed".to_owned(), |c| c.to_string());
                    self.set_unreachable(format!("connection to the node lost: {reason}"));
                }
                node_lost
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                if let Some(peer) = peer_id {
                    let relayed = self.swarm.is_connected(&peer);
                    self.direct.on_dial_error(peer, error.to_string(), relayed);
                }
                let is_node = peer_id.is_some() && self.node.as_ref().map(|(p, _)| *p) == peer_id;
                if is_node && !self.is_connected_to_node() {
                    self.set_unreachable(format!("cannot connect to the node: {error}"));
                    return true;
                }
                false
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                self.on_new_listen_addr(&address);
                status::update(&self.status, |s| s.listen_addrs.push(address.to_string()));
                false
            }
            SwarmEvent::ListenerClosed { addresses, .. } => {
                for address in &addresses {
                    self.on_expired_listen_addr(address);
                }
                let gone: Vec<String> = addresses.iter().map(ToString::to_string).collect();
                status::update(&self.status, |s| {
                    s.listen_addrs.retain(|a| !gone.contains(a))
                });
                false
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                self.on_expired_listen_addr(&address);
                let gone = address.to_string();
                status::update(&self.status, |s| s.listen_addrs.retain(|a| *a != gone));
                false
            }
            SwarmEvent::Behaviour(BehaviourEvent::Ping(libp2p::ping::Event {
                peer,
                connection,
                result,
            })) => {
                self.on_ping(peer, connection, result.err());
                false
            }
            SwarmEvent::Behaviour(BehaviourEvent::Block(request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
                ..
            })) => {
                self.serve(peer, request, channel);
                false
            }
            SwarmEvent::Behaviour(BehaviourEvent::Kad(
                libp2p::kad::Event::OutboundQueryProgressed {
                    id, result, step, ..
                },
            )) => {
                self.on_kad_query(id, result, step.last);
                false
            }
            SwarmEvent::Behaviour(BehaviourEvent::Block(event)) => {
                self.on_block_event(event);
                false
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(
                libp2p::identify::Event::Received { peer_id, info, .. },
            )) => {
                if info.protocols.contains(&KAD_PROTOCOL) {
                    for addr in info.listen_addrs {
                        self.swarm.behaviour_mut().kad.add_address(&peer_id, addr);
                    }
                    // A (re)connected DHT node: (re)announce what we offer.
                    if self.contribution.borrow().is_some() {
                        self.announce(false);
                    }
                }
                false
            }
            _ => false,
        }
    }

    /// A relay reservation is up (`<relay>/p2p-circuit/p2p/<us>`): accept
    /// WebRTC through it too, on `<relay>/p2p-circuit/webrtc`.
    fn on_new_listen_addr(&mut self, address: &Multiaddr) {
        let Some(webrtc) = webrtc_listen_addr(address) else {
            return;
        };
        if self.webrtc_listeners.contains_key(&webrtc) {
            return;
        }
        match self.swarm.listen_on(webrtc.clone()) {
            Ok(id) => {
                self.webrtc_listeners.insert(webrtc, id);
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for WebRTC"),
        }
    }

    /// The reservation is gone (node restarted): stop advertising WebRTC
    /// through it until the next one.
    fn on_expired_listen_addr(&mut self, address: &Multiaddr) {
        if let Some(id) = webrtc_listen_addr(address).and_then(|a| self.webrtc_listeners.remove(&a))
        {
            self.swarm.remove_listener(id);
        }
    }

    fn is_connected_to_node(&self) -> bool {
        self.node
            .as_ref()
            .is_some_and(|(p, _)| self.swarm.is_connected(p))
    }

    fn on_node_connected(&mut self, peer: PeerId, info: &ConnectionInfo) {
        self.failures = 0;
        // The node is our DHT entry point from the first moment, not only
        // once identify has run: lookups made right after start need it.
        if let Some((_, addr)) = &self.node {
            self.swarm
                .behaviour_mut()
                .kad
                .add_address(&peer, addr.clone());
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
        if let Some((_, addr)) = &self.node {
            let circuit = addr.clone().with(Protocol::P2pCircuit);
            if let Err(e) = self.swarm.listen_on(circuit) {
                tracing::warn!(error = %e, "cannot reserve a relay slot");
            }
        }
    }

    fn publish_connections(&self) {
        let mut list: Vec<ConnectionInfo> = self.connections.values().cloned().collect();
        list.sort_by(|a, b| a.connection.addr.cmp(&b.connection.addr));
        status::update(&self.status, |s| s.connections = list);
    }
}

/// `<relay>/p2p-circuit/p2p/<us>` (a reservation) to
/// `<relay>/p2p-circuit/webrtc` (where browsers may reach us directly).
fn webrtc_listen_addr(circuit: &Multiaddr) -> Option<Multiaddr> {
    let mut parts: Vec<Protocol> = circuit.iter().collect();
    if matches!(parts.last(), Some(Protocol::P2p(_))) {
        parts.pop();
    }
    (parts.last() == Some(&Protocol::P2pCircuit))
        .then(|| parts.into_iter().chain([Protocol::WebRTC]).collect())
}

/// Whether a direct connection to `peer` is among `connections`.
fn direct_to(connections: &HashMap<ConnectionId, ConnectionInfo>, peer: &PeerId) -> bool {
    let peer = peer.to_string();
    connections
        .values()
        .any(|c| c.path == "direct" && c.connection.peer_id == peer)
}
