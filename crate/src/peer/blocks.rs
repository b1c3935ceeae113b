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
use crate::format::MAX_HINTS;
use crate::hash::Hash;
use crate::net::block::{BlockRequest, BlockResponse};

/// Tries per contributor.
const CONNECT_ATTEMPTS: u32 = 3;
/// Pause before the next attempt, times the attempt number.
const RETRY_PAUSE: Duration = Duration::from_millis(300);
/// Longest a request to a browser may take. Browsers hold small shards
/// (256 KiB by default), so this is generous; a stream that failed to
/// open must not hold a put's segment or a get's HAS round for the 60 s
/// request timeout.
const PEER_REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// What a [`Blocks::put`] error says when the holder answered with a
/// refusal (full, not contributing, rate limited), not a transport failure.
pub const REFUSED: &str = "refused a shard";
/// Longest wait for a direct connection to one contributor.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(8);

/// Where a block request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Holder {
    Node,
    Peer(PeerId),
}

impl Holder {
    /// A stable name for progress reports.
    pub fn label(&self) -> String {
        match self {
            Self::Node => "node".to_owned(),
            Self::Peer(p) => p.to_string(),
        }
    }

    fn name(&self) -> String {
        match self {
            Self::Node => "the node".to_owned(),
            Self::Peer(p) => format!("peer {p}"),
        }
    }
}

/// Sends block requests through the swarm driver.
#[derive(Clone)]
pub struct Blocks {
    tx: mpsc::Sender<Command>,
}

impl Blocks {
    pub fn new(tx: mpsc::Sender<Command>) -> Self {
        Self { tx }
    }

    async fn command<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, String> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .clone()
            .send(make(reply))
            .await
            .map_err(|_| "the peer has stopped".to_owned())?;
        answer.await.map_err(|_| "the peer has stopped".to_owned())
    }

    /// One request; one to a browser fails after [`PEER_REQUEST_TIMEOUT`].
    async fn request(&self, to: Holder, request: BlockRequest) -> Result<BlockResponse, String> {
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
            () = crate::platform::sleep(PEER_REQUEST_TIMEOUT).fuse() => Err(format!(
                "no answer from {} within {} s",
                to.name(),
                PEER_REQUEST_TIMEOUT.as_secs()
            )),
        }
    }

    /// Stores a block on `to`; checks it names the block correctly.
    pub async fn put(&self, to: Holder, bytes: Vec<u8>) -> Result<Hash, String> {
        let expected = Hash::of(&bytes);
        match self.request(to, BlockRequest::Put(bytes)).await? {
            BlockResponse::Stored(hash) if hash == expected => Ok(hash),
            BlockResponse::Error { message, .. } => {
                Err(format!("{} {REFUSED}: {message}", to.name()))
            }
            other => Err(format!(
                "{} answered a PUT with {}",
                to.name(),
                kind(&other)
            )),
        }
    }

    /// Fetches a block; `None` when `from` does not hold it. The caller
    /// verifies the bytes.
    pub async fn get(&self, from: Holder, hash: Hash) -> Result<Option<Vec<u8>>, String> {
        match self.request(from, BlockRequest::Get(hash)).await? {
            BlockResponse::Block(bytes) => Ok(Some(bytes)),
            BlockResponse::NotFound(_) => Ok(None),
            BlockResponse::Error { message, .. } => {
                Err(format!("{} failed a GET: {message}", from.name()))
            }
            other => Err(format!(
                "{} answered a GET with {}",
                from.name(),
                kind(&other)
            )),
        }
    }

    /// Asks `holder` to announce itself in the DHT as a holder of the file
    /// with provider `key` (it took shards of it).
    pub async fn provide(&self, holder: Holder, key: Hash) -> Result<(), String> {
        match self.request(holder, BlockRequest::Provide(key)).await? {
            BlockResponse::Stored(k) if k == key => Ok(()),
            BlockResponse::Error { message, .. } => Err(format!("{}: {message}", holder.name())),
            other => Err(format!(
                "{} answered a PROVIDE with {}",
                holder.name(),
                kind(&other)
            )),
        }
    }

    /// Which of `hashes` `at` holds.
    pub async fn has(&self, at: Holder, hashes: Vec<Hash>) -> Result<Vec<bool>, String> {
        let n = hashes.len();
        match self.request(at, BlockRequest::Has(hashes)).await? {
            BlockResponse::Have(flags) if flags.len() == n => Ok(flags),
            other => Err(format!(
                "{} answered a HAS with {}",
                at.name(),
                kind(&other)
            )),
        }
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
                    Ok(Err(e)) | Err(e) => e,
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

fn kind(response: &BlockResponse) -> &'static str {
    match response {
        BlockResponse::Stored(_) => "a PUT answer",
        BlockResponse::Block(_) => "a block",
        BlockResponse::Have(_) => "a HAS answer",
        BlockResponse::NotFound(_) => "not found",
        BlockResponse::Error { .. } => "an error",
    }
}
