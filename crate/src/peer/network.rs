//! Put and get across the network, on the transfer engine
//! ([`crate::transfer`]). This module supplies what only the tab has: its
//! holders.
//!
//! - [`Network`], the engine's source: the node (a full holder) and the
//!   browsers reached so far (partial holders: the manifest's hints and
//!   the providers of the file's key in the DHT, joining as their dials
//!   succeed). A browser whose connection dropped is dialed again in the
//!   background, so the engine's next round can ask it again.
//! - [`Uploads`], the engine's sink: the node must confirm every shard;
//!   contributing browsers take a best-effort copy, then announce the
//!   file under its provider key and are named in its manifest.

mod get;
mod health;
mod shards;

use std::time::Duration;

use futures::channel::mpsc;
use futures::{FutureExt as _, StreamExt as _};
use libp2p::PeerId;

use super::blocks::{Blocks, Holder, Search};
use crate::format::{Link, Manifest};
use crate::hash::Hash;
use crate::transfer::{self, Answers, Reach, ShardSink, ShardSource, TransferError};
pub use get::{open, Opened};
pub use health::{health, Health};
pub use shards::{shards, Sessions, MAX_HASHES};

/// The tab's holders of one file, as the engine's source.
pub struct Network {
    blocks: Blocks,
    /// Dials the manifest's hints once it is open; dropped then, so the
    /// search ends when its last dial does.
    search: Option<Search>,
    /// Holders as they are reached, until every dial has ended.
    lookup: Option<mpsc::Receiver<PeerId>>,
    peers: Vec<PeerId>,
}

impl Network {
    /// Starts looking for the holders of the file `link` names: the
    /// providers of its key now, its hints once the manifest is open.
    pub fn new(blocks: &Blocks, link: &Link) -> Self {
        let (search, lookup) = blocks.holders_as_reached(link.key.provider_key());
        Self {
            blocks: blocks.clone(),
            search: Some(search),
            lookup: Some(lookup),
            peers: Vec::new(),
        }
    }

    /// One more holder (`None`: the search is over); true when one came.
    fn found(&mut self, peer: Option<PeerId>) -> bool {
        match peer {
            Some(peer) if !self.peers.contains(&peer) => {
                self.peers.push(peer);
                true
            }
            Some(_) => false,
            None => {
                self.lookup = None;
                false
            }
        }
    }
}

impl ShardSource for Network {
    type Holder = Holder;

    async fn ready(&mut self) -> transfer::Result<()> {
        self.blocks.ready().await
    }

    fn holders(&mut self) -> Vec<(Holder, Reach)> {
        while let Some(lookup) = &mut self.lookup {
            match lookup.try_recv() {
                Ok(peer) => {
                    self.found(Some(peer));
                }
                Err(mpsc::TryRecvError::Closed) => {
                    self.found(None);
                }
                Err(mpsc::TryRecvError::Empty) => break,
            }
        }
        let peers = self
            .peers
            .iter()
            .map(|p| (Holder::Peer(*p), Reach::Partial));
        std::iter::once((Holder::Node, Reach::Full))
            .chain(peers)
            .collect()
    }

    fn searching(&self) -> bool {
        self.lookup.is_some()
    }

    async fn wait_for_holder(&mut self, limit: Option<Duration>) -> bool {
        let Some(lookup) = &mut self.lookup else {
            return false;
        };
        let peer = match limit {
            None => lookup.next().await,
            Some(limit) => futures::select! {
                peer = lookup.next() => peer,
                () = crate::platform::sleep(limit).fuse() => return false,
            },
        };
        self.found(peer)
    }

    async fn has(&self, holder: Holder, hashes: &[Hash]) -> transfer::Result<Vec<bool>> {
        self.blocks.has(holder, hashes.to_vec()).await
    }

    async fn fetch(&self, holder: Holder, hashes: &[Hash]) -> Answers {
        let gets = hashes.iter().map(|h| self.blocks.get(holder, *h));
        let answers = futures::future::join_all(gets).await;
        let dropped = answers
            .iter()
            .any(|a| matches!(a, Err(TransferError::Unreachable { .. })));
        if let (true, Holder::Peer(peer)) = (dropped, holder) {
            self.blocks.reconnect(peer);
        }
        answers
    }

    async fn pause(&self, duration: Duration) {
        crate::platform::sleep(duration).await;
    }

    fn manifest_opened(&mut self, manifest: &Manifest) {
        if let Some(search) = self.search.take() {
            search.hints(hinted_peers(manifest));
        }
    }
}

/// The tab's holders for a put, as the engine's sink.
pub struct Uploads {
    pub blocks: Blocks,
}

impl ShardSink for Uploads {
    type Holder = Holder;

    async fn ready(&mut self) -> transfer::Result<()> {
        self.blocks.ready().await
    }

    async fn nodes(&mut self) -> Vec<Holder> {
        vec![Holder::Node]
    }

    async fn contributors(&mut self) -> Vec<Holder> {
        let peers = self.blocks.contributors().await;
        peers.into_iter().map(Holder::Peer).collect()
    }

    async fn store(&self, holder: Holder, hash: Hash, bytes: &[u8]) -> transfer::Result<()> {
        let stored = self.blocks.put(holder, bytes.to_vec()).await?;
        match stored == hash {
            true => Ok(()),
            false => Err(TransferError::Protocol {
                holder: holder.to_string(),
                message: format!("stored {hash} as {stored}"),
            }),
        }
    }

    fn hint(&self, holder: Holder) -> Option<Vec<u8>> {
        match holder {
            Holder::Peer(peer) => Some(peer.to_bytes()),
            Holder::Node => None,
        }
    }

    async fn announce(&self, holders: &[Holder], provider_key: Hash) {
        let asks = holders.iter().map(|holder| async move {
            if let Err(e) = self.blocks.provide(*holder, provider_key).await {
                tracing::warn!(%holder, error = %e, "a holder will not announce the file");
            }
        });
        futures::future::join_all(asks).await;
    }
}

/// The peers a manifest names as holders (hints that do not parse as peer
/// ids are ignored: they are advisory).
fn hinted_peers(manifest: &Manifest) -> Vec<PeerId> {
    manifest
        .hints
        .iter()
        .filter_map(|h| PeerId::from_bytes(h).ok())
        .collect()
}
