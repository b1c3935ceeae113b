//! The block client: requests to the node or to another peer through the
//! swarm driver, plus finding and connecting the peers that store for
//! others.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::time::Duration;

use futures::channel::{mpsc, oneshot};
use futures::{FutureExt, SinkExt, StreamExt};
use libp2p::kad::RecordKey;
use libp2p::{Multiaddr, PeerId};

use super::connection::{contributors_key, Command, MAX_CONTRIBUTORS};
use super::status::Status;
use crate::format::MAX_HINTS;
use crate::hash::Hash;
use crate::net::block::{BlockRequest, BlockResponse};
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
}

impl Blocks {
    pub fn new(tx: mpsc::Sender<Command>, status: Rc<RefCell<Status>>) -> Self {
        Self {
            tx,
            status,
            redialing: Rc::default(),
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
        let expected = Hash::of(&bytes);
        match self.request(to, BlockRequest::Put(bytes)).await? {
            BlockResponse::Stored(hash) if hash == expected => Ok(hash),
            other => Err(TransferError::unexpected(&to, "PUT", other)),
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

    /// Asks `holder` to announce itself in the DHT as a holder of the file
    /// with provider `key` (it took shards of it).
    pub async fn provide(&self, holder: Holder, key: Hash) -> Result<(), TransferError> {
        match self.request(holder, BlockRequest::Provide(key)).await? {
            BlockResponse::Stored(k) if k == key => Ok(()),
            other => Err(TransferError::unexpected(&holder, "PROVIDE", other)),
        }
    }

    /// Which of `hashes` `at` holds.
    pub async fn has(&self, at: Holder, hashes: Vec<Hash>) -> Result<Vec<bool>, TransferError> {
        let n = hashes.len();
        match self.request(at, BlockRequest::Has(hashes)).await? {
            BlockResponse::Have(flags) if flags.len() == n => Ok(flags),
            other => Err(TransferError::unexpected(&at, "HAS", other)),
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

    /// Finds the peers that store for others and connects to them directly;
    /// returns the ones reached.
    pub async fn contributors(&self) -> Vec<PeerId> {
        self.reach_all(contributors_key()).await
    }

    /// Finds the holders of one file: the peers `hints` names (from its
    /// manifest) and those the DHT lists under its provider key; connects
    /// to each and returns the ones reached.
    pub async fn holders(&self, key: Hash, hints: Vec<PeerId>) -> Vec<PeerId> {
        let (search, mut reached) = self.holders_as_reached(key);
        search.hints(hints);
        drop(search);
        let mut peers = Vec::new();
        while let Some(peer) = reached.next().await {
            if !peers.contains(&peer) {
                peers.push(peer);
            }
        }
        peers
    }

    async fn reach_all(&self, key: RecordKey) -> Vec<PeerId> {
        let addrs = self
            .command(|reply| Command::Providers { key, reply })
            .await
            .unwrap_or_default();
        let dials = addrs.into_iter().map(|addr| self.connect(addr));
        futures::future::join_all(dials)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    /// Starts finding the holders of the file with provider `key`: looks
    /// them up in the DHT and dials each, handing on every peer as soon as
    /// it is reached. Placement hints join through [`Search::hints`]. The
    /// channel closes once the search is dropped and every dial has ended;
    /// it holds every answer a search can give, so no send waits.
    pub fn holders_as_reached(&self, key: Hash) -> (Search, mpsc::Receiver<PeerId>) {
        let (tx, rx) = mpsc::channel(MAX_CONTRIBUTORS + MAX_HINTS);
        let search = Search {
            blocks: self.clone(),
            tx,
            dialed: Rc::default(),
        };
        let lookup = search.clone();
        crate::platform::spawn(async move {
            let addrs = lookup
                .blocks
                .command(|reply| Command::Providers {
                    key: RecordKey::new(&key.0),
                    reply,
                })
                .await
                .unwrap_or_default();
            lookup.dial_all(addrs).await;
        });
        (search, rx)
    }

    /// Connects to one contributor, trying three times with a short pause:
    /// a setup can fail transiently (a busy peer, a lost race, a relayed
    /// connection closed under the signaling).
    async fn connect(&self, addr: Multiaddr) -> Option<PeerId> {
        let (_, peer) = crate::webrtc::parse_dial_addr(&addr).ok()?;
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
            tracing::warn!(%peer, attempt, %error, "contributor unreachable");
            if attempt < CONNECT_ATTEMPTS {
                crate::platform::sleep(RETRY_PAUSE * attempt).await;
            }
        }
        None
    }
}

/// One search for a file's holders; see [`Blocks::holders_as_reached`].
#[derive(Clone)]
pub struct Search {
    blocks: Blocks,
    tx: mpsc::Sender<PeerId>,
    /// Peers dialed already, so one named twice is dialed once.
    dialed: Rc<RefCell<HashSet<PeerId>>>,
}

impl Search {
    /// Dials the peers a manifest names as holders (in the background).
    pub fn hints(&self, mut peers: Vec<PeerId>) {
        peers.truncate(MAX_HINTS);
        let search = self.clone();
        crate::platform::spawn(async move {
            let addrs = search
                .blocks
                .command(|reply| Command::Addrs { peers, reply })
                .await
                .unwrap_or_default();
            search.dial_all(addrs).await;
        });
    }

    async fn dial_all(&self, addrs: Vec<Multiaddr>) {
        let dials = addrs.into_iter().map(|addr| {
            let mut tx = self.tx.clone();
            let blocks = self.blocks.clone();
            let dialed = self.dialed.clone();
            async move {
                let Ok((_, peer)) = crate::webrtc::parse_dial_addr(&addr) else {
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
