//! The putter: bytes in (any reader: a native file, a browser
//! `ReadableStream` through the same path), a link out. Each segment is
//! sealed and erasure-coded as it is read (memory stays bounded) and its
//! shards go out at once, to a node each and a contributor's copy
//! ([`super::place`]).
//!
//! The holders that confirmed a shard announce the file (nodes and
//! browsers alike); the browsers are named in its manifest as placement
//! hints. The manifest goes last, to [`super::place::MANIFEST_COPIES`]
//! nodes, and then the file's repair capability to the node ranked first
//! for it, which keeps it, passes it to the nodes next to it and repairs
//! the file from then on ([`crate::node`]).

use std::cell::RefCell;
use std::collections::BTreeSet;

use futures::io::AsyncRead;

use super::error::{Result, TransferError};
use super::place::{place_shards, store_manifest, Places};
use super::progress::{OnProgress, Stage, Tally};
use super::source::ShardSink;
use crate::format::{self, Encoder, FileKey, Link, Params};

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
            let Some(first) = segment.shards.first() else {
                return Ok(());
            };
            let n = segment.shards.len();
            place_shards(
                sink_ref,
                segment.index,
                n,
                &first.hash,
                &segment.shards,
                places,
            )
            .await?;
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
    hand_over(sink, &nodes, &finished.link).await;
    let size = finished.manifest.size;
    report(Stage::Done, size);
    Ok(finished.link)
}

/// Gives the file's repair capability to the first node of its ranking
/// that keeps it. Best effort: a file whose capability no node keeps is
/// stored all the same, only not repaired; the failure is logged.
async fn hand_over<S: ShardSink>(sink: &S, nodes: &[S::Holder], link: &Link) {
    let Ok(cap) = link.repair_cap() else {
        return;
    };
    for node in super::rotation::rank_nodes(&cap.manifest, nodes) {
        match sink.keep(node, &cap).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(%node, error = %e, "a node will not keep the repair capability")
            }
        }
    }
}
