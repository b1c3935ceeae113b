//! Fetching a list of shards from a file's holders: who has what (one HAS
//! per partial holder), who is asked (below), one request per holder at a
//! time, each bounded by a timeout, and what each answer means. Every
//! answer goes through the caller's check before it counts; a holder that
//! sends bad bytes is never asked again for this file; one that fails is
//! asked again in a later round; one that said it had a shard and then did
//! not, or did not answer in time, is asked last from then on, and for a
//! while after ([`super::demoted`]).
//!
//! Who is asked for a shard: among the holders that have it and were not
//! yet asked for it, those of the best rank ([`rank`]: this device, then
//! browsers and nodes alike, nodes last while the search for browsers
//! runs, demoted holders last of all), the one expected to finish first:
//! fewest shards given this round for the speed it served at so far
//! ([`Speeds`]). A browser serving at its policy's cap (4 MiB/s hidden)
//! beside a node five times faster so gets a fifth of the node's share,
//! and a round, which waits for its slowest holder, ends when they all do.
//! Ties keep [`super::rotation::order`]'s rotation, so holders of equal
//! speed (or not yet timed) share alike.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use futures::future::{self, Either};

use super::demoted;
use super::error::{Result, TransferError};
use super::progress::Tally;
use super::rotation;
use super::source::{Reach, ShardSource};
use crate::hash::Hash;

/// What the caller made of one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Verified and used.
    Kept,
    /// Bytes that fail their check: the holder lied or broke.
    Bad(String),
}

/// How one shard of a fetch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetched {
    /// Kept.
    Kept,
    /// Every holder asked said it does not have it.
    Missing,
    /// A holder failed (timed out, connection lost): worth asking again.
    Failed,
}

/// The holders of one file and what they did.
pub struct Fetcher<S: ShardSource> {
    pub(super) source: S,
    known: Vec<(S::Holder, Reach)>,
    distrusted: HashSet<S::Holder>,
    /// Holders asked last: they claimed a shard and did not send it, or
    /// timed out (here or, recently, in another transfer).
    demoted: HashSet<S::Holder>,
    timeout: Duration,
    turn: usize,
    speeds: Speeds<S::Holder>,
    pub(super) tally: Tally,
    /// The last failure and the last bad data, for the error if it ends.
    last_failure: Option<TransferError>,
    tampered: Option<String>,
}

impl<S: ShardSource> Fetcher<S> {
    pub fn new(source: S, timeout: Duration) -> Self {
        Self {
            source,
            known: Vec::new(),
            distrusted: HashSet::new(),
            demoted: HashSet::new(),
            timeout,
            turn: 0,
            speeds: Speeds::default(),
            tally: Tally::default(),
            last_failure: None,
            tampered: None,
        }
    }

    /// The source.
    pub fn source_mut(&mut self) -> &mut S {
        &mut self.source
    }

    /// Shard bytes kept per holder so far.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// Takes the holders found since the last call; true when any is new.
    pub fn refresh(&mut self) -> bool {
        let before = self.known.len();
        for (holder, reach) in self.source.holders() {
            if !self.known.iter().any(|(h, _)| *h == holder) {
                self.known.push((holder, reach));
            }
        }
        self.known.len() > before
    }

    /// How many partial holders are known.
    pub fn partial_holders(&self) -> usize {
        self.known
            .iter()
            .filter(|(_, r)| *r == Reach::Partial)
            .count()
    }

    /// True when some partial holder (a browser) is known.
    pub fn has_partial_holders(&self) -> bool {
        self.known.iter().any(|(_, r)| *r == Reach::Partial)
    }

    /// Why things went wrong so far, for an error message (may be empty).
    pub fn notes(&self) -> String {
        let mut why = String::new();
        if let Some(e) = &self.last_failure {
            why.push_str(&format!("; last failure: {e}"));
        }
        if let Some(t) = &self.tampered {
            why.push_str(&format!("; a peer sent bad data: {t}"));
        }
        why
    }

    /// The last failure, if any.
    pub fn last_failure(&self) -> Option<&TransferError> {
        self.last_failure.as_ref()
    }

    fn trusted(&self, reach: Reach) -> Vec<S::Holder> {
        self.known
            .iter()
            .filter(|(h, r)| *r == reach && !self.distrusted.contains(h))
            .map(|(h, _)| *h)
            .collect()
    }

    /// Fetches each of `hashes` from the holders of the kinds in `reaches`
    /// until `keep` (given the index into `hashes` and the bytes) accepts
    /// it; says how each ended. An error from `keep` ends the fetch.
    pub async fn fetch(
        &mut self,
        hashes: &[Hash],
        reaches: &[Reach],
        mut keep: impl FnMut(usize, Vec<u8>) -> Result<Verdict>,
    ) -> Result<Vec<Fetched>> {
        self.refresh();
        let candidates = self.candidates(hashes, reaches).await;
        let mut asked: Vec<HashSet<S::Holder>> = vec![HashSet::new(); hashes.len()];
        let mut out = vec![Fetched::Missing; hashes.len()];
        loop {
            let asks = self.assign(&candidates, &mut asked, &out);
            if asks.is_empty() {
                return Ok(out);
            }
            let requests = asks.iter().map(|(holder, which)| {
                let wanted: Vec<Hash> = which.iter().map(|&i| hashes[i]).collect();
                let source = &self.source;
                let timeout = self.timeout;
                async move {
                    let started = source.now();
                    let answers = source.fetch(*holder, &wanted);
                    let answers = match bounded(source, timeout, *holder, async {
                        Ok(answers.await)
                    })
                    .await
                    {
                        Ok(answers) => answers,
                        Err(e) => vec![Err(e); wanted.len()],
                    };
                    (answers, source.now().saturating_sub(started))
                }
            });
            let replies = future::join_all(requests).await;
            for ((holder, which), (answers, took)) in asks.into_iter().zip(replies) {
                let bytes = answers
                    .iter()
                    .map(|a| a.as_ref().map_or(0, |b| b.as_ref().map_or(0, Vec::len)))
                    .sum();
                self.speeds.note(holder, bytes, took);
                if answers.len() != which.len() {
                    let why = format!("{} answers to {} asks", answers.len(), which.len());
                    self.distrust(holder, why);
                    continue;
                }
                for (&i, answer) in which.iter().zip(answers) {
                    match answer {
                        Ok(Some(bytes)) => {
                            let len = bytes.len();
                            match keep(i, bytes)? {
                                Verdict::Kept => {
                                    out[i] = Fetched::Kept;
                                    self.tally.add(&holder, len);
                                }
                                Verdict::Bad(why) => self.distrust(holder, why),
                            }
                        }
                        Ok(None) => {
                            // Asked only because its HAS said yes.
                            if self.reach(&holder) == Some(Reach::Partial) {
                                self.demote(holder, "it said it had a shard, then did not");
                            }
                        }
                        Err(e) => {
                            tracing::warn!(%holder, error = %e, "a holder failed a fetch");
                            if matches!(e, TransferError::Timeout { .. }) {
                                self.demote(holder, "it did not answer in time");
                            }
                            if e.is_transient() {
                                out[i] = Fetched::Failed;
                            }
                            self.last_failure = Some(e);
                        }
                    }
                }
            }
        }
    }

    /// Each unfinished shard's next holder (see the module's doc), grouped
    /// per holder; marks each as asked.
    fn assign(
        &self,
        candidates: &[Vec<S::Holder>],
        asked: &mut [HashSet<S::Holder>],
        out: &[Fetched],
    ) -> BTreeMap<S::Holder, Vec<usize>> {
        let searching = self.source.searching();
        let rank_of = |h: &S::Holder| rank(self.reach(h), self.is_demoted(h), searching);
        let mut asks: BTreeMap<S::Holder, Vec<usize>> = BTreeMap::new();
        for (i, list) in candidates.iter().enumerate() {
            if out[i] == Fetched::Kept {
                continue;
            }
            let open = || {
                list.iter()
                    .filter(|h| !asked[i].contains(*h) && !self.distrusted.contains(*h))
            };
            let Some(best) = open().map(rank_of).min() else {
                continue;
            };
            let given = |h: &S::Holder| asks.get(h).map_or(0, Vec::len);
            let Some(&holder) = open().filter(|h| rank_of(h) == best).min_by(|a, b| {
                let finish = |h| self.speeds.finish(h, given(h) + 1);
                finish(a).total_cmp(&finish(b))
            }) else {
                continue;
            };
            asked[i].insert(holder);
            asks.entry(holder).or_default().push(i);
        }
        asks
    }

    fn reach(&self, holder: &S::Holder) -> Option<Reach> {
        self.known
            .iter()
            .find(|(h, _)| h == holder)
            .map(|(_, r)| *r)
    }

    fn demote(&mut self, holder: S::Holder, why: &str) {
        if self.demoted.insert(holder) {
            tracing::warn!(%holder, why, "asking a holder last from now on");
        }
        demoted::note(&holder);
    }

    /// Whether `holder` is asked last.
    fn is_demoted(&self, holder: &S::Holder) -> bool {
        self.demoted.contains(holder) || demoted::recently(holder)
    }

    fn distrust(&mut self, holder: S::Holder, why: String) {
        tracing::warn!(%holder, %why, "dropping a holder that sent bad data");
        self.distrusted.insert(holder);
        self.tampered = Some(why);
    }

    /// For each hash, the holders to ask in turn (see
    /// [`rotation::order`]); partial holders are asked with one HAS each,
    /// and one that does not answer sits this round out.
    async fn candidates(&mut self, hashes: &[Hash], reaches: &[Reach]) -> Vec<Vec<S::Holder>> {
        let wants = |r: Reach| reaches.contains(&r);
        let local = if wants(Reach::Local) {
            self.trusted(Reach::Local)
        } else {
            vec![]
        };
        let full = if wants(Reach::Full) {
            self.trusted(Reach::Full)
        } else {
            vec![]
        };
        let partial = if wants(Reach::Partial) {
            self.trusted(Reach::Partial)
        } else {
            vec![]
        };
        let source = &self.source;
        let timeout = self.timeout;
        let asks = partial
            .iter()
            .map(|&h| bounded(source, timeout, h, source.has(h, hashes)));
        let answers = future::join_all(asks).await;
        let mut have: Vec<(S::Holder, Vec<bool>)> = Vec::new();
        for (holder, answer) in partial.into_iter().zip(answers) {
            match answer {
                Ok(flags) if flags.len() == hashes.len() => have.push((holder, flags)),
                Ok(_) => self.distrust(holder, "a HAS answer of the wrong length".into()),
                Err(e) => {
                    tracing::warn!(%holder, error = %e, "a holder did not answer HAS");
                    self.last_failure = Some(e);
                }
            }
        }
        let searching = self.source.searching();
        (0..hashes.len())
            .map(|i| {
                let with: Vec<S::Holder> =
                    have.iter().filter(|(_, f)| f[i]).map(|(h, _)| *h).collect();
                self.turn = self.turn.wrapping_add(1);
                let mut order = rotation::order(&local, &with, &full, searching, self.turn);
                // Stable: the rotation holds among the rest.
                order.sort_by_key(|h| self.is_demoted(h));
                order
            })
            .collect()
    }
}

/// Where a holder stands among those that have a shard: lower is asked
/// first. This device first (free); then browsers and nodes alike, except
/// that nodes wait while the search for browsers runs (so the browsers
/// found so far serve what they have); a demoted holder last.
fn rank(reach: Option<Reach>, demoted: bool, searching: bool) -> u8 {
    match (demoted, reach) {
        (true, _) => 3,
        (false, Some(Reach::Local)) => 0,
        (false, Some(Reach::Full)) if searching => 2,
        (false, _) => 1,
    }
}

/// How fast each holder served this file so far: bytes per second, an
/// average that halves the weight of older answers with each new one.
struct Speeds<H>(HashMap<H, f64>);

impl<H> Default for Speeds<H> {
    fn default() -> Self {
        Self(HashMap::new())
    }
}

impl<H: Eq + std::hash::Hash> Speeds<H> {
    /// `holder` sent `bytes` in `took`; an answer without bytes says
    /// nothing of its speed.
    fn note(&mut self, holder: H, bytes: usize, took: Duration) {
        if bytes == 0 {
            return;
        }
        let rate = bytes as f64 / took.as_secs_f64().max(1e-3);
        let speed = self.0.entry(holder).or_insert(rate);
        *speed = (*speed + rate) / 2.0;
    }

    /// When `holder` would be done with `shards` shards, in units of one
    /// shard at the mean speed: a holder not yet timed is taken to be as
    /// fast as the mean of those that were.
    fn finish(&self, holder: &H, shards: usize) -> f64 {
        let mean = match self.0.len() {
            0 => 1.0,
            known => self.0.values().sum::<f64>() / known as f64,
        };
        let speed = self.0.get(holder).copied().unwrap_or(mean);
        shards as f64 * mean / speed.max(f64::MIN_POSITIVE)
    }
}

/// `request` to `holder`, failed with [`TransferError::Timeout`] after
/// `timeout`.
async fn bounded<S: ShardSource, T>(
    source: &S,
    timeout: Duration,
    holder: S::Holder,
    request: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let request = std::pin::pin!(request);
    let timer = std::pin::pin!(source.pause(timeout));
    match future::select(request, timer).await {
        Either::Left((answer, _)) => answer,
        Either::Right(((), _)) => Err(TransferError::Timeout {
            holder: holder.to_string(),
            secs: timeout.as_secs(),
        }),
    }
}
