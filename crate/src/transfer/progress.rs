//! Progress of a put or get, as callers (and JavaScript) see it.

use std::collections::BTreeMap;
use std::fmt::Display;

use serde::Serialize;

/// Where a transfer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Stage {
    /// Waiting for the connection to the node.
    Connecting,
    /// Encoding into this peer's own store, before the link is given out.
    Encoding,
    /// Encoding and storing shards, or placing them once encoded.
    Storing,
    /// Fetching and decoding shards.
    Fetching,
    /// Finished.
    Done,
}

/// One progress report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub stage: Stage,
    /// Plaintext bytes done.
    pub done: u64,
    /// Plaintext bytes in all (unknown while reading a stream: 0).
    pub total: u64,
    /// Shard bytes sent to (put) or received from (get) each holder.
    pub peers: BTreeMap<String, u64>,
    /// The link, once a put that gives it out first has it (set by the
    /// browser's binding).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// A progress callback.
pub type OnProgress<'a> = &'a dyn Fn(Progress);

/// Shard bytes moved per holder.
#[derive(Debug, Default, Clone)]
pub struct Tally(BTreeMap<String, u64>);

impl Tally {
    pub fn add(&mut self, holder: &impl Display, bytes: usize) {
        *self.0.entry(holder.to_string()).or_default() += bytes as u64;
    }

    pub fn progress(&self, stage: Stage, done: u64, total: u64) -> Progress {
        Progress {
            stage,
            done,
            total,
            peers: self.0.clone(),
            link: None,
        }
    }
}
