//! A get in the tab: the engine's getter over [`Network`], run in its own
//! task at most [`AHEAD`] chunk ahead of the reader, so fetching goes on
//! while the page writes a chunk and a slow reader (a disk, a `<video>`)
//! holds memory bounded by the window. Dropping the stream aborts the task
//! and with it every request in flight.

use std::ops::Range;

use futures::channel::mpsc;
use futures::future::{AbortHandle, Abortable};
use futures::{SinkExt as _, Stream, StreamExt as _};

use super::Network;
use crate::format::Link;
use crate::peer::blocks::Blocks;
use crate::shard_cache::ShardCache;
use crate::transfer::{self, Getter, Progress, TransferError};

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
    getter: Getter<Network>,
}

/// Opens the file `link` names for `range` (the whole file when `None`;
/// an end past the file is clipped to it). Verified shards go to `cache`,
/// so overlapping ranges fetch each shard once.
pub async fn open(
    blocks: &Blocks,
    cache: &ShardCache,
    link: &str,
    range: Option<(u64, Option<u64>)>,
) -> transfer::Result<Opened> {
    let link: Link = link.parse()?;
    let source = Network::new(blocks, &link);
    let config = transfer::Config::default();
    let getter = Getter::open(source, &link, range, config, Some(cache.clone())).await?;
    let m = getter.manifest();
    Ok(Opened {
        name: m.name.clone(),
        mime: m.mime.clone(),
        size: m.size,
        range: getter.range(),
        getter,
    })
}

impl Opened {
    /// The plaintext, in order, as chunks; an error ends the stream.
    pub fn into_stream(
        self,
        progress: impl Fn(Progress) + 'static,
    ) -> impl Stream<Item = Result<Vec<u8>, TransferError>> {
        let (mut tx, rx) = mpsc::channel(AHEAD);
        let (abort, registration) = AbortHandle::new_pair();
        let mut getter = self.getter;
        let task = async move {
            progress(getter.progress());
            loop {
                let next = getter.next().await;
                progress(getter.progress());
                let end = !matches!(next, Ok(Some(_)));
                let item = match next {
                    Ok(Some(chunk)) => Ok(chunk),
                    Ok(None) => return,
                    Err(e) => Err(e),
                };
                if tx.send(item).await.is_err() || end {
                    return; // the reader went away, or the get failed
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
    rx: mpsc::Receiver<Result<Vec<u8>, TransferError>>,
    _abort: AbortOnDrop,
}

impl Stream for Chunks {
    type Item = Result<Vec<u8>, TransferError>;

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
