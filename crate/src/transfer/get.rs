//! The getter: a link in, verified plaintext out, in order.
//!
//! Two states, each its own type of step: [`Getter::open`] waits for the
//! source to be ready, fetches the manifest (from local stores and full
//! holders) and checks it against the link; [`Getter::next`] then yields
//! the plaintext of the range, fetching shards a window of segments
//! ahead. The window starts at one segment and grows by one with every
//! segment read, up to [`Config::window`]: a `<video>` that reads a little
//! and cancels costs little, and memory stays bounded whatever the file
//! size. A shard every holder lacks is skipped until a new holder turns
//! up; one whose holder failed is asked again, with backoff, up to
//! [`Config::retries`] times.

use std::collections::HashSet;
use std::ops::Range;
use std::time::Duration;

use futures::Stream;

use super::error::{Result, TransferError};
use super::fetcher::{Fetched, Fetcher, Verdict};
use super::progress::{Progress, Stage};
use super::retry::Retries;
use super::source::{Reach, ShardSource};
use crate::format::{Access, Decoder, FormatError, Link, Manifest, Reassembler};
use crate::hash::Hash;
use crate::shard_cache::ShardCache;

/// How a get behaves; the defaults suit browsers and the CLI alike.
#[derive(Debug, Clone)]
pub struct Config {
    /// Segments fetched ahead of the one being decoded, at most.
    pub window: u64,
    /// Longest one request to one holder may take.
    pub request_timeout: Duration,
    /// How long the first window waits for a partial holder (a browser) to
    /// be reached, so a get draws on browsers from the start; only while
    /// one is at hand ([`ShardSource::holder_at_hand`]): a holder that
    /// must be dialed first would take longer than the node's first
    /// segment.
    pub lookup_grace: Duration,
    /// Rounds a shard whose holders failed is asked again.
    pub retries: u32,
    /// First pause before a retry round; doubles per round without progress.
    pub backoff: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            window: 8,
            request_timeout: Duration::from_secs(45),
            lookup_grace: Duration::from_millis(250),
            retries: 4,
            backoff: Duration::from_millis(250),
        }
    }
}

/// A get whose manifest is open.
pub struct Getter<S: ShardSource> {
    fetcher: Fetcher<S>,
    decoder: Decoder,
    reassembler: Reassembler,
    cache: Option<ShardCache>,
    config: Config,
    range: Range<u64>,
    /// Positions no holder had (cleared when a new holder comes).
    skip: HashSet<(u64, usize)>,
    /// When a shard whose holders failed is asked again.
    retries: Retries,
    done: u64,
}

impl<S: ShardSource> Getter<S> {
    /// Opens the file `link` names for the plaintext `range` (the whole
    /// file when `None`; an end past the file is clipped to it). Shards
    /// found in `cache` are not fetched; fetched ones are added to it.
    pub async fn open(
        mut source: S,
        link: &Link,
        range: Option<(u64, Option<u64>)>,
        config: Config,
        cache: Option<ShardCache>,
    ) -> Result<Self> {
        source.ready().await?;
        let mut fetcher = Fetcher::new(source, config.request_timeout);
        let (decoder, _) = open_manifest(&mut fetcher, link).await?;
        let range = decoder.clip_range(range)?;
        let reassembler = Reassembler::new(&decoder, range.clone(), 1)?;
        Ok(Self {
            retries: Retries::new(config.retries, config.backoff),
            fetcher,
            decoder,
            reassembler,
            cache,
            config,
            range,
            skip: HashSet::new(),
            done: 0,
        })
    }

    /// The file's (checked) manifest.
    pub fn manifest(&self) -> &Manifest {
        self.decoder.manifest()
    }

    /// The plaintext bytes this get yields.
    pub fn range(&self) -> Range<u64> {
        self.range.clone()
    }

    /// Where the get is: bytes done of the range and bytes per holder.
    pub fn progress(&self) -> Progress {
        let stage = match self.reassembler.is_done() {
            true => Stage::Done,
            false => Stage::Fetching,
        };
        let total = self.range.end - self.range.start;
        self.fetcher.tally.progress(stage, self.done, total)
    }

    /// Ends the get, handing back its source.
    pub fn into_source(self) -> S {
        self.fetcher.source
    }

    /// The next piece of plaintext (one segment's part of the range);
    /// `None` at the end.
    pub async fn next(&mut self) -> Result<Option<Vec<u8>>> {
        loop {
            if let Some(chunk) = self.reassembler.next_chunk_growing(self.config.window)? {
                self.done += chunk.len() as u64;
                return Ok(Some(chunk));
            }
            if self.reassembler.is_done() {
                return Ok(None);
            }
            self.fetch_window().await?;
        }
    }

    /// The plaintext as a stream, pulled one piece at a time; an error
    /// ends it. `on_chunk` sees the progress after each piece.
    pub fn into_stream(
        self,
        on_chunk: impl Fn(Progress) + 'static,
    ) -> impl Stream<Item = Result<Vec<u8>>> {
        let on_chunk = std::rc::Rc::new(on_chunk);
        futures::stream::unfold(Some(self), move |getter| {
            let on_chunk = on_chunk.clone();
            async move {
                let mut getter = getter?;
                match getter.next().await {
                    Ok(Some(chunk)) => {
                        on_chunk(getter.progress());
                        Some((Ok(chunk), Some(getter)))
                    }
                    Ok(None) => {
                        on_chunk(getter.progress());
                        None
                    }
                    Err(e) => Some((Err(e), None)),
                }
            }
        })
    }

    /// One round over the window: what it lacks, from whoever has it.
    async fn fetch_window(&mut self) -> Result<()> {
        // The first window waits a moment for browsers: a peer already
        // connected to them has them at once, and draws from them rather
        // than the node from the start.
        let source = &self.fetcher.source;
        let waits = source.searching() && source.holder_at_hand();
        if self.done == 0 && !self.fetcher.has_partial_holders() && waits {
            let grace = self.config.lookup_grace;
            self.fetcher.source.wait_for_holder(Some(grace)).await;
        }
        if self.fetcher.refresh() {
            self.skip.clear(); // a new holder may have what nobody had
        }
        let plan = self.reassembler.plan(&self.skip);
        if plan.is_empty() {
            return self.out_of_holders().await;
        }
        let plan = self.take_cached(plan)?;
        if plan.is_empty() {
            return Ok(());
        }
        let hashes: Vec<Hash> = plan.iter().map(|(_, _, h)| *h).collect();
        let (reassembler, cache) = (&mut self.reassembler, &self.cache);
        let results = self
            .fetcher
            .fetch(
                &hashes,
                &[Reach::Local, Reach::Partial, Reach::Full],
                |i, bytes| {
                    let (segment, shard, hash) = plan[i];
                    match reassembler.add(segment, shard, bytes) {
                        Ok(_) => {
                            if let Some(cache) = cache {
                                if let Some(bytes) = reassembler.held(segment, shard) {
                                    cache.insert(hash, bytes.to_vec());
                                }
                            }
                            Ok(Verdict::Kept)
                        }
                        Err(e @ FormatError::ShardTampered { .. }) => {
                            Ok(Verdict::Bad(e.to_string()))
                        }
                        Err(e) => Err(e.into()),
                    }
                },
            )
            .await?;
        self.settle(&plan, &results).await;
        Ok(())
    }

    /// Shards an overlapping range fetched before need no request.
    fn take_cached(&mut self, plan: Vec<(u64, usize, Hash)>) -> Result<Vec<(u64, usize, Hash)>> {
        let Some(cache) = &self.cache else {
            return Ok(plan);
        };
        let mut left = Vec::with_capacity(plan.len());
        for (segment, shard, hash) in plan {
            let added = cache
                .get(&hash)
                .is_some_and(|bytes| self.reassembler.add(segment, shard, bytes).is_ok());
            if !added {
                left.push((segment, shard, hash));
            }
        }
        Ok(left)
    }

    /// Books each position's outcome: missing everywhere is skipped; failed
    /// is asked again (after a pause when the round kept nothing) until
    /// its retries are spent.
    async fn settle(&mut self, plan: &[(u64, usize, Hash)], results: &[Fetched]) {
        // Only this round's shards can come round again.
        self.retries.forget(|h| plan.iter().any(|p| p.2 == *h));
        let mut kept_any = false;
        let mut retry = false;
        for (&(segment, shard, hash), result) in plan.iter().zip(results) {
            let skip = match result {
                Fetched::Kept => {
                    kept_any = true;
                    false
                }
                Fetched::Missing => true,
                Fetched::Failed => !self.retries.again(hash),
            };
            retry |= *result == Fetched::Failed && !skip;
            if skip {
                self.skip.insert((segment, shard));
            }
        }
        if kept_any || retry {
            if let Some(pause) = self.retries.pause(kept_any) {
                self.fetcher.source.pause(pause).await;
            }
        }
    }

    /// Nothing left to try: wait for the next holder while the search
    /// runs, then give up naming the first segment short of shards.
    async fn out_of_holders(&mut self) -> Result<()> {
        if self.fetcher.source.searching() {
            if self.fetcher.source.wait_for_holder(None).await {
                self.skip.clear();
            }
            return Ok(());
        }
        let shortage = match self.reassembler.finish() {
            Err(e) => e,
            Ok(()) => return Ok(()),
        };
        Err(TransferError::Unavailable {
            shortage,
            why: self.fetcher.notes(),
        })
    }
}

/// Fetches the manifest `link` names from the local stores and full
/// holders, checks and opens it, and tells the source (which may start
/// dialing the holders it names). Returns it with its sealed bytes. Not
/// found when no holder has it; a failure, such as a timeout, is reported
/// as such.
pub async fn open_manifest<S: ShardSource>(
    fetcher: &mut Fetcher<S>,
    link: &Link,
) -> Result<(Decoder, Vec<u8>)> {
    let blob = fetch_manifest(fetcher, link.manifest).await?;
    // Progress counts the file's shards, not its manifest: a file served
    // wholly from this device says so.
    fetcher.tally = Default::default();
    let decoder = Decoder::open(link, &blob)?;
    fetcher.source.manifest_opened(decoder.manifest());
    Ok((decoder, blob))
}

/// Fetches the manifest `access` names the same way and opens it: the
/// whole of it with a link, the layout with a repair capability.
pub async fn open_access<S: ShardSource>(
    fetcher: &mut Fetcher<S>,
    access: &Access,
) -> Result<(Manifest, Vec<u8>)> {
    let blob = fetch_manifest(fetcher, access.manifest()).await?;
    fetcher.tally = Default::default();
    let manifest = access.open(&blob)?;
    fetcher.source.manifest_opened(&manifest);
    Ok((manifest, blob))
}

/// The manifest from a local store or a full holder, else from the
/// partial holders as the search reaches them.
async fn fetch_manifest<S: ShardSource>(fetcher: &mut Fetcher<S>, hash: Hash) -> Result<Vec<u8>> {
    let mut result = fetch_manifest_from(fetcher, hash, &[Reach::Local, Reach::Full]).await;
    let mut asked = 0;
    while matches!(result, Err(TransferError::NotFound)) {
        fetcher.refresh();
        let partial = fetcher.partial_holders();
        if partial > asked {
            asked = partial;
            result = fetch_manifest_from(fetcher, hash, &[Reach::Partial]).await;
        } else if !fetcher.source.wait_for_holder(None).await {
            break;
        }
    }
    result
}

async fn fetch_manifest_from<S: ShardSource>(
    fetcher: &mut Fetcher<S>,
    hash: Hash,
    reaches: &[Reach],
) -> Result<Vec<u8>> {
    let mut blob = None;
    let mut tampered = None;
    let results = fetcher
        .fetch(&[hash], reaches, |_, bytes| {
            let actual = Hash::of(&bytes);
            if actual != hash {
                let e = FormatError::ManifestTampered {
                    expected: hash,
                    actual,
                };
                tampered = Some(e.clone());
                return Ok(Verdict::Bad(e.to_string()));
            }
            blob = Some(bytes);
            Ok(Verdict::Kept)
        })
        .await?;
    match (blob, tampered, results.first()) {
        (Some(blob), _, _) => Ok(blob),
        (None, Some(e), _) => Err(e.into()),
        (None, None, Some(Fetched::Failed)) => Err(fetcher
            .last_failure()
            .cloned()
            .unwrap_or(TransferError::NotFound)),
        (None, None, _) => Err(TransferError::NotFound),
    }
}
