//! Checking a file where it lives: which holders say they have which
//! shards (HAS), and whether they can prove it (an AUDIT of a random
//! sample of each holder's claims, a fresh random range each time,
//! [`crate::audit`]). A holder that proves its whole sample has all its
//! claims counted; one that fails an audit (a wrong proof, "not found"
//! after claiming, an error, no answer) has only what it proved counted
//! and the failure on its record. A shard is *live* when it is counted on
//! at least one holder. The decision code repair will run (issue 18)
//! starts from this report.

use std::future::Future;

use super::fetcher::Fetcher;
use super::get::open_access;
use super::source::ShardSource;
use futures::FutureExt as _;

use super::{Result, TransferError};
use crate::audit::{self, ChunkRange, Reputation, MAX_AUDIT_CHUNKS};
use crate::format::{Access, Manifest};
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

    /// Asks `holder` to renew the leases of `hashes` (at most
    /// [`crate::net::block::MAX_HAS`]): one flag per hash, held or not.
    fn renew(
        &self,
        holder: Self::Holder,
        hashes: &[Hash],
    ) -> impl Future<Output = Result<Vec<bool>>>;
}

/// Most claims audited per holder in one check: a holder that proves a
/// random sample of its claims has all of them counted (a spot check, as
/// Storj audits random stripes), one that fails any has only what it
/// proved counted.
pub const MAX_AUDITS_PER_HOLDER: usize = 32;
/// How long a holder has for one proof (and a search for holders
/// between two finds) in the CLI's and the page's checks: a proof is at
/// most 4 KB and takes under a millisecond to make.
pub const AUDIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Most failure reasons kept per holder.
pub const MAX_REASONS: usize = 8;

/// One holder's part in a file.
#[derive(Debug, Clone)]
pub struct HolderHealth<H> {
    /// The holder.
    pub holder: H,
    /// It answered HAS: it was reached (one that was not may only be away).
    pub reached: bool,
    /// Shards it says it has.
    pub claimed: usize,
    /// Claims audited (a random sample of at most
    /// [`MAX_AUDITS_PER_HOLDER`]) and how many it proved.
    pub audited: usize,
    pub proven: usize,
    /// Why each failed audit failed (at most [`MAX_REASONS`] kept).
    pub failures: Vec<String>,
    /// Its record from this check's audits.
    pub reputation: Reputation,
    /// The shards counted for it (indices in manifest order).
    pub(super) counted: Vec<usize>,
}

impl<H> HolderHealth<H> {
    /// Shards counted as live on this holder.
    pub fn counted(&self) -> usize {
        self.counted.len()
    }

    /// The shards counted for it, as indices in manifest order (segment
    /// `s`, shard `i` is `s * n + i`).
    pub fn counted_shards(&self) -> &[usize] {
        &self.counted
    }
}

/// Where a file lives, as audits showed it.
#[derive(Debug, Clone)]
pub struct Health<H> {
    /// Shards a segment needs.
    pub k: usize,
    /// Shards each segment has.
    pub n: usize,
    /// Live shards (counted on at least one holder) per segment.
    pub live: Vec<usize>,
    /// Every holder asked, in the order asked.
    pub holders: Vec<HolderHealth<H>>,
    /// The fewest live shards of any segment once the holder whose loss
    /// hurts most is gone (`live`'s minimum when there is no holder).
    pub weakest_after_one_loss: usize,
    /// The file's name and its placement hints, from the manifest.
    pub name: String,
    pub hints: Vec<Vec<u8>>,
}

impl<H> Health<H> {
    /// Recomputes `live` and `weakest_after_one_loss` from what each
    /// holder is counted for.
    pub(super) fn recount(&mut self) {
        let (n, segments) = (self.n, self.live.len());
        let holders = &self.holders;
        self.live = live_per_segment(n, segments, holders.iter().map(|h| &h.counted));
        let live = &self.live;
        self.weakest_after_one_loss = (0..holders.len())
            .map(|lost| {
                let rest = holders.iter().enumerate().filter(|(i, _)| *i != lost);
                let live = live_per_segment(n, segments, rest.map(|(_, h)| &h.counted));
                live.into_iter().min().unwrap_or(n)
            })
            .min()
            .unwrap_or_else(|| live.iter().copied().min().unwrap_or(n));
    }

    /// The fewest live shards of any segment (`n` for an empty file).
    pub fn weakest(&self) -> usize {
        self.live.iter().copied().min().unwrap_or(self.n)
    }

    /// Every segment can still be rebuilt.
    pub fn readable(&self) -> bool {
        self.weakest() >= self.k
    }

    /// Every segment can still be rebuilt after losing any one holder.
    pub fn survives_one_loss(&self) -> bool {
        self.weakest_after_one_loss >= self.k
    }

    /// Failed audits, over all holders (a holder that did not answer HAS
    /// was not audited: it may only be away).
    pub fn failed_audits(&self) -> usize {
        self.holders.iter().map(|h| h.audited - h.proven).sum()
    }
}

/// Opens the manifest `access` names through `source`, waits for the
/// search for holders to end (at most `timeout` between two finds), then
/// asks every holder which shards it has and audits a sample of its
/// claims, each proof due within `timeout`. Holders are checked at once;
/// `random` draws the samples and ranges.
pub async fn check<S: Auditor>(
    source: S,
    access: &Access,
    timeout: std::time::Duration,
    random: &mut impl FnMut() -> u64,
) -> Result<Health<S::Holder>> {
    Ok(inspect(source, access, timeout, random, true).await?.0)
}

/// [`check`], also returning the opened manifest and the source.
pub(super) async fn inspect<S: Auditor>(
    mut source: S,
    access: &Access,
    timeout: std::time::Duration,
    random: &mut impl FnMut() -> u64,
    audit: bool,
) -> Result<(Health<S::Holder>, Manifest, S)> {
    source.ready().await?;
    let mut fetcher = Fetcher::new(source, timeout);
    let (manifest, _) = open_access(&mut fetcher, access).await?;
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
    while source.searching() && source.wait_for_holder(Some(timeout)).await {}
    let found = source.holders();
    let seeds: Vec<u64> = found.iter().map(|_| random()).collect();
    let checks = found
        .into_iter()
        .zip(seeds)
        .map(|((holder, _), seed)| audit_holder(&source, holder, &shards, seed, timeout, audit));
    let holders = futures::future::join_all(checks).await;
    let mut health = Health {
        k: usize::from(params.k),
        n: usize::from(params.n),
        live: vec![0; manifest.shards.len()],
        holders,
        weakest_after_one_loss: 0,
        name: manifest.name.clone(),
        hints: manifest.hints.clone(),
    };
    health.recount();
    Ok((health, manifest, source))
}

/// Distinct shards counted per segment over `holders` (shard `i` is in
/// segment `i / n`).
fn live_per_segment<'a>(
    n: usize,
    segments: usize,
    holders: impl Iterator<Item = &'a Vec<usize>>,
) -> Vec<usize> {
    let mut seen = vec![false; segments * n];
    holders.flatten().for_each(|&i| seen[i] = true);
    let mut live = vec![0; segments];
    for (i, seen) in seen.into_iter().enumerate() {
        live[i / n] += usize::from(seen);
    }
    live
}

/// A small deterministic generator for one holder's draws, seeded by the
/// caller's randomness (the checks of several holders run at once).
fn draws(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        // SplitMix64.
        seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

async fn audit_holder<S: Auditor>(
    source: &S,
    holder: S::Holder,
    shards: &[(Hash, usize, u64)],
    seed: u64,
    timeout: std::time::Duration,
    audit: bool,
) -> HolderHealth<S::Holder> {
    let mut random = draws(seed);
    let mut health = HolderHealth {
        holder,
        reached: false,
        claimed: 0,
        audited: 0,
        proven: 0,
        failures: Vec::new(),
        reputation: Reputation::default(),
        counted: Vec::new(),
    };
    let mut claims = Vec::new();
    for (b, batch) in shards.chunks(MAX_HAS).enumerate() {
        let hashes: Vec<Hash> = batch.iter().map(|(h, _, _)| *h).collect();
        match source.has(holder, &hashes).await {
            Ok(flags) => {
                health.reached = true;
                claims.extend(
                    (0..flags.len())
                        .filter(|i| flags[*i])
                        .map(|i| b * MAX_HAS + i),
                );
            }
            Err(e) => {
                health.reputation.record(false);
                health.failures.push(format!("HAS: {e}"));
            }
        }
    }
    health.claimed = claims.len();
    // A random sample of the claims: the first ones of a partial shuffle
    // (none on a pass between audits: the claims count).
    let sample = match audit {
        true => claims.len().min(MAX_AUDITS_PER_HOLDER),
        false => 0,
    };
    for i in 0..sample {
        let j = i + (random() % (claims.len() - i) as u64) as usize;
        claims.swap(i, j);
    }
    let mut proven = Vec::new();
    let mut silent = false;
    for &i in &claims[..sample] {
        let (hash, _, len) = shards[i];
        let range = ChunkRange::random(len, MAX_AUDIT_CHUNKS, random());
        let answer = futures::select! {
            answer = source.audit(holder, hash, range).fuse() => Some(answer),
            () = crate::platform::sleep(timeout).fuse() => None,
        };
        let outcome = match answer {
            Some(Ok(Some(proof))) => {
                audit::verify(&hash, len, range, &proof).map_err(|e| e.to_string())
            }
            Some(Ok(None)) => Err(format!("said it holds shard {hash} and then did not")),
            // Too slow to answer, or gone: not asked further. It did not
            // fail a proof but stopped answering (a node shutting down
            // mid-audit), so it counts as not reached and its pieces as
            // away, not lost; its standing still drops.
            None | Some(Err(TransferError::Unreachable { .. })) => {
                silent = true;
                health.reached = false;
                health.reputation.record(false);
                health.failures.push(format!(
                    "stopped answering: no proof of shard {hash} within {} ms",
                    timeout.as_millis()
                ));
                break;
            }
            Some(Err(e)) => Err(e.to_string()),
        };
        health.audited += 1;
        health.reputation.record(outcome.is_ok());
        match outcome {
            Ok(()) => proven.push(i),
            Err(why) if health.failures.len() < MAX_REASONS => health.failures.push(why),
            Err(_) => {}
        }
    }
    health.proven = proven.len();
    // A holder that went silent counts for nothing now, not even what it
    // proved a moment before: it is away as a whole, so the picture and
    // repair see all its pieces alike.
    health.counted = match (silent, health.proven == sample) {
        (true, _) => Vec::new(),
        (false, true) => claims,
        (false, false) => proven,
    };
    health
}
