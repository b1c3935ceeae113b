//! Put and get across the network.
//!
//! - **Put**: a file becomes sealed shards, one segment at a time (bounded
//!   memory). Every shard goes to the node, which keeps data durably, and
//!   to one contributing browser: shard `i` of segment `s` to contributor
//!   `(s * n + i) mod c`, so the shards of a segment land on distinct peers
//!   when there are at least `n` of them. A browser that refuses or fails
//!   costs that copy only; the upload completes when the node confirmed
//!   every shard.
//! - **Get**: the manifest, then for each window of segments a HAS to
//!   every reachable contributor; each needed shard is fetched from a
//!   browser that has it (round robin), else from the node. Every shard is
//!   verified; a peer that sends bad bytes is dropped and the shard fetched
//!   again from the node.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};

use libp2p::PeerId;
use serde::Serialize;

use super::blocks::{Blocks, Holder};
use crate::format::{self, Decoder, Encoder, FileKey, Params, Reassembler};
use crate::hash::Hash;

/// Segments fetched ahead of the one being decoded.
const WINDOW: u64 = 4;

/// Progress of a put or get, as JavaScript sees it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// `storing` or `fetching`, then `done`.
    pub stage: &'static str,
    /// Plaintext bytes done.
    pub done: u64,
    /// Plaintext bytes in all (unknown while reading a stream: 0).
    pub total: u64,
    /// Shard bytes sent to (put) or received from (get) each holder:
    /// `node` or a peer id.
    pub peers: BTreeMap<String, u64>,
}

/// Bytes moved per holder.
#[derive(Default)]
struct Tally(RefCell<BTreeMap<String, u64>>);

impl Tally {
    fn add(&self, holder: Holder, bytes: usize) {
        *self.0.borrow_mut().entry(holder.label()).or_default() += bytes as u64;
    }

    fn progress(&self, stage: &'static str, done: u64, total: u64) -> Progress {
        Progress {
            stage,
            done,
            total,
            peers: self.0.borrow().clone(),
        }
    }
}

/// Encodes `stream` and stores every shard and the manifest; returns the link.
pub async fn put(
    blocks: &Blocks,
    stream: web_sys::ReadableStream,
    name: &str,
    mime: &str,
    total: u64,
    progress: &dyn Fn(Progress),
) -> Result<format::Link, String> {
    let params = Params::default();
    let encoder = Encoder::new(FileKey::random(), params, name, mime).map_err(|e| e.to_string())?;
    let segment_size = u64::from(params.segment_size);
    let tally = Tally::default();
    progress(tally.progress("storing", 0, total));
    let holders = blocks.contributors().await;
    let mut done = 0u64;
    let finished = format::encode_readable_stream(stream, encoder, |segment| {
        done = ((segment.index + 1) * segment_size).min(total.max(done));
        progress(tally.progress("storing", done, total));
        let shards: Vec<Vec<u8>> = segment.shards.into_iter().map(|s| s.bytes).collect();
        let base = segment.index as usize * shards.len();
        let (blocks, holders, tally) = (blocks.clone(), holders.clone(), &tally);
        async move {
            // All shards of a segment in flight at once, to both holders.
            let puts = shards.into_iter().enumerate().map(|(i, bytes)| {
                let browser = (!holders.is_empty()).then(|| holders[(base + i) % holders.len()]);
                store_shard(&blocks, tally, bytes, browser)
            });
            futures::future::try_join_all(puts)
                .await
                .map_err(format::FormatError::Io)?;
            Ok(())
        }
    })
    .await
    .map_err(|e| e.to_string())?;
    let manifest = finished.manifest_blob;
    tally.add(Holder::Node, manifest.len());
    blocks.put(Holder::Node, manifest).await?;
    let size = finished.manifest.size;
    progress(tally.progress("done", size, size));
    Ok(finished.link)
}

/// One shard to the node (required) and to a browser (best effort).
async fn store_shard(
    blocks: &Blocks,
    tally: &Tally,
    bytes: Vec<u8>,
    browser: Option<PeerId>,
) -> Result<(), String> {
    let len = bytes.len();
    let copy = async {
        if let Some(peer) = browser {
            match blocks.put(Holder::Peer(peer), bytes.clone()).await {
                Ok(_) => tally.add(Holder::Peer(peer), len),
                Err(e) => tracing::warn!(%peer, error = %e, "a contributor did not take a shard"),
            }
        }
    };
    let (node, ()) = futures::join!(blocks.put(Holder::Node, bytes.clone()), copy);
    node?;
    tally.add(Holder::Node, len);
    Ok(())
}

/// A fetched file.
pub struct Fetched {
    pub name: String,
    pub mime: String,
    pub size: u64,
    pub parts: js_sys::Array,
}

/// Fetches, verifies and decrypts the file `link` names.
pub async fn get(
    blocks: &Blocks,
    link: &str,
    progress: &dyn Fn(Progress),
) -> Result<Fetched, String> {
    let link: format::Link = link
        .parse()
        .map_err(|e: format::FormatError| e.to_string())?;
    // Look for contributors while the manifest comes from the node.
    let (manifest, contributors) = futures::join!(
        blocks.get(Holder::Node, link.manifest),
        blocks.contributors()
    );
    let manifest = manifest?.ok_or(
        "file not found: no reachable peer holds it (it may have been removed, or the link is wrong)",
    )?;
    let decoder = Decoder::open(&link, &manifest).map_err(|e| e.to_string())?;
    let size = decoder.manifest().size;
    let mut reassembler = Reassembler::new(&decoder, 0..size, WINDOW).map_err(|e| e.to_string())?;
    let parts = js_sys::Array::new();
    let tally = Tally::default();
    let mut sources = Sources::new(contributors);
    let mut done = 0u64;
    let mut skip: HashSet<(u64, usize)> = HashSet::new();
    let mut tampered: Option<String> = None;
    progress(tally.progress("fetching", done, size));
    loop {
        while let Some(chunk) = reassembler.next_chunk().map_err(|e| e.to_string())? {
            done += chunk.len() as u64;
            parts.push(&js_sys::Uint8Array::from(chunk.as_slice()));
            progress(tally.progress("fetching", done, size));
        }
        if reassembler.is_done() {
            break;
        }
        let plan = reassembler.plan(&skip);
        if plan.is_empty() {
            let err = reassembler.finish().map_err(|e| e.to_string()).err();
            let why = err.unwrap_or_else(|| "no shards left to try".into());
            return Err(match tampered {
                Some(t) => format!("{why}; a peer sent bad data: {t}"),
                None => why,
            });
        }
        let hashes: Vec<Hash> = plan.iter().map(|(_, _, h)| *h).collect();
        let from = sources.assign(blocks, &hashes).await;
        let fetches = hashes
            .iter()
            .zip(&from)
            .map(|(h, holder)| blocks.get(*holder, *h));
        let results = futures::future::join_all(fetches).await;
        for (((segment, shard, hash), holder), result) in plan.into_iter().zip(from).zip(results) {
            let mut attempt = (holder, result);
            loop {
                let (holder, result) = attempt;
                let outcome = match result {
                    Ok(Some(bytes)) => {
                        let len = bytes.len();
                        match reassembler.add(segment, shard, bytes) {
                            Ok(_) => {
                                tally.add(holder, len);
                                Outcome::Done
                            }
                            Err(e @ format::FormatError::ShardTampered { .. }) => {
                                tampered = Some(e.to_string());
                                Outcome::Bad
                            }
                            Err(e) => return Err(e.to_string()),
                        }
                    }
                    Ok(None) => Outcome::Missing,
                    Err(e) if holder == Holder::Node => return Err(e),
                    Err(_) => Outcome::Missing,
                };
                if let Holder::Peer(peer) = holder {
                    if outcome == Outcome::Bad {
                        tracing::warn!(%peer, "dropping a peer that sent a bad shard");
                        sources.drop_peer(peer);
                    }
                    if outcome != Outcome::Done {
                        // Try the node for this shard before giving up on it.
                        attempt = (Holder::Node, blocks.get(Holder::Node, hash).await);
                        continue;
                    }
                }
                if outcome != Outcome::Done {
                    skip.insert((segment, shard));
                }
                break;
            }
        }
    }
    progress(tally.progress("done", size, size));
    let m = decoder.manifest();
    Ok(Fetched {
        name: m.name.clone(),
        mime: m.mime.clone(),
        size,
        parts,
    })
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

    fn drop_peer(&mut self, peer: PeerId) {
        self.peers.retain(|p| *p != peer);
    }

    /// For each hash, a browser that has it (asked with one HAS each), or
    /// the node.
    async fn assign(&mut self, blocks: &Blocks, hashes: &[Hash]) -> Vec<Holder> {
        let asks = self
            .peers
            .iter()
            .map(|p| blocks.has(Holder::Peer(*p), hashes.to_vec()));
        let answers = futures::future::join_all(asks).await;
        let have: Vec<(PeerId, Vec<bool>)> = self
            .peers
            .iter()
            .zip(answers)
            .filter_map(|(p, a)| a.ok().map(|flags| (*p, flags)))
            .collect();
        (0..hashes.len())
            .map(|i| {
                let holders: Vec<PeerId> =
                    have.iter().filter(|(_, f)| f[i]).map(|(p, _)| *p).collect();
                if holders.is_empty() {
                    return Holder::Node;
                }
                self.turn += 1;
                Holder::Peer(holders[self.turn % holders.len()])
            })
            .collect()
    }
}
