//! The node's libp2p swarm: transports, behaviours, and the event loop that
//! keeps `/status.json` current.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;
use libp2p::core::ConnectedPoint;
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::{ConnectionId, NetworkBehaviour, SwarmEvent};
use libp2p::{identify, kad, noise, ping, relay, tcp, yamux, Multiaddr, PeerId, Swarm};
use tokio::sync::RwLock;

use super::identity::Secrets;
use super::Config;

/// Most distinct DHT keys (files and the contributors key) with provider
/// records the node keeps; at most 20 providers each.
const MAX_PROVIDER_KEYS: usize = 65_536;
use crate::net::block::{self, BlockCodec};
use crate::net::{NodeStatus, PeerConnection, TransportKind, KAD_PROTOCOL, PROTOCOL_VERSION};
use crate::store::{Class, Store};

/// Everything the node speaks.
#[derive(NetworkBehaviour)]
pub struct Behaviour {
    relay: relay::Behaviour,
    kad: kad::Behaviour<kad::store::MemoryStore>,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    block: request_response::Behaviour<BlockCodec>,
}

/// A running node's swarm and the status it publishes.
pub struct Node {
    swarm: Swarm<Behaviour>,
    status: Arc<RwLock<NodeStatus>>,
    connections: HashMap<ConnectionId, PeerConnection>,
    store: Store,
    limits: super::limits::RequestLimits,
    started: std::time::Instant,
}

/// Connections stay open this long without traffic; browsers keep theirs
/// alive with ping and their relay reservation.
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);

impl Node {
    /// Builds the swarm and starts every listener. A listener that cannot
    /// bind is an error naming the address.
    pub async fn start(
        config: &Config,
        secrets: Secrets,
        status: Arc<RwLock<NodeStatus>>,
        store: Store,
    ) -> anyhow::Result<Self> {
        let Secrets {
            keypair,
            certificate,
        } = secrets;
        let relay_config = config.relay.to_relay_config();
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )?
            .with_other_transport(|key| {
                libp2p_webrtc::tokio::Transport::new(key.clone(), certificate)
            })?
            .with_dns()?
            .with_websocket(noise::Config::new, yamux::Config::default)
            .await?
            .with_behaviour(|key| {
                let peer_id = key.public().to_peer_id();
                let mut kad = kad::Behaviour::with_config(
                    peer_id,
                    // Every file has a provider key: room for many more
                    // than the store's default of 1024.
                    kad::store::MemoryStore::with_config(
                        peer_id,
                        kad::store::MemoryStoreConfig {
                            max_provided_keys: MAX_PROVIDER_KEYS,
                            ..Default::default()
                        },
                    ),
                    crate::net::kad_config(),
                );
                kad.set_mode(Some(kad::Mode::Server));
                Behaviour {
                    relay: relay::Behaviour::new(peer_id, relay_config),
                    kad,
                    identify: identify::Behaviour::new(
                        identify::Config::new(PROTOCOL_VERSION.to_owned(), key.public())
                            .with_agent_version(crate::net::AGENT_VERSION.to_owned()),
                    ),
                    ping: ping::Behaviour::default(),
                    block: block::behaviour(ProtocolSupport::Full),
                }
            })?
            .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_TIMEOUT))
            .build();

        let listeners = [
            (
                socket_multiaddr(config.tcp, Protocol::Tcp),
                "TCP",
                config.tcp,
            ),
            (
                socket_multiaddr(config.ws, Protocol::Tcp).with(Protocol::Ws("/".into())),
                "WebSocket",
                config.ws,
            ),
            (
                socket_multiaddr(config.webrtc, Protocol::Udp).with(Protocol::WebRTCDirect),
                "WebRTC-direct",
                config.webrtc,
            ),
        ];
        for (addr, name, socket) in listeners {
            swarm
                .listen_on(addr)
                .with_context(|| format!("cannot listen for {name} on {socket}"))?;
        }
        for peer in &config.peers {
            join(&mut swarm, peer.clone());
        }

        let mut node = Self {
            swarm,
            status,
            connections: HashMap::new(),
            store,
            limits: Default::default(),
            started: std::time::Instant::now(),
        };
        node.await_listeners(3).await?;
        Ok(node)
    }

    /// Waits until `count` listeners report an address, so an occupied port
    /// fails start-up instead of showing up later in the log.
    async fn await_listeners(&mut self, count: usize) -> anyhow::Result<()> {
        let mut ready = 0;
        while ready < count {
            match self.swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { address, .. } => {
                    ready += 1;
                    self.on_listen_addr(address).await;
                }
                SwarmEvent::ListenerClosed {
                    addresses, reason, ..
                } => {
                    anyhow::bail!("cannot listen on {addresses:?}: {reason:?}")
                }
                SwarmEvent::ListenerError { error, .. } => {
                    anyhow::bail!("cannot listen: {error}")
                }
                event => self.on_event(event).await,
            }
        }
        Ok(())
    }

    /// Drives the swarm forever.
    pub async fn run(&mut self) -> anyhow::Result<()> {
        loop {
            let event = self.swarm.select_next_some().await;
            self.on_event(event).await;
        }
    }

    async fn on_listen_addr(&mut self, address: Multiaddr) {
        tracing::info!(%address, "listening");
        // A node's listeners are what browsers and other nodes dial, so they
        // are its external addresses; the relay server only accepts
        // reservations once it has at least one.
        self.swarm.add_external_address(address.clone());
        self.status
            .write()
            .await
            .listen_addrs
            .push(address.to_string());
    }

    async fn on_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => self.on_listen_addr(address).await,
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            } => {
                let (addr, local) = match &endpoint {
                    ConnectedPoint::Dialer { address, .. } => (address.clone(), address.clone()),
                    ConnectedPoint::Listener {
                        send_back_addr,
                        local_addr,
                    } => (send_back_addr.clone(), local_addr.clone()),
                };
                let transport = TransportKind::of(&local).as_str().to_owned();
                tracing::info!(%peer_id, %addr, transport, "connected");
                self.connections.insert(
                    connection_id,
                    PeerConnection {
                        peer_id: peer_id.to_string(),
                        transport,
                        addr: addr.to_string(),
                    },
                );
                self.publish_peers().await;
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                cause,
                ..
            } => {
                tracing::info!(%peer_id, cause = ?cause, "disconnected");
                self.connections.remove(&connection_id);
                if !self.swarm.is_connected(&peer_id) {
                    self.limits.forget(&peer_id);
                }
                self.publish_peers().await;
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                // Only DHT servers go into the routing table; browsers are clients.
                if info.protocols.contains(&KAD_PROTOCOL) {
                    for addr in info.listen_addrs {
                        self.swarm.behaviour_mut().kad.add_address(&peer_id, addr);
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Block(request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
                ..
            })) => {
                // Blocks that browsers upload are held for them: contributed.
                let now_ms = self.started.elapsed().as_secs_f64() * 1000.0;
                let response = match self.limits.admit(peer, now_ms) {
                    Ok(()) => block::serve(&self.store, Class::Contributed, request).await,
                    Err(why) => block::BlockResponse::error(block::ErrorCode::Refused, why),
                };
                match &response {
                    block::BlockResponse::Error { message, .. } => {
                        tracing::debug!(%peer, message, "block request refused");
                    }
                    block::BlockResponse::Block(bytes) => {
                        let mut status = self.status.write().await;
                        status.served_blocks += 1;
                        status.served_bytes += bytes.len() as u64;
                    }
                    _ => {}
                }
                if self
                    .swarm
                    .behaviour_mut()
                    .block
                    .send_response(channel, response)
                    .is_err()
                {
                    tracing::debug!(%peer, "block requester went away");
                }
                self.publish_usage().await;
            }
            SwarmEvent::Behaviour(BehaviourEvent::Relay(event)) => {
                tracing::debug!(?event, "relay");
            }
            other => tracing::trace!(?other, "swarm event"),
        }
    }

    async fn publish_usage(&self) {
        let usage = self.store.usage();
        let mut status = self.status.write().await;
        status.stored_bytes = usage.total();
        status.stored_blocks = usage.entries;
    }

    async fn publish_peers(&self) {
        let mut peers: Vec<PeerConnection> = self.connections.values().cloned().collect();
        peers.sort_by(|a, b| (&a.peer_id, &a.addr).cmp(&(&b.peer_id, &b.addr)));
        self.status.write().await.peers = peers;
    }
}

/// Dials another node and adds it to the DHT routing table.
fn join(swarm: &mut Swarm<Behaviour>, addr: Multiaddr) {
    if let Some(Protocol::P2p(peer)) = addr.iter().last() {
        let peer: PeerId = peer;
        swarm.behaviour_mut().kad.add_address(&peer, addr.clone());
    }
    if let Err(e) = swarm.dial(addr.clone()) {
        tracing::warn!(%addr, error = %e, "cannot dial peer node");
    }
}

fn socket_multiaddr(socket: SocketAddr, transport: fn(u16) -> Protocol<'static>) -> Multiaddr {
    let ip = match socket.ip() {
        std::net::IpAddr::V4(ip) => Protocol::Ip4(ip),
        std::net::IpAddr::V6(ip) => Protocol::Ip6(ip),
    };
    Multiaddr::empty().with(ip).with(transport(socket.port()))
}
