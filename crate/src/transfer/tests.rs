//! The engine alone, over in-memory holders: each test builds a file,
//! spreads its shards over holders that misbehave in one way, and checks
//! the get yields exactly the original bytes or the right error.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::code::ErrorCode;
use crate::format::{Encoder, FileKey, Link, Params};
use crate::hash::Hash;
use crate::store::Storage;

/// A holder's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct H(u8);

impl fmt::Display for H {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "h{}", self.0)
    }
}

/// One in-memory holder and how it misbehaves.
#[derive(Default)]
struct Holder {
    reach: Option<Reach>,
    shards: HashMap<Hash, Vec<u8>>,
    /// Says it has everything, then answers "not found".
    lies: bool,
    /// Flips a bit of everything it sends.
    tampers: bool,
    /// Answers after this long.
    delay: Option<Duration>,
    /// And this long more per shard asked (its bandwidth).
    per_shard: Duration,
    /// Shards asked for, in all.
    shards_asked: Cell<usize>,
    /// Fails this many fetches (connection lost) before answering.
    drops: Cell<u32>,
    /// Fetch requests received.
    asked: Cell<u32>,
}

impl Holder {
    fn new(reach: Reach) -> Self {
        Self {
            reach: Some(reach),
            ..Self::default()
        }
    }
}

/// Holders, revealed one more per `wait_for_holder` while searching.
struct Memory {
    holders: BTreeMap<H, Holder>,
    revealed: usize,
    searching: bool,
    /// Tokio's clock, which paused tests pass faster.
    start: tokio::time::Instant,
}

impl Memory {
    fn new(holders: Vec<(H, Holder)>) -> Self {
        let revealed = holders.len();
        Self {
            holders: holders.into_iter().collect(),
            revealed,
            searching: false,
            start: tokio::time::Instant::now(),
        }
    }

    fn holder(&self, h: H) -> &Holder {
        &self.holders[&h]
    }
}

impl ShardSource for Memory {
    type Holder = H;

    async fn ready(&mut self) -> Result<()> {
        Ok(())
    }

    fn holders(&mut self) -> Vec<(H, Reach)> {
        self.holders
            .iter()
            .take(self.revealed)
            .map(|(h, x)| (*h, x.reach.unwrap_or(Reach::Partial)))
            .collect()
    }

    fn searching(&self) -> bool {
        self.searching
    }

    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    async fn wait_for_holder(&mut self, _limit: Option<Duration>) -> bool {
        if self.revealed < self.holders.len() {
            self.revealed += 1;
            return true;
        }
        self.searching = false;
        false
    }

    async fn has(&self, holder: H, hashes: &[Hash]) -> Result<Vec<bool>> {
        let h = self.holder(holder);
        Ok(hashes
            .iter()
            .map(|x| h.lies || h.shards.contains_key(x))
            .collect())
    }

    async fn fetch(&self, holder: H, hashes: &[Hash]) -> Answers {
        let h = self.holder(holder);
        h.asked.set(h.asked.get() + 1);
        h.shards_asked.set(h.shards_asked.get() + hashes.len());
        if let Some(delay) = h.delay {
            tokio::time::sleep(delay).await;
        }
        tokio::time::sleep(h.per_shard * hashes.len() as u32).await;
        if h.drops.get() > 0 {
            h.drops.set(h.drops.get() - 1);
            let lost = TransferError::Unreachable {
                holder: holder.to_string(),
                message: "connection lost".into(),
            };
            return vec![Err(lost); hashes.len()];
        }
        hashes
            .iter()
            .map(|x| match (h.lies, h.shards.get(x)) {
                (true, _) | (_, None) => Ok(None),
                (false, Some(bytes)) => {
                    let mut bytes = bytes.clone();
                    if h.tampers && !bytes.is_empty() {
                        bytes[0] ^= 1;
                    }
                    Ok(Some(bytes))
                }
            })
            .collect()
    }
}

/// A file encoded with small segments: its link, manifest and shards
/// (`[segment][index] = (hash, bytes)`).
struct File {
    data: Vec<u8>,
    link: Link,
    manifest: (Hash, Vec<u8>),
    shards: Vec<Vec<(Hash, Vec<u8>)>>,
}

const SEGMENT: u32 = 64 * 1024;

fn params() -> Params {
    Params {
        segment_size: SEGMENT,
        k: 4,
        n: 8,
    }
}

fn file(size: usize) -> File {
    let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    let mut encoder = Encoder::new(FileKey::random(), params(), "f.bin", "").unwrap();
    let mut segments = encoder.push(&data).unwrap();
    let finished = encoder.finish().unwrap();
    segments.extend(finished.segments);
    let shards = segments
        .into_iter()
        .map(|s| s.shards.into_iter().map(|x| (x.hash, x.bytes)).collect())
        .collect();
    File {
        data,
        manifest: (finished.link.manifest, finished.manifest_blob),
        link: finished.link,
        shards,
    }
}

impl File {
    /// A holder with the manifest and the shards `keep(segment, index)` picks.
    fn holder(&self, reach: Reach, keep: impl Fn(usize, usize) -> bool) -> Holder {
        let mut h = Holder::new(reach);
        h.shards.insert(self.manifest.0, self.manifest.1.clone());
        for (s, segment) in self.shards.iter().enumerate() {
            for (i, (hash, bytes)) in segment.iter().enumerate() {
                if keep(s, i) {
                    h.shards.insert(*hash, bytes.clone());
                }
            }
        }
        h
    }
}

fn config() -> Config {
    Config {
        request_timeout: Duration::from_millis(200),
        lookup_grace: Duration::from_millis(1),
        backoff: Duration::from_millis(1),
        ..Config::default()
    }
}

async fn get_range(
    source: Memory,
    link: &Link,
    range: Option<(u64, Option<u64>)>,
) -> (Result<Vec<u8>>, Memory) {
    let mut getter = match Getter::open(source, link, range, config(), None).await {
        Ok(g) => g,
        Err(e) => panic!("open failed: {e}"),
    };
    let mut out = Vec::new();
    let result = loop {
        match getter.next().await {
            Ok(Some(chunk)) => out.extend(chunk),
            Ok(None) => break Ok(out),
            Err(e) => break Err(e),
        }
    };
    (result, getter.into_source())
}

async fn get(source: Memory, link: &Link) -> (Result<Vec<u8>>, Memory) {
    get_range(source, link, None).await
}

#[tokio::test]
async fn a_whole_file_from_one_full_holder() {
    let f = file(300_000);
    let node = f.holder(Reach::Full, |_, _| true);
    let (got, _) = get(Memory::new(vec![(H(0), node)]), &f.link).await;
    assert_eq!(got.unwrap(), f.data);
}

#[tokio::test]
async fn a_zero_length_file() {
    let f = file(0);
    let node = f.holder(Reach::Full, |_, _| true);
    let (got, _) = get(Memory::new(vec![(H(0), node)]), &f.link).await;
    assert_eq!(got.unwrap(), Vec::<u8>::new());
}

#[tokio::test]
async fn missing_shards_are_rebuilt_from_the_rest() {
    let f = file(200_000);
    // Data shards lost everywhere: only parity is left.
    let node = f.holder(Reach::Full, |_, i| i >= 4);
    let (got, _) = get(Memory::new(vec![(H(0), node)]), &f.link).await;
    assert_eq!(got.unwrap(), f.data);
}

#[tokio::test]
async fn too_few_shards_is_unavailable_naming_the_segment() {
    let f = file(200_000);
    let node = f.holder(Reach::Full, |s, i| s != 2 || i < 3);
    let (got, _) = get(Memory::new(vec![(H(0), node)]), &f.link).await;
    let e = got.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Unavailable);
    assert!(e.to_string().contains("segment 2"), "{e}");
}

#[tokio::test]
async fn a_tampering_holder_is_dropped_and_the_others_serve() {
    let f = file(400_000);
    let mut liar = f.holder(Reach::Partial, |_, _| true);
    liar.tampers = true;
    let honest = f.holder(Reach::Partial, |_, i| i % 2 == 0);
    let node = f.holder(Reach::Full, |_, _| true);
    let source = Memory::new(vec![(H(0), node), (H(1), liar), (H(2), honest)]);
    let (got, source) = get(source, &f.link).await;
    assert_eq!(got.unwrap(), f.data);
    assert_eq!(
        source.holder(H(1)).asked.get(),
        1,
        "asked again after sending bad bytes"
    );
}

#[tokio::test]
async fn a_tampered_manifest_is_reported_as_such() {
    let f = file(10_000);
    let mut node = f.holder(Reach::Full, |_, _| true);
    node.tampers = true;
    let source = Memory::new(vec![(H(0), node)]);
    let e = Getter::open(source, &f.link, None, config(), None)
        .await
        .err()
        .unwrap();
    assert_eq!(e.code(), ErrorCode::ManifestTampered);
}

#[tokio::test]
async fn no_manifest_anywhere_is_not_found() {
    let f = file(10_000);
    let mut node = f.holder(Reach::Full, |_, _| true);
    node.shards.remove(&f.manifest.0);
    let e = Getter::open(
        Memory::new(vec![(H(0), node)]),
        &f.link,
        None,
        config(),
        None,
    )
    .await
    .err()
    .unwrap();
    assert_eq!(e.code(), ErrorCode::NotFound);
}

#[tokio::test]
async fn a_holder_that_says_it_has_and_then_does_not_is_asked_last_from_then_on() {
    let f = file(5_000_000);
    // A node with every shard, and a browser that claims them all.
    let world = || {
        let mut liar = f.holder(Reach::Partial, |_, _| false);
        liar.lies = true;
        Memory::new(vec![
            (H(0), f.holder(Reach::Full, |_, _| true)),
            (H(1), liar),
        ])
    };
    // Asked once, first (a browser that has a shard is asked before the
    // node), then last: the node serves every later segment. Then, in
    // the next transfer of this process, last at once.
    for asked in [1, 0] {
        let (got, source) = get(world(), &f.link).await;
        assert_eq!(got.unwrap(), f.data);
        assert_eq!(source.holder(H(1)).asked.get(), asked);
    }
}

#[tokio::test(start_paused = true)]
async fn a_faster_holder_is_given_more_shards() {
    // 64 segments, each held whole by a node and a browser; the browser
    // serves a shard in 6 ms, the node in 1 ms (neither near the 200 ms
    // timeout). Dealt alike, the browser would take half the shards and
    // the get 64 * 4 / 2 * 6 ms = 768 ms; by speed, it takes about a
    // sixth of them, and the get about a third of that time.
    let f = file(64 * SEGMENT as usize);
    let mut browser = f.holder(Reach::Partial, |_, _| true);
    browser.per_shard = Duration::from_millis(6);
    let mut node = f.holder(Reach::Full, |_, _| true);
    node.per_shard = Duration::from_millis(1);
    let started = tokio::time::Instant::now();
    let (got, source) = get(Memory::new(vec![(H(0), node), (H(1), browser)]), &f.link).await;
    assert_eq!(got.unwrap(), f.data);
    let took = started.elapsed();
    let (node, browser) = (
        source.holder(H(0)).shards_asked.get(),
        source.holder(H(1)).shards_asked.get(),
    );
    assert!(browser > 0, "the browser still serves");
    assert!(browser * 3 < node, "browser {browser}, node {node}");
    assert!(took < Duration::from_millis(450), "{took:?}");
}

#[tokio::test]
async fn a_slow_holder_times_out_and_the_others_serve() {
    let f = file(200_000);
    let mut slow = f.holder(Reach::Partial, |_, _| true);
    slow.delay = Some(Duration::from_secs(30));
    let node = f.holder(Reach::Full, |_, _| true);
    let (got, source) = get(Memory::new(vec![(H(0), node), (H(1), slow)]), &f.link).await;
    assert_eq!(got.unwrap(), f.data);
    assert!(source.holder(H(1)).asked.get() >= 1);
}

#[tokio::test]
async fn a_holder_whose_connection_drops_is_asked_again() {
    let f = file(300_000);
    // The only holder of the data; its connection fails twice, then it is back.
    let browser = f.holder(Reach::Partial, |_, _| true);
    browser.drops.set(2);
    let mut node = f.holder(Reach::Full, |_, _| false);
    node.shards.insert(f.manifest.0, f.manifest.1.clone());
    let (got, source) = get(Memory::new(vec![(H(0), node), (H(1), browser)]), &f.link).await;
    assert_eq!(got.unwrap(), f.data);
    assert!(source.holder(H(1)).asked.get() >= 3);
}

#[tokio::test]
async fn a_holder_that_stays_away_ends_the_get_unavailable() {
    let f = file(100_000);
    let browser = f.holder(Reach::Partial, |_, _| true);
    browser.drops.set(u32::MAX);
    let mut node = f.holder(Reach::Full, |_, _| false);
    node.shards.insert(f.manifest.0, f.manifest.1.clone());
    let (got, _) = get(Memory::new(vec![(H(0), node), (H(1), browser)]), &f.link).await;
    let e = got.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Unavailable);
    assert!(e.to_string().contains("connection lost"), "{e}");
}

#[tokio::test]
async fn holders_found_later_are_drawn_on() {
    let f = file(300_000);
    let mut node = f.holder(Reach::Full, |_, _| false);
    node.shards.insert(f.manifest.0, f.manifest.1.clone());
    let a = f.holder(Reach::Partial, |_, i| i < 2);
    let b = f.holder(Reach::Partial, |_, i| (2..4).contains(&i));
    let mut source = Memory::new(vec![(H(0), node), (H(1), a), (H(2), b)]);
    source.revealed = 1;
    source.searching = true;
    let (got, source) = get(source, &f.link).await;
    assert_eq!(got.unwrap(), f.data);
    assert!(source.holder(H(2)).asked.get() >= 1);
}

#[tokio::test]
async fn ranges_on_and_around_segment_boundaries() {
    let seg = u64::from(SEGMENT);
    let f = file(3 * SEGMENT as usize + 100);
    let size = f.data.len() as u64;
    let ranges = [
        (0, seg),
        (seg, 2 * seg),
        (seg - 1, seg + 1),
        (2 * seg, size),
        (3 * seg, size),
        (seg, seg),
        (size, size),
        (5, 6),
    ];
    for (start, end) in ranges {
        let node = f.holder(Reach::Full, |_, _| true);
        let source = Memory::new(vec![(H(0), node)]);
        let (got, _) = get_range(source, &f.link, Some((start, Some(end)))).await;
        assert_eq!(
            got.unwrap(),
            &f.data[start as usize..end as usize],
            "{start}..{end}"
        );
    }
    // An end past the file is clipped; a start past it is an error.
    let source = Memory::new(vec![(H(0), f.holder(Reach::Full, |_, _| true))]);
    let (got, _) = get_range(source, &f.link, Some((seg, Some(size + 99)))).await;
    assert_eq!(got.unwrap(), &f.data[seg as usize..]);
    let source = Memory::new(vec![(H(0), f.holder(Reach::Full, |_, _| true))]);
    let e = Getter::open(source, &f.link, Some((size + 1, None)), config(), None)
        .await
        .err()
        .unwrap();
    assert_eq!(e.code(), ErrorCode::InvalidArgument);
}

/// Runs a future to completion on a fresh current-thread runtime (for
/// proptest bodies, which are not async).
fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(f)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Any spread of shards over three holders that leaves at least k of n
    /// of every segment somewhere yields exactly the original bytes.
    #[test]
    fn any_k_of_n_per_segment_yields_the_original(
        size in 0usize..300_000,
        seed in any::<u64>(),
    ) {
        let f = file(size);
        // Each shard goes to one holder or none (2 in 8 chance each way),
        // then each segment's survivors are topped up to k.
        let pick = |s: usize, i: usize| (seed.rotate_left((s * 8 + i) as u32 % 64) ^ (s * 31 + i) as u64) % 4;
        let mut holders: Vec<Holder> = (0..3u64)
            .map(|h| f.holder(if h == 0 { Reach::Full } else { Reach::Partial }, |s, i| pick(s, i) == h))
            .collect();
        for (s, segment) in f.shards.iter().enumerate() {
            let mut alive = (0..8).filter(|&i| pick(s, i) < 3).count();
            for (i, (hash, bytes)) in segment.iter().enumerate() {
                if alive >= 4 { break; }
                if pick(s, i) == 3 {
                    holders[i % 3].shards.insert(*hash, bytes.clone());
                    alive += 1;
                }
            }
        }
        let source = Memory::new(holders.into_iter().enumerate().map(|(i, h)| (H(i as u8), h)).collect());
        let (got, _) = block_on(get(source, &f.link));
        prop_assert_eq!(got.unwrap(), f.data);
    }
}

/// An in-memory sink: a required holder and contributors, one of which
/// refuses everything.
struct Sink {
    stored: std::cell::RefCell<BTreeMap<H, HashMap<Hash, Vec<u8>>>>,
    nodes: Vec<H>,
    refuses: H,
    /// Holders whose storage is full.
    full: Vec<H>,
    announced: std::cell::RefCell<Vec<H>>,
    kept: std::cell::RefCell<Vec<(H, Hash)>>,
}

impl ShardSink for Sink {
    type Holder = H;

    async fn ready(&mut self) -> Result<()> {
        Ok(())
    }

    async fn nodes(&mut self) -> Vec<H> {
        self.nodes.clone()
    }

    async fn contributors(&mut self, _anchor: Hash) -> Vec<(H, Storage)> {
        [H(1), H(2), H(3)].map(|h| (h, Storage::Evictable)).to_vec()
    }

    async fn store(&self, holder: H, hash: Hash, bytes: &[u8]) -> Result<()> {
        if holder == self.refuses {
            return Err(TransferError::Refused {
                holder: holder.to_string(),
                message: "not now".into(),
            });
        }
        if self.full.contains(&holder) {
            return Err(TransferError::Full {
                holder: holder.to_string(),
                message: "quota".into(),
            });
        }
        assert_eq!(Hash::of(bytes), hash);
        self.stored
            .borrow_mut()
            .entry(holder)
            .or_default()
            .insert(hash, bytes.to_vec());
        Ok(())
    }

    fn hint(&self, holder: H) -> Option<Vec<u8>> {
        Some(vec![holder.0])
    }

    async fn announce(&self, holders: &[H], _key: Hash) {
        self.announced.borrow_mut().extend_from_slice(holders);
    }

    async fn keep(&self, holder: H, cap: &crate::format::RepairCap) -> Result<()> {
        self.kept.borrow_mut().push((holder, cap.manifest));
        Ok(())
    }
}

fn sink(full: bool) -> Sink {
    Sink {
        stored: Default::default(),
        nodes: vec![H(0)],
        refuses: H(2),
        full: if full { vec![H(0)] } else { vec![] },
        announced: Default::default(),
        kept: Default::default(),
    }
}

#[tokio::test]
async fn put_then_get_places_copies_and_names_the_contributors() {
    let data: Vec<u8> = (0..2_500_000u32).map(|i| (i % 241) as u8).collect();
    let mut sink = sink(false);
    let input = Input {
        name: "a.bin".into(),
        mime: "".into(),
        total: data.len() as u64,
    };
    let stages = std::cell::RefCell::new(Vec::new());
    let link = put(
        &mut sink,
        futures::io::Cursor::new(&data),
        &input,
        &|p| stages.borrow_mut().push(p.stage),
        None,
    )
    .await
    .unwrap();
    assert_eq!(stages.borrow().first(), Some(&Stage::Connecting));
    assert_eq!(stages.borrow().last(), Some(&Stage::Done));
    let stored = sink.stored.into_inner();
    // Every shard and the manifest on the required holder; copies on the
    // contributors that took them, none on the one that refused.
    assert_eq!(stored[&H(0)].len(), 3 * 8 + 1);
    assert!(!stored.contains_key(&H(2)));
    // The node and the contributors that took shards announce the file.
    assert_eq!(*sink.announced.borrow(), vec![H(0), H(1), H(3)]);
    // The copies alone (no required holder) rebuild the file? Not with one
    // refusing contributor; the required holder does.
    let mut node = Holder::new(Reach::Full);
    node.shards = stored[&H(0)].clone();
    let (got, _) = get(Memory::new(vec![(H(0), node)]), &link).await;
    assert_eq!(got.unwrap(), data);
    let mut getter = Getter::open(
        Memory::new(vec![(H(0), {
            let mut n = Holder::new(Reach::Full);
            n.shards = stored[&H(0)].clone();
            n
        })]),
        &link,
        None,
        config(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(getter.manifest().hints, vec![vec![1u8], vec![3u8]]);
    assert!(getter.next().await.unwrap().is_some());
}

/// Link first: the link comes out while no shard is placed yet, with the
/// whole file in the stash and the manifest already on the node; the put
/// then places every shard from the stash and empties it.
#[tokio::test]
async fn an_early_put_gives_the_link_before_placing_and_empties_its_stash() {
    let data: Vec<u8> = (0..2_500_000u32).map(|i| (i % 239) as u8).collect();
    let mut sink = sink(false);
    let input = Input {
        name: "early.bin".into(),
        mime: "".into(),
        total: data.len() as u64,
    };
    let stash = crate::store::Store::memory(crate::store::Config::default(), None);
    let seen = std::cell::RefCell::new(None);
    let stages = std::cell::RefCell::new(Vec::new());
    let sent = std::cell::Cell::new(0u64);
    let on_link = |link: &Link| {
        *seen.borrow_mut() = Some((link.clone(), stash.usage().entries, sent.get()));
    };
    let early = crate::transfer::Early {
        stash: &stash,
        hint: vec![9],
        on_link: &on_link,
    };
    let link = put(
        &mut sink,
        futures::io::Cursor::new(&data),
        &input,
        &|p| {
            stages.borrow_mut().push(p.stage);
            sent.set(p.peers.values().sum());
        },
        Some(early),
    )
    .await
    .unwrap();
    let (early_link, stashed, placed) = seen.into_inner().expect("the link came out early");
    assert_eq!(early_link, link);
    assert_eq!(stashed, 3 * 8, "the whole file was in the stash");
    assert!(
        placed < 10_000,
        "only the manifest was sent: {placed} bytes"
    );
    assert_eq!(stash.usage().entries, 0, "placed shards leave the stash");
    let stages = stages.into_inner();
    let first_storing = stages.iter().position(|s| *s == Stage::Storing).unwrap();
    assert!(stages[..first_storing].contains(&Stage::Connecting));
    assert!(stages[first_storing..]
        .iter()
        .all(|s| *s != Stage::Encoding));
    assert_eq!(
        stages.iter().filter(|s| **s == Stage::Encoding).count(),
        1 + 3
    );
    let stored = sink.stored.into_inner();
    assert_eq!(stored[&H(0)].len(), 3 * 8 + 1);
    let mut node = Holder::new(Reach::Full);
    node.shards = stored[&H(0)].clone();
    let getter = Getter::open(
        Memory::new(vec![(H(0), {
            let mut n = Holder::new(Reach::Full);
            n.shards = node.shards.clone();
            n
        })]),
        &link,
        None,
        config(),
        None,
    )
    .await
    .unwrap();
    // This peer first, then every contributor chosen (refusing or not).
    assert_eq!(
        getter.manifest().hints,
        vec![vec![9u8], vec![1], vec![2], vec![3]]
    );
    let (got, _) = get(Memory::new(vec![(H(0), node)]), &link).await;
    assert_eq!(got.unwrap(), data);
}

#[tokio::test]
async fn nodes_share_the_shards_and_a_full_node_passes_its_own_on() {
    let data: Vec<u8> = (0..6_000_000u32).map(|i| (i % 239) as u8).collect();
    let (a, b, c) = (H(10), H(11), H(12));
    let mut spread = Sink {
        nodes: vec![a, b, c],
        ..sink(false)
    };
    let input = Input {
        name: "a.bin".into(),
        mime: "".into(),
        total: data.len() as u64,
    };
    let link = put(
        &mut spread,
        futures::io::Cursor::new(&data),
        &input,
        &|_| {},
        None,
    )
    .await
    .unwrap();
    let stored = spread.stored.into_inner();
    let on = |h: H| stored.get(&h).map_or(0, |s| s.len());
    // 6 segments of 8 shards, dealt in turn: at most 3 of a segment per
    // node, so losing any one node leaves at least 5 of 8 (k = 4). The
    // manifest is on all three.
    assert_eq!(on(a) + on(b) + on(c), 6 * 8 + 3);
    for node in [a, b, c] {
        // 2 or 3 of each segment (third in a ranking: shards 2 and 5),
        // and the manifest.
        assert!(
            (2 * 6 + 1..=3 * 6 + 1).contains(&on(node)),
            "{node} holds {}",
            on(node)
        );
        let mut others: Vec<(H, Holder)> = Vec::new();
        for other in [a, b, c].into_iter().filter(|h| *h != node) {
            let mut holder = Holder::new(Reach::Partial);
            holder.shards = stored[&other].clone();
            others.push((other, holder));
        }
        let (got, _) = get(Memory::new(others), &link).await;
        assert_eq!(got.unwrap(), data, "without {node}");
    }

    // A full node's shards go to the others; the put still succeeds.
    let mut full = Sink {
        nodes: vec![a, b, c],
        full: vec![b],
        ..sink(false)
    };
    put(
        &mut full,
        futures::io::Cursor::new(&data),
        &input,
        &|_| {},
        None,
    )
    .await
    .unwrap();
    let stored = full.stored.into_inner();
    assert!(!stored.contains_key(&b));
    assert_eq!(stored[&a].len() + stored[&c].len(), 6 * 8 + 2);
}

#[tokio::test]
async fn a_full_required_holder_fails_the_put_with_its_code() {
    let mut sink = sink(true);
    let input = Input {
        name: "a.bin".into(),
        ..Input::default()
    };
    let e = put(
        &mut sink,
        futures::io::Cursor::new(vec![1u8; 1000]),
        &input,
        &|_| {},
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), ErrorCode::StorageFull);
}

#[tokio::test]
async fn a_file_over_the_format_limit_fails_before_any_upload() {
    let mut sink = sink(false);
    let input = Input {
        name: "a.bin".into(),
        mime: "".into(),
        total: u64::MAX,
    };
    let e = put(
        &mut sink,
        futures::io::Cursor::new(vec![1u8; 10]),
        &input,
        &|_| {},
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), ErrorCode::TooLarge);
    assert!(sink.stored.borrow().is_empty());
}

impl Auditor for Memory {
    async fn renew(&self, holder: H, hashes: &[Hash]) -> Result<Vec<bool>> {
        let h = self.holder(holder);
        Ok(hashes.iter().map(|x| h.shards.contains_key(x)).collect())
    }

    async fn audit(
        &self,
        holder: H,
        hash: Hash,
        range: crate::audit::ChunkRange,
    ) -> Result<Option<Vec<u8>>> {
        let h = self.holder(holder);
        if let Some(delay) = h.delay {
            tokio::time::sleep(delay).await;
        }
        let Some(bytes) = h.shards.get(&hash).filter(|_| !h.lies) else {
            return Ok(None);
        };
        let mut bytes = bytes.clone();
        if h.tampers {
            bytes[0] ^= 1;
        }
        crate::audit::prove(&bytes, range)
            .map(Some)
            .map_err(|e| TransferError::Internal(e.to_string()))
    }
}

async fn check_all(source: Memory, link: &Link) -> Health<H> {
    let mut seed = 7u64;
    let mut random = || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        seed >> 11
    };
    let access = crate::format::Access::Read(link.clone());
    check(source, &access, Duration::from_millis(200), &mut random)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_check_audits_a_sample_of_every_claim_and_catches_a_liar_and_a_tamperer() {
    let f = file(300_000);
    let shards = f.shards.len() * 8;
    assert!(shards > check::MAX_AUDITS_PER_HOLDER);
    let node = f.holder(Reach::Partial, |_, _| true);
    let mut liar = f.holder(Reach::Partial, |_, _| false);
    liar.lies = true;
    let mut tamperer = f.holder(Reach::Partial, |_, i| i < 3);
    tamperer.tampers = true;
    let source = Memory::new(vec![(H(0), node), (H(1), liar), (H(2), tamperer)]);
    let health = check_all(source, &f.link).await;
    let [node, liar, tamperer] = &health.holders[..] else {
        panic!("{health:?}")
    };
    let sample = check::MAX_AUDITS_PER_HOLDER;
    let counts = |h: &HolderHealth<H>| (h.claimed, h.audited, h.proven, h.counted());
    assert_eq!(counts(node), (shards, sample, sample, shards));
    assert!(node.reputation.trusted() && node.failures.is_empty());
    assert_eq!(counts(liar), (shards, sample, 0, 0));
    assert!(!liar.reputation.trusted());
    assert!(
        liar.failures[0].contains("said it holds shard"),
        "{:?}",
        liar.failures
    );
    assert_eq!(liar.failures.len(), check::MAX_REASONS);
    let tampered = f.shards.len() * 3;
    assert_eq!(counts(tamperer), (tampered, tampered, 0, 0));
    assert!(tamperer.failures[0].contains("does not match shard"));
    assert_eq!(health.live, vec![8; f.shards.len()]);
    assert!(health.readable());
    // Only the node proved anything: losing it loses the file.
    assert_eq!(health.weakest_after_one_loss, 0);
    assert!(!health.survives_one_loss());
    assert_eq!(health.failed_audits(), sample + tampered);
}

#[tokio::test]
async fn a_check_counts_live_shards_per_segment_and_the_loss_of_any_one_holder() {
    let f = file(300_000);
    // Segment 0 keeps 3 shards (below k = 4), the others 5.
    let keep = |s: usize, i: usize| i < if s == 0 { 3 } else { 5 };
    let a = f.holder(Reach::Partial, move |s, i| keep(s, i) && i % 2 == 0);
    let b = f.holder(Reach::Partial, move |s, i| keep(s, i) && i % 2 == 1);
    let health = check_all(Memory::new(vec![(H(0), a), (H(1), b)]), &f.link).await;
    assert_eq!(health.live[0], 3);
    assert!(
        health.live[1..].iter().all(|&l| l == 5),
        "{:?}",
        health.live
    );
    assert_eq!((health.weakest(), health.k, health.n), (3, 4, 8));
    assert!(!health.readable());
    assert_eq!(health.weakest_after_one_loss, 1);
    assert_eq!(health.failed_audits(), 0);

    // Three holders, each with a different 5 or 6 of every segment's 8: any
    // one lost leaves at least 4 of every segment.
    let thirds = |skip: usize| move |_: usize, i: usize| i % 3 != skip;
    let holders = (0..3).map(|j| (H(j as u8), f.holder(Reach::Partial, thirds(j))));
    let health = check_all(Memory::new(holders.collect()), &f.link).await;
    assert_eq!(health.live, vec![8; f.shards.len()]);
    assert!(
        health.survives_one_loss(),
        "{}",
        health.weakest_after_one_loss
    );
}

#[tokio::test]
async fn a_holder_that_stops_answering_mid_audit_is_away_and_not_asked_further() {
    let f = file(300_000);
    let mut slow = f.holder(Reach::Partial, |_, _| true);
    slow.delay = Some(Duration::from_secs(30));
    let node = f.holder(Reach::Partial, |_, _| true);
    let started = tokio::time::Instant::now();
    let health = check_all(Memory::new(vec![(H(0), node), (H(1), slow)]), &f.link).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // Not a failed proof: it answered HAS, then nothing. It counts as not
    // reached (its pieces away, not lost) and nothing it claimed counts.
    let slow = &health.holders[1];
    assert_eq!(
        (slow.reached, slow.audited, slow.proven, slow.counted()),
        (false, 0, 0, 0)
    );
    assert!(
        slow.failures[0].contains("stopped answering: no proof of shard"),
        "{:?}",
        slow.failures
    );
    assert!(!health.survives_one_loss());
}
