//! What the node and the browser peer share on the wire: protocol names,
//! the JSON documents the node serves, and how an address maps to the
//! transport shown to users.

pub mod block;
pub mod contributors;
pub mod relays;
pub mod ticket;

use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, StreamProtocol};
use serde::{Deserialize, Serialize};

/// Identify protocol version: peers of other networks are told apart by it.
pub const PROTOCOL_VERSION: &str = "/meganet/0.1.0";

/// Kademlia protocol name, so meganet's DHT never mixes with the IPFS one.
pub const KAD_PROTOCOL: StreamProtocol = StreamProtocol::new("/meganet/kad/1.0.0");

/// How long a node keeps a provider record nobody re-published: a holder
/// that left (or withdrew) stops being listed within this time.
pub const PROVIDER_TTL: std::time::Duration = std::time::Duration::from_secs(60 * 60);
/// How often a holder re-publishes its provider records.
pub const PROVIDER_REPUBLISH: std::time::Duration = std::time::Duration::from_secs(20 * 60);

/// The Kademlia configuration nodes and browsers share.
pub fn kad_config() -> libp2p::kad::Config {
    let mut config = libp2p::kad::Config::new(KAD_PROTOCOL);
    config.set_provider_record_ttl(Some(PROVIDER_TTL));
    config.set_provider_publication_interval(Some(PROVIDER_REPUBLISH));
    config
}

/// `/bootstrap.json`: how a browser reaches the node that served the page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Bootstrap {
    /// The node's peer id.
    pub peer_id: String,
    /// Dialable multiaddrs, each ending in `/p2p/<peer id>`.
    pub addrs: Vec<String>,
    /// STUN server URLs browsers use to find their public address, so
    /// peers behind NATs can connect directly; none on one host or LAN.
    #[serde(default)]
    pub ice_servers: Vec<String>,
    /// The other nodes of the network this node is joined to, so a peer
    /// can reach holders on any of them.
    #[serde(default)]
    pub nodes: Vec<NodeEntry>,
    /// The threshold this node's repair uses (`--repair-threshold`), so
    /// a page's health report measures against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair_threshold: Option<usize>,
    /// How long this node keeps a block after its last renewal, in
    /// seconds (`--lease-secs`): uploaders renew well within it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_secs: Option<u64>,
    /// The port of the sites' origin (`--sites`): published sites open
    /// there, on the app's own host name, so they never share its origin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sites_port: Option<u16>,
}

/// One node of the network: its peer id and dialable addresses.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NodeEntry {
    pub peer_id: String,
    /// Each without the `/p2p/<peer id>` suffix; at most
    /// [`MAX_NODE_ADDRS`].
    pub addrs: Vec<String>,
}

/// The peers a manifest names as holders (hints that do not parse as peer
/// ids are ignored: they are advisory).
pub fn hinted_peers(manifest: &crate::format::Manifest) -> Vec<libp2p::PeerId> {
    manifest
        .hints
        .iter()
        .filter_map(|h| libp2p::PeerId::from_bytes(h).ok())
        .collect()
}

/// Most nodes a bootstrap document lists.
pub const MAX_NODES: usize = 64;
/// Most addresses listed per node.
pub const MAX_NODE_ADDRS: usize = 8;

/// Most STUN servers a browser takes from a bootstrap document.
pub const MAX_ICE_SERVERS: usize = 8;
/// Longest STUN server URL.
pub const MAX_ICE_URL_LEN: usize = 256;

/// The peer an address ends in (`.../p2p/<peer id>`).
pub fn addr_peer(addr: &Multiaddr) -> Option<libp2p::PeerId> {
    match addr.iter().last() {
        Some(Protocol::P2p(peer)) => Some(peer),
        _ => None,
    }
}

/// Checks the address of a node: a host (IP or DNS name), then TCP
/// (optionally WebSocket) or UDP WebRTC-direct, never a relayed circuit;
/// with `with_peer` it must end in `/p2p/<peer id>`, else it must not.
pub fn check_node_addr(addr: &Multiaddr, with_peer: bool) -> Result<(), String> {
    let parts: Vec<Protocol> = addr.iter().collect();
    let host = matches!(
        parts.first(),
        Some(
            Protocol::Ip4(_)
                | Protocol::Ip6(_)
                | Protocol::Dns(_)
                | Protocol::Dns4(_)
                | Protocol::Dns6(_)
        )
    );
    let transport = matches!(parts.get(1), Some(Protocol::Tcp(_) | Protocol::Udp(_)));
    if !host || !transport {
        return Err(format!(
            "{addr} is not a node address: it must start with a host and a port, like /ip4/203.0.113.7/tcp/4003"
        ));
    }
    if parts.iter().any(|p| matches!(p, Protocol::P2pCircuit)) {
        return Err(format!(
            "{addr} is a relayed address; a node needs a direct one"
        ));
    }
    let ends_with_peer = matches!(parts.last(), Some(Protocol::P2p(_)));
    match (with_peer, ends_with_peer) {
        (true, false) => Err(format!("{addr} must end in /p2p/<peer id> (the node's id)")),
        (false, true) => Err(format!(
            "{addr} must not name a peer id (/p2p/…): the node adds its own"
        )),
        _ => Ok(()),
    }
}

/// Checks a STUN server URL (`stun:host[:port]` or `stuns:…`): the node
/// refuses a bad one at start-up, a browser ignores one from a node.
pub fn check_stun_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("stun:")
        .or_else(|| url.strip_prefix("stuns:"))
        .ok_or_else(|| format!("{url:?} is not a STUN URL (stun:host:port)"))?;
    if url.len() > MAX_ICE_URL_LEN {
        return Err(format!("STUN URL longer than {MAX_ICE_URL_LEN} bytes"));
    }
    let valid = !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
    if valid {
        Ok(())
    } else {
        Err(format!("{url:?} is not a STUN URL (stun:host:port)"))
    }
}

/// `/status.json`: the node's own view, for operators and tests.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    /// The node's peer id.
    pub peer_id: String,
    /// Certificate hash of the WebRTC-direct listener (multibase), stable
    /// across restarts because the certificate is persisted.
    pub certhash: Option<String>,
    /// Addresses the node listens on.
    pub listen_addrs: Vec<String>,
    /// Addresses given with `--external-address`: how others reach it.
    #[serde(default)]
    pub external_addrs: Vec<String>,
    /// STUN servers it hands to browsers (`--stun`).
    #[serde(default)]
    pub ice_servers: Vec<String>,
    /// Connected peers: listed in `/status.json` only with
    /// `--status-details` (their addresses are theirs to keep).
    pub peers: Vec<PeerConnection>,
    /// How many peers are connected.
    #[serde(default)]
    pub peer_count: usize,
    /// Other nodes joined to this one (configured or verified), with the
    /// addresses they listen on.
    #[serde(default)]
    pub nodes: Vec<NodeEntry>,
    /// Bytes of blocks stored.
    #[serde(default)]
    pub stored_bytes: u64,
    /// Number of blocks stored.
    #[serde(default)]
    pub stored_blocks: u64,
    /// Provider records in the node's DHT store (on disk).
    #[serde(default)]
    pub dht_provider_records: usize,
    /// Blocks served to GET requests since the node started.
    #[serde(default)]
    pub served_blocks: u64,
    /// Bytes of those blocks.
    #[serde(default)]
    pub served_bytes: u64,
    /// What the repair duty has done since the node started.
    #[serde(default)]
    pub repair: RepairStatus,
    /// Room, leases and budgets.
    #[serde(default)]
    pub storage: StorageStatus,
}

/// The node's room, leases and budgets (`/status.json`).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageStatus {
    /// Bytes it stores for others at most (`--quota`).
    #[serde(default)]
    pub capacity_bytes: u64,
    /// Bytes of blocks whose leases run.
    #[serde(default)]
    pub leased_bytes: u64,
    /// Bytes of blocks whose leases ran out: removed when room is needed.
    #[serde(default)]
    pub expired_bytes: u64,
    /// True when a new upload may be refused for want of room: the
    /// leased bytes leave less than one block's room.
    #[serde(default)]
    pub full: bool,
    /// `--lease-secs`.
    #[serde(default)]
    pub lease_secs: u64,
    /// `--budget-per-uploader`.
    #[serde(default)]
    pub budget_per_uploader: u64,
    /// `--budget-per-ip`.
    #[serde(default)]
    pub budget_per_ip: u64,
}

/// The repair duty's counters (`/status.json`).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepairStatus {
    /// The threshold repair uses (`--repair-threshold`).
    #[serde(default)]
    pub threshold: usize,
    /// Repair capabilities this node keeps.
    pub caps: usize,
    /// Passes run, and how long the last took (ms).
    pub passes: u64,
    pub last_pass_ms: u64,
    /// Files checked on duty, and checks that failed.
    pub files_checked: u64,
    pub failed_files: u64,
    /// Segments rebuilt, shards placed and their bytes.
    pub segments_repaired: u64,
    pub shards_placed: u64,
    pub bytes_placed: u64,
    /// Holders that failed an audit, over all checks.
    pub failed_audits: u64,
    /// Segments the last pass found below k live shards.
    pub unrepairable_segments: u64,
    /// Holders whose audit record is no longer trusted: they are given
    /// no new shards, and their claims count only where they just proved
    /// every audit (kept across restarts).
    #[serde(default)]
    pub untrusted_holders: usize,
}

impl NodeStatus {
    /// Where others dial the node: its external addresses, then its
    /// listeners.
    pub fn public_addrs(&self) -> impl Iterator<Item = &String> {
        self.external_addrs.iter().chain(&self.listen_addrs)
    }
}

/// One connected peer as seen by the node.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PeerConnection {
    /// Remote peer id.
    pub peer_id: String,
    /// Transport name, see [`TransportKind`].
    pub transport: String,
    /// Remote address of the connection.
    pub addr: String,
}

/// What identify reports as our agent.
pub const AGENT_VERSION: &str = concat!("meganet/", env!("CARGO_PKG_VERSION"));

/// The transport a connection runs over, as shown to users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// WebSocket (browser to node).
    WebSocket,
    /// WebRTC-direct (browser to node, no TLS certificate needed).
    WebRtcDirect,
    /// libp2p `/webrtc` (browser to browser).
    WebRtc,
    /// A relayed circuit through a node.
    Relay,
    /// Plain TCP (node to node, CLI to node).
    Tcp,
    /// Anything else.
    Other,
}

impl TransportKind {
    /// Classifies a connection by its address. Order matters: a relayed
    /// WebRTC address contains `p2p-circuit` before `webrtc`.
    pub fn of(addr: &Multiaddr) -> Self {
        let mut kind = Self::Other;
        for protocol in addr.iter() {
            kind = match protocol {
                Protocol::WebRTC => return Self::WebRtc,
                Protocol::WebRTCDirect => return Self::WebRtcDirect,
                Protocol::P2pCircuit => Self::Relay,
                Protocol::Ws(_) | Protocol::Wss(_) if kind != Self::Relay => Self::WebSocket,
                Protocol::Tcp(_) if kind == Self::Other => Self::Tcp,
                _ => kind,
            };
        }
        kind
    }

    /// Classifies a connection by both its ends: an incoming relayed
    /// circuit's remote address is only `/p2p/<peer>`, but its local
    /// address holds `/p2p-circuit` (an incoming `/webrtc` connection's
    /// local address does too, so its remote address decides first).
    pub fn of_endpoint(endpoint: &libp2p::core::ConnectedPoint) -> Self {
        let remote = Self::of(endpoint.get_remote_address());
        match endpoint {
            libp2p::core::ConnectedPoint::Listener { local_addr, .. }
                if remote != Self::WebRtc
                    && local_addr.iter().any(|p| p == Protocol::P2pCircuit) =>
            {
                Self::Relay
            }
            _ => remote,
        }
    }

    /// Stable lower-case name used in JSON and the UI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WebSocket => "websocket",
            Self::WebRtcDirect => "webrtc-direct",
            Self::WebRtc => "webrtc",
            Self::Relay => "relay",
            Self::Tcp => "tcp",
            Self::Other => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(s: &str) -> &'static str {
        TransportKind::of(&s.parse().unwrap()).as_str()
    }

    #[test]
    fn checks_stun_urls() {
        for good in [
            "stun:127.0.0.1:3478",
            "stuns:stun.example.org",
            "stun:[::1]:3478",
        ] {
            assert_eq!(check_stun_url(good), Ok(()), "{good}");
        }
        let long = format!("stun:{}", "a".repeat(MAX_ICE_URL_LEN));
        for bad in [
            "",
            "stun:",
            "http://x",
            "turn:x:3478",
            "stun:a b",
            "stun:x?transport=udp",
            &long,
        ] {
            assert!(check_stun_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn classifies_addresses() {
        assert_eq!(kind("/ip4/127.0.0.1/tcp/1/ws"), "websocket");
        assert_eq!(kind("/ip4/127.0.0.1/tcp/1"), "tcp");
        assert_eq!(kind("/ip4/127.0.0.1/udp/1/webrtc-direct"), "webrtc-direct");
        let relay = "/ip4/127.0.0.1/tcp/1/ws/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/p2p-circuit";
        assert_eq!(kind(relay), "relay");
        assert_eq!(kind(&format!("{relay}/webrtc")), "webrtc");
    }

    #[test]
    fn classifies_incoming_connections_by_both_ends() {
        use libp2p::core::ConnectedPoint;
        let relay = "/ip4/127.0.0.1/tcp/1/ws/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/p2p-circuit";
        let peer = "/p2p/12D3KooWRBhwfeP2Y4TCx1SM6s9rUoHhR5STiGwxBhgFRcw3UERE";
        let incoming = |local: &str, remote: &str| ConnectedPoint::Listener {
            local_addr: local.parse().unwrap(),
            send_back_addr: remote.parse().unwrap(),
        };
        let of = |e: &ConnectedPoint| TransportKind::of_endpoint(e).as_str();
        assert_eq!(of(&incoming(relay, peer)), "relay");
        let webrtc_remote = format!("/ip4/10.0.0.2/udp/5/webrtc{peer}");
        assert_eq!(
            of(&incoming(&format!("{relay}/webrtc"), &webrtc_remote)),
            "webrtc"
        );
        assert_eq!(
            of(&incoming("/ip4/0.0.0.0/tcp/1/ws", "/ip4/1.2.3.4/tcp/9/ws")),
            "websocket"
        );
    }
}
