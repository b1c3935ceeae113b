//! The churn simulator's core (issue 19): browsers and nodes that come,
//! go and vanish, files whose shards live on them, and the network's own
//! repair decision ([`transfer::repair::plan`], with its away-versus-lost
//! rule) run every check interval. Only time, transport and storage are
//! simulated: a shard is a holder's index, a transfer a count.
//!
//! Model (one segment per file; every number is a [`Setup`] field):
//! - a browser's sessions last a Weibull time (shape, median); when one
//!   ends it comes back within a day with `return_within_day`, else after
//!   1 to 7 days; a browser whose storage is not persistent comes back
//!   empty; after an exponential lifetime it is gone for good and a new,
//!   empty browser takes its place;
//! - nodes are always online; each lives an exponential lifetime, and
//!   `node_loss` takes a share of them at once; a new, empty node replaces
//!   each;
//! - a new file places shard `i` on a node for `i < shards_on_nodes`, on a
//!   browser otherwise, all on distinct holders; repair places the same way
//!   on holders that are online.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

use crate::transfer::repair::plan;

mod chart;
mod scenario;

pub use chart::svg;
pub use scenario::parse;

const DAY: f64 = 86_400.0;
const NONE: u32 = u32::MAX;

/// How browsers come and go.
#[derive(Debug, Clone)]
pub struct BrowserChurn {
    pub session_median_minutes: f64,
    pub session_shape: f64,
    pub return_within_day: f64,
    pub lifetime_days: f64,
    pub persistent_share: f64,
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
    pub shards_on_nodes: usize,
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
    /// Shards uploaded by repair, and the shards that permanent departures
    /// (and wiped storage) destroyed: the least any repair must upload.
    pub repair_uploads: u64,
    pub forced: u64,
    /// Repair traffic (downloads and uploads) per month, as a share of the
    /// stored data.
    pub repair_per_month: f64,
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

/// SplitMix64: small, fast and the same everywhere (a seed gives one run).
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn exponential(&mut self, mean: f64) -> f64 {
        -mean * self.unit().ln()
    }

    fn weibull(&mut self, shape: f64, median: f64) -> f64 {
        let scale = median / std::f64::consts::LN_2.powf(1.0 / shape);
        scale * (-self.unit().ln()).powf(1.0 / shape)
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
    /// When it went offline (seconds).
    since: f64,
    /// Shards it was given: (file, shard); stale entries are skipped.
    held: Vec<(u32, u8)>,
}

struct World<'a> {
    setup: &'a Setup,
    random: Random,
    holders: Vec<Holder>,
    /// Each file's holder per shard ([`NONE`]: destroyed), and whether it
    /// is lost.
    files: Vec<Vec<u32>>,
    lost: Vec<bool>,
    queue: BinaryHeap<Reverse<(u64, Event)>>,
    forced: u64,
    uploads: u64,
    downloads: u64,
}

/// Runs `setup`; `progress` is told the share of simulated time done.
pub fn run(setup: &Setup, mut progress: impl FnMut(f64)) -> Report {
    let mut world = World::new(setup);
    let end = setup.days * DAY;
    let (mut readable, mut samples, mut held_sum) = (0u64, 0u64, 0f64);
    let mut next_report = 0.0;
    let mut series = Vec::new();
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
            let stored = (setup.files * setup.k) as f64;
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
    Report {
        availability: if samples == 0 {
            1.0
        } else {
            readable as f64 / samples as f64
        },
        files_lost: world.lost.iter().filter(|l| **l).count(),
        overhead: held_sum / checks / (setup.files * setup.k) as f64,
        repair_uploads: world.uploads,
        forced: world.forced,
        repair_per_month: (world.uploads + world.downloads) as f64 / (setup.files * setup.k) as f64
            * 30.0
            / setup.days,
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
        let mut world = Self {
            setup,
            random: Random(setup.seed),
            holders: Vec::with_capacity(setup.nodes + setup.browsers),
            files: Vec::with_capacity(setup.files),
            lost: vec![false; setup.files],
            queue: BinaryHeap::new(),
            forced: 0,
            uploads: 0,
            downloads: 0,
        };
        for i in 0..setup.nodes + setup.browsers {
            let node = i < setup.nodes;
            world.holders.push(Holder {
                node,
                generation: 0,
                online: true,
                since: 0.0,
                held: Vec::new(),
            });
            world.schedule_life(i as u32, 0.0);
            if !node {
                world.schedule_session(i as u32, 0.0);
            }
        }
        for file in 0..setup.files {
            let mut placed = vec![NONE; setup.n];
            for shard in 0..setup.n {
                placed[shard] = world.pick(shard, &placed);
                if placed[shard] != NONE {
                    world.holders[placed[shard] as usize]
                        .held
                        .push((file as u32, shard as u8));
                }
            }
            world.files.push(placed);
        }
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

    fn schedule_session(&mut self, holder: u32, now: f64) {
        if let Some(c) = self.setup.browser_churn.clone() {
            let minutes = self
                .random
                .weibull(c.session_shape, c.session_median_minutes);
            let generation = self.holders[holder as usize].generation;
            self.at(now + minutes * 60.0, Event::Leave(holder, generation));
        }
    }

    /// A holder for shard `shard` of a file already on `taken`: a node for
    /// the first `shards_on_nodes`, else a browser; online, distinct.
    fn pick(&mut self, shard: usize, taken: &[u32]) -> u32 {
        let (start, count) = if shard < self.setup.shards_on_nodes || self.setup.browsers == 0 {
            (0, self.setup.nodes)
        } else {
            (self.setup.nodes, self.setup.browsers)
        };
        if count == 0 {
            return NONE;
        }
        for _ in 0..64 {
            let h = (start + self.random.below(count)) as u32;
            if self.holders[h as usize].online && !taken.contains(&h) {
                return h;
            }
        }
        NONE
    }

    /// Destroys everything `holder` holds (its storage is gone).
    fn wipe(&mut self, holder: u32) {
        let held = std::mem::take(&mut self.holders[holder as usize].held);
        for (file, shard) in held {
            let slot = &mut self.files[file as usize][shard as usize];
            if *slot == holder {
                *slot = NONE;
                if !self.lost[file as usize] {
                    self.forced += 1;
                }
            }
        }
    }

    fn apply(&mut self, event: Event, now: f64) {
        let current = |h: u32, g: u32, holders: &[Holder]| holders[h as usize].generation == g;
        match event {
            Event::Leave(h, g) | Event::Return(h, g) | Event::Death(h, g)
                if !current(h, g, &self.holders) => {}
            Event::Leave(h, g) => {
                let holder = &mut self.holders[h as usize];
                holder.online = false;
                holder.since = now;
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
                self.holders[h as usize].online = true;
                self.schedule_session(h, now);
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
                let holders: Vec<u32> = self.files[0].iter().take(count).copied().collect();
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
        self.wipe(holder);
        let h = &mut self.holders[holder as usize];
        h.generation += 1;
        h.online = true;
        h.since = now;
        let node = h.node;
        self.schedule_life(holder, now);
        if !node {
            self.schedule_session(holder, now);
        }
    }

    /// Checks every file: samples readability, repairs as the network
    /// decides; returns (readable samples, samples, shards held).
    fn check(&mut self, now: f64) -> (u64, u64, f64) {
        let (n, k) = (self.setup.n, self.setup.k);
        let lost_after = self.setup.lost_after_minutes * 60.0;
        let (mut readable, mut samples, mut held) = (0, 0, 0.0);
        for file in 0..self.files.len() {
            if self.lost[file] {
                continue;
            }
            let mut live = BTreeSet::new();
            let mut away = BTreeSet::new();
            let mut alive = 0;
            for (i, &h) in self.files[file].iter().enumerate() {
                if h == NONE {
                    continue;
                }
                alive += 1;
                let holder = &self.holders[h as usize];
                if holder.online {
                    live.insert(i);
                } else if now - holder.since < lost_after {
                    away.insert(i);
                }
            }
            held += alive as f64;
            samples += 1;
            if alive < k {
                self.lost[file] = true;
                continue;
            }
            readable += u64::from(live.len() >= k);
            let (rebuild, _) = plan(n, k, self.setup.threshold, &live, &away, 1);
            for (_, missing) in rebuild {
                self.downloads += k as u64;
                for shard in missing {
                    let taken = self.files[file].clone();
                    let h = self.pick(shard, &taken);
                    if h == NONE {
                        continue;
                    }
                    self.files[file][shard] = h;
                    self.holders[h as usize]
                        .held
                        .push((file as u32, shard as u8));
                    self.uploads += 1;
                }
            }
        }
        self.at(now + self.setup.interval_minutes * 60.0, Event::Check);
        (readable, samples, held)
    }

    /// Live shards on browsers, and in all.
    fn live_by_kind(&self) -> (u64, u64) {
        let (mut browser, mut all) = (0, 0);
        for (file, holders) in self.files.iter().enumerate() {
            if self.lost[file] {
                continue;
            }
            for &h in holders.iter().filter(|h| **h != NONE) {
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
