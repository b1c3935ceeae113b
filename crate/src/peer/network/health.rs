//! Health of a stored file, as audits show it: every holder the tab
//! reaches (the nodes, the file's providers and its hints) says which
//! shards it has and proves a random sample of them
//! ([`crate::transfer::check`]); the file is *healthy* when every segment
//! could still be rebuilt after losing any one holder.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Network;
use crate::format;
use crate::peer::blocks::{Blocks, Holder};
use crate::store::Storage;
use crate::transfer::{self, TransferError};

/// What `peer.health(link)` resolves to.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// The file's name.
    pub name: String,
    /// Shards any `k` of which rebuild a segment.
    pub k: usize,
    /// Shards per segment.
    pub n: usize,
    pub segments: usize,
    /// The fewest live shards (proven, or claimed by a holder that proved
    /// its sample) of any segment.
    pub weakest: usize,
    /// The same after losing the one holder whose loss hurts most.
    pub weakest_after_one_loss: usize,
    /// Nodes rebuild a segment with fewer live shards than this (their
    /// default; at most `n`).
    pub repair_threshold: usize,
    /// `healthy` (survives the loss of any one holder), `at-risk` (can be
    /// rebuilt now, but one loss could end that) or `unavailable`.
    pub state: &'static str,
    /// Live shards counted on each holder: `node` or a peer id.
    pub holders: BTreeMap<String, usize>,
    /// Every holder asked, with its kind and its audits.
    pub holder_list: Vec<HolderReport>,
    /// The peers the manifest names as holders (its placement hints).
    pub hinted: Vec<String>,
    /// Audits made by this check, and how many failed.
    pub audits: usize,
    pub failed_audits: usize,
    /// Holders asked that did not answer (away, or gone).
    pub unreached: usize,
    /// Where each piece lives, one string per segment (the first
    /// [`MAX_MAP_SEGMENTS`]), one character per shard: `n` on a node, `b`
    /// on browsers only (one keeping it durably), `e` only on browsers
    /// that may evict it, `-` on no holder that proved it.
    pub pieces: Vec<String>,
}

/// Segments drawn in [`Health::pieces`]: a 256 MiB file at the defaults.
pub const MAX_MAP_SEGMENTS: usize = 256;

/// One holder in [`Health`].
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HolderReport {
    /// `node` (our node), or a peer id.
    pub id: String,
    /// `node` or `browser`.
    pub kind: &'static str,
    /// `durable`, or `evictable` for a browser whose storage the browser
    /// may clear (it was not made persistent), as its HAS answer said.
    pub storage: &'static str,
    /// It answered (one that did not may only be away).
    pub reached: bool,
    pub claimed: usize,
    pub audited: usize,
    pub proven: usize,
    pub counted: usize,
    /// Its reputation from these audits, 0 to 1.
    pub score: f64,
    /// Why audits failed (a few).
    pub failures: Vec<String>,
}

/// Audits every holder the tab reaches for the file `link` names.
pub async fn health(
    blocks: &Blocks,
    link: &str,
    threshold: usize,
) -> Result<Health, TransferError> {
    let link: format::Link = link.parse()?;
    let nodes = blocks.listed_nodes().await;
    // A node that stopped is asked too: its pieces are away, not lost.
    let source = Network::new(blocks, &link).with_every_node();
    let mut random = crate::audit::os_random;
    let timeout = transfer::check::AUDIT_TIMEOUT;
    let access = format::Access::Read(link.clone());
    let report = transfer::check(source, &access, timeout, &mut random).await?;
    let holder_list: Vec<HolderReport> = report
        .holders
        .iter()
        .map(|h| HolderReport {
            id: h.holder.to_string(),
            kind: match h.holder {
                Holder::Peer(p) if !nodes.contains(&p) => "browser",
                _ => "node",
            },
            storage: match h.holder {
                Holder::Peer(p) if !nodes.contains(&p) => storage_name(blocks.storage_of(p)),
                _ => storage_name(Storage::Durable),
            },
            reached: h.reached,
            claimed: h.claimed,
            audited: h.audited,
            proven: h.proven,
            counted: h.counted(),
            score: h.reputation.score(),
            failures: h.failures.clone(),
        })
        .collect();
    let pieces = piece_map(&report, &holder_list);
    let hinted = report
        .hints
        .iter()
        .filter_map(|h| libp2p::PeerId::from_bytes(h).ok())
        .map(|p| p.to_string())
        .collect();
    Ok(Health {
        name: report.name.clone(),
        hinted,
        k: report.k,
        n: report.n,
        segments: report.live.len(),
        weakest: report.weakest(),
        weakest_after_one_loss: report.weakest_after_one_loss,
        repair_threshold: threshold.min(report.n),
        state: match (report.survives_one_loss(), report.readable()) {
            (true, _) => "healthy",
            (false, true) => "at-risk",
            (false, false) => "unavailable",
        },
        holders: holder_list
            .iter()
            .map(|h| (h.id.clone(), h.counted))
            .collect(),
        audits: holder_list.iter().map(|h| h.audited).sum(),
        failed_audits: report.failed_audits(),
        unreached: holder_list.iter().filter(|h| !h.reached).count(),
        holder_list,
        pieces,
    })
}

fn storage_name(storage: Storage) -> &'static str {
    match storage {
        Storage::Durable => "durable",
        Storage::Evictable => "evictable",
    }
}

/// [`Health::pieces`]: a node's copy wins over a browser's, a durable
/// browser's over one that may evict it.
fn piece_map(report: &transfer::Health<Holder>, holders: &[HolderReport]) -> Vec<String> {
    let segments = report.live.len().min(MAX_MAP_SEGMENTS);
    let mut cells = vec![b'-'; segments * report.n];
    let rank = |c: u8| b"-ebn".iter().position(|x| *x == c);
    for (health, listed) in report.holders.iter().zip(holders) {
        let mark = match (listed.kind, listed.storage) {
            ("node", _) => b'n',
            (_, "durable") => b'b',
            _ => b'e',
        };
        for &i in health.counted_shards() {
            if let Some(cell) = cells.get_mut(i) {
                if rank(mark) > rank(*cell) {
                    *cell = mark;
                }
            }
        }
    }
    cells
        .chunks(report.n.max(1))
        .map(|row| String::from_utf8_lossy(row).into_owned())
        .collect()
}
