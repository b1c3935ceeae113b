//! Health of a stored file: how many of each segment's shards can be
//! reached right now (the node and every holder found, asked with HAS),
//! and so whether the file can still be fetched and with what margin.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::format::{self, Decoder};
use crate::hash::Hash;
use crate::net::block::MAX_HAS;
use crate::peer::blocks::{Blocks, Holder};
use crate::transfer::TransferError;

/// What `peer.health(link)` resolves to.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    pub name: String,
    pub segments: u64,
    /// Shards any `k` of which rebuild a segment.
    pub k: u8,
    /// Shards per segment.
    pub n: u8,
    /// The fewest distinct shards reachable for any segment.
    pub weakest: usize,
    /// `healthy` (every segment has more than k), `at-risk` (some segment
    /// has exactly k) or `unavailable` (some segment has fewer).
    pub state: &'static str,
    /// Shards each holder has: `node` or a peer id.
    pub holders: BTreeMap<String, u64>,
    /// The peers the manifest names as holders (its placement hints).
    pub hinted: Vec<String>,
}

/// Asks every reachable holder which of the file's shards it has.
pub async fn health(blocks: &Blocks, link: &str) -> Result<Health, TransferError> {
    let link: format::Link = link.parse()?;
    let manifest = manifest(blocks, link.manifest).await?;
    let decoder = Decoder::open(&link, &manifest)?;
    let m = decoder.manifest();
    let hints = crate::net::hinted_peers(m);
    let hinted = hints.iter().map(ToString::to_string).collect();
    let contributors = blocks.holders(link.key.provider_key(), hints).await;
    let all: Vec<Hash> = m.shards.iter().flatten().copied().collect();
    let mut holders: Vec<Holder> = vec![Holder::Node];
    holders.extend(contributors.into_iter().map(Holder::Peer));
    let answers =
        futures::future::join_all(holders.iter().map(|h| has_all(blocks, *h, &all))).await;
    let mut reachable = vec![false; all.len()];
    let mut counts = BTreeMap::new();
    for (holder, flags) in holders.iter().zip(answers) {
        let Ok(flags) = flags else { continue };
        let held = flags.iter().filter(|f| **f).count() as u64;
        counts.insert(holder.to_string(), held);
        for (r, f) in reachable.iter_mut().zip(flags) {
            *r |= f;
        }
    }
    let n = usize::from(m.params.n);
    let weakest = reachable
        .chunks(n)
        .map(|segment| segment.iter().filter(|r| **r).count())
        .min()
        .unwrap_or(n);
    let k = usize::from(m.params.k);
    Ok(Health {
        name: m.name.clone(),
        segments: m.shards.len() as u64,
        k: m.params.k,
        n: m.params.n,
        weakest,
        state: match weakest {
            w if w > k => "healthy",
            w if w == k => "at-risk",
            _ => "unavailable",
        },
        holders: counts,
        hinted,
    })
}

/// The manifest from our node, else from the first other node that has
/// it (in a network of more than three nodes, ours may not hold a copy);
/// a copy that does not hash to `hash` is passed over.
async fn manifest(blocks: &Blocks, hash: Hash) -> Result<Vec<u8>, TransferError> {
    if let Some(bytes) = blocks.get(Holder::Node, hash).await? {
        return Ok(bytes);
    }
    for node in blocks.nodes().await {
        if let Ok(Some(bytes)) = blocks.get(Holder::Peer(node), hash).await {
            if Hash::of(&bytes) == hash {
                return Ok(bytes);
            }
        }
    }
    Err(TransferError::NotFound)
}

/// One holder's answer for every hash, asked in batches of [`MAX_HAS`].
async fn has_all(
    blocks: &Blocks,
    holder: Holder,
    hashes: &[Hash],
) -> Result<Vec<bool>, TransferError> {
    let mut flags = Vec::with_capacity(hashes.len());
    for batch in hashes.chunks(MAX_HAS) {
        flags.extend(blocks.has(holder, batch.to_vec()).await?);
    }
    Ok(flags)
}
