//! Put and get across the network.
//!
//! - **Put**: a file becomes sealed shards, one segment at a time (bounded
//!   memory). Every shard goes to the node, which keeps data durably, and
//!   to one contributing browser: shard `i` of segment `s` to contributor
//!   `(s * n + i) mod c`, so the shards of a segment land on distinct peers
//!   when there are at least `n` of them. A browser that refuses or fails
//!   costs that copy only; the upload completes when the node confirmed
//!   every shard.
//!   Each browser that took shards is told the file's provider key and
//!   announces itself under it in the DHT; the manifest lists those
//!   browsers as placement hints.
//! - **Get**: the manifest, then for each window of segments a HAS to
//!   every reachable holder (the manifest's hints and the providers of the
//!   file's key, dialed as they are found); each needed shard is fetched from a
//!   browser that has it (round robin), else from the node. Every shard is
//!   verified; a peer that sends bad bytes is dropped and the shard fetched
//!   again from the node. Plaintext streams out in order, a few segments
//!   ahead of the reader at most; a byte range fetches only the segments
//!   it covers.

mod get;
mod health;
mod holders;
mod put;
mod shards;

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde::Serialize;

use super::blocks::Holder;
pub use get::open;
pub use health::health;
pub use put::put;
pub use shards::{shards, Sessions, MAX_HASHES};

/// Progress of a put or get, as JavaScript sees it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// `storing` or `fetching`, then `done`.
    pub stage: &'static str,
    /// Plaintext bytes done.
    pub done: u64,
    /// Plaintext bytes in all (unknown while reading a stream: 0).
    pub total: u64,
    /// Shard bytes sent to (put) or received from (get) each holder:
    /// `node` or a peer id.
    pub peers: BTreeMap<String, u64>,
}

/// Bytes moved per holder.
#[derive(Default)]
pub(super) struct Tally(RefCell<BTreeMap<String, u64>>);

impl Tally {
    pub(super) fn add(&self, holder: Holder, bytes: usize) {
        *self.0.borrow_mut().entry(holder.label()).or_default() += bytes as u64;
    }

    pub(super) fn progress(&self, stage: &'static str, done: u64, total: u64) -> Progress {
        Progress {
            stage,
            done,
            total,
            peers: self.0.borrow().clone(),
        }
    }
}

/// The peers a manifest names as holders (hints that do not parse as peer
/// ids are ignored: they are advisory).
fn hinted_peers(manifest: &crate::format::Manifest) -> Vec<libp2p::PeerId> {
    manifest
        .hints
        .iter()
        .filter_map(|h| libp2p::PeerId::from_bytes(h).ok())
        .collect()
}

/// A progress callback; JavaScript's `onProgress`, or nothing.
pub type OnProgress = Box<dyn Fn(Progress)>;
