//! The holders a get draws on: the browsers reached so far (the manifest's
//! hints and the providers of the file's key, joining as their dials
//! succeed) and the node. Shared by a get in this tab ([`super::get`]) and
//! by the shards this tab fetches for the service worker's gateway
//! ([`super::shards`]).

use std::time::Duration;

use futures::channel::mpsc;
use futures::{FutureExt as _, StreamExt as _};
use libp2p::PeerId;

use super::Tally;
use crate::format::{Decoder, Link};
use crate::hash::Hash;
use crate::peer::blocks::{Blocks, Holder};

/// Fetches and checks the manifest `link` names, and starts looking for
/// the file's holders in the background: the providers of its key in the
/// DHT, and the manifest's placement hints once it is here. Each holder
/// joins as soon as it is reached; until then the node serves, so the
/// first byte waits for the manifest and one segment only.
pub(super) async fn open_file(
    blocks: &Blocks,
    link: &Link,
) -> Result<(Decoder, Vec<u8>, Holders), String> {
    let (search, lookup) = blocks.holders_as_reached(link.key.provider_key());
    let manifest = blocks
        .get(Holder::Node, link.manifest)
        .await?
        .ok_or(crate::format::FILE_NOT_FOUND)?;
    let decoder = Decoder::open(link, &manifest).map_err(|e| e.to_string())?;
    search.hints(super::hinted_peers(decoder.manifest()));
    Ok((decoder, manifest, Holders::new(blocks, lookup)))
}

/// What a caller made of one fetched shard.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Verified and kept.
    Done,
    /// Not had by this holder (or it failed): ask the next.
    Missing,
    /// Bytes that do not match: drop the holder, ask the next.
    Bad(String),
}

/// The holders of one file, and what went wrong with them.
pub(super) struct Holders {
    blocks: Blocks,
    sources: Sources,
    /// Holders as they are reached, until every dial has ended.
    lookup: Option<mpsc::Receiver<PeerId>>,
    /// The last bad shard a peer sent, for the error if the get fails.
    tampered: Option<String>,
    /// The last error the node gave, for the error if the get fails.
    node_error: Option<String>,
    pub(super) tally: Tally,
}

impl Holders {
    fn new(blocks: &Blocks, lookup: mpsc::Receiver<PeerId>) -> Self {
        Self {
            blocks: blocks.clone(),
            sources: Sources::new(Vec::new()),
            lookup: Some(lookup),
            tampered: None,
            node_error: None,
            tally: Tally::default(),
        }
    }

    /// True while holders may still be reached.
    pub(super) fn searching(&self) -> bool {
        self.lookup.is_some()
    }

    /// True when no browser has been reached yet.
    pub(super) fn no_peers(&self) -> bool {
        self.sources.peers.is_empty()
    }

    /// Waits up to `grace` for a first holder; true when one came.
    pub(super) async fn wait_a_moment(&mut self, grace: Duration) -> bool {
        let Some(lookup) = &mut self.lookup else {
            return false;
        };
        futures::select! {
            peer = lookup.next() => self.found(peer),
            () = crate::platform::sleep(grace).fuse() => false,
        }
    }

    /// Waits for the next holder; true when one came, false when the
    /// search is over.
    pub(super) async fn wait_for_next(&mut self) -> bool {
        let Some(lookup) = &mut self.lookup else {
            return false;
        };
        let peer = lookup.next().await;
        self.found(peer)
    }

    /// Takes every holder reached since the last call; true when any came.
    pub(super) fn drain_found(&mut self) -> bool {
        let mut any = false;
        while let Some(lookup) = &mut self.lookup {
            match lookup.try_recv() {
                Ok(peer) => any |= self.found(Some(peer)),
                Err(mpsc::TryRecvError::Closed) => {
                    self.found(None);
                }
                Err(mpsc::TryRecvError::Empty) => break,
            }
        }
        any
    }

    /// One more holder (`None`: the search is over); true when one came.
    fn found(&mut self, peer: Option<PeerId>) -> bool {
        match peer {
            Some(peer) => {
                self.sources.add(peer);
                true
            }
            None => {
                self.lookup = None;
                false
            }
        }
    }

    /// Fetches each of `hashes` from its holders in turn until `keep`
    /// (given the index into `hashes` and the bytes) accepts it; returns
    /// which were kept. A holder that sends bad bytes is dropped; an error
    /// from `keep` ends the fetch.
    pub(super) async fn fetch(
        &mut self,
        hashes: &[Hash],
        mut keep: impl FnMut(usize, Vec<u8>) -> Result<Outcome, String>,
    ) -> Result<Vec<bool>, String> {
        let discovering = self.searching();
        let candidates = self.sources.assign(&self.blocks, hashes, discovering).await;
        let firsts = hashes.iter().zip(&candidates).map(|(h, holders)| {
            let first = holders.first().copied().unwrap_or(Holder::Node);
            self.blocks.get(first, *h)
        });
        let results = futures::future::join_all(firsts).await;
        let mut kept = vec![false; hashes.len()];
        for (i, (holders, result)) in candidates.into_iter().zip(results).enumerate() {
            // The first holder's answer is here; the others are asked in
            // turn until one gives the shard.
            let mut result = Some(result);
            for holder in holders {
                let answer = match result.take() {
                    Some(answer) => answer,
                    None => self.blocks.get(holder, hashes[i]).await,
                };
                let outcome = match answer {
                    Ok(Some(bytes)) => {
                        let len = bytes.len();
                        let outcome = keep(i, bytes)?;
                        if outcome == Outcome::Done {
                            self.tally.add(holder, len);
                        }
                        outcome
                    }
                    Ok(None) => Outcome::Missing,
                    // An unreachable holder, even the node, costs only its shards.
                    Err(e) => {
                        match holder {
                            Holder::Node => self.node_error = Some(e),
                            Holder::Peer(peer) => {
                                tracing::warn!(%peer, error = %e, "a holder failed a GET");
                            }
                        }
                        Outcome::Missing
                    }
                };
                match outcome {
                    Outcome::Done => {
                        kept[i] = true;
                        break;
                    }
                    Outcome::Bad(why) => {
                        if let Holder::Peer(peer) = holder {
                            tracing::warn!(%peer, "dropping a peer that sent a bad shard");
                            self.sources.drop_peer(peer);
                        }
                        self.tampered = Some(why);
                    }
                    Outcome::Missing => {}
                }
            }
        }
        Ok(kept)
    }

    /// `why` a get failed, with the node's last error and any bad data a
    /// peer sent.
    pub(super) fn explain(&self, mut why: String) -> String {
        if let Some(e) = &self.node_error {
            why = format!("{why}; the node: {e}");
        }
        if let Some(t) = &self.tampered {
            why = format!("{why}; a peer sent bad data: {t}");
        }
        why
    }
}

/// The browsers a get draws from, and a turn counter that spreads load.
struct Sources {
    peers: Vec<PeerId>,
    turn: usize,
}

impl Sources {
    fn new(peers: Vec<PeerId>) -> Self {
        Self { peers, turn: 0 }
    }

    fn add(&mut self, peer: PeerId) {
        if !self.peers.contains(&peer) {
            self.peers.push(peer);
        }
    }

    fn drop_peer(&mut self, peer: PeerId) {
        self.peers.retain(|p| *p != peer);
    }

    /// For each hash, the holders to ask in turn: the browsers that have it
    /// (asked with one HAS each), then the node, which keeps a full copy of
    /// what it was given. The first is taken round robin; once the search
    /// for holders is over (`discovering` false) the node takes its turn
    /// too, so its connection (a WebSocket, cheaper per byte than a data
    /// channel) carries a share rather than only what no browser has.
    /// While holders are still being reached it does not: the browsers
    /// found so far serve what they have.
    async fn assign(
        &mut self,
        blocks: &Blocks,
        hashes: &[Hash],
        discovering: bool,
    ) -> Vec<Vec<Holder>> {
        let asks = self
            .peers
            .iter()
            .map(|p| blocks.has(Holder::Peer(*p), hashes.to_vec()));
        let answers = futures::future::join_all(asks).await;
        let have: Vec<(PeerId, Vec<bool>)> = self
            .peers
            .iter()
            .zip(answers)
            .filter_map(|(p, answer)| match answer {
                Ok(flags) => Some((*p, flags)),
                Err(e) => {
                    tracing::warn!(peer = %p, error = %e, "a holder did not answer HAS");
                    None
                }
            })
            .collect();
        (0..hashes.len())
            .map(|i| {
                let mut holders: Vec<Holder> = have
                    .iter()
                    .filter(|(_, f)| f[i])
                    .map(|(p, _)| Holder::Peer(*p))
                    .collect();
                self.turn += 1;
                if !discovering {
                    holders.push(Holder::Node); // takes its turn
                }
                let first = self.turn % holders.len().max(1);
                holders.rotate_left(first);
                if discovering {
                    holders.push(Holder::Node); // the last resort
                }
                holders
            })
            .collect()
    }
}
