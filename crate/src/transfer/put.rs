//! The putter: bytes in (any reader: a native file, a browser
//! `ReadableStream` through the same path), a link out. Each segment is
//! sealed and erasure-coded as it is read (memory stays bounded) and its
//! shards go out at once: every shard to the required holder, which must
//! confirm it, and a best-effort copy to one contributor chosen by
//! [`rotation::contributor_for`]. The contributors that confirmed a
//! shard announce the file and are named in its manifest as placement
//! hints; the manifest goes to the required holder last.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::time::Duration;

use futures::io::AsyncRead;

use super::error::{Result, TransferError};
use super::progress::{OnProgress, Stage, Tally};
use super::rotation;
use super::source::ShardSink;
use crate::format::{self, EncodedSegment, Encoder, FileKey, Link, Params};
use crate::hash::Hash;

/// Tries per shard for the required holder (transient failures only).
const REQUIRED_ATTEMPTS: u32 = 3;
/// Tries per shard for a contributor: one stream can fail to open on a
/// working connection, and one lost shard costs a holder of the segment.
const COPY_ATTEMPTS: u32 = 2;
/// Pause before the next try, times the attempt number.
const RETRY_PAUSE: Duration = Duration::from_millis(300);

/// What a put is told about its input.
#[derive(Debug, Clone, Default)]
pub struct Input {
    /// The file's name.
    pub name: String,
    /// Its media type (may be empty).
    pub mime: String,
    /// Its size when known (0: unknown, a stream).
    pub total: u64,
}

/// Encodes everything `reader` yields as the file `input` describes and
/// stores it through `sink`; returns the link.
pub async fn put<S: ShardSink>(
    sink: &mut S,
    reader: impl AsyncRead + Unpin,
    input: &Input,
    on_progress: OnProgress<'_>,
) -> Result<Link> {
    let tally = RefCell::new(Tally::default());
    let report = |stage, done| on_progress(tally.borrow().progress(stage, done, input.total));
    report(Stage::Connecting, 0);
    sink.ready().await?;
    let params = Params::default();
    let key = FileKey::random();
    let provider_key = key.provider_key();
    let encoder = Encoder::new(key, params, &input.name, &input.mime)?;
    if input.total > encoder.max_size() {
        return Err(format::FormatError::TooLarge {
            what: "file",
            size: input.total,
            limit: encoder.max_size(),
        }
        .into());
    }
    report(Stage::Storing, 0);
    let contributors = sink.contributors().await;
    let confirmed = RefCell::new(BTreeSet::new());
    let segment_size = u64::from(params.segment_size);
    let sink_ref = &*sink;
    let finished = format::encode_reader(reader, encoder, |segment| {
        let read = (segment.index + 1) * segment_size;
        // A stream of unknown length (total 0): segments read so far.
        let done = if input.total == 0 {
            read
        } else {
            read.min(input.total)
        };
        let (contributors, tally, confirmed) = (&contributors, &tally, &confirmed);
        async move {
            store_segment(sink_ref, segment, contributors, tally, confirmed).await?;
            report(Stage::Storing, done);
            Ok::<(), TransferError>(())
        }
    })
    .await?;
    let confirmed: Vec<S::Holder> = confirmed.into_inner().into_iter().collect();
    sink.announce(&confirmed, provider_key).await;
    let hints = confirmed.iter().filter_map(|h| sink.hint(*h)).collect();
    let finished = finished.with_hints(hints)?;
    let manifest = finished.manifest_blob;
    store_with_retries(
        sink,
        sink.required(),
        Hash::of(&manifest),
        &manifest,
        REQUIRED_ATTEMPTS,
    )
    .await?;
    tally.borrow_mut().add(&sink.required(), manifest.len());
    let size = finished.manifest.size;
    report(Stage::Done, size);
    Ok(finished.link)
}

/// Every shard of one segment at once: to the required holder (must
/// succeed) and a copy to its contributor (best effort).
async fn store_segment<S: ShardSink>(
    sink: &S,
    segment: EncodedSegment,
    contributors: &[S::Holder],
    tally: &RefCell<Tally>,
    confirmed: &RefCell<BTreeSet<S::Holder>>,
) -> Result<()> {
    let n = segment.shards.len();
    let stores = segment.shards.iter().map(|shard| async move {
        let copy = async {
            let Some(peer) = rotation::contributor_for(segment.index, shard.index, n, contributors)
            else {
                return;
            };
            match store_with_retries(sink, peer, shard.hash, &shard.bytes, COPY_ATTEMPTS).await {
                Ok(()) => {
                    tally.borrow_mut().add(&peer, shard.bytes.len());
                    confirmed.borrow_mut().insert(peer);
                }
                Err(e) => tracing::warn!(%peer, error = %e, "a contributor did not take a shard"),
            }
        };
        let required = sink.required();
        let to_required =
            store_with_retries(sink, required, shard.hash, &shard.bytes, REQUIRED_ATTEMPTS);
        let (stored, ()) = futures::join!(to_required, copy);
        stored?;
        tally.borrow_mut().add(&required, shard.bytes.len());
        Ok::<(), TransferError>(())
    });
    futures::future::try_join_all(stores).await?;
    Ok(())
}

/// Stores one block on `holder` in up to `attempts` tries; only a
/// transient failure (timeout, lost connection) is tried again.
async fn store_with_retries<S: ShardSink>(
    sink: &S,
    holder: S::Holder,
    hash: Hash,
    bytes: &[u8],
    attempts: u32,
) -> Result<()> {
    let mut attempt = 1;
    loop {
        match sink.store(holder, hash, bytes).await {
            Ok(()) => return Ok(()),
            Err(e) if e.is_transient() && attempt < attempts => {
                tracing::debug!(%holder, error = %e, attempt, "retrying a shard");
                sink.pause(RETRY_PAUSE * attempt).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}
