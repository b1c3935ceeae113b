//! Where shards go, for a put and for a repair alike:
//!
//! - every shard to one node, which must confirm it: the segment's
//!   shards are dealt in turn to the nodes ranked by
//!   [`rotation::rank_nodes`], so each of N nodes takes about 1/N of them
//!   and at most ⌈n/N⌉ of one segment; a node that fails or refuses
//!   passes its shard to the next in the ranking;
//! - a best-effort copy to one contributor chosen by
//!   [`rotation::contributor_for`].

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::time::Duration;

use super::error::{Result, TransferError};
use super::progress::Tally;
use super::rotation;
use super::source::ShardSink;
use crate::format::Shard;
use crate::hash::Hash;

/// Tries per shard for the required holder (transient failures only).
const REQUIRED_ATTEMPTS: u32 = 3;
/// Tries per shard for a contributor: one stream can fail to open on a
/// working connection, a dropped connection is dialed again (the tab's
/// sink does that; the pauses, 3 s in all, let a WebRTC setup finish),
/// and one lost shard costs a holder of the segment.
const COPY_ATTEMPTS: u32 = 5;
/// Tries per shard while a holder says it is over its rate limit: a
/// put that outruns a node's limit waits for it (about 10 s in all), it
/// does not fail.
const BUSY_ATTEMPTS: u32 = 8;
/// Pause before the next try, times the attempt number.
const RETRY_PAUSE: Duration = Duration::from_millis(300);
/// Nodes the manifest goes to (fewer when the network has fewer); all
/// but one must confirm it, so no single node holds its only copy.
pub const MANIFEST_COPIES: usize = 3;

/// Where one put's shards go, and what it has placed so far.
pub(super) struct Places<'a, H> {
    pub nodes: &'a [H],
    pub contributors: &'a [H],
    pub tally: &'a RefCell<Tally>,
    pub confirmed: &'a RefCell<BTreeSet<H>>,
}

impl<H: Copy> Clone for Places<'_, H> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<H: Copy> Copy for Places<'_, H> {}

/// `shards` of segment `segment` (of `n`) at once: each to its node (must
/// succeed) and a copy to its contributor (best effort). The nodes are
/// ranked from `anchor`, the segment's first shard hash.
pub(super) async fn place_shards<S: ShardSink>(
    sink: &S,
    segment: u64,
    n: usize,
    anchor: &Hash,
    shards: &[Shard],
    places: Places<'_, S::Holder>,
) -> Result<()> {
    let ranked = rotation::rank_nodes(anchor, places.nodes);
    let ranked = &ranked;
    let stores = shards.iter().map(|shard| async move {
        let copy = async {
            let contributors = places.contributors;
            let Some(peer) = rotation::contributor_for(segment, shard.index, n, contributors)
            else {
                return;
            };
            match store_with_retries(sink, peer, shard.hash, &shard.bytes, Role::Copy).await {
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
        match store_with_retries(sink, node, hash, bytes, Role::Required).await {
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
pub(super) async fn store_manifest<S: ShardSink>(
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
        match store_with_retries(sink, node, hash, manifest, Role::Required).await {
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
/// What a store is for: a node's required copy, or a contributor's
/// best-effort one (with a placement ticket, [`ShardSink::store_copy`]).
#[derive(Clone, Copy)]
enum Role {
    Required,
    Copy,
}

/// How many tries `error` allows, of `attempts` otherwise.
fn limit(error: &TransferError, attempts: u32) -> u32 {
    match error {
        TransferError::Busy { .. } => attempts.max(BUSY_ATTEMPTS),
        _ => attempts,
    }
}

async fn store_with_retries<S: ShardSink>(
    sink: &S,
    holder: S::Holder,
    hash: Hash,
    bytes: &[u8],
    role: Role,
) -> Result<()> {
    let attempts = match role {
        Role::Required => REQUIRED_ATTEMPTS,
        Role::Copy => COPY_ATTEMPTS,
    };
    let mut attempt = 1;
    loop {
        let stored = match role {
            Role::Required => sink.store(holder, hash, bytes).await,
            Role::Copy => sink.store_copy(holder, hash, bytes).await,
        };
        match stored {
            Ok(()) => return Ok(()),
            Err(e) if e.is_transient() && attempt < limit(&e, attempts) => {
                tracing::debug!(%holder, error = %e, attempt, "retrying a shard");
                sink.pause(RETRY_PAUSE * attempt).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}
