//! Get: open a link (its manifest), then stream the plaintext of a byte
//! range, fetching shards a window of segments ahead.
//!
//! The fetching runs in its own task, at most [`AHEAD`] chunk ahead of the
//! reader, so a slow reader (a disk, a `<video>`) holds memory bounded by
//! the window. The window starts at one segment and grows by one with
//! every segment read, up to [`WINDOW`]: a media element that reads a
//! little and cancels costs little. Dropping the stream aborts the task and with it
//! every request in flight. Verified shards go to a shared
//! [`ShardCache`], so overlapping ranges fetch each shard once.

use std::collections::HashSet;
use std::ops::Range;
use std::time::Duration;

use futures::channel::mpsc;
use futures::future::{AbortHandle, Abortable};
use futures::{FutureExt as _, SinkExt as _, Stream, StreamExt as _};
use libp2p::PeerId;

use super::{OnProgress, Tally};
use crate::format::{self, Decoder, Reassembler};
use crate::hash::Hash;
use crate::peer::blocks::{Blocks, Holder};
use crate::shard_cache::ShardCache;

/// Segments fetched ahead of the one being decoded.
const WINDOW: u64 = 8;

/// How long the first window waits for the contributors lookup.
const LOOKUP_GRACE: Duration = Duration::from_millis(250);

/// Decoded chunks waiting for the reader.
const AHEAD: usize = 1;

/// A file whose manifest has been fetched and checked; its bytes are not
/// fetched until [`Opened::into_stream`].
pub struct Opened {
    pub name: String,
    pub mime: String,
    /// The whole file's size.
    pub size: u64,
    /// The plaintext bytes the stream will yield.
    pub range: Range<u64>,
    fetch: Fetch,
}

/// Fetches the manifest `link` names and plans `range` (the whole file when
/// `None`; an end past the file is clipped to it).
pub async fn open(
    blocks: &Blocks,
    cache: &ShardCache,
    link: &str,
    range: Option<(u64, Option<u64>)>,
) -> Result<Opened, String> {
    let link: format::Link = link
        .parse()
        .map_err(|e: format::FormatError| e.to_string())?;
    // The file's holders are looked up in the DHT (and dialed) in the
    // background from the start, the manifest's placement hints once it is
    // here; each joins as soon as it is reached. The first segments come
    // from the node meanwhile, so the first byte waits for the manifest
    // and one segment only.
    let (search, lookup) = blocks.holders_as_reached(link.key.provider_key());
    let manifest = blocks.get(Holder::Node, link.manifest).await?.ok_or(
        "file not found: no reachable peer holds it (it may have been removed, or the link is wrong)",
    )?;
    let decoder = Decoder::open(&link, &manifest).map_err(|e| e.to_string())?;
    search.hints(super::hinted_peers(decoder.manifest()));
    drop(search);
    let size = decoder.manifest().size;
    let range = match range {
        None => 0..size,
        Some((start, end)) => {
            let end = end.unwrap_or(size).min(size);
            if start > end {
                return Err(format!(
                    "byte range {start}..{end} is not within the file's {size} bytes"
                ));
            }
            start..end
        }
    };
    let reassembler = Reassembler::new(&decoder, range.clone(), 1).map_err(|e| e.to_string())?;
    let m = decoder.manifest();
    Ok(Opened {
        name: m.name.clone(),
        mime: m.mime.clone(),
        size,
        range: range.clone(),
        fetch: Fetch {
            blocks: blocks.clone(),
            cache: cache.clone(),
            reassembler,
            sources: Sources::new(Vec::new()),
            lookup: Some(lookup),
            skip: HashSet::new(),
            tampered: None,
            node_error: None,
            tally: Tally::default(),
            done: 0,
            total: range.end - range.start,
        },
    })
}

impl Opened {
    /// The plaintext, in order, as chunks; an error ends the stream.
    pub fn into_stream(self, progress: OnProgress) -> impl Stream<Item = Result<Vec<u8>, String>> {
        let (mut tx, rx) = mpsc::channel(AHEAD);
        let (abort, registration) = AbortHandle::new_pair();
        let mut fetch = self.fetch;
        let task = async move {
            fetch.report(&progress, "fetching");
            loop {
                let next = fetch.next().await;
                let stop = !matches!(next, Ok(Some(_)));
                match next {
                    Ok(Some(chunk)) => {
                        fetch.report(&progress, "fetching");
                        if tx.send(Ok(chunk)).await.is_err() {
                            return; // the reader went away
                        }
                    }
                    Ok(None) => fetch.report(&progress, "done"),
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                    }
                }
                if stop {
                    return;
                }
            }
        };
        crate::platform::spawn(async move {
            let _ = Abortable::new(task, registration).await;
        });
        Chunks {
            rx,
            _abort: AbortOnDrop(abort),
        }
    }
}

/// The reading end of a get; dropping it stops the fetching.
struct Chunks {
    rx: mpsc::Receiver<Result<Vec<u8>, String>>,
    _abort: AbortOnDrop,
}

impl Stream for Chunks {
    type Item = Result<Vec<u8>, String>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.rx.poll_next_unpin(cx)
    }
}

struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The state of one get.
struct Fetch {
    blocks: Blocks,
    cache: ShardCache,
    reassembler: Reassembler,
    sources: Sources,
    /// Holders as they are reached, until every dial has ended.
    lookup: Option<mpsc::Receiver<PeerId>>,
    /// Shard positions that no holder could provide.
    skip: HashSet<(u64, usize)>,
    /// The last bad shard a peer sent, for the error if the get fails.
    tampered: Option<String>,
    /// The last error the node gave, for the error if the get fails.
    node_error: Option<String>,
    tally: Tally,
    done: u64,
    total: u64,
}

impl Fetch {
    fn report(&self, progress: &OnProgress, stage: &'static str) {
        progress(self.tally.progress(stage, self.done, self.total));
    }

    /// The next chunk of plaintext, fetching as many windows as it takes;
    /// `None` at the end of the range.
    async fn next(&mut self) -> Result<Option<Vec<u8>>, String> {
        loop {
            if let Some(chunk) = self.reassembler.next_chunk().map_err(|e| e.to_string())? {
                self.done += chunk.len() as u64;
                let window = (self.reassembler.window() + 1).min(WINDOW);
                self.reassembler.set_window(window);
                return Ok(Some(chunk));
            }
            if self.reassembler.is_done() {
                return Ok(None);
            }
            self.fetch_window().await?;
        }
    }

    /// Fetches what the window lacks, once; an error when nothing is left
    /// to try.
    async fn fetch_window(&mut self) -> Result<(), String> {
        // The first window waits a moment for contributors: a peer already
        // connected to them has them at once, and draws from them rather
        // than the node from the start.
        if self.done == 0 && self.sources.peers.is_empty() {
            if let Some(lookup) = &mut self.lookup {
                futures::select! {
                    peer = lookup.next() => self.found(peer),
                    () = crate::platform::sleep(LOOKUP_GRACE).fuse() => {}
                }
            }
        }
        self.drain_found();
        let plan = self.reassembler.plan(&self.skip);
        if plan.is_empty() {
            // Out of holders to try: wait for the next contributor before
            // giving up, and retry what was missing with it.
            if let Some(lookup) = &mut self.lookup {
                let peer = lookup.next().await;
                self.found(peer);
                return Ok(());
            }
            let err = self.reassembler.finish().map_err(|e| e.to_string()).err();
            let mut why = err.unwrap_or_else(|| "no shards left to try".into());
            if let Some(e) = &self.node_error {
                why = format!("{why}; the node: {e}");
            }
            if let Some(t) = &self.tampered {
                why = format!("{why}; a peer sent bad data: {t}");
            }
            return Err(why);
        }
        // Shards fetched before (an overlapping range) need no request.
        let plan: Vec<(u64, usize, Hash)> = plan
            .into_iter()
            .filter(|&(segment, shard, hash)| match self.cache.get(&hash) {
                Some(bytes) => self.reassembler.add(segment, shard, bytes).is_err(),
                None => true,
            })
            .collect();
        let hashes: Vec<Hash> = plan.iter().map(|(_, _, h)| *h).collect();
        let discovering = self.lookup.is_some();
        let candidates = self
            .sources
            .assign(&self.blocks, &hashes, discovering)
            .await;
        let fetches = hashes.iter().zip(&candidates).map(|(h, holders)| {
            let first = holders.first().copied().unwrap_or(Holder::Node);
            self.blocks.get(first, *h)
        });
        let results = futures::future::join_all(fetches).await;
        for (((segment, shard, hash), holders), result) in
            plan.into_iter().zip(candidates).zip(results)
        {
            // The first holder's answer is here; the others are asked in
            // turn until one gives the shard.
            let mut result = Some(result);
            let mut done = false;
            for holder in holders {
                let answer = match result.take() {
                    Some(answer) => answer,
                    None => self.blocks.get(holder, hash).await,
                };
                let outcome = self.accept(segment, shard, hash, holder, answer)?;
                if let (Holder::Peer(peer), Outcome::Bad) = (holder, &outcome) {
                    tracing::warn!(%peer, "dropping a peer that sent a bad shard");
                    self.sources.drop_peer(peer);
                }
                if outcome == Outcome::Done {
                    done = true;
                    break;
                }
            }
            if !done {
                self.skip.insert((segment, shard));
            }
        }
        Ok(())
    }

    /// Takes every contributor reached since the last window.
    fn drain_found(&mut self) {
        while let Some(lookup) = &mut self.lookup {
            match lookup.try_recv() {
                Ok(peer) => self.found(Some(peer)),
                Err(mpsc::TryRecvError::Closed) => self.found(None),
                Err(mpsc::TryRecvError::Empty) => break,
            }
        }
    }

    /// One more contributor (`None`: the lookup is over): draw on it from
    /// now on, and try again the shards nobody had.
    fn found(&mut self, peer: Option<PeerId>) {
        match peer {
            Some(peer) => {
                self.sources.add(peer);
                self.skip.clear();
            }
            None => self.lookup = None,
        }
    }

    /// Verifies and keeps one fetched shard.
    fn accept(
        &mut self,
        segment: u64,
        shard: usize,
        hash: Hash,
        holder: Holder,
        result: Result<Option<Vec<u8>>, String>,
    ) -> Result<Outcome, String> {
        match result {
            Ok(Some(bytes)) => {
                let len = bytes.len();
                match self.reassembler.add(segment, shard, bytes.clone()) {
                    Ok(_) => {
                        self.cache.insert(hash, bytes);
                        self.tally.add(holder, len);
                        Ok(Outcome::Done)
                    }
                    Err(e @ format::FormatError::ShardTampered { .. }) => {
                        self.tampered = Some(e.to_string());
                        Ok(Outcome::Bad)
                    }
                    Err(e) => Err(e.to_string()),
                }
            }
            Ok(None) => Ok(Outcome::Missing),
            // An unreachable holder, even the node, costs only its shards.
            Err(e) => {
                match holder {
                    Holder::Node => self.node_error = Some(e),
                    Holder::Peer(peer) => {
                        tracing::warn!(%peer, error = %e, "a holder failed a GET");
                    }
                }
                Ok(Outcome::Missing)
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Done,
    Missing,
    Bad,
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
