//! The block client: requests to the node or to another peer through the
//! swarm driver, plus finding and connecting the peers that store for
//! others.

use std::cell::RefCell;
use std::collections::{HashSet, VecDeque};
use std::rc::Rc;
use std::time::Duration;

use futures::channel::{mpsc, oneshot};
use futures::{FutureExt, SinkExt};
use libp2p::kad::RecordKey;
use libp2p::{Multiaddr, PeerId};

use super::connection::{Command, MAX_PROVIDERS};
use super::status::Status;
use crate::format::MAX_HINTS;
use crate::hash::Hash;
use crate::net::block::{BlockRequest, BlockResponse};
use crate::net::ticket::Ticket;
use crate::net::{contributors, MAX_NODES};
use crate::store::Storage;
use crate::transfer::TransferError;

/// Tries per contributor.
const CONNECT_ATTEMPTS: u32 = 3;
/// Pause before the next attempt, times the attempt number.
const RETRY_PAUSE: Duration = Duration::from_millis(300);
/// Longest a request to a browser may take. Browsers hold small shards
/// (256 KiB by default), so this is generous; a stream that failed to
/// open must not hold a put's segment or a get's HAS round for the 60 s
/// request timeout.
const PEER_REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest wait for a direct connection to one contributor.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(8);
/// Longest a put or get started while the node is not connected waits
/// for it (the driver retries every few seconds at most).
const CONNECT_WAIT: Duration = Duration::from_secs(30);
/// How often [`Blocks::ready`] looks at the node link's state.
const READY_POLL: Duration = Duration::from_millis(100);
/// Peers remembered as keeping their data where it may be evicted.
const MAX_EVICTABLE: usize = 1024;

/// Where a block request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Holder {
    Node,
    Peer(PeerId),
}

/// A stable name for progress reports: `node` or the peer id.
impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Node => f.write_str("node"),
            Self::Peer(p) => write!(f, "{p}"),
        }
    }
}

/// Sends block requests through the swarm driver.
#[derive(Clone)]
pub struct Blocks {
    tx: mpsc::Sender<Command>,
    /// The node link's state, for [`Blocks::ready`].
    status: Rc<RefCell<Status>>,
    /// Peers being dialed again by [`Blocks::reconnect`].
    redialing: Rc<RefCell<HashSet<PeerId>>>,
    /// Peers whose last HAS answer said their storage may be evicted,
    /// oldest first (at most [`MAX_EVICTABLE`]).
    evictable: Rc<RefCell<VecDeque<PeerId>>>,
}

impl Blocks {
    pub fn new(tx: mpsc::Sender<Command>, status: Rc<RefCell<Status>>) -> Self {
        Self {
            tx,
            status,
            redialing: Rc::default(),
            evictable: Rc::default(),
        }
    }

    async fn command<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, TransferError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .clone()
            .send(make(reply))
            .await
            .map_err(|_| TransferError::Stopped)?;
        answer.await.map_err(|_| TransferError::Stopped)
    }

    /// Resolves once the node is connected; waits up to
    /// [`CONNECT_WAIT`] while the peer is still connecting or
    /// reconnecting, then fails saying why it is not.
    pub async fn ready(&self) -> Result<(), TransferError> {
        let mut waited = Duration::ZERO;
        loop {
            let (connected, error) = {
                let status = self.status.borrow();
                let node = status.node();
                (node.state == "connected", node.error.clone())
            };
            if connected {
                return Ok(());
            }
            if waited >= CONNECT_WAIT {
                let why = error.unwrap_or_else(|| "still connecting".to_owned());
                return Err(TransferError::NotConnected(format!(
                    "{why}; retrying in the background"
                )));
            }
            crate::platform::sleep(READY_POLL).await;
            waited += READY_POLL;
        }
    }

    /// Whether a connection to `peer` is open now.
    pub fn is_connected(&self, peer: &PeerId) -> bool {
        self.status.borrow().connected_to(&peer.to_string())
    }

    /// How many other nodes the network has, as the node last said.
    pub fn other_nodes(&self) -> usize {
        self.status.borrow().node().other_nodes
    }

    /// One request; one to a browser fails after [`PEER_REQUEST_TIMEOUT`].
    /// A failure to carry it (no connection, a stream that broke) is
    /// [`TransferError::Unreachable`]: worth trying again.
    async fn request(
        &self,
        to: Holder,
        request: BlockRequest,
    ) -> Result<BlockResponse, TransferError> {
        let peer = match to {
            Holder::Node => None,
            Holder::Peer(p) => Some(p),
        };
        let answer = self.command(|reply| Command::Block {
            to: peer,
            request,
            reply,
        });
        if peer.is_none() {
            return answer.await?;
        }
        futures::select! {
            answer = answer.fuse() => answer?,
            () = crate::platform::sleep(PEER_REQUEST_TIMEOUT).fuse() => Err(TransferError::Timeout {
                holder: to.to_string(),
                secs: PEER_REQUEST_TIMEOUT.as_secs(),
            }),
        }
    }

    /// Stores a block on `to`; checks it names the block correctly.
    pub async fn put(&self, to: Holder, bytes: Vec<u8>) -> Result<Hash, TransferError> {
        self.put_with(to, bytes, None).await
    }

    /// Stores a block on `to` with a placement ticket (a contributor's
    /// condition) or without (a node's).
    pub async fn put_with(
        &self,
        to: Holder,
        block: Vec<u8>,
        ticket: Option<Ticket>,
    ) -> Result<Hash, TransferError> {
        let expected = Hash::of(&block);
        match self
            .request(to, BlockRequest::Put { block, ticket })
            .await?
        {
            BlockResponse::Stored(hash) if hash == expected => Ok(hash),
            other => Err(TransferError::unexpected(&to, "PUT", other)),
        }
    }

    /// The node's placement ticket for shard `hash` of `len` bytes, which
    /// a contributor wants before it stores the shard.
    pub async fn ticket(&self, hash: Hash, len: usize) -> Result<Ticket, TransferError> {
        let size = u32::try_from(len).unwrap_or(u32::MAX);
        let ask = BlockRequest::Ticket { shard: hash, size };
        match self.request(Holder::Node, ask).await? {
            BlockResponse::Ticket(ticket) => Ok(ticket),
            other => Err(TransferError::unexpected(&Holder::Node, "TICKET", other)),
        }
    }

    /// Fetches a block; `None` when `from` does not hold it. The caller
    /// verifies the bytes.
    pub async fn get(&self, from: Holder, hash: Hash) -> Result<Option<Vec<u8>>, TransferError> {
        match self.request(from, BlockRequest::Get(hash)).await? {
            BlockResponse::Block(bytes) => Ok(Some(bytes)),
            BlockResponse::NotFound(_) => Ok(None),
            other => Err(TransferError::unexpected(&from, "GET", other)),
        }
    }

    /// Asks `holder` to prove it holds `range` of shard `hash`: the proof
    /// (checked by the caller), or `None` when it does not hold it.
    pub async fn audit(
        &self,
        holder: Holder,
        hash: Hash,
        range: crate::audit::ChunkRange,
    ) -> Result<Option<Vec<u8>>, TransferError> {
        match self
            .request(holder, BlockRequest::Audit { hash, range })
            .await?
        {
            BlockResponse::Proof(proof) => Ok(Some(proof)),
            BlockResponse::NotFound(_) => Ok(None),
            other => Err(TransferError::unexpected(&holder, "AUDIT", other)),
        }
    }

    /// Asks `holder` to announce itself in the DHT as a holder of the file
    /// with provider `key` (it took shards of it).
    pub async fn provide(&self, holder: Holder, key: Hash) -> Result<(), TransferError> {
        match self.request(holder, BlockRequest::Provide(key)).await? {
            BlockResponse::Stored(k) if k == key => Ok(()),
            other => Err(TransferError::unexpected(&holder, "PROVIDE", other)),
        }
    }

    /// Asks the node `holder` to keep a file's repair capability.
    pub async fn keep(
        &self,
        holder: Holder,
        cap: &crate::format::RepairCap,
    ) -> Result<(), TransferError> {
        let manifest = cap.manifest;
        match self
            .request(holder, BlockRequest::Keep(cap.clone()))
            .await?
        {
            BlockResponse::Stored(h) if h == manifest => Ok(()),
            other => Err(TransferError::unexpected(&holder, "KEEP", other)),
        }
    }

    /// Which of `hashes` `at` holds.
    pub async fn has(&self, at: Holder, hashes: Vec<Hash>) -> Result<Vec<bool>, TransferError> {
        let n = hashes.len();
        self.flags(at, BlockRequest::Has(hashes), n, "HAS").await
    }

    /// Renews the leases of `hashes` on `at`; which it holds.
    pub async fn renew(&self, at: Holder, hashes: Vec<Hash>) -> Result<Vec<bool>, TransferError> {
        let n = hashes.len();
        self.flags(at, BlockRequest::Renew(hashes), n, "RENEW")
            .await
    }

    async fn flags(
        &self,
        at: Holder,
        request: BlockRequest,
        n: usize,
        what: &str,
    ) -> Result<Vec<bool>, TransferError> {
        match self.request(at, request).await? {
            BlockResponse::Have { flags, storage } if flags.len() == n => {
                if let Holder::Peer(peer) = at {
                    self.remember_storage(peer, storage);
                }
                Ok(flags)
            }
            other => Err(TransferError::unexpected(&at, what, other)),
        }
    }

    fn remember_storage(&self, peer: PeerId, storage: Storage) {
        let mut evictable = self.evictable.borrow_mut();
        evictable.retain(|p| *p != peer);
        if storage == Storage::Evictable {
            if evictable.len() >= MAX_EVICTABLE {
                evictable.pop_front();
            }
            evictable.push_back(peer);
        }
    }

    /// How `peer` keeps what it holds, as its last HAS answer said
    /// (durable when it never answered one).
    pub fn storage_of(&self, peer: PeerId) -> Storage {
        match self.evictable.borrow().contains(&peer) {
            true => Storage::Evictable,
            false => Storage::Durable,
        }
    }

    /// Asks `peer` how it keeps what it holds (an empty HAS); evictable
    /// when it does not say.
    pub async fn ask_storage(&self, peer: PeerId) -> Storage {
        match self.has(Holder::Peer(peer), Vec::new()).await {
            Ok(_) => self.storage_of(peer),
            Err(_) => Storage::Evictable,
        }
    }

    /// Dials `peer` again (its `/webrtc` address through the node) in the
    /// background, unless a dial to it is under way: a holder whose
    /// connection dropped mid-file is asked again once it is back.
    pub fn reconnect(&self, peer: PeerId) {
        if !self.redialing.borrow_mut().insert(peer) {
            return;
        }
        let blocks = self.clone();
        crate::platform::spawn(async move {
            let addrs = blocks
                .command(|reply| Command::Addrs {
                    peers: vec![peer],
                    reply,
                })
                .await
                .unwrap_or_default();
            if let Some(addr) = addrs.into_iter().next() {
                blocks.connect(addr).await;
            }
            blocks.redialing.borrow_mut().remove(&peer);
        });
    }

    /// Connects to the network's other nodes; returns the ones reached.
    pub async fn nodes(&self) -> Vec<PeerId> {
        let addrs = self
            .command(|reply| Command::Nodes { reply })
            .await
            .unwrap_or_default();
        self.connect_all(addrs).await
    }

    /// The network's other nodes as the node last listed them, reached or
    /// not (an audit counts one that does not answer as away).
    pub async fn listed_nodes(&self) -> Vec<PeerId> {
        self.command(|reply| Command::Nodes { reply })
            .await
            .unwrap_or_default()
            .iter()
            .filter_map(crate::net::addr_peer)
            .collect()
    }

    /// Finds peers that store for others, searching the contributor
    /// buckets from `anchor` (a file's provider key), and connects to
    /// them directly; returns the ones reached, each with how it keeps
    /// what it holds.
    pub async fn contributors(&self, anchor: Hash) -> Vec<(PeerId, Storage)> {
        let addrs = self.contributor_addrs(anchor).await;
        let peers = self.connect_all(addrs).await;
        let asks = peers.into_iter().map(|peer| async move {
            let storage = self.ask_storage(peer).await;
            (peer, storage)
        });
        futures::future::join_all(asks).await
    }

    /// The `/webrtc` addresses of up to [`contributors::WANTED`] peers
    /// that store for others, found from `anchor`
    /// ([`contributors::search`]).
    pub async fn contributor_addrs(&self, anchor: Hash) -> Vec<Multiaddr> {
        contributors::search(&anchor, |key| self.providers(key)).await
    }

    /// The addresses of `key`'s providers (none when the lookup failed).
    async fn providers(&self, key: RecordKey) -> Vec<Multiaddr> {
        self.command(|reply| Command::Providers { key, reply })
            .await
            .unwrap_or_default()
    }

    /// Connects to every address at once; the peers reached.
    async fn connect_all(&self, addrs: Vec<Multiaddr>) -> Vec<PeerId> {
        let dials = addrs.into_iter().map(|addr| self.connect(addr));
        futures::future::join_all(dials)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    /// A search for one file's holders: each of its lookups hands on
    /// every peer as soon as it is reached, and a peer found twice is
    /// dialed once.
    pub fn search(&self) -> Search {
        Search {
            blocks: self.clone(),
            dialed: Rc::default(),
        }
    }

    /// Connects to one holder (a browser's `/webrtc` address or another
    /// node's), trying three times with a short pause: a setup can fail
    /// transiently (a busy peer, a lost race, a relayed connection closed
    /// under the signaling).
    async fn connect(&self, addr: Multiaddr) -> Option<PeerId> {
        let peer = crate::net::addr_peer(&addr)?;
        for attempt in 1..=CONNECT_ATTEMPTS {
            let dial = self.command(|reply| Command::Connect {
                addr: addr.clone(),
                reply,
            });
            let error = futures::select! {
                result = dial.fuse() => match result {
                    Ok(Ok(())) => return Some(peer),
                    Ok(Err(e)) => e,
                    Err(e) => e.to_string(),
                },
                () = crate::platform::sleep(CONNECT_TIMEOUT).fuse() => "timed out".to_owned(),
            };
            tracing::warn!(%peer, attempt, %error, "holder unreachable");
            if attempt < CONNECT_ATTEMPTS {
                crate::platform::sleep(RETRY_PAUSE * attempt).await;
            }
        }
        None
    }
}

/// One search for a file's holders; see [`Blocks::search`]. Each lookup
/// answers with a channel that closes once its last dial has ended; it
/// holds every answer the lookup can give, so no send waits.
#[derive(Clone)]
pub struct Search {
    blocks: Blocks,
    /// Peers dialed already, so one named twice is dialed once.
    dialed: Rc<RefCell<HashSet<PeerId>>>,
}

/// Room in a lookup's channel: the most peers any lookup names.
const LOOKUP_ROOM: usize = max(max(MAX_PROVIDERS, MAX_HINTS), MAX_NODES);

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

impl Search {
    /// The peers the DHT lists as providers of the file with provider
    /// `key`.
    pub fn providers(&self, key: Hash) -> mpsc::Receiver<PeerId> {
        self.reach(move |reply| Command::Providers {
            key: RecordKey::new(&key.0),
            reply,
        })
    }

    /// The peers a manifest names as holders.
    pub fn hints(&self, mut peers: Vec<PeerId>) -> mpsc::Receiver<PeerId> {
        peers.truncate(MAX_HINTS);
        self.reach(|reply| Command::Addrs { peers, reply })
    }

    /// Asks the driver for addresses (`ask`), then dials each in the
    /// background.
    fn reach(
        &self,
        ask: impl FnOnce(oneshot::Sender<Vec<Multiaddr>>) -> Command + 'static,
    ) -> mpsc::Receiver<PeerId> {
        let (tx, rx) = mpsc::channel(LOOKUP_ROOM);
        let search = self.clone();
        crate::platform::spawn(async move {
            let mut addrs = search.blocks.command(ask).await.unwrap_or_default();
            addrs.truncate(LOOKUP_ROOM);
            search.dial_all(addrs, tx).await;
        });
        rx
    }

    async fn dial_all(&self, addrs: Vec<Multiaddr>, tx: mpsc::Sender<PeerId>) {
        let dials = addrs.into_iter().map(|addr| {
            let mut tx = tx.clone();
            let blocks = self.blocks.clone();
            let dialed = self.dialed.clone();
            async move {
                let Some(peer) = crate::net::addr_peer(&addr) else {
                    return;
                };
                if !dialed.borrow_mut().insert(peer) {
                    return;
                }
                if let Some(peer) = blocks.connect(addr).await {
                    let _ = tx.try_send(peer);
                }
            }
        });
        futures::future::join_all(dials).await;
    }
}
