//! Put: encode a stream segment by segment and store every shard.

use std::cell::RefCell;
use std::collections::BTreeSet;

use libp2p::PeerId;

use super::{Progress, Tally};
use crate::format::{self, Encoder, FileKey, Params};
use crate::peer::blocks::{Blocks, Holder, REFUSED};

/// Encodes `stream` and stores every shard and the manifest; returns the link.
pub async fn put(
    blocks: &Blocks,
    stream: web_sys::ReadableStream,
    name: &str,
    mime: &str,
    total: u64,
    progress: &dyn Fn(Progress),
) -> Result<format::Link, String> {
    let params = Params::default();
    let key = FileKey::random();
    let provider_key = key.provider_key();
    let encoder = Encoder::new(key, params, name, mime).map_err(|e| e.to_string())?;
    let segment_size = u64::from(params.segment_size);
    let tally = Tally::default();
    // The browsers that confirmed at least one shard.
    let confirmed = RefCell::new(BTreeSet::new());
    progress(tally.progress("storing", 0, total));
    let holders = blocks.contributors().await;
    let mut done = 0u64;
    let finished = format::encode_readable_stream(stream, encoder, |segment| {
        let read = (segment.index + 1) * segment_size;
        // A stream of unknown length (total 0): segments read so far.
        done = if total == 0 { read } else { read.min(total) };
        progress(tally.progress("storing", done, total));
        let shards: Vec<Vec<u8>> = segment.shards.into_iter().map(|s| s.bytes).collect();
        let base = segment.index as usize * shards.len();
        let (blocks, holders, tally, confirmed) =
            (blocks.clone(), holders.clone(), &tally, &confirmed);
        async move {
            // All shards of a segment in flight at once, to both holders.
            let puts = shards.into_iter().enumerate().map(|(i, bytes)| {
                let browser = (!holders.is_empty()).then(|| holders[(base + i) % holders.len()]);
                store_shard(&blocks, tally, confirmed, bytes, browser)
            });
            futures::future::try_join_all(puts)
                .await
                .map_err(format::FormatError::Io)?;
            Ok(())
        }
    })
    .await
    .map_err(|e| e.to_string())?;
    // The holders announce themselves under the file's provider key, and
    // the manifest names them: a fetcher tries them first, then the DHT.
    let confirmed: Vec<PeerId> = confirmed.into_inner().into_iter().collect();
    let announced = confirmed.iter().map(|peer| async move {
        if let Err(e) = blocks.provide(Holder::Peer(*peer), provider_key).await {
            tracing::warn!(%peer, error = %e, "a holder will not announce the file");
        }
    });
    futures::future::join_all(announced).await;
    let finished = finished
        .with_hints(confirmed.iter().map(|p| p.to_bytes()).collect())
        .map_err(|e| e.to_string())?;
    let manifest = finished.manifest_blob;
    tally.add(Holder::Node, manifest.len());
    blocks.put(Holder::Node, manifest).await?;
    let size = finished.manifest.size;
    progress(tally.progress("done", size, size));
    Ok(finished.link)
}

/// Attempts per shard and contributor: one stream can fail to open on a
/// working connection, and one lost shard costs a holder of the segment.
const ATTEMPTS: u32 = 2;

/// One shard to the node (required) and to a browser (best effort).
async fn store_shard(
    blocks: &Blocks,
    tally: &Tally,
    confirmed: &RefCell<BTreeSet<PeerId>>,
    bytes: Vec<u8>,
    browser: Option<PeerId>,
) -> Result<(), String> {
    let len = bytes.len();
    let copy = async {
        if let Some(peer) = browser {
            match copy_to_browser(blocks, peer, &bytes).await {
                Ok(()) => {
                    tally.add(Holder::Peer(peer), len);
                    confirmed.borrow_mut().insert(peer);
                }
                Err(e) => tracing::warn!(%peer, error = %e, "a contributor did not take a shard"),
            }
        }
    };
    let (node, ()) = futures::join!(blocks.put(Holder::Node, bytes.clone()), copy);
    node?;
    tally.add(Holder::Node, len);
    Ok(())
}

/// Hands one shard to a contributor in up to [`ATTEMPTS`] tries (each
/// bounded by the request limit for browsers); a refusal is final.
async fn copy_to_browser(blocks: &Blocks, peer: PeerId, bytes: &[u8]) -> Result<(), String> {
    let mut error = String::new();
    for attempt in 1..=ATTEMPTS {
        match blocks.put(Holder::Peer(peer), bytes.to_vec()).await {
            Ok(_) => return Ok(()),
            Err(e) if e.contains(REFUSED) => return Err(e),
            Err(e) => {
                if attempt < ATTEMPTS {
                    tracing::debug!(%peer, error = %e, "retrying a shard");
                }
                error = e;
            }
        }
    }
    Err(error)
}
