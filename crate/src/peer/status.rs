//! The browser peer's observable state and its change notifications.

use libp2p::PeerId;
use serde::Serialize;
use std::cell::RefCell;
use std::rc::Rc;

use crate::net::PeerConnection;

/// Most status listeners one page may register: a bound, not a quota.
const MAX_LISTENERS: usize = 64;

/// What a `peer.status()` call returns.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerStatus {
    pub peer_id: String,
    pub node: NodeLink,
    pub connections: Vec<ConnectionInfo>,
    pub listen_addrs: Vec<String>,
    /// How this peer reaches other browsers: `direct` (WebRTC when ICE
    /// finds a path), `no-webrtc` (this browser has none: relayed only)
    /// or `private` (relayed only, by choice).
    pub paths: &'static str,
}

/// The state of the link to the bootstrap node.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeLink {
    /// `connecting`, `connected` or `unreachable`.
    pub state: &'static str,
    pub peer_id: Option<String>,
    pub transport: Option<String>,
    pub addr: Option<String>,
    /// Why the last attempt failed, in plain words.
    pub error: Option<String>,
    /// When unreachable: milliseconds until the next attempt.
    pub retry_in_ms: Option<u64>,
    /// How many other nodes of the network the node named.
    pub other_nodes: usize,
    /// The threshold the node's repair uses, as its `/bootstrap.json`
    /// says (`None` before it said).
    pub repair_threshold: Option<usize>,
    /// How long the node keeps a block after its last renewal, in
    /// seconds, as its `/bootstrap.json` says: the page renews its
    /// uploads well within it.
    pub lease_secs: Option<u64>,
}

/// One open connection.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionInfo {
    #[serde(flatten)]
    pub connection: PeerConnection,
    /// `direct` or `relayed`.
    pub path: &'static str,
}

/// Mutable status shared between the swarm task and the JS handle.
pub struct Status {
    current: PeerStatus,
    listeners: Vec<Listener>,
}

impl Status {
    pub fn new(peer_id: PeerId, paths: crate::webrtc::Paths) -> Self {
        Self {
            current: PeerStatus {
                peer_id: peer_id.to_string(),
                node: NodeLink {
                    state: "connecting",
                    peer_id: None,
                    transport: None,
                    addr: None,
                    error: None,
                    retry_in_ms: None,
                    other_nodes: 0,
                    repair_threshold: None,
                    lease_secs: None,
                },
                connections: Vec::new(),
                listen_addrs: Vec::new(),
                paths: paths.as_str(),
            },
            listeners: Vec::new(),
        }
    }

    pub fn snapshot(&self) -> PeerStatus {
        self.current.clone()
    }

    /// Whether a connection to `peer` is open.
    pub fn connected_to(&self, peer: &str) -> bool {
        self.current
            .connections
            .iter()
            .any(|c| c.connection.peer_id == peer)
    }

    /// The node link alone.
    pub fn node(&self) -> &NodeLink {
        &self.current.node
    }

    pub fn subscribe(&mut self, callback: Listener) -> Result<(), String> {
        if self.listeners.len() >= MAX_LISTENERS {
            return Err(format!("at most {MAX_LISTENERS} status listeners"));
        }
        self.listeners.push(callback);
        Ok(())
    }
}

/// Applies `change` and tells every listener. The status is not borrowed
/// while listeners run, so a listener may call `peer.status()`.
pub fn update(status: &RefCell<Status>, change: impl FnOnce(&mut PeerStatus)) {
    let (listeners, value) = {
        let mut s = status.borrow_mut();
        change(&mut s.current);
        (s.listeners.clone(), s.current.clone())
    };
    for listener in &listeners {
        listener(&value);
    }
}

/// Told of every status change.
pub type Listener = Rc<dyn Fn(&PeerStatus)>;
