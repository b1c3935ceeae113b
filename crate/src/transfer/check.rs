//! Checking a file where it lives: which holders say they have which
//! shards (HAS), and whether they can prove it (one AUDIT per claimed
//! shard, a fresh random range each time, [`crate::audit`]). A shard is
//! *live* when at least one holder proved it; a holder that claims a
//! shard and then fails its audit, answers "not found" or does not answer
//! has the failure on its record and that shard does not count for it.
//! The decision code repair will run (issue 18) starts from this report.

use std::future::Future;

use super::fetcher::Fetcher;
use super::get::open_manifest;
use super::source::ShardSource;
use super::Result;
use crate::audit::{self, ChunkRange, Reputation, MAX_AUDIT_CHUNKS};
use crate::format::Link;
use crate::hash::Hash;
use crate::net::block::MAX_HAS;

/// A source whose holders answer audits.
pub trait Auditor: ShardSource {
    /// Asks `holder` to prove it holds `range` of shard `hash`: the
    /// proof, `None` when it says it does not hold it, or why asking
    /// failed.
    fn audit(
        &self,
        holder: Self::Holder,
        hash: Hash,
        range: ChunkRange,
    ) -> impl Future<Output = Result<Option<Vec<u8>>>>;
}

/// One holder's part in a file.
#[derive(Debug, Clone)]
pub struct HolderHealth {
    /// Its peer id.
    pub holder: String,
    /// Shards it says it has.
    pub claimed: usize,
    /// Shards it proved.
    pub proven: usize,
    /// Why each failed audit failed (at most [`MAX_REASONS`] kept).
    pub failures: Vec<String>,
    /// Its record from this check's audits.
    pub reputation: Reputation,
}

/// Most failure reasons kept per holder.
pub const MAX_REASONS: usize = 8;

/// Where a file lives, as audits showed it.
#[derive(Debug, Clone)]
pub struct Health {
    /// Shards a segment needs.
    pub k: usize,
    /// Shards each segment has.
    pub n: usize,
    /// Proven shards (held by at least one holder) per segment.
    pub live: Vec<usize>,
    /// Every holder asked, in the order asked.
    pub holders: Vec<HolderHealth>,
}

impl Health {
    /// The fewest live shards of any segment (`n` for an empty file).
    pub fn weakest(&self) -> usize {
        self.live.iter().copied().min().unwrap_or(self.n)
    }

    /// Every segment can still be rebuilt.
    pub fn readable(&self) -> bool {
        self.weakest() >= self.k
    }

    /// Failed audits, over all holders.
    pub fn failed_audits(&self) -> usize {
        self.holders
            .iter()
            .map(|h| h.reputation.history().1 as usize)
            .sum()
    }
}

/// Opens the manifest `link` names through `source`, then asks every
/// holder the source knows which shards it has and audits each claim.
/// `random` draws each audit's range.
pub async fn check<S: Auditor>(
    mut source: S,
    link: &Link,
    timeout: std::time::Duration,
    random: &mut impl FnMut() -> u64,
) -> Result<Health> {
    source.ready().await?;
    let mut fetcher = Fetcher::new(source, timeout);
    let (decoder, _) = open_manifest(&mut fetcher, link).await?;
    let manifest = decoder.manifest();
    let params = manifest.params;
    // Each shard with its segment and its length.
    let shards: Vec<(Hash, usize, u64)> = manifest
        .shards
        .iter()
        .enumerate()
        .flat_map(|(s, hashes)| {
            let len = params.shard_len(params.segment_len(manifest.size, s as u64)) as u64;
            hashes.iter().map(move |h| (*h, s, len))
        })
        .collect();
    let mut source = fetcher.source;
    let mut proven = vec![false; shards.len()];
    let mut holders = Vec::new();
    for (holder, _) in source.holders() {
        let health = audit_holder(&source, holder, &shards, &mut proven, random).await;
        holders.push(health);
    }
    let mut live = vec![0; manifest.shards.len()];
    for (i, (_, segment, _)) in shards.iter().enumerate() {
        live[*segment] += usize::from(proven[i]);
    }
    Ok(Health {
        k: usize::from(params.k),
        n: usize::from(params.n),
        live,
        holders,
    })
}

async fn audit_holder<S: Auditor>(
    source: &S,
    holder: S::Holder,
    shards: &[(Hash, usize, u64)],
    proven: &mut [bool],
    random: &mut impl FnMut() -> u64,
) -> HolderHealth {
    let mut health = HolderHealth {
        holder: holder.to_string(),
        claimed: 0,
        proven: 0,
        failures: Vec::new(),
        reputation: Reputation::default(),
    };
    let mut claims = Vec::new();
    for batch in shards.chunks(MAX_HAS).enumerate() {
        let hashes: Vec<Hash> = batch.1.iter().map(|(h, _, _)| *h).collect();
        match source.has(holder, &hashes).await {
            Ok(flags) => claims.extend(
                flags
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| **f)
                    .map(|(i, _)| batch.0 * MAX_HAS + i),
            ),
            Err(e) => health.failures.push(format!("HAS: {e}")),
        }
    }
    health.claimed = claims.len();
    for i in claims {
        let (hash, _, len) = shards[i];
        let range = ChunkRange::random(len, MAX_AUDIT_CHUNKS, random());
        let outcome = match source.audit(holder, hash, range).await {
            Ok(Some(proof)) => audit::verify(&hash, len, range, &proof).map_err(|e| e.to_string()),
            Ok(None) => Err(format!("said it holds shard {hash} and then did not")),
            Err(e) => Err(e.to_string()),
        };
        health.reputation.record(outcome.is_ok());
        match outcome {
            Ok(()) => {
                health.proven += 1;
                proven[i] = true;
            }
            Err(why) if health.failures.len() < MAX_REASONS => health.failures.push(why),
            Err(_) => {}
        }
    }
    health
}
