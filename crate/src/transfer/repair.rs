//! Repair with the repair capability alone: the file's holders are
//! checked and audited ([`super::check`]); each segment whose live shards,
//! plus those on holders that are only *away*, fall below the threshold
//! has every shard that is not live rebuilt from any `k` of them and
//! placed as a put places shards ([`super::place`]). The rebuilt bytes are
//! sealed segments cut in shards: the repairer never holds a key that
//! opens them. Nothing is ever deleted.
//!
//! Away versus lost: a holder that was reached in an earlier check and
//! does not answer now is away, and its shards still count, until
//! [`Policy::lost_after`] has passed since it was last reached; a holder
//! that fails an audit has only what it proved counted, at once. A
//! holder that has never been reached is unknown: while the file has been
//! watched for less than `lost_after`, repair waits for it. Repair reacts
//! to permanent loss, not to every closed tab.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::check::{inspect, Auditor, Health};
use super::error::{Result, TransferError};
use super::place::{place_shards, Places};
use super::rotation;
use super::source::{ShardSink, ShardSource};
use crate::audit::Reputation;
use crate::format::{Access, FormatError, Manifest, RepairCap, Shard};

/// Repair a segment with fewer live shards than this (of the default 8;
/// 4 needed): two losses of margin before a read is at risk.
pub const DEFAULT_THRESHOLD: usize = 6;

/// When repair starts and how it paces itself.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// A segment is repaired when fewer than this many of its shards are
    /// live or away (at most `n`; at least `k + 1`).
    pub threshold: usize,
    /// How long a holder that was reached may stay silent before its
    /// shards count as lost.
    pub lost_after: Duration,
    /// Most bytes placed per second (0: unlimited).
    pub bytes_per_second: u64,
    /// How long each holder has for an answer.
    pub timeout: Duration,
    /// Holders are audited on a pass when this long has gone by since the
    /// file's last audit (zero: every pass); between audits their claims
    /// count, except what a holder failed at its last audit.
    pub audit_every: Duration,
}

/// What repair remembers of one file between checks: the shards each
/// holder was counted for when last reached, and when (ms). A node keeps
/// it on disk, so a restart forgets neither who is away nor who failed.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(bound(
    serialize = "H: serde::Serialize",
    deserialize = "H: serde::Deserialize<'de> + Ord"
))]
pub struct Memory<H> {
    seen: BTreeMap<H, (Vec<usize>, u64)>,
    /// When this file was first checked, and last audited (ms).
    since: Option<u64>,
    last_audit: Option<u64>,
    /// Holders that failed their last audit, with the shards they proved:
    /// until the next audit only those count.
    distrusted: BTreeMap<H, Vec<usize>>,
}

impl<H> Default for Memory<H> {
    fn default() -> Self {
        Self {
            seen: BTreeMap::new(),
            since: None,
            last_audit: None,
            distrusted: BTreeMap::new(),
        }
    }
}

/// Each holder's audit record over every file a repairer checks
/// ([`Reputation`]): a holder whose record is no longer trusted has its
/// claims counted only where it just proved all it was asked, and is
/// given no new shards. At most [`MAX_STANDING`] holders are kept.
pub type Standing<H> = BTreeMap<H, Reputation>;

/// Most holders a [`Standing`] keeps: past it, clean records make room.
pub const MAX_STANDING: usize = 65_536;

/// What one repair pass found and did.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Repaired {
    /// The fewest live shards of any segment before and after.
    pub weakest_before: usize,
    pub weakest_after: usize,
    /// Shards that counted only because their holder was away.
    pub away: usize,
    /// Segments rebuilt, shards placed, and their bytes.
    pub segments: usize,
    pub shards: usize,
    pub bytes: u64,
    /// Segments with fewer than `k` live shards: not repairable now.
    pub unrepairable: Vec<u64>,
    /// Holders asked, and those that failed an audit.
    pub holders: usize,
    pub failed_audits: usize,
    /// Repair waited: a holder never reached before did not answer, and
    /// the file has been watched for less than `lost_after`.
    pub deferred: bool,
}

/// Which shards of each segment to rebuild: every shard not live, for
/// each segment whose live and away shards together fall below
/// `threshold`; segments with fewer than `k` live shards are listed apart
/// (they cannot be rebuilt now, whether their holders are away or lost). Indices are manifest order (`s * n + i`).
pub fn plan(
    n: usize,
    k: usize,
    threshold: usize,
    live: &BTreeSet<usize>,
    away: &BTreeSet<usize>,
    segments: usize,
) -> (Vec<(u64, Vec<usize>)>, Vec<u64>) {
    let threshold = threshold.clamp(k + 1, n.max(k + 1));
    let mut rebuild = Vec::new();
    let mut unrepairable = Vec::new();
    for s in 0..segments {
        let shards = s * n..(s + 1) * n;
        let is_live = |i: &usize| live.contains(i);
        let live_here = shards.clone().filter(is_live).count();
        let away_here = shards
            .clone()
            .filter(|i| !is_live(i) && away.contains(i))
            .count();
        if live_here < k {
            unrepairable.push(s as u64);
            continue;
        }
        if live_here + away_here >= threshold {
            continue;
        }
        let missing = shards.filter(|i| !is_live(i)).map(|i| i - s * n).collect();
        rebuild.push((s as u64, missing));
    }
    (rebuild, unrepairable)
}

/// Whether a check at `now_ms` audits the holders, the last audit having
/// been at `last` (ms; `None`: never): once `every` has gone by.
pub fn audit_due(last: Option<u64>, now_ms: u64, every: Duration) -> bool {
    last.is_none_or(|at| now_ms.saturating_sub(at) >= every.as_millis() as u64)
}

/// Checks the file `cap` names through `source` and repairs what
/// [`plan`] says, remembering holders in `memory` and their audits in
/// `standing`; `now_ms` is the caller's clock, `random` draws the audits.
pub async fn repair<S>(
    source: S,
    cap: &RepairCap,
    policy: &Policy,
    memory: &mut Memory<<S as ShardSource>::Holder>,
    standing: &mut Standing<<S as ShardSource>::Holder>,
    now_ms: u64,
    random: &mut impl FnMut() -> u64,
) -> Result<Repaired>
where
    S: Auditor + ShardSink<Holder = <S as ShardSource>::Holder>,
{
    let access = Access::Repair(cap.clone());
    let audit = audit_due(memory.last_audit, now_ms, policy.audit_every);
    let (mut health, manifest, mut source) =
        inspect(source, &access, policy.timeout, random, audit).await?;
    trust(memory, &mut health, audit, now_ms);
    let untrusted = judge(standing, &mut health);
    let n = usize::from(manifest.params.n);
    let k = usize::from(manifest.params.k);
    let live: BTreeSet<usize> = health
        .holders
        .iter()
        .flat_map(|h| h.counted_shards().iter().copied())
        .collect();
    // A holder not reached, and never reached before, may be away with
    // shards nobody saw: while the file is new to this repairer, wait.
    let since = *memory.since.get_or_insert(now_ms);
    let unknown = health
        .holders
        .iter()
        .any(|h| !h.reached && !memory.seen.contains_key(&h.holder));
    let watching = now_ms.saturating_sub(since) < policy.lost_after.as_millis() as u64;
    let away = remember(memory, &health, &live, policy, now_ms);
    let (rebuild, unrepairable) = plan(n, k, policy.threshold, &live, &away, manifest.shards.len());
    let mut report = Repaired {
        weakest_before: health.weakest(),
        weakest_after: health.weakest(),
        away: away.len(),
        unrepairable,
        holders: health.holders.len(),
        failed_audits: health
            .holders
            .iter()
            .filter(|h| h.audited > h.proven)
            .count(),
        ..Repaired::default()
    };
    if rebuild.is_empty() {
        return Ok(report);
    }
    if unknown && watching {
        report.deferred = true;
        return Ok(report);
    }
    // A holder that failed an audit or could not be reached takes nothing:
    // a node that lost shards may still list them and take none again.
    let mut failed: BTreeSet<_> = health
        .holders
        .iter()
        .filter(|h| !h.reached || h.audited > h.proven)
        .map(|h| h.holder)
        .collect();
    failed.extend(untrusted);
    let mut nodes = ShardSink::nodes(&mut source).await;
    nodes.retain(|n| !failed.contains(n));
    if nodes.is_empty() {
        return Err(TransferError::NotConnected("no node to place on".into()));
    }
    let found = source.contributors(cap.provider_key()).await;
    let mut contributors = rotation::weighted(&found);
    contributors.retain(|c| !failed.contains(c));
    let tally = RefCell::new(Default::default());
    let confirmed = RefCell::new(BTreeSet::new());
    let mut restored = health.live.clone();
    for (segment, missing) in rebuild {
        let shards = rebuild_segment(&source, &manifest, &health, segment).await?;
        let placed: Vec<Shard> = missing
            .iter()
            .map(|&i| Shard {
                index: i,
                hash: manifest.shards[segment as usize][i],
                bytes: shards[i].clone(),
            })
            .collect();
        // A contributor already holding a shard of this segment takes none.
        let holding: BTreeSet<_> = holders_of(&health, segment as usize, n).collect();
        let fresh: Vec<_> = contributors
            .iter()
            .copied()
            .filter(|c| !holding.contains(c))
            .collect();
        let places = Places {
            nodes: &nodes,
            contributors: &fresh,
            tally: &tally,
            confirmed: &confirmed,
        };
        let anchor = manifest.shards[segment as usize][0];
        place_shards(&source, segment, n, &anchor, &placed, places).await?;
        let bytes: u64 = placed.iter().map(|s| s.bytes.len() as u64).sum();
        report.segments += 1;
        report.shards += placed.len();
        report.bytes += bytes;
        restored[segment as usize] = n;
        if let Some(ms) = bytes
            .saturating_mul(1000)
            .checked_div(policy.bytes_per_second)
        {
            crate::platform::sleep(Duration::from_millis(ms)).await;
        }
    }
    let confirmed: Vec<_> = confirmed.into_inner().into_iter().collect();
    source.announce(&confirmed, cap.provider_key()).await;
    report.weakest_after = restored.into_iter().min().unwrap_or(n);
    Ok(report)
}

/// After an audit, remembers the holders that failed it and what they
/// proved; between audits, counts only that much of their claims.
fn trust<H: Ord + Copy>(memory: &mut Memory<H>, health: &mut Health<H>, audit: bool, now_ms: u64) {
    if audit {
        memory.last_audit = Some(now_ms);
        memory.distrusted.clear();
        for h in health.holders.iter().filter(|h| h.audited > h.proven) {
            memory.distrusted.insert(h.holder, h.counted.clone());
        }
        return;
    }
    for h in &mut health.holders {
        if let Some(proven) = memory.distrusted.get(&h.holder) {
            h.counted.retain(|i| proven.contains(i));
        }
    }
    health.recount();
}

/// Adds this check's audits to each holder's record in `standing`, then
/// counts nothing for a holder whose record is not trusted unless it
/// proved every claim it was asked in this check; returns those holders.
fn judge<H: Ord + Copy>(standing: &mut Standing<H>, health: &mut Health<H>) -> BTreeSet<H> {
    for h in health.holders.iter().filter(|h| h.audited > 0) {
        if !standing.contains_key(&h.holder) && standing.len() >= MAX_STANDING {
            standing.retain(|_, r| !r.is_clean());
            if standing.len() >= MAX_STANDING {
                continue;
            }
        }
        let record = standing.entry(h.holder).or_default();
        record.record_check(h.proven, h.audited - h.proven);
    }
    let untrusted: BTreeSet<H> = health
        .holders
        .iter()
        .filter(|h| standing.get(&h.holder).is_some_and(|r| !r.trusted()))
        .map(|h| h.holder)
        .collect();
    let mut changed = false;
    for h in &mut health.holders {
        let proved_all = h.audited > 0 && h.audited == h.proven;
        if untrusted.contains(&h.holder) && !proved_all && !h.counted.is_empty() {
            h.counted.clear();
            changed = true;
        }
    }
    if changed {
        health.recount();
    }
    untrusted
}

/// Updates `memory` with this check and returns the shards that count
/// only because their holder is away (reached before, silent now, within
/// `lost_after`).
fn remember<H: Ord + Copy>(
    memory: &mut Memory<H>,
    health: &Health<H>,
    live: &BTreeSet<usize>,
    policy: &Policy,
    now_ms: u64,
) -> BTreeSet<usize> {
    for holder in health.holders.iter().filter(|h| h.reached) {
        let counted = holder.counted_shards().to_vec();
        memory.seen.insert(holder.holder, (counted, now_ms));
    }
    let lost_after = policy.lost_after.as_millis() as u64;
    memory
        .seen
        .retain(|_, (_, seen)| now_ms.saturating_sub(*seen) < lost_after);
    let reached: BTreeSet<H> = health
        .holders
        .iter()
        .filter(|h| h.reached)
        .map(|h| h.holder)
        .collect();
    memory
        .seen
        .iter()
        .filter(|(h, _)| !reached.contains(h))
        .flat_map(|(_, (shards, _))| shards.iter().copied())
        .filter(|i| !live.contains(i))
        .collect()
}

/// The holders counted for any shard of segment `segment`.
fn holders_of<H: Copy>(
    health: &Health<H>,
    segment: usize,
    n: usize,
) -> impl Iterator<Item = H> + '_ {
    let range = segment * n..(segment + 1) * n;
    health
        .holders
        .iter()
        .filter(move |h| h.counted_shards().iter().any(|i| range.contains(i)))
        .map(|h| h.holder)
}

/// Every shard of `segment`, rebuilt from `k` live ones fetched from the
/// holders counted for them (each verified against the layout).
async fn rebuild_segment<S: Auditor>(
    source: &S,
    manifest: &Manifest,
    health: &Health<S::Holder>,
    segment: u64,
) -> Result<Vec<Vec<u8>>> {
    let n = usize::from(manifest.params.n);
    let k = usize::from(manifest.params.k);
    let base = segment as usize * n;
    let mut got: Vec<(usize, Vec<u8>)> = Vec::with_capacity(k);
    for i in 0..n {
        if got.len() == k {
            break;
        }
        let hash = manifest.shards[segment as usize][i];
        let holders = health
            .holders
            .iter()
            .filter(|h| h.counted_shards().contains(&(base + i)));
        for holder in holders {
            let answer = source.fetch(holder.holder, &[hash]).await.pop();
            if let Some(Ok(Some(bytes))) = answer {
                if manifest.verify_shard(segment, i, &bytes).is_ok() {
                    got.push((i, bytes));
                    break;
                }
                tracing::warn!(holder = %holder.holder, segment, shard = i, "a holder sent a wrong shard");
            }
        }
    }
    if got.len() < k {
        return Err(FormatError::TooFewShards {
            segment,
            have: got.len(),
            need: k,
            missing: k - got.len(),
        }
        .into());
    }
    let refs: Vec<(usize, &[u8])> = got.iter().map(|(i, b)| (*i, b.as_slice())).collect();
    Ok(manifest.rebuild_shards(segment, &refs)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[usize]) -> BTreeSet<usize> {
        v.iter().copied().collect()
    }

    #[test]
    fn plan_repairs_below_the_threshold_counting_away_shards() {
        // n = 8, k = 4, threshold 6; two segments.
        let all_first = set(&(0..8).collect::<Vec<_>>());
        let mut live = all_first.clone();
        live.extend([8, 9, 10, 11, 12]); // segment 1: 5 live
        let (rebuild, lost) = plan(8, 4, 6, &live, &set(&[]), 2);
        assert_eq!(rebuild, vec![(1, vec![5, 6, 7])]);
        assert!(lost.is_empty());
        // One away shard lifts segment 1 to the threshold: no repair.
        let (rebuild, _) = plan(8, 4, 6, &live, &set(&[13]), 2);
        assert!(rebuild.is_empty());
        // Fewer than k live: not repairable, even with shards away.
        let live = set(&[0, 1, 2, 8, 9, 10, 11]);
        let (rebuild, lost) = plan(8, 4, 6, &live, &set(&[3, 4, 5, 6, 7]), 2);
        assert_eq!(lost, vec![0]);
        assert_eq!(rebuild, vec![(1, vec![4, 5, 6, 7])]);
        // Churn off, everything live: nothing to do.
        let (rebuild, lost) = plan(8, 4, 6, &set(&(0..16).collect::<Vec<_>>()), &set(&[]), 2);
        assert!(rebuild.is_empty() && lost.is_empty());
    }

    #[test]
    fn between_audits_a_holder_that_failed_counts_only_what_it_proved() {
        use crate::audit::Reputation;
        use crate::transfer::check::HolderHealth;
        let holder = |id: u8, counted: Vec<usize>, audited, proven| HolderHealth {
            holder: id,
            reached: true,
            claimed: counted.len(),
            audited,
            proven,
            failures: Vec::new(),
            reputation: Reputation::default(),
            counted,
        };
        let mut health = Health {
            k: 2,
            n: 4,
            live: vec![0],
            holders: vec![holder(0, vec![0, 1], 2, 2), holder(1, vec![2], 2, 1)],
            weakest_after_one_loss: 0,
            name: String::new(),
            hints: Vec::new(),
        };
        let mut memory = Memory::default();
        trust(&mut memory, &mut health, true, 0);
        assert_eq!(memory.last_audit, Some(0));
        // The next pass does not audit; holder 1 claims 2 and 3 again.
        health.holders[1] = holder(1, vec![2, 3], 0, 0);
        trust(&mut memory, &mut health, false, 10);
        assert_eq!(health.holders[1].counted, vec![2]);
        assert_eq!(health.live, vec![3]);
        // An audit it passes clears it.
        health.holders[1] = holder(1, vec![2, 3], 2, 2);
        trust(&mut memory, &mut health, true, 20);
        assert!(memory.distrusted.is_empty());
    }

    #[test]
    fn the_threshold_is_kept_within_k_plus_one_and_n() {
        let live = set(&[0, 1, 2, 3, 4, 5, 6]);
        // 20 is clamped to n = 8: a segment with 7 is repaired.
        assert_eq!(plan(8, 4, 20, &live, &set(&[]), 1).0, vec![(0, vec![7])]);
        // 0 is raised to k + 1 = 5: 7 live is enough.
        assert!(plan(8, 4, 0, &live, &set(&[]), 1).0.is_empty());
    }

    /// Two repairs of one file at once, over holders in memory.
    #[cfg(not(wasm_browser))]
    mod race {
        use super::super::*;

        /// Nodes 0, 1 and 2 holding a file's shards in memory; node 2 can go
        /// down. A repair reads and writes it through `&World`.
        #[derive(Default)]
        struct World {
            held: RefCell<BTreeMap<u8, BTreeMap<crate::hash::Hash, Vec<u8>>>>,
            down: std::cell::Cell<bool>,
            /// A holder that says it has every shard, whatever it holds.
            liar: std::cell::Cell<Option<u8>>,
        }

        impl World {
            /// `holder` loses every shard it held (it keeps the manifest).
            fn lose_shards(&self, holder: u8, cap: &RepairCap) {
                let mut held = self.held.borrow_mut();
                let blocks = held.get_mut(&holder).expect("a holder of the world");
                blocks.retain(|h, _| *h == cap.manifest);
            }
        }

        fn unreachable(holder: u8) -> TransferError {
            TransferError::Unreachable {
                holder: holder.to_string(),
                message: "down".into(),
            }
        }

        impl ShardSource for &World {
            type Holder = u8;

            fn holders(&mut self) -> Vec<(u8, crate::transfer::Reach)> {
                (0..3)
                    .map(|h| (h, crate::transfer::Reach::Partial))
                    .collect()
            }

            async fn has(&self, holder: u8, hashes: &[crate::hash::Hash]) -> Result<Vec<bool>> {
                // Each answer takes a turn, so two repairs interleave.
                tokio::task::yield_now().await;
                if holder == 2 && self.down.get() {
                    return Err(unreachable(holder));
                }
                let held = self.held.borrow();
                let lies = self.liar.get() == Some(holder);
                Ok(hashes
                    .iter()
                    .map(|h| lies || held[&holder].contains_key(h))
                    .collect())
            }

            async fn fetch(
                &self,
                holder: u8,
                hashes: &[crate::hash::Hash],
            ) -> crate::transfer::Answers {
                tokio::task::yield_now().await;
                if holder == 2 && self.down.get() {
                    return vec![Err(unreachable(holder)); hashes.len()];
                }
                let held = self.held.borrow();
                hashes
                    .iter()
                    .map(|h| Ok(held[&holder].get(h).cloned()))
                    .collect()
            }
        }

        impl Auditor for &World {
            async fn renew(&self, holder: u8, hashes: &[crate::hash::Hash]) -> Result<Vec<bool>> {
                let held = self.held.borrow();
                Ok(hashes
                    .iter()
                    .map(|h| held[&holder].contains_key(h))
                    .collect())
            }

            async fn audit(
                &self,
                holder: u8,
                hash: crate::hash::Hash,
                range: crate::audit::ChunkRange,
            ) -> Result<Option<Vec<u8>>> {
                let bytes = self.held.borrow()[&holder].get(&hash).cloned();
                Ok(bytes.map(|b| crate::audit::prove(&b, range).expect("a range of the shard")))
            }
        }

        impl ShardSink for &World {
            type Holder = u8;

            async fn ready(&mut self) -> Result<()> {
                Ok(())
            }

            async fn nodes(&mut self) -> Vec<u8> {
                vec![0, 1, 2]
            }

            async fn contributors(
                &mut self,
                _anchor: crate::hash::Hash,
            ) -> Vec<(u8, crate::store::Storage)> {
                vec![]
            }

            async fn store(&self, holder: u8, hash: crate::hash::Hash, bytes: &[u8]) -> Result<()> {
                self.held
                    .borrow_mut()
                    .entry(holder)
                    .or_default()
                    .insert(hash, bytes.to_vec());
                Ok(())
            }

            async fn announce(&self, _holders: &[u8], _key: crate::hash::Hash) {}

            async fn keep(&self, _holder: u8, _cap: &RepairCap) -> Result<()> {
                Ok(())
            }
        }

        /// A policy that places unpaced, with a second for each answer.
        fn policy(threshold: usize, lost_after: Duration, audit_every: Duration) -> Policy {
            Policy {
                threshold,
                lost_after,
                bytes_per_second: 0,
                timeout: Duration::from_secs(1),
                audit_every,
            }
        }

        /// A file of 3 segments, shard `i` of each on node `i % 3` (3, 3
        /// and 2 of each segment), the manifest on all three.
        async fn placed() -> (World, RepairCap, Vec<crate::format::EncodedSegment>) {
            use crate::format::{Encoder, FileKey, Params};
            let params = Params {
                segment_size: 1000,
                k: 4,
                n: 8,
            };
            let mut enc = Encoder::new(FileKey([6; 32]), params, "a.bin", "").unwrap();
            let data: Vec<u8> = (0..2600u32).map(|i| (i % 241) as u8).collect();
            let mut segments = enc.push(&data).unwrap();
            let finished = enc.finish().unwrap();
            segments.extend(finished.segments.clone());
            let world = World::default();
            for node in 0..3u8 {
                world.held.borrow_mut().entry(node).or_default().insert(
                    crate::hash::Hash::of(&finished.manifest_blob),
                    finished.manifest_blob.clone(),
                );
            }
            for shard in segments.iter().flat_map(|s| &s.shards) {
                let node = (shard.index % 3) as u8;
                (&world)
                    .store(node, shard.hash, &shard.bytes)
                    .await
                    .unwrap();
            }
            (world, finished.link.repair_cap().unwrap(), segments)
        }

        #[tokio::test]
        async fn audits_come_once_an_interval_and_catch_a_liar_at_the_next() {
            let (world, cap, _) = placed().await;
            let policy = policy(6, Duration::from_secs(3600), Duration::from_millis(1000));
            let mut memory = Memory::default();
            let mut standing = Standing::default();
            let mut random = || 7u64;
            let first = repair(
                &world,
                &cap,
                &policy,
                &mut memory,
                &mut standing,
                0,
                &mut random,
            );
            let first = first.await.unwrap();
            assert_eq!((first.failed_audits, first.segments), (0, 0));
            // Node 1 loses its shards but says it has them all.
            world.lose_shards(1, &cap);
            world.liar.set(Some(1));
            let between = repair(
                &world,
                &cap,
                &policy,
                &mut memory,
                &mut standing,
                500,
                &mut random,
            );
            let between = between.await.unwrap();
            assert_eq!((between.failed_audits, between.weakest_before), (0, 8));
            // The next audit finds it out: 3 shards of each segment rebuilt.
            let next = repair(
                &world,
                &cap,
                &policy,
                &mut memory,
                &mut standing,
                1000,
                &mut random,
            );
            let next = next.await.unwrap();
            assert_eq!(next.failed_audits, 1);
            assert_eq!(
                (next.weakest_before, next.segments, next.weakest_after),
                (5, 3, 8)
            );
        }

        #[tokio::test]
        async fn a_holder_that_failed_elsewhere_counts_for_nothing_between_audits_and_takes_no_shards(
        ) {
            let (world, cap, segments) = placed().await;
            let policy = policy(7, Duration::from_secs(3600), Duration::from_secs(3600));
            // Node 2 failed audits of other files; this file was audited
            // a minute ago, so this pass trusts claims alone.
            let mut standing = Standing::default();
            standing.entry(2u8).or_default().record_check(0, 4);
            let mut memory = Memory {
                last_audit: Some(0),
                since: Some(0),
                ..Memory::default()
            };
            let mut random = || 3u64;
            let report = repair(
                &world,
                &cap,
                &policy,
                &mut memory,
                &mut standing,
                60_000,
                &mut random,
            );
            let report = report.await.unwrap();
            // Its 2 shards of each segment no longer count: 6 of 8, below 7.
            assert_eq!((report.weakest_before, report.segments), (6, 3));
            let held = world.held.borrow();
            for seg in &segments {
                for shard in seg.shards.iter().filter(|s| s.index % 3 == 2) {
                    let elsewhere = [0u8, 1].iter().any(|n| held[n].contains_key(&shard.hash));
                    assert!(
                        elsewhere,
                        "shard {} of segment {} rebuilt on a trusted node",
                        shard.index, seg.index
                    );
                }
            }
            // It was given nothing beyond what it held.
            assert_eq!(held[&2].len(), 1 + 2 * segments.len());
        }

        #[tokio::test]
        async fn two_repairs_of_the_same_file_place_each_missing_shard_once() {
            let (world, cap, segments) = placed().await;
            world.down.set(true);
            let policy = policy(6, Duration::ZERO, Duration::ZERO);
            let (mut m1, mut m2) = (Memory::default(), Memory::default());
            let (mut s1, mut s2) = (Standing::default(), Standing::default());
            let (mut r1, mut r2) = (|| 1u64, || 2u64);
            let (a, b) = futures::join!(
                repair(&world, &cap, &policy, &mut m1, &mut s1, 0, &mut r1),
                repair(&world, &cap, &policy, &mut m2, &mut s2, 0, &mut r2),
            );
            let (a, b) = (a.unwrap(), b.unwrap());
            // Node 2 held shards 2 and 5 of each segment: 6 live, not below 6.
            // Nothing to do for either repairer.
            assert_eq!((a.segments, b.segments), (0, 0));
            // Node 1 loses its shards too (it still answers, claiming none).
            // Node 0 keeps shards 0, 3 and 6 and gets shard 1 as well: 4 live,
            // rebuilt to 8 by both repairs at once.
            for seg in &segments {
                let extra = &seg.shards[1];
                (&world).store(0, extra.hash, &extra.bytes).await.unwrap();
            }
            world.lose_shards(1, &cap);
            let (a, b) = futures::join!(
                repair(&world, &cap, &policy, &mut m1, &mut s1, 0, &mut r1),
                repair(&world, &cap, &policy, &mut m2, &mut s2, 0, &mut r2),
            );
            let (a, b) = (a.unwrap(), b.unwrap());
            assert_eq!((a.weakest_before, a.segments, a.weakest_after), (4, 3, 8));
            // The second saw the same file at once or after the first placed.
            assert!(b.segments == 3 || b.segments == 0, "{b:?}");
            // Both placed every missing shard on the same node: each shard is
            // held by exactly one of the nodes that are up.
            let held = world.held.borrow();
            for seg in &segments {
                for shard in &seg.shards {
                    let copies = [0u8, 1]
                        .iter()
                        .filter(|n| held[n].contains_key(&shard.hash))
                        .count();
                    assert_eq!(copies, 1, "shard {} of segment {}", shard.index, seg.index);
                }
            }
        }
    }
}
