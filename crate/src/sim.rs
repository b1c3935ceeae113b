//! The churn simulator's core (issue 19): browsers and nodes that come,
//! go and vanish, files whose shards live on them, and the network's own
//! repair decision ([`transfer::repair::plan`], with its away-versus-lost
//! rule) run every check interval. Only time, transport and storage are
//! simulated: a shard is a holder's index, a transfer a count.
//!
//! Model (one segment per file; every number is a [`Setup`] field but
//! the constants below):
//! - a browser's sessions last a Weibull time (shape, median); when one
//!   ends it comes back within a day with `return_within_day`, else after
//!   1 to 7 days; a browser whose storage is not persistent comes back
//!   empty; after an exponential lifetime it is gone for good and a new,
//!   empty browser takes its place; the contribution policy pauses a
//!   share of sessions (no new shards, none served, its shards away) and
//!   a browser takes at most its quota;
//! - nodes are always online; each lives an exponential lifetime, and
//!   `node_loss` takes a share of them at once; a new, empty node replaces
//!   each;
//! - a new file's shards are placed by the network's own functions: shard
//!   `i < shards_on_nodes` on the node [`rank_nodes`] deals it, with a
//!   copy on a browser ([`rotation::contributor_for`]) when
//!   `browser_copies`; other shards on a browser alone; the browsers are a
//!   sample of those online, the most available first when
//!   `prefer_available` ([`rotation::most_available`]); repair places the
//!   shards it rebuilds the same way;
//! - a shard is live while any holder of it is online, away while one is
//!   offline for less than `lost_after`; holders are audited when the
//!   network's [`audit_due`] says so, once every `audit_every_hours` (a
//!   proof each, counted as traffic).

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::time::Duration;

use crate::hash::Hash;
use crate::transfer::repair::{audit_due, plan};
use crate::transfer::rotation::{self, rank_nodes};
use random::Random;

mod chart;
mod random;
mod scenario;

pub use chart::svg;
pub use scenario::parse;

const HOUR: f64 = 3_600.0;
const DAY: f64 = 86_400.0;
/// The contributors an uploader knows of when it places (a sample of the
/// browsers online): the first page of its node's contributor list.
const CONTRIBUTORS_KNOWN: usize = 32;
/// One audit on the wire: the 64-byte request and a proof (2,528 bytes
/// for a full default shard, `audit.proof_bytes` in `npm run bench`).
const AUDIT_BYTES: f64 = 2_600.0;
/// A default shard: a 1 MiB segment in k = 4 (audit traffic is counted
/// against shards of this size).
const SHARD_BYTES: f64 = 262_148.0;
const NONE: u32 = u32::MAX;

/// How browsers come and go.
#[derive(Debug, Clone)]
pub struct BrowserChurn {
    pub session_median_minutes: f64,
    pub session_shape: f64,
    pub return_within_day: f64,
    pub lifetime_days: f64,
    pub persistent_share: f64,
    /// Share of sessions the contribution policy pauses (battery, a
    /// hidden tab, a metered network): the browser takes no shards and
    /// serves none, though it still answers (its shards count as away).
    pub paused_share: f64,
    /// Most shards one browser takes (its quota over the shard size).
    pub quota_shards: usize,
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct Setup {
    pub seed: u64,
    pub days: f64,
    pub browsers: usize,
    pub nodes: usize,
    pub files: usize,
    pub k: usize,
    pub n: usize,
    pub threshold: usize,
    pub lost_after_minutes: f64,
    pub interval_minutes: f64,
    /// Shards below this go to nodes, the rest to browsers alone.
    pub shards_on_nodes: usize,
    /// Each shard on a node also gets a best-effort copy on a browser, as
    /// a put gives one today.
    pub browser_copies: bool,
    /// Copies go to the most available of the contributors known
    /// ([`rotation::most_available`]) rather than to any.
    pub prefer_available: bool,
    /// Every holder of every file is audited once this often.
    pub audit_every_hours: f64,
    /// `None`: browsers never leave.
    pub browser_churn: Option<BrowserChurn>,
    /// Mean node lifetime (`None`: nodes never fail).
    pub node_lifetime_days: Option<f64>,
    /// On this day, this share of the nodes is lost at once.
    pub node_loss: Option<(f64, f64)>,
    /// At this day, the holders of this many shards of file 0 are lost
    /// for good (a test of the loss rule).
    pub kill_file0: Option<(f64, usize)>,
}

/// What a run found.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Share of (file, check) samples in which the file was readable.
    pub availability: f64,
    pub files_lost: usize,
    /// Shards held per shard a file needs (bytes held per byte stored).
    pub overhead: f64,
    /// Shard copies uploaded by repair, and the shards whose last copy a
    /// permanent departure (or wiped storage) destroyed: the least any
    /// repair must upload to keep every file at `n`.
    pub repair_uploads: u64,
    pub forced: u64,
    /// Repair traffic (downloads and uploads) per month, as a share of the
    /// stored data.
    pub repair_per_month: f64,
    /// Audit traffic (requests and proofs) per month, as a share of the
    /// stored data.
    pub audit_per_month: f64,
    /// Share of live shards held by browsers at the end.
    pub browser_share: f64,
    /// At each check: the day, the share of files readable, and repair
    /// uploads so far per shard stored.
    pub series: Vec<Sample>,
}

/// One check: (day, share of files readable, repair uploads so far per
/// shard stored).
pub type Sample = (f64, f64, f64);

impl Report {
    /// Repair uploads over the minimum the departures force.
    pub fn repair_ratio(&self) -> f64 {
        if self.forced == 0 {
            return if self.repair_uploads == 0 {
                1.0
            } else {
                f64::INFINITY
            };
        }
        self.repair_uploads as f64 / self.forced as f64
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// A browser's session ends (it goes offline); with the holder's
    /// incarnation, so events of one it replaced are ignored.
    Leave(u32, u32),
    /// A browser comes back.
    Return(u32, u32),
    /// A holder is gone for good (replaced by an empty one).
    Death(u32, u32),
    /// A check of every file.
    Check,
    /// The scheduled loss of a share of the nodes, or of file 0's holders.
    NodeLoss,
    KillFile0,
}

struct Holder {
    node: bool,
    /// Incarnation: a replacement starts a new one.
    generation: u32,
    online: bool,
    /// Online, but its contribution paused for this session.
    paused: bool,
    /// When it last went offline or came online (seconds).
    since: f64,
    /// When this incarnation appeared, and its online seconds before
    /// `since`.
    born: f64,
    online_before: f64,
    /// Shards it was given: (file, shard); stale entries are skipped.
    held: Vec<(u32, u8)>,
}

impl Holder {
    /// Its observed availability at `now`: time online over time known,
    /// with a prior of one hour online and one offline, so a newcomer
    /// scores one half.
    fn availability(&self, now: f64) -> f64 {
        let on = self.online_before + if self.online { now - self.since } else { 0.0 };
        (on + HOUR) / (now - self.born + 2.0 * HOUR)
    }
}

/// A node's name for [`rank_nodes`]: its place and incarnation, so a
/// replacement ranks as the new node it is.
#[derive(Clone, Copy)]
struct NodeName(u32, u32);

impl std::fmt::Display for NodeName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "node-{}-{}", self.0, self.1)
    }
}

struct World<'a> {
    setup: &'a Setup,
    random: Random,
    holders: Vec<Holder>,
    /// Shard `i` of file `f` at `f * n + i`: the node and the browser
    /// holding it ([`NONE`]: none, or destroyed).
    shards: Vec<[u32; 2]>,
    /// Each file's ranking key (the network ranks nodes by the segment's
    /// first shard hash), and whether it is lost.
    anchors: Vec<Hash>,
    lost: Vec<bool>,
    /// The browsers online now, and each holder's place in that list.
    online: Vec<u32>,
    place_in_online: Vec<u32>,
    queue: BinaryHeap<Reverse<(u64, Event)>>,
    forced: u64,
    uploads: u64,
    downloads: u64,
    audits: u64,
    /// When the holders were last audited (ms).
    last_audit: Option<u64>,
}

/// Runs `setup`; `progress` is told the share of simulated time done.
pub fn run(setup: &Setup, mut progress: impl FnMut(f64)) -> Report {
    let mut world = World::new(setup);
    let end = setup.days * DAY;
    let (mut readable, mut samples, mut held_sum) = (0u64, 0u64, 0f64);
    let mut next_report = 0.0;
    let mut series = Vec::new();
    let stored = (setup.files * setup.k) as f64;
    while let Some(Reverse((at, event))) = world.queue.pop() {
        let now = at as f64 / 1000.0;
        if now > end {
            break;
        }
        if now >= next_report {
            progress(now / end);
            next_report += end / 100.0;
        }
        if event == Event::Check {
            let (r, s, held) = world.check(now);
            let share = if s == 0 { 1.0 } else { r as f64 / s as f64 };
            series.push((now / DAY, share, world.uploads as f64 / stored));
            readable += r;
            samples += s;
            held_sum += held;
        } else {
            world.apply(event, now);
        }
    }
    progress(1.0);
    let checks = (setup.days * DAY / (setup.interval_minutes * 60.0))
        .floor()
        .max(1.0);
    let (browser, live) = world.live_by_kind();
    let per_month = |x: f64| x / stored * 30.0 / setup.days;
    Report {
        availability: if samples == 0 {
            1.0
        } else {
            readable as f64 / samples as f64
        },
        files_lost: world.lost.iter().filter(|l| **l).count(),
        overhead: held_sum / checks / stored,
        repair_uploads: world.uploads,
        forced: world.forced,
        repair_per_month: per_month((world.uploads + world.downloads) as f64),
        audit_per_month: per_month(world.audits as f64 * AUDIT_BYTES / SHARD_BYTES),
        browser_share: if live == 0 {
            0.0
        } else {
            browser as f64 / live as f64
        },
        series,
    }
}

impl<'a> World<'a> {
    fn new(setup: &'a Setup) -> Self {
        let holders = setup.nodes + setup.browsers;
        let mut world = Self {
            setup,
            random: Random(setup.seed),
            holders: Vec::with_capacity(holders),
            shards: vec![[NONE; 2]; setup.files * setup.n],
            anchors: (0..setup.files as u64)
                .map(|f| Hash::of(&f.to_le_bytes()))
                .collect(),
            lost: vec![false; setup.files],
            online: Vec::new(),
            place_in_online: vec![NONE; holders],
            queue: BinaryHeap::new(),
            forced: 0,
            uploads: 0,
            downloads: 0,
            audits: 0,
            last_audit: None,
        };
        for i in 0..holders {
            let node = i < setup.nodes;
            world.holders.push(Holder {
                node,
                generation: 0,
                online: false,
                paused: false,
                since: 0.0,
                born: 0.0,
                online_before: 0.0,
                held: Vec::new(),
            });
            world.come_online(i as u32, 0.0);
            world.schedule_life(i as u32, 0.0);
        }
        let all: Vec<usize> = (0..setup.n).collect();
        for file in 0..setup.files {
            world.place(file, &all, 0.0);
        }
        world.uploads = 0;
        world.at(setup.interval_minutes * 60.0, Event::Check);
        if let Some((day, _)) = setup.node_loss {
            world.at(day * DAY, Event::NodeLoss);
        }
        if let Some((day, _)) = setup.kill_file0 {
            world.at(day * DAY, Event::KillFile0);
        }
        world
    }

    fn at(&mut self, seconds: f64, event: Event) {
        self.queue.push(Reverse(((seconds * 1000.0) as u64, event)));
    }

    fn schedule_life(&mut self, holder: u32, now: f64) {
        let mean = if self.holders[holder as usize].node {
            self.setup.node_lifetime_days
        } else {
            self.setup.browser_churn.as_ref().map(|c| c.lifetime_days)
        };
        if let Some(days) = mean {
            let t = now + self.random.exponential(days * DAY);
            let generation = self.holders[holder as usize].generation;
            self.at(t, Event::Death(holder, generation));
        }
    }

    /// `holder` comes online: a browser starts a session.
    fn come_online(&mut self, holder: u32, now: f64) {
        let churn = self.setup.browser_churn.as_ref();
        let paused_share = churn.map_or(0.0, |c| c.paused_share);
        let paused = paused_share > 0.0 && self.random.unit() <= paused_share;
        let h = &mut self.holders[holder as usize];
        h.online = true;
        h.since = now;
        if h.node {
            return;
        }
        h.paused = paused;
        let generation = h.generation;
        self.place_in_online[holder as usize] = self.online.len() as u32;
        self.online.push(holder);
        if let Some(c) = self.setup.browser_churn.clone() {
            let minutes = self
                .random
                .weibull(c.session_shape, c.session_median_minutes);
            self.at(now + minutes * 60.0, Event::Leave(holder, generation));
        }
    }

    fn go_offline(&mut self, holder: u32, now: f64) {
        let h = &mut self.holders[holder as usize];
        if !h.online {
            return;
        }
        h.online = false;
        h.online_before += now - h.since;
        h.since = now;
        let at = std::mem::replace(&mut self.place_in_online[holder as usize], NONE);
        if at != NONE {
            self.online.swap_remove(at as usize);
            if let Some(&moved) = self.online.get(at as usize) {
                self.place_in_online[moved as usize] = at;
            }
        }
    }

    /// The contributors an uploader knows of (a sample of the browsers
    /// online), most available first when placement weighs availability.
    fn contributors(&mut self, now: f64) -> Vec<u32> {
        let want = CONTRIBUTORS_KNOWN.min(self.online.len());
        let mut known = Vec::with_capacity(want);
        for _ in 0..want * 4 {
            if known.len() == want {
                break;
            }
            let h = self.online[self.random.below(self.online.len())];
            let holder = &self.holders[h as usize];
            let full = self
                .setup
                .browser_churn
                .as_ref()
                .is_some_and(|c| holder.held.len() >= c.quota_shards);
            if !holder.paused && !full && !known.contains(&h) {
                known.push(h);
            }
        }
        if !self.setup.prefer_available {
            return known;
        }
        let scored: Vec<(u32, f64)> = known
            .iter()
            .map(|&h| (h, self.holders[h as usize].availability(now)))
            .collect();
        rotation::most_available(&scored, self.setup.n)
    }

    /// Places shards `which` of `file` as the network's placement does
    /// ([`crate::transfer::place`]): a shard below `shards_on_nodes` to the
    /// node [`rank_nodes`] deals it, with a copy on the contributor
    /// [`rotation::contributor_for`] chooses when `browser_copies`; any
    /// other shard to that contributor alone.
    fn place(&mut self, file: usize, which: &[usize], now: f64) {
        let (n, on_nodes) = (self.setup.n, self.setup.shards_on_nodes);
        let ranked = if self.setup.nodes > 0 && which.iter().any(|&i| i < on_nodes) {
            let names: Vec<NodeName> = (0..self.setup.nodes as u32)
                .map(|i| NodeName(i, self.holders[i as usize].generation))
                .collect();
            rank_nodes(&self.anchors[file], &names)
        } else {
            Vec::new()
        };
        let contributors = self.contributors(now);
        for &i in which {
            let node = match i < on_nodes {
                true => ranked.get(i % ranked.len().max(1)).map(|name| name.0),
                false => None,
            };
            let copy = match node.is_none() || self.setup.browser_copies {
                true => rotation::contributor_for(file as u64, i, n, &contributors),
                false => None,
            };
            let slot = [node.unwrap_or(NONE), copy.unwrap_or(NONE)];
            for h in slot.into_iter().filter(|h| *h != NONE) {
                self.holders[h as usize].held.push((file as u32, i as u8));
                self.uploads += 1;
            }
            self.shards[file * n + i] = slot;
        }
    }

    /// Destroys everything `holder` holds (its storage is gone). A shard
    /// whose last copy this was is one repair is forced to rebuild.
    fn wipe(&mut self, holder: u32) {
        let n = self.setup.n;
        let held = std::mem::take(&mut self.holders[holder as usize].held);
        for (file, shard) in held {
            let slot = &mut self.shards[file as usize * n + shard as usize];
            if !slot.contains(&holder) {
                continue;
            }
            slot.iter_mut()
                .filter(|h| **h == holder)
                .for_each(|h| *h = NONE);
            let gone = slot.iter().all(|h| *h == NONE);
            self.forced += u64::from(gone && !self.lost[file as usize]);
        }
    }

    fn apply(&mut self, event: Event, now: f64) {
        let current = |h: u32, g: u32, holders: &[Holder]| holders[h as usize].generation == g;
        match event {
            Event::Leave(h, g) | Event::Return(h, g) | Event::Death(h, g)
                if !current(h, g, &self.holders) => {}
            Event::Leave(h, g) => {
                self.go_offline(h, now);
                let Some(c) = self.setup.browser_churn.clone() else {
                    return;
                };
                let away = if self.random.unit() <= c.return_within_day {
                    self.random.unit() * DAY
                } else {
                    DAY + self.random.unit() * 6.0 * DAY
                };
                self.at(now + away, Event::Return(h, g));
            }
            Event::Return(h, _) => {
                let persistent = self
                    .setup
                    .browser_churn
                    .as_ref()
                    .is_none_or(|c| self.random.unit() <= c.persistent_share);
                if !persistent {
                    self.wipe(h);
                }
                self.come_online(h, now);
            }
            Event::Death(h, _) => self.replace(h, now),
            Event::NodeLoss => {
                let share = self.setup.node_loss.map_or(0.0, |(_, s)| s);
                let count = (self.setup.nodes as f64 * share).round() as u32;
                for h in 0..count {
                    self.replace(h, now);
                }
            }
            Event::KillFile0 => {
                let count = self.setup.kill_file0.map_or(0, |(_, c)| c);
                let n = self.setup.n;
                let holders: Vec<u32> = self.shards[..n]
                    .iter()
                    .take(count)
                    .flatten()
                    .copied()
                    .collect();
                for h in holders.into_iter().filter(|h| *h != NONE) {
                    self.replace(h, now);
                }
            }
            Event::Check => {}
        }
    }

    /// `holder` is gone for good: an empty newcomer takes its place,
    /// online, with lives and sessions of its own.
    fn replace(&mut self, holder: u32, now: f64) {
        self.go_offline(holder, now);
        self.wipe(holder);
        let h = &mut self.holders[holder as usize];
        h.generation += 1;
        h.born = now;
        h.online_before = 0.0;
        self.come_online(holder, now);
        self.schedule_life(holder, now);
    }

    /// Checks every file: samples readability, audits each online holder
    /// when an audit round is due, and repairs as the network decides;
    /// returns (readable samples, samples, shards held).
    fn check(&mut self, now: f64) -> (u64, u64, f64) {
        let (n, k) = (self.setup.n, self.setup.k);
        let lost_after = self.setup.lost_after_minutes * 60.0;
        let every = Duration::from_secs_f64(self.setup.audit_every_hours * HOUR);
        let now_ms = (now * 1000.0) as u64;
        let audit_round = audit_due(self.last_audit, now_ms, every);
        if audit_round {
            self.last_audit = Some(now_ms);
        }
        let (mut readable, mut samples, mut held) = (0, 0, 0.0);
        let mut audited = Vec::with_capacity(2 * n);
        for file in 0..self.files() {
            if self.lost[file] {
                continue;
            }
            let (mut live, mut away) = (BTreeSet::new(), BTreeSet::new());
            let mut alive = 0;
            audited.clear();
            for (i, slot) in self.shards[file * n..(file + 1) * n].iter().enumerate() {
                let holders = slot.iter().filter(|h| **h != NONE);
                let mut any = false;
                for &h in holders {
                    any = true;
                    held += 1.0;
                    let holder = &self.holders[h as usize];
                    if holder.online && !holder.paused {
                        live.insert(i);
                        if !audited.contains(&h) {
                            audited.push(h);
                        }
                    } else if holder.online || now - holder.since < lost_after {
                        away.insert(i);
                    }
                }
                alive += usize::from(any);
            }
            samples += 1;
            if alive < k {
                self.lost[file] = true;
                continue;
            }
            if audit_round {
                self.audits += audited.len() as u64;
            }
            let away: BTreeSet<usize> = away.difference(&live).copied().collect();
            readable += u64::from(live.len() >= k);
            let (rebuild, _) = plan(n, k, self.setup.threshold, &live, &away, 1);
            for (_, missing) in rebuild {
                self.downloads += k as u64;
                self.place(file, &missing, now);
            }
        }
        self.at(now + self.setup.interval_minutes * 60.0, Event::Check);
        (readable, samples, held)
    }

    fn files(&self) -> usize {
        self.lost.len()
    }

    /// Live shard copies on browsers, and in all.
    fn live_by_kind(&self) -> (u64, u64) {
        let (mut browser, mut all) = (0, 0);
        for (i, slot) in self.shards.iter().enumerate() {
            if self.lost[i / self.setup.n] {
                continue;
            }
            for &h in slot.iter().filter(|h| **h != NONE) {
                all += 1;
                browser += u64::from(!self.holders[h as usize].node);
            }
        }
        (browser, all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Setup {
        Setup {
            seed: 7,
            days: 3.0,
            browsers: 2_000,
            nodes: 20,
            files: 300,
            k: 4,
            n: 8,
            threshold: 6,
            lost_after_minutes: 60.0,
            interval_minutes: 10.0,
            shards_on_nodes: 2,
            browser_copies: false,
            prefer_available: false,
            audit_every_hours: 24.0,
            browser_churn: None,
            node_lifetime_days: None,
            node_loss: None,
            kill_file0: None,
        }
    }

    fn churn() -> BrowserChurn {
        BrowserChurn {
            session_median_minutes: 30.0,
            session_shape: 0.6,
            return_within_day: 0.6,
            lifetime_days: 7.0,
            persistent_share: 0.8,
            paused_share: 0.3,
            quota_shards: 4096,
        }
    }

    #[test]
    fn without_churn_nothing_is_repaired_or_lost() {
        let report = run(&small(), |_| {});
        assert_eq!(
            (report.files_lost, report.repair_uploads, report.forced),
            (0, 0, 0)
        );
        assert_eq!(report.availability, 1.0);
        assert!((report.overhead - 2.0).abs() < 1e-9, "{report:?}");
    }

    #[test]
    fn losing_n_minus_k_plus_one_holders_of_one_file_loses_exactly_that_file() {
        let setup = Setup {
            kill_file0: Some((1.0, 5)),
            ..small()
        };
        let report = run(&setup, |_| {});
        assert_eq!(report.files_lost, 1, "{report:?}");
        // Four holders lose only what other files had there: repaired.
        let setup = Setup {
            kill_file0: Some((1.0, 4)),
            ..small()
        };
        let report = run(&setup, |_| {});
        assert_eq!(report.files_lost, 0, "{report:?}");
        assert!(report.repair_uploads >= 4, "{report:?}");
    }

    #[test]
    fn the_same_seed_gives_the_same_run_and_churn_is_repaired() {
        let setup = Setup {
            browser_churn: Some(churn()),
            node_lifetime_days: Some(180.0),
            ..small()
        };
        let a = run(&setup, |_| {});
        let b = run(&setup, |_| {});
        assert_eq!(a, b);
        assert!(a.repair_uploads > 0 && a.forced > 0, "{a:?}");
        let other = run(&Setup { seed: 8, ..setup }, |_| {});
        assert_ne!(a, other);
    }
}
