//! The putter: bytes in (any reader: a native file, a browser
//! `ReadableStream` through the same path), a link out. Each segment is
//! sealed and erasure-coded as it is read (memory stays bounded) and its
//! shards go out at once:
//!
//! - every shard to one node, which must confirm it: the segment's
//!   shards are dealt in turn to the nodes ranked by
//!   [`rotation::rank_nodes`], so each of N nodes takes about 1/N of them
//!   and at most ⌈n/N⌉ of one segment; a node that fails or refuses
//!   passes its shard to the next in the ranking;
//! - a best-effort copy to one contributor chosen by
//!   [`rotation::contributor_for`].
//!
//! The holders that confirmed a shard announce the file (nodes and
//! browsers alike); the browsers are named in its manifest as placement
//! hints. The manifest goes last, to [`MANIFEST_COPIES`] nodes.

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
/// working connection, a dropped connection is dialed again (the tab's
/// sink does that; the pauses, 3 s in all, let a WebRTC setup finish),
/// and one lost shard costs a holder of the segment.
const COPY_ATTEMPTS: u32 = 5;
/// Pause before the next try, times the attempt number.
const RETRY_PAUSE: Duration = Duration::from_millis(300);
/// Nodes the manifest goes to (fewer when the network has fewer); all
/// but one must confirm it, so no single node holds its only copy.
pub const MANIFEST_COPIES: usize = 3;

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
    let provider_key = key.provider_key(format::VERSION);
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
    let nodes = sink.nodes().await;
    if nodes.is_empty() {
        return Err(TransferError::NotConnected("no node to store on".into()));
    }
    let contributors = sink.contributors(provider_key).await;
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
        let places = Places {
            nodes: &nodes,
            contributors: &contributors,
            tally: &tally,
            confirmed: &confirmed,
        };
        async move {
            store_segment(sink_ref, segment, places).await?;
            report(Stage::Storing, done);
            Ok::<(), TransferError>(())
        }
    })
    .await?;
    let confirmed: Vec<S::Holder> = confirmed.into_inner().into_iter().collect();
    sink.announce(&confirmed, provider_key).await;
    // Nodes are found without hints; browsers are named.
    let hints = confirmed
        .iter()
        .filter(|h| !nodes.contains(h))
        .filter_map(|h| sink.hint(*h))
        .collect();
    let finished = finished.with_hints(hints)?;
    store_manifest(sink, &nodes, &finished.manifest_blob, &tally).await?;
    let size = finished.manifest.size;
    report(Stage::Done, size);
    Ok(finished.link)
}

/// Where one put's shards go, and what it has placed so far.
struct Places<'a, H> {
    nodes: &'a [H],
    contributors: &'a [H],
    tally: &'a RefCell<Tally>,
    confirmed: &'a RefCell<BTreeSet<H>>,
}

impl<H: Copy> Clone for Places<'_, H> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<H: Copy> Copy for Places<'_, H> {}

/// Every shard of one segment at once: to its node (must succeed) and a
/// copy to its contributor (best effort).
async fn store_segment<S: ShardSink>(
    sink: &S,
    segment: EncodedSegment,
    places: Places<'_, S::Holder>,
) -> Result<()> {
    let n = segment.shards.len();
    let Some(first) = segment.shards.first() else {
        return Ok(());
    };
    let ranked = rotation::rank_nodes(&first.hash, places.nodes);
    let ranked = &ranked;
    let stores = segment.shards.iter().map(|shard| async move {
        let copy = async {
            let contributors = places.contributors;
            let Some(peer) = rotation::contributor_for(segment.index, shard.index, n, contributors)
            else {
                return;
            };
            match store_with_retries(sink, peer, shard.hash, &shard.bytes, COPY_ATTEMPTS).await {
                Ok(()) => {
                    places.tally.borrow_mut().add(&peer, shard.bytes.len());
                    places.confirmed.borrow_mut().insert(peer);
                }
                Err(e) => tracing::warn!(%peer, error = %e, "a contributor did not take a shard"),
            }
        };
        let to_node = store_on_a_node(sink, ranked, shard.index, shard.hash, &shard.bytes);
        let (stored, ()) = futures::join!(to_node, copy);
        let node = stored?;
        places.tally.borrow_mut().add(&node, shard.bytes.len());
        places.confirmed.borrow_mut().insert(node);
        Ok::<(), TransferError>(())
    });
    futures::future::try_join_all(stores).await?;
    Ok(())
}

/// Stores a shard on the node at `start` in `ranked` or, when it fails,
/// the next that takes it; returns the node that confirmed it.
async fn store_on_a_node<S: ShardSink>(
    sink: &S,
    ranked: &[S::Holder],
    start: usize,
    hash: Hash,
    bytes: &[u8],
) -> Result<S::Holder> {
    let mut last = None;
    for step in 0..ranked.len() {
        let node = ranked[(start + step) % ranked.len()];
        match store_with_retries(sink, node, hash, bytes, REQUIRED_ATTEMPTS).await {
            Ok(()) => return Ok(node),
            Err(e) => {
                tracing::warn!(%node, error = %e, "a node did not take a shard; trying the next");
                last = Some(e);
            }
        }
    }
    Err(last.unwrap_or_else(|| TransferError::NotConnected("no node to store on".into())))
}

/// Stores the manifest on the first [`MANIFEST_COPIES`] nodes of its
/// ranking that take it; fails unless all but one of those it needs did.
async fn store_manifest<S: ShardSink>(
    sink: &S,
    nodes: &[S::Holder],
    manifest: &[u8],
    tally: &RefCell<Tally>,
) -> Result<()> {
    let hash = Hash::of(manifest);
    let wanted = MANIFEST_COPIES.min(nodes.len());
    let needed = wanted.saturating_sub(1).max(1);
    let mut stored = 0;
    let mut last = None;
    for node in rotation::rank_nodes(&hash, nodes) {
        if stored == wanted {
            break;
        }
        match store_with_retries(sink, node, hash, manifest, REQUIRED_ATTEMPTS).await {
            Ok(()) => {
                stored += 1;
                tally.borrow_mut().add(&node, manifest.len());
            }
            Err(e) => {
                tracing::warn!(%node, error = %e, "a node did not take the manifest");
                last = Some(e);
            }
        }
    }
    match (stored >= needed, last) {
        (true, _) => Ok(()),
        (false, Some(e)) => Err(e),
        (false, None) => Err(TransferError::NotConnected("no node to store on".into())),
    }
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
