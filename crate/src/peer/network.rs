//! Put and get across the network, on the transfer engine
//! ([`crate::transfer`]). This module supplies what only the tab has: its
//! holders.
//!
//! - [`Network`], the engine's source: the node (a full holder when it is
//!   the network's only node) and the holders reached so far (partial
//!   holders: the network's other nodes, the manifest's hints and the
//!   providers of the file's key in the DHT, joining as their dials
//!   succeed). A holder whose connection dropped is dialed again in the
//!   background, so the engine's next round can ask it again.
//! - [`Uploads`], the engine's sink: the nodes, each shard confirmed by
//!   one; contributing browsers take a best-effort copy, then announce the
//!   file under its provider key and are named in its manifest.

mod get;
mod health;
mod repair;
mod shards;

use std::time::Duration;

use futures::channel::mpsc;
use futures::stream::SelectAll;
use futures::{FutureExt as _, StreamExt as _};
use libp2p::PeerId;

use super::blocks::{Blocks, Holder, Search};
use crate::format::{Link, Manifest};
use crate::hash::Hash;
use crate::net::ticket::Ticket;
use crate::store::Storage;
use crate::transfer::{self, Answers, Reach, ShardSink, ShardSource, TransferError};
pub use get::{open, Opened};
pub use health::{health, Health};
pub use repair::repair;
pub use shards::{shards, Sessions, MAX_HASHES};

/// The tab's holders of one file, as the engine's source.
pub struct Network {
    blocks: Blocks,
    search: Search,
    /// Holders as the lookups reach them (the file's providers, the other
    /// nodes, the manifest's hints once it is open); empty once every
    /// lookup has ended, so a manifest nobody holds is not waited for.
    lookups: SelectAll<mpsc::Receiver<PeerId>>,
    peers: Vec<PeerId>,
    /// How our node is asked: a full holder only in a one-node network.
    node_reach: Reach,
    /// The file's provider key, looked up once the nodes are reached.
    provider_key: Hash,
    /// Every listed node is a holder, also one that cannot be reached: an
    /// audit then counts its pieces as away, not lost.
    every_node: bool,
    /// The browsers the manifest names (its placement hints).
    hinted: Vec<PeerId>,
}

impl Network {
    /// Will look for the holders of the file `link` names: the network's
    /// other nodes and the providers of its key once ready, its hints once
    /// the manifest is open.
    pub fn new(blocks: &Blocks, link: &Link) -> Self {
        Self {
            blocks: blocks.clone(),
            search: blocks.search(),
            lookups: SelectAll::new(),
            provider_key: link.provider_key(),
            peers: Vec::new(),
            node_reach: Reach::Full,
            every_node: false,
            hinted: Vec::new(),
        }
    }

    /// [`Network::new`] for an audit: the nodes that do not answer are
    /// holders too, so a stopped node's pieces show as away.
    pub fn with_every_node(mut self) -> Self {
        self.every_node = true;
        self
    }

    /// One more holder; true when it is new.
    fn found(&mut self, peer: PeerId) -> bool {
        if self.peers.contains(&peer) {
            return false;
        }
        self.peers.push(peer);
        true
    }
}

impl ShardSource for Network {
    type Holder = Holder;

    async fn ready(&mut self) -> transfer::Result<()> {
        self.blocks.ready().await?;
        if self.blocks.other_nodes() > 0 {
            // Shards are spread over the nodes: ours holds some of them.
            // The others are connected before the providers are dialed:
            // a browser on another node is reached through it.
            self.node_reach = Reach::Partial;
            for node in self.blocks.nodes().await {
                self.found(node);
            }
            if self.every_node {
                for node in self.blocks.listed_nodes().await {
                    self.found(node);
                }
            }
        }
        self.lookups.push(self.search.providers(self.provider_key));
        Ok(())
    }

    fn holders(&mut self) -> Vec<(Holder, Reach)> {
        while let Some(Some(peer)) = self.lookups.next().now_or_never() {
            self.found(peer);
        }
        let peers = self
            .peers
            .iter()
            .map(|p| (Holder::Peer(*p), Reach::Partial));
        std::iter::once((Holder::Node, self.node_reach))
            .chain(peers)
            .collect()
    }

    fn searching(&self) -> bool {
        !self.lookups.is_empty()
    }

    async fn wait_for_holder(&mut self, limit: Option<Duration>) -> bool {
        let peer = match limit {
            None => self.lookups.next().await,
            Some(limit) => futures::select! {
                peer = self.lookups.next() => peer,
                () = crate::platform::sleep(limit).fuse() => return false,
            },
        };
        peer.is_some_and(|peer| self.found(peer))
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
        self.hinted = crate::net::hinted_peers(manifest);
        self.lookups.push(self.search.hints(self.hinted.clone()));
    }

    /// A hinted browser this tab is connected to is listed within
    /// milliseconds; one it must dial first takes a WebRTC setup.
    fn holder_at_hand(&self) -> bool {
        self.hinted.iter().any(|p| self.blocks.is_connected(p))
    }
}

impl transfer::Auditor for Network {
    async fn audit(
        &self,
        holder: Holder,
        hash: Hash,
        range: crate::audit::ChunkRange,
    ) -> transfer::Result<Option<Vec<u8>>> {
        self.blocks.audit(holder, hash, range).await
    }

    async fn renew(&self, holder: Holder, hashes: &[Hash]) -> transfer::Result<Vec<bool>> {
        self.blocks.renew(holder, hashes.to_vec()).await
    }
}

/// A repair reads from the file's holders and places on the network as a
/// put does: the source is also a sink.
impl ShardSink for Network {
    type Holder = Holder;

    async fn ready(&mut self) -> transfer::Result<()> {
        self.blocks.ready().await
    }

    async fn nodes(&mut self) -> Vec<Holder> {
        ShardSink::nodes(&mut self.uploads()).await
    }

    async fn contributors(&mut self, anchor: Hash) -> Vec<(Holder, Storage)> {
        self.uploads().contributors(anchor).await
    }

    async fn store(&self, holder: Holder, hash: Hash, bytes: &[u8]) -> transfer::Result<()> {
        self.uploads().store(holder, hash, bytes).await
    }

    async fn store_copy(&self, holder: Holder, hash: Hash, bytes: &[u8]) -> transfer::Result<()> {
        self.uploads().store_copy(holder, hash, bytes).await
    }

    fn hint(&self, holder: Holder) -> Option<Vec<u8>> {
        self.uploads().hint(holder)
    }

    async fn announce(&self, holders: &[Holder], provider_key: Hash) {
        self.uploads().announce(holders, provider_key).await
    }

    async fn keep(&self, holder: Holder, cap: &crate::format::RepairCap) -> transfer::Result<()> {
        self.blocks.keep(holder, cap).await
    }
}

impl Network {
    fn uploads(&self) -> Uploads {
        Uploads {
            blocks: self.blocks.clone(),
        }
    }
}

/// The tab's holders for a put, as the engine's sink.
pub struct Uploads {
    pub blocks: Blocks,
}

impl Uploads {
    /// One PUT, with `ticket` if any; checks the holder names the block.
    async fn put(
        &self,
        holder: Holder,
        hash: Hash,
        bytes: &[u8],
        ticket: Option<Ticket>,
    ) -> transfer::Result<()> {
        let stored = match self.blocks.put_with(holder, bytes.to_vec(), ticket).await {
            Ok(stored) => stored,
            Err(e) => {
                // A contributor whose connection dropped is dialed again in
                // the background, so the putter's next try can reach it.
                if let (TransferError::Unreachable { .. }, Holder::Peer(peer)) = (&e, holder) {
                    self.blocks.reconnect(peer);
                }
                return Err(e);
            }
        };
        match stored == hash {
            true => Ok(()),
            false => Err(TransferError::Protocol {
                holder: holder.to_string(),
                message: format!("stored {hash} as {stored}"),
            }),
        }
    }
}

impl ShardSink for Uploads {
    type Holder = Holder;

    async fn ready(&mut self) -> transfer::Result<()> {
        self.blocks.ready().await
    }

    async fn nodes(&mut self) -> Vec<Holder> {
        let others = self.blocks.nodes().await;
        std::iter::once(Holder::Node)
            .chain(others.into_iter().map(Holder::Peer))
            .collect()
    }

    async fn contributors(&mut self, anchor: Hash) -> Vec<(Holder, Storage)> {
        let peers = self.blocks.contributors(anchor).await;
        peers
            .into_iter()
            .map(|(peer, storage)| (Holder::Peer(peer), storage))
            .collect()
    }

    async fn store(&self, holder: Holder, hash: Hash, bytes: &[u8]) -> transfer::Result<()> {
        self.put(holder, hash, bytes, None).await
    }

    /// With the node's placement ticket.
    async fn store_copy(&self, holder: Holder, hash: Hash, bytes: &[u8]) -> transfer::Result<()> {
        let ticket = self.blocks.ticket(hash, bytes.len()).await?;
        self.put(holder, hash, bytes, Some(ticket)).await
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

    async fn keep(&self, holder: Holder, cap: &crate::format::RepairCap) -> transfer::Result<()> {
        self.blocks.keep(holder, cap).await
    }
}
