//! Get: open a link (its manifest), then stream the plaintext of a byte
//! range, fetching shards a window of segments ahead.
//!
//! The fetching runs in its own task, at most [`AHEAD`] chunk ahead of the
//! reader, so a slow reader (a disk, a `<video>`) holds memory bounded by
//! the window. The window starts at one segment and grows by one with
//! every segment read, up to [`WINDOW`]: a media element that reads a
//! little and cancels costs little. Dropping the stream aborts the task and with it
//! every request in flight. Verified shards go to a shared
//! [`ShardCache`], so overlapping ranges fetch each shard once.

use std::collections::HashSet;
use std::ops::Range;
use std::time::Duration;

use futures::channel::mpsc;
use futures::future::{AbortHandle, Abortable};
use futures::{SinkExt as _, Stream, StreamExt as _};

use super::holders::{Holders, Outcome};
use super::OnProgress;
use crate::format::{self, Reassembler};
use crate::hash::Hash;
use crate::peer::blocks::Blocks;
use crate::shard_cache::ShardCache;

/// Segments fetched ahead of the one being decoded.
const WINDOW: u64 = 8;

/// How long the first window waits for the contributors lookup.
const LOOKUP_GRACE: Duration = Duration::from_millis(250);

/// Decoded chunks waiting for the reader.
const AHEAD: usize = 1;

/// A file whose manifest has been fetched and checked; its bytes are not
/// fetched until [`Opened::into_stream`].
pub struct Opened {
    pub name: String,
    pub mime: String,
    /// The whole file's size.
    pub size: u64,
    /// The plaintext bytes the stream will yield.
    pub range: Range<u64>,
    fetch: Fetch,
}

/// Fetches the manifest `link` names and plans `range` (the whole file when
/// `None`; an end past the file is clipped to it).
pub async fn open(
    blocks: &Blocks,
    cache: &ShardCache,
    link: &str,
    range: Option<(u64, Option<u64>)>,
) -> Result<Opened, String> {
    let link: format::Link = link
        .parse()
        .map_err(|e: format::FormatError| e.to_string())?;
    let (decoder, _, holders) = super::holders::open_file(blocks, &link).await?;
    let size = decoder.manifest().size;
    let range = decoder.clip_range(range).map_err(|e| e.to_string())?;
    let reassembler = Reassembler::new(&decoder, range.clone(), 1).map_err(|e| e.to_string())?;
    let m = decoder.manifest();
    Ok(Opened {
        name: m.name.clone(),
        mime: m.mime.clone(),
        size,
        range: range.clone(),
        fetch: Fetch {
            cache: cache.clone(),
            reassembler,
            holders,
            skip: HashSet::new(),
            done: 0,
            total: range.end - range.start,
        },
    })
}

impl Opened {
    /// The plaintext, in order, as chunks; an error ends the stream.
    pub fn into_stream(self, progress: OnProgress) -> impl Stream<Item = Result<Vec<u8>, String>> {
        let (mut tx, rx) = mpsc::channel(AHEAD);
        let (abort, registration) = AbortHandle::new_pair();
        let mut fetch = self.fetch;
        let task = async move {
            fetch.report(&progress, "fetching");
            loop {
                let next = fetch.next().await;
                let stop = !matches!(next, Ok(Some(_)));
                match next {
                    Ok(Some(chunk)) => {
                        fetch.report(&progress, "fetching");
                        if tx.send(Ok(chunk)).await.is_err() {
                            return; // the reader went away
                        }
                    }
                    Ok(None) => fetch.report(&progress, "done"),
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                    }
                }
                if stop {
                    return;
                }
            }
        };
        crate::platform::spawn(async move {
            let _ = Abortable::new(task, registration).await;
        });
        Chunks {
            rx,
            _abort: AbortOnDrop(abort),
        }
    }
}

/// The reading end of a get; dropping it stops the fetching.
struct Chunks {
    rx: mpsc::Receiver<Result<Vec<u8>, String>>,
    _abort: AbortOnDrop,
}

impl Stream for Chunks {
    type Item = Result<Vec<u8>, String>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.rx.poll_next_unpin(cx)
    }
}

struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The state of one get.
struct Fetch {
    cache: ShardCache,
    reassembler: Reassembler,
    holders: Holders,
    /// Shard positions that no holder could provide.
    skip: HashSet<(u64, usize)>,
    done: u64,
    total: u64,
}

impl Fetch {
    fn report(&self, progress: &OnProgress, stage: &'static str) {
        progress(self.holders.tally.progress(stage, self.done, self.total));
    }

    /// The next chunk of plaintext, fetching as many windows as it takes;
    /// `None` at the end of the range.
    async fn next(&mut self) -> Result<Option<Vec<u8>>, String> {
        loop {
            let next = self.reassembler.next_chunk_growing(WINDOW);
            if let Some(chunk) = next.map_err(|e| e.to_string())? {
                self.done += chunk.len() as u64;
                return Ok(Some(chunk));
            }
            if self.reassembler.is_done() {
                return Ok(None);
            }
            self.fetch_window().await?;
        }
    }

    /// Fetches what the window lacks, once; an error when nothing is left
    /// to try.
    async fn fetch_window(&mut self) -> Result<(), String> {
        // The first window waits a moment for contributors: a peer already
        // connected to them has them at once, and draws from them rather
        // than the node from the start.
        if self.done == 0 && self.holders.no_peers() {
            self.holders.wait_a_moment(LOOKUP_GRACE).await;
        }
        if self.holders.drain_found() {
            self.skip.clear(); // a new holder may have what nobody had
        }
        let plan = self.reassembler.plan(&self.skip);
        if plan.is_empty() {
            // Out of holders to try: wait for the next contributor before
            // giving up, and retry what was missing with it.
            if self.holders.searching() {
                if self.holders.wait_for_next().await {
                    self.skip.clear();
                }
                return Ok(());
            }
            let err = self.reassembler.finish().map_err(|e| e.to_string()).err();
            return Err(self
                .holders
                .explain(err.unwrap_or_else(|| "no shards left to try".into())));
        }
        // Shards fetched before (an overlapping range) need no request.
        let plan: Vec<(u64, usize, Hash)> = plan
            .into_iter()
            .filter(|&(segment, shard, hash)| match self.cache.get(&hash) {
                Some(bytes) => self.reassembler.add(segment, shard, bytes).is_err(),
                None => true,
            })
            .collect();
        let hashes: Vec<Hash> = plan.iter().map(|(_, _, h)| *h).collect();
        let (reassembler, cache) = (&mut self.reassembler, &self.cache);
        let kept = self
            .holders
            .fetch(&hashes, |i, bytes| {
                let (segment, shard, hash) = plan[i];
                match reassembler.add(segment, shard, bytes.clone()) {
                    Ok(_) => {
                        cache.insert(hash, bytes);
                        Ok(Outcome::Done)
                    }
                    Err(e @ format::FormatError::ShardTampered { .. }) => {
                        Ok(Outcome::Bad(e.to_string()))
                    }
                    Err(e) => Err(e.to_string()),
                }
            })
            .await?;
        for ((segment, shard, _), kept) in plan.iter().zip(kept) {
            if !kept {
                self.skip.insert((*segment, *shard));
            }
        }
        Ok(())
    }
}
