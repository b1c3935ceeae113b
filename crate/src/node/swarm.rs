//! The node's libp2p swarm: transports, behaviours, and the event loop that
//! keeps `/status.json` current.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;
use libp2p::core::ConnectedPoint;
use libp2p::kad::store::RecordStore as _;
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::{ConnectionId, NetworkBehaviour, SwarmEvent};
use libp2p::{
    identify, kad, noise, ping, relay, tcp, yamux, Multiaddr, PeerId, Swarm, Transport as _,
};
use tokio::sync::RwLock;

use super::identity::Secrets;
use super::leases::{Charge, Source};
use super::membership::Membership;
use super::names;
use super::records::{DiskStore, Limits};
use super::storage::Storage;
use super::tls::transport::{Inbound, Relabel};
use super::Config;
use crate::hash::Hash;

use crate::net::block::{self, BlockCodec};
use crate::net::{NodeStatus, PeerConnection, TransportKind, PROTOCOL_VERSION};
use crate::store::Class;

/// Everything the node speaks.
#[derive(NetworkBehaviour)]
pub struct Behaviour {
    relay: relay::Behaviour,
    pub(super) kad: kad::Behaviour<DiskStore>,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    block: request_response::Behaviour<BlockCodec>,
}

/// A running node's swarm and the status it publishes.
pub struct Node {
    swarm: Swarm<Behaviour>,
    status: Arc<RwLock<NodeStatus>>,
    connections: HashMap<ConnectionId, PeerConnection>,
    /// Where each connection comes from, as budgets count it.
    sources: HashMap<ConnectionId, Source>,
    storage: Storage,
    /// This node's own repair duty: its uploads are charged to no one.
    duty: PeerId,
    limits: super::limits::RequestLimits,
    membership: Membership,
    /// Peers that stored a block on this connection: only they may ask
    /// the node to announce a file (PROVIDE).
    uploaders: HashSet<PeerId>,
    started: std::time::Instant,
    ticks: u64,
    /// Signs placement tickets (TICKET) within uploaders' budgets.
    tickets: super::tickets::Tickets,
    /// The repair capabilities this node keeps (KEEP).
    caps: super::repair::SharedCaps,
    /// Where accepted name records are kept (`names::save`).
    names_dir: std::path::PathBuf,
}

/// How often configured nodes that are down are looked at.
const TICK: Duration = Duration::from_secs(1);
/// Ticks between two sweeps of expired DHT records.
const EXPIRE_EVERY_TICKS: u64 = 600;
/// Ticks between two looks at the lease book (saving it, its totals).
const LEASES_EVERY_TICKS: u64 = 5;

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
        storage: Storage,
        caps: super::repair::SharedCaps,
        duty: PeerId,
        secure: Option<(SocketAddr, Inbound)>,
    ) -> anyhow::Result<Self> {
        let Secrets {
            keypair,
            certificate,
        } = secrets;
        let relay_config = config.relay.to_relay_config();
        let tickets = super::tickets::Tickets::new(keypair.clone(), config.budget.terms());
        let dht = config.data.join("dht");
        let local = keypair.public().to_peer_id();
        let records = DiskStore::open(local, &dht, Limits::default())
            .with_context(|| format!("cannot open the DHT records in {}", dht.display()))?;
        tracing::info!(
            path = %records.path().display(),
            providers = records.provider_records(),
            "DHT records loaded"
        );
        status.write().await.dht_provider_records = records.provider_records();
        let (secure_addr, inbound) = match secure {
            Some((addr, inbound)) => (Some(addr), inbound),
            None => (None, Inbound::none()),
        };
        let secure_noise = noise::Config::new(&keypair)?;
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
            .with_other_transport(|_| {
                Relabel(libp2p::websocket::Config::new(inbound))
                    .upgrade(libp2p::core::upgrade::Version::V1)
                    .authenticate(secure_noise)
                    .multiplex(yamux::Config::default())
            })?
            .with_dns()?
            .with_websocket(noise::Config::new, yamux::Config::default)
            .await?
            .with_behaviour(|key| {
                let peer_id = key.public().to_peer_id();
                let mut kad = kad::Behaviour::with_config(peer_id, records, node_kad_config());
                kad.set_mode(Some(kad::Mode::Server));
                Behaviour {
                    relay: relay::Behaviour::new(peer_id, relay_config),
                    kad,
                    identify: identify::Behaviour::new(
                        identify::Config::new(PROTOCOL_VERSION.to_owned(), key.public())
                            .with_agent_version(crate::net::AGENT_VERSION.to_owned())
                            // A node dials its --peer nodes as it starts, maybe
                            // before its listeners are up: the first identify
                            // then lists no address to verify it by, so the
                            // addresses follow in a push.
                            .with_push_listen_addr_updates(true),
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
        let secure_listener = secure_addr.map(|socket| {
            let addr = socket_multiaddr(socket, Protocol::Tcp)
                .with(Protocol::Tls)
                .with(Protocol::Ws("/".into()));
            (addr, "secure WebSocket", socket)
        });
        let count = listeners.len() + usize::from(secure_listener.is_some());
        for (addr, name, socket) in listeners.into_iter().chain(secure_listener) {
            swarm
                .listen_on(addr)
                .with_context(|| format!("cannot listen for {name} on {socket}"))?;
        }
        let advertised = config.advertised();
        for addr in &advertised {
            swarm.add_external_address(addr.clone());
        }
        status.write().await.external_addrs = advertised.iter().map(|a| a.to_string()).collect();
        let membership = Membership::join(&mut swarm, &config.peers);
        let names_dir = dht.join(names::DIR);
        let kept = names::load(&names_dir, now_ms());
        tracing::info!(names = kept.len(), "name records loaded");
        for record in kept {
            if let Err(e) = swarm.behaviour_mut().kad.store_mut().put(record) {
                tracing::warn!(error = ?e, "a name record on disk could not be loaded");
            }
        }

        let mut node = Self {
            swarm,
            status,
            connections: HashMap::new(),
            sources: HashMap::new(),
            storage,
            duty,
            limits: Default::default(),
            membership,
            uploaders: HashSet::new(),
            started: std::time::Instant::now(),
            ticks: 0,
            tickets,
            caps,
            names_dir,
        };
        node.publish_leases(false).await;
        node.await_listeners(count).await?;
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
        let mut tick = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_event(event).await,
                _ = tick.tick() => self.on_tick().await,
            }
        }
    }

    /// Once a second: dial configured nodes that are due and count the
    /// DHT's provider records; now and then, drop expired DHT records
    /// (Kademlia drops them only when a lookup touches them).
    async fn on_tick(&mut self) {
        self.membership
            .tick(&mut self.swarm, std::time::Instant::now());
        self.ticks += 1;
        if self.ticks % EXPIRE_EVERY_TICKS == 0 {
            self.swarm.behaviour_mut().kad.store_mut().remove_expired();
        }
        let records = self
            .swarm
            .behaviour_mut()
            .kad
            .store_mut()
            .provider_records();
        self.status.write().await.dht_provider_records = records;
        if self.ticks % LEASES_EVERY_TICKS == 0 {
            self.publish_leases(false).await;
        }
    }

    /// Writes the lease book if it changed (at shutdown too).
    pub fn save(&mut self) {
        self.storage.tick(super::repair::now_ms(), true);
    }

    async fn publish_leases(&mut self, force: bool) {
        let totals = self.storage.tick(super::repair::now_ms(), force);
        let (terms, capacity) = self.storage.terms();
        let full = self.storage.is_full(totals, super::repair::now_ms());
        let mut status = self.status.write().await;
        let storage = &mut status.storage;
        storage.capacity_bytes = capacity;
        storage.leased_bytes = totals.leased_bytes;
        storage.expired_bytes = totals.expired_bytes;
        storage.lease_secs = terms.lease_ms / 1000;
        storage.budget_per_uploader = terms.per_uploader;
        storage.budget_per_ip = terms.per_source;
        storage.full = full;
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
                self.membership
                    .on_established(&mut self.swarm, peer_id, connection_id, &endpoint);
                self.sources.insert(connection_id, source_of(&addr));
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
                num_established,
                cause,
                ..
            } => {
                tracing::info!(%peer_id, cause = ?cause, "disconnected");
                self.connections.remove(&connection_id);
                self.sources.remove(&connection_id);
                self.membership
                    .on_closed(peer_id, connection_id, num_established);
                if num_established == 0 {
                    self.limits.forget(&peer_id);
                    self.uploaders.remove(&peer_id);
                }
                self.publish_peers().await;
            }
            SwarmEvent::OutgoingConnectionError {
                peer_id,
                connection_id,
                error,
            } => {
                self.membership
                    .on_dial_error(peer_id, connection_id, &error);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(event)) => {
                self.membership.on_identify(&mut self.swarm, event);
                self.publish_peers().await;
            }
            SwarmEvent::Behaviour(BehaviourEvent::Block(request_response::Event::Message {
                peer,
                connection_id,
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
            })) => {
                // Blocks that browsers upload are held for them: contributed.
                let now_ms = self.started.elapsed().as_secs_f64() * 1000.0;
                let response = match self.limits.admit(peer, now_ms) {
                    Ok(()) => self.serve(peer, connection_id, request).await,
                    Err(why) => block::BlockResponse::error(block::ErrorCode::Busy, why),
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
            SwarmEvent::Behaviour(BehaviourEvent::Kad(kad::Event::InboundRequest { request })) => {
                self.on_kad(request);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Relay(event)) => {
                tracing::debug!(?event, "relay");
            }
            other => tracing::trace!(?other, "swarm event"),
        }
    }

    /// Stores what Kademlia's record filtering holds back: every provider
    /// record (the store applies its own caps), and a name record only as
    /// `names::decide` allows.
    fn on_kad(&mut self, request: kad::InboundRequest) {
        let store = self.swarm.behaviour_mut().kad.store_mut();
        match request {
            kad::InboundRequest::AddProvider {
                record: Some(record),
            } => {
                if let Err(error) = store.add_provider(record) {
                    tracing::debug!(?error, "provider record not stored");
                }
            }
            kad::InboundRequest::PutRecord {
                source,
                record: Some(record),
                ..
            } => {
                let held = store.get(&record.key).map(|r| r.value.clone());
                let key = names::shown(&record.key);
                let (record_key, value) = (record.key.clone(), record.value.clone());
                match names::decide(&record.key, &record.value, held.as_deref(), now_ms()) {
                    names::Decision::Store { sequence } => match store.put(record) {
                        Ok(()) => {
                            tracing::info!(%source, key, version = sequence, "name record stored");
                            if let Err(e) = names::save(&self.names_dir, &record_key, &value) {
                                tracing::warn!(key, error = %e, "a name record is kept in memory only");
                            }
                        }
                        Err(kad::store::Error::MaxRecords) => tracing::warn!(
                            %source,
                            "refused a name record for {key}: this node holds {} name records, its cap",
                            names::MAX_NAME_RECORDS
                        ),
                        Err(error) => {
                            tracing::warn!(%source, "refused a name record for {key}: {error}")
                        }
                    },
                    names::Decision::Same => {
                        tracing::debug!(%source, key, "name record already held");
                    }
                    names::Decision::Refuse(why) => {
                        tracing::warn!(%source, "refused a name record for {key}: {why}");
                    }
                }
            }
            _ => {}
        }
    }

    /// Answers one block request from `peer`. A PROVIDE is taken only
    /// from a peer that stored a block here over this connection: the
    /// node then announces itself in the DHT as a holder of that file.
    async fn serve(
        &mut self,
        peer: PeerId,
        connection: ConnectionId,
        request: block::BlockRequest,
    ) -> block::BlockResponse {
        let now_ms = super::repair::now_ms();
        match request {
            block::BlockRequest::Put { block, .. } => {
                let charge = self.charge(peer, connection);
                let response = self.storage.put(block, charge, now_ms).await;
                match &response {
                    block::BlockResponse::Stored(_) => {
                        self.uploaders.insert(peer);
                    }
                    // The status says it at once.
                    block::BlockResponse::Error {
                        code: block::ErrorCode::Full,
                        ..
                    } => self.publish_leases(false).await,
                    _ => {}
                }
                response
            }
            block::BlockRequest::Renew(hashes) => self.storage.renew(&hashes, now_ms),
            block::BlockRequest::Ticket { shard, size } => {
                let charge = self.charge(peer, connection);
                match self.tickets.issue(charge, shard, size, now_ms) {
                    Ok(ticket) => block::BlockResponse::Ticket(ticket),
                    Err(why) => block::BlockResponse::error(block::ErrorCode::OverBudget, why),
                }
            }
            block::BlockRequest::Provide(_) if !self.uploaders.contains(&peer) => {
                block::BlockResponse::error(
                    block::ErrorCode::Refused,
                    "store a block here before asking the node to announce a file",
                )
            }
            // From an uploader, a capability is kept only for a file whose
            // manifest is here, stored within its budget: a flood of
            // made-up capabilities cannot fill the table and crowd out
            // real ones. Member nodes hand theirs on (repair) freely.
            block::BlockRequest::Keep(cap)
                if self.charge(peer, connection).is_some() && !self.holds(&cap.manifest) =>
            {
                block::BlockResponse::error(
                    block::ErrorCode::Refused,
                    "store the file's manifest here before asking the node to keep its repair capability",
                )
            }
            block::BlockRequest::Keep(cap) => {
                let kept = self.caps.lock().map_err(|_| "poisoned".to_owned());
                match kept.and_then(|mut caps| caps.keep(&cap).map(|()| caps.count())) {
                    Ok(count) => {
                        self.status.write().await.repair.caps = count;
                        block::BlockResponse::Stored(cap.manifest)
                    }
                    Err(why) => block::BlockResponse::error(block::ErrorCode::Full, why),
                }
            }
            block::BlockRequest::Provide(key) => {
                let kad = &mut self.swarm.behaviour_mut().kad;
                match kad.start_providing(kad::RecordKey::new(&key.0)) {
                    Ok(_) => block::BlockResponse::Stored(key),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot announce a file");
                        block::BlockResponse::error(block::ErrorCode::Full, e.to_string())
                    }
                }
            }
            request => block::serve(self.storage.store(), Class::Contributed, request).await,
        }
    }

    /// Whether the store holds `hash`.
    fn holds(&self, hash: &Hash) -> bool {
        matches!(self.storage.store().has(&[*hash]).as_deref(), Ok([true]))
    }

    /// Who pays for a PUT from `peer` over `connection`: no one when it
    /// is a member node, this node's repair duty, or comes from an
    /// address a member node is connected from (another node's duty).
    fn charge(&self, peer: PeerId, connection: ConnectionId) -> Option<Charge> {
        let source = self
            .sources
            .get(&connection)
            .copied()
            .unwrap_or(Source::Relayed);
        let from_a_node = || {
            self.sources.iter().any(|(id, s)| {
                *s == source
                    && matches!(source, Source::Ip(_))
                    && self
                        .connections
                        .get(id)
                        .and_then(|c| c.peer_id.parse().ok())
                        .is_some_and(|p| self.membership.is_node(&p))
            })
        };
        if peer == self.duty || self.membership.is_node(&peer) || from_a_node() {
            return None;
        }
        Some(Charge {
            uploader: peer,
            source,
        })
    }

    async fn publish_usage(&self) {
        let usage = self.storage.store().usage();
        let mut status = self.status.write().await;
        status.stored_bytes = usage.total();
        status.stored_blocks = usage.entries;
    }

    async fn publish_peers(&self) {
        let mut peers: Vec<PeerConnection> = self.connections.values().cloned().collect();
        peers.sort_by(|a, b| (&a.peer_id, &a.addr).cmp(&(&b.peer_id, &b.addr)));
        let mut status = self.status.write().await;
        status.peers = peers;
        status.nodes = self.membership.directory();
    }
}

/// Kademlia as a node runs it: peers enter the routing table only
/// through [`Membership`], never because they connected.
fn node_kad_config() -> kad::Config {
    let mut config = crate::net::kad_config();
    config.set_kbucket_inserts(kad::BucketInserts::Manual);
    // Every inbound PUT_VALUE and ADD_PROVIDER comes to `on_kad` first:
    // values are name records, checked before they are kept.
    config.set_record_filtering(kad::StoreInserts::FilterBoth);
    // A name record is kept until a newer one replaces it (or the node
    // restarts: they are in memory), not for Kademlia's default 48 hours:
    // a publisher does not come back to republish.
    config.set_record_ttl(None);
    config
}

/// The budget source of a connection from `addr`: its IP, or relayed.
fn source_of(addr: &Multiaddr) -> Source {
    if addr.iter().any(|p| matches!(p, Protocol::P2pCircuit)) {
        return Source::Relayed;
    }
    addr.iter()
        .find_map(|p| match p {
            Protocol::Ip4(ip) => Some(Source::from_ip(ip.into())),
            Protocol::Ip6(ip) => Some(Source::from_ip(ip.into())),
            _ => None,
        })
        .unwrap_or(Source::Relayed)
}

pub(super) fn socket_multiaddr(
    socket: SocketAddr,
    transport: fn(u16) -> Protocol<'static>,
) -> Multiaddr {
    let ip = match socket.ip() {
        std::net::IpAddr::V4(ip) => Protocol::Ip4(ip),
        std::net::IpAddr::V6(ip) => Protocol::Ip6(ip),
    };
    Multiaddr::empty().with(ip).with(transport(socket.port()))
}

/// The time as unix milliseconds (name records are signed in it).
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
