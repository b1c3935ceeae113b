//! The putter: bytes in (any reader: a native file, a browser
//! `ReadableStream` through the same path), a link out. Each segment is
//! sealed and erasure-coded as it is read; its shards go to a node each
//! and a copy to a contributor ([`super::place`]) while the next segment
//! is read and encoded, so memory stays bounded.
//!
//! Two orders, one placing pipeline ([`Placer`]):
//! - **Streaming** (the command line): each segment is placed as soon as
//!   it is encoded; the manifest goes last and names, as placement hints,
//!   the browsers that confirmed shards.
//! - **Link first** ([`Early`], the browser): the file is encoded into a
//!   store this peer serves from, the manifest (naming this peer and the
//!   contributors chosen) goes to the nodes, and the link is out in about
//!   the time encoding takes; the shards are then placed from that store,
//!   and removed from it once placed. A fetcher meanwhile reads from this
//!   peer, so the link works at once; the upload is safe to close when
//!   the put resolves.
//!
//! The manifest goes to [`super::place::MANIFEST_COPIES`] nodes. The
//! holders that confirmed a shard announce the file (nodes and browsers
//! alike), and then the file's repair capability goes to the node ranked
//! first for it, which keeps it, passes it to the nodes next to it and
//! repairs the file from then on ([`crate::node`]).

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::future::Future;

use futures::channel::mpsc;
use futures::io::AsyncRead;
use futures::{SinkExt as _, Stream, StreamExt as _, TryStreamExt as _};

use super::error::{Result, TransferError};
use super::place::{place_shards, store_manifest, Places};
use super::progress::{OnProgress, Stage, Tally};
use super::rotation;
use super::source::ShardSink;
use crate::format::{self, EncodedSegment, Encoder, FileKey, Finished, Link, Params, Shard};
use crate::hash::Hash;
use crate::store::{self, Class, Store};

/// Segments being written to the stash at once while the encoder reads on.
const STASH_WRITES_IN_FLIGHT: usize = 2;

/// Segments being placed at once while the encoder reads the next: one.
/// Three put 24 shards at once on a lone contributor, which serves 8 at
/// a time and refuses the rest as busy (a copy is not tried again after a
/// refusal), and made the put no faster: the uploader's page is the limit
/// (docs/DESIGN.md, section 9.5).
const SEGMENTS_IN_FLIGHT: usize = 1;

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

/// A put that gives its link out before placing: the whole file is
/// encoded into `stash` (a store this peer serves from), the link goes to
/// `on_link`, and the shards are placed from the stash after, then
/// removed from it. The manifest names `hint` (this peer) and the chosen
/// contributors, so fetchers reach the shards meanwhile.
pub struct Early<'a> {
    pub stash: &'a Store,
    pub hint: Vec<u8>,
    pub on_link: &'a dyn Fn(&Link),
}

/// Encodes everything `reader` yields as the file `input` describes and
/// stores it through `sink`; returns the link once every shard is placed.
/// With `early`, the link is given out once the file is encoded; without,
/// each segment is placed as it is encoded and the manifest then names
/// the contributors that confirmed.
pub async fn put<S: ShardSink>(
    sink: &mut S,
    reader: impl AsyncRead + Unpin,
    input: &Input,
    on_progress: OnProgress<'_>,
    early: Option<Early<'_>>,
) -> Result<Link> {
    let tally = RefCell::new(Tally::default());
    let report = |stage, done| on_progress(tally.borrow().progress(stage, done, input.total));
    report(Stage::Connecting, 0);
    sink.ready().await?;
    let params = Params::default();
    let key = FileKey::random();
    let provider_key = key.provider_key(format::VERSION);
    let encoder = Encoder::new(key, params, &input.name, &input.mime)?
        .with_workers(crate::platform::encode_workers());
    if input.total > encoder.max_size() {
        return Err(format::FormatError::TooLarge {
            what: "file",
            size: input.total,
            limit: encoder.max_size(),
        }
        .into());
    }
    report(first_stage(&early), 0);
    let nodes = sink.nodes().await;
    if nodes.is_empty() {
        return Err(TransferError::NotConnected("no node to store on".into()));
    }
    let found = sink.contributors(provider_key).await;
    let contributors: Vec<S::Holder> = found.iter().map(|(holder, _)| *holder).collect();
    let rotation = rotation::weighted(&found);
    let confirmed = RefCell::new(BTreeSet::new());
    let places = Places {
        nodes: &nodes,
        contributors: &rotation,
        tally: &tally,
        confirmed: &confirmed,
    };
    let placer = Placer {
        sink: &*sink,
        places,
        segment_size: u64::from(params.segment_size),
        total: input.total,
        report: &report,
    };
    let finished = match early {
        None => {
            let finished = placer.place_while_encoding(reader, encoder).await?;
            // Nodes are found without hints; browsers are named.
            let hints = confirmed
                .borrow()
                .iter()
                .filter(|h| !nodes.contains(h))
                .filter_map(|h| sink.hint(*h))
                .collect();
            let finished = finished.with_hints(hints)?;
            store_manifest(sink, &nodes, &finished.manifest_blob, &tally).await?;
            finished
        }
        Some(early) => {
            let stashed = RefCell::new(Vec::new());
            let put = async {
                let finished = placer
                    .stash_while_encoding(early.stash, &stashed, reader, encoder)
                    .await?;
                let hints = std::iter::once(early.hint)
                    .chain(contributors.iter().filter_map(|h| sink.hint(*h)))
                    .collect();
                let finished = finished.with_hints(hints)?;
                store_manifest(sink, &nodes, &finished.manifest_blob, &tally).await?;
                (early.on_link)(&finished.link);
                report(Stage::Storing, 0);
                placer.place_from(early.stash, &finished.manifest).await?;
                Ok::<_, TransferError>(finished)
            }
            .await;
            // Placed or failed at any step, the stash is emptied: a failed
            // put's link is withdrawn, and nothing is left to grow it.
            unstash(early.stash, &stashed.into_inner()).await;
            put?
        }
    };
    let confirmed: Vec<S::Holder> = confirmed.into_inner().into_iter().collect();
    sink.announce(&confirmed, provider_key).await;
    hand_over(sink, &nodes, &finished.link).await;
    report(Stage::Done, finished.manifest.size);
    Ok(finished.link)
}

/// What a put does first, once connected.
fn first_stage(early: &Option<Early<'_>>) -> Stage {
    match early {
        Some(_) => Stage::Encoding,
        None => Stage::Storing,
    }
}

/// Places a put's segments, up to [`SEGMENTS_IN_FLIGHT`] at once, and
/// reports each as it is placed.
struct Placer<'a, S: ShardSink, R> {
    sink: &'a S,
    places: Places<'a, S::Holder>,
    segment_size: u64,
    total: u64,
    report: &'a R,
}

impl<S: ShardSink, R: Fn(Stage, u64)> Placer<'_, S, R> {
    /// Places every segment the encoder makes while it reads on.
    async fn place_while_encoding(
        &self,
        reader: impl AsyncRead + Unpin,
        encoder: Encoder,
    ) -> Result<Finished> {
        encode_overlapped(reader, encoder, SEGMENTS_IN_FLIGHT, |queue| {
            self.place(queue.map(Ok))
        })
        .await
    }

    /// Encodes everything into `stash`, reporting stage `Encoding`; the
    /// store writes while the encoder reads on.
    /// Every shard written goes into `stashed`, for [`unstash`].
    async fn stash_while_encoding(
        &self,
        stash: &Store,
        stashed: &RefCell<Vec<Hash>>,
        reader: impl AsyncRead + Unpin,
        encoder: Encoder,
    ) -> Result<Finished> {
        let encoded = Cell::new(0u64);
        let encoded = &encoded;
        encode_overlapped(reader, encoder, STASH_WRITES_IN_FLIGHT, |queue| {
            queue.map(Ok::<_, TransferError>).try_for_each_concurrent(
                STASH_WRITES_IN_FLIGHT,
                |segment| async move {
                    let hashes = segment.shards.iter().map(|s| s.hash);
                    stashed.borrow_mut().extend(hashes);
                    let shards = segment.shards.into_iter();
                    let shards = shards.map(|s| store::Shard::new(s.bytes)).collect();
                    stash.put_many(shards, Class::Own).await?;
                    encoded.set(encoded.get() + 1);
                    (self.report)(Stage::Encoding, self.done(encoded.get()));
                    Ok(())
                },
            )
        })
        .await
    }

    /// Places every segment of `manifest` from `stash`, where
    /// [`stash_while_encoding`] put them.
    async fn place_from(&self, stash: &Store, manifest: &format::Manifest) -> Result<()> {
        let segments = futures::stream::iter(manifest.shards.iter().enumerate()).then(
            |(index, hashes)| async move {
                let reads = hashes.iter().enumerate().map(|(i, hash)| async move {
                    let bytes = stash.get(*hash).await?;
                    Ok::<_, TransferError>(Shard {
                        index: i,
                        hash: *hash,
                        bytes,
                    })
                });
                let shards = futures::future::try_join_all(reads).await?;
                Ok(EncodedSegment {
                    index: index as u64,
                    shards,
                })
            },
        );
        self.place(segments).await
    }

    async fn place(&self, segments: impl Stream<Item = Result<EncodedSegment>>) -> Result<()> {
        let placed = Cell::new(0u64);
        segments
            .map_ok(|segment| {
                let placed = &placed;
                async move {
                    let Some(first) = segment.shards.first() else {
                        return Ok(());
                    };
                    let n = segment.shards.len();
                    let (index, shards) = (segment.index, &segment.shards);
                    place_shards(self.sink, index, n, &first.hash, shards, self.places).await?;
                    placed.set(placed.get() + 1);
                    (self.report)(Stage::Storing, self.done(placed.get()));
                    Ok(())
                }
            })
            .try_buffer_unordered(SEGMENTS_IN_FLIGHT)
            .try_collect()
            .await
    }

    /// Plaintext bytes behind `segments` segments (for a stream of
    /// unknown length, total 0, all of them).
    fn done(&self, segments: u64) -> u64 {
        let read = segments * self.segment_size;
        match self.total {
            0 => read,
            total => read.min(total),
        }
    }
}

/// Encodes what `reader` yields and hands the segments, through a channel
/// of `in_flight`, to `consume`, which works on them while the encoder
/// reads on; memory stays bounded by the channel and what `consume` holds.
async fn encode_overlapped<C, F>(
    reader: impl AsyncRead + Unpin,
    encoder: Encoder,
    in_flight: usize,
    consume: C,
) -> Result<Finished>
where
    C: FnOnce(mpsc::Receiver<EncodedSegment>) -> F,
    F: Future<Output = Result<()>>,
{
    let (segments, queue) = mpsc::channel::<EncodedSegment>(in_flight);
    // The closure owns the sender, so the queue ends once the encoder has
    // returned.
    let encode = format::encode_reader(reader, encoder, move |segment| {
        let mut segments = segments.clone();
        async move {
            // The consumer dropped its end: it failed, and its error wins.
            segments
                .send(segment)
                .await
                .map_err(|_| TransferError::Stopped)
        }
    });
    let (finished, ()) = futures::try_join!(encode, consume(queue))?;
    Ok(finished)
}

/// Removes a put's shards from `stash`, a batch at a time. Best effort:
/// what stays is this peer's own data, served and never evicted; it is
/// logged.
async fn unstash(stash: &Store, hashes: &[Hash]) {
    for batch in hashes.chunks(store::MAX_BATCH) {
        if let Err(e) = stash.delete_many(batch).await {
            let count = batch.len();
            tracing::warn!(count, error = %e, "placed shards stay in this peer's store");
        }
    }
}

/// Gives the file's repair capability to the first node of its ranking
/// that keeps it. Best effort: a file whose capability no node keeps is
/// stored all the same, only not repaired; the failure is logged.
async fn hand_over<S: ShardSink>(sink: &S, nodes: &[S::Holder], link: &Link) {
    let Ok(cap) = link.repair_cap() else {
        return;
    };
    for node in rotation::rank_nodes(&cap.manifest, nodes) {
        match sink.keep(node, &cap).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(%node, error = %e, "a node will not keep the repair capability")
            }
        }
    }
}
