//! The node's side of PUT and RENEW: budgets and leases ([`Leases`]) in
//! front of the block store. A PUT is checked against the uploader's and
//! its source's budgets, makes room by evicting expired blocks (least
//! recently renewed first) when the node is at its quota, and is leased
//! once stored; a RENEW extends the leases of the blocks it names that
//! the node holds. Everything else goes to `block::serve` unchanged.

use std::path::PathBuf;

use super::leases::{Charge, Leases, Refusal, Terms, Totals};
use crate::hash::Hash;
use crate::net::block::{self, BlockResponse, ErrorCode};
use crate::store::{Class, Shard, Store};

/// Seconds between two writes of a changed lease book.
const SAVE_EVERY_SECS: u64 = 10;
/// A node that refused a PUT for want of room says it is full for this
/// long (ms) afterwards, unless room is made.
const FULL_FOR_MS: u64 = 60_000;

/// The store, the lease book, and where the book is kept.
pub struct Storage {
    store: Store,
    leases: Leases,
    path: PathBuf,
    capacity: u64,
    last_save_ms: u64,
    /// When a PUT was last refused for want of room.
    refused_full_ms: Option<u64>,
}

impl Storage {
    /// Opens the lease book at `path` and makes it match `store`.
    pub fn open(store: Store, terms: Terms, capacity: u64, path: PathBuf, now_ms: u64) -> Self {
        let mut leases = Leases::new(terms);
        if let Err(why) = leases.load(&path) {
            tracing::warn!(path = %path.display(), why, "the lease book is damaged; every stored block is leased afresh");
            leases = Leases::new(terms);
        }
        let mut stored = Vec::new();
        let mut after = None;
        loop {
            let page = store.list(after, crate::store::MAX_QUERY);
            let Some(last) = page.last() else { break };
            after = Some(last.hash);
            stored.extend(page.iter().map(|e| (e.hash, e.size)));
        }
        leases.reconcile(stored, now_ms);
        tracing::info!(leases = leases.len(), "lease book loaded");
        Self {
            store,
            leases,
            path,
            capacity,
            last_save_ms: now_ms,
            refused_full_ms: None,
        }
    }

    /// The store, for everything that is not a PUT or RENEW.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Stores `bytes` for `charge` (`None`: the network's own data).
    pub async fn put(
        &mut self,
        bytes: Vec<u8>,
        charge: Option<Charge>,
        now_ms: u64,
    ) -> BlockResponse {
        let shard = Shard::new(bytes);
        let hash = shard.hash();
        let size = shard.len() as u64;
        if self.leases.renew(&hash, now_ms) {
            return BlockResponse::Stored(hash);
        }
        if let Err(refusal) = self.leases.admit(charge, size) {
            return refuse(refusal);
        }
        let used = self.store.usage().contributed;
        let victims = match self.leases.make_room(used, size, self.capacity, now_ms) {
            Ok(victims) => victims,
            Err(refusal) => {
                self.refused_full_ms = Some(now_ms);
                return refuse(refusal);
            }
        };
        if !victims.is_empty() {
            self.refused_full_ms = None;
        }
        for (victim, bytes) in victims {
            match self.store.delete(victim).await {
                Ok(_) => {
                    self.leases.remove(&victim);
                    tracing::info!(%victim, bytes, "evicted a block whose lease ran out");
                }
                Err(e) => {
                    return BlockResponse::error(ErrorCode::Internal, e.to_string());
                }
            }
        }
        let response = block::serve(
            &self.store,
            Class::Contributed,
            block::BlockRequest::put(shard.into_parts().1),
        )
        .await;
        if matches!(response, BlockResponse::Stored(_)) {
            self.leases.record(hash, size, charge, now_ms);
        }
        response
    }

    /// Renews the leases of `hashes` held here; answers which are held.
    pub fn renew(&mut self, hashes: &[Hash], now_ms: u64) -> BlockResponse {
        BlockResponse::have(
            hashes
                .iter()
                .map(|h| self.leases.renew(h, now_ms))
                .collect(),
        )
    }

    /// Writes the book when it changed and [`SAVE_EVERY_SECS`] passed
    /// (`force`: now, at shutdown); returns the totals for the status.
    pub fn tick(&mut self, now_ms: u64, force: bool) -> Totals {
        let due = now_ms.saturating_sub(self.last_save_ms) >= SAVE_EVERY_SECS * 1000;
        if self.leases.is_dirty() && (due || force) {
            self.last_save_ms = now_ms;
            if let Err(e) = self.leases.save(&self.path) {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot save the lease book");
            }
        }
        self.leases.totals(now_ms)
    }

    /// The lease terms and the capacity, for the status.
    pub fn terms(&self) -> (Terms, u64) {
        (self.leases.terms(), self.capacity)
    }

    /// Full: a PUT was refused for want of room within [`FULL_FOR_MS`],
    /// or leased data fills the capacity.
    pub fn is_full(&self, totals: Totals, now_ms: u64) -> bool {
        let refused = self
            .refused_full_ms
            .is_some_and(|t| now_ms.saturating_sub(t) < FULL_FOR_MS);
        refused || totals.leased_bytes >= self.capacity
    }
}

fn refuse(refusal: Refusal) -> BlockResponse {
    let code = match refusal {
        Refusal::OverBudget { .. } => ErrorCode::OverBudget,
        Refusal::Full { .. } => ErrorCode::Full,
    };
    BlockResponse::error(code, refusal.to_string())
}
