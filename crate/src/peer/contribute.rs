//! Storing shards for others: the contributed store (IndexedDB database
//! `meganet-contributed`), switched on and off by `peer.contribute()` and
//! emptied by `peer.leave()`. While it is on, the driver answers block
//! requests from other peers out of it and the peer is announced as a
//! contributor in the DHT.

use std::cell::RefCell;
use std::rc::Rc;

use serde::Serialize;

use crate::store::{self, Store, StoreError};

/// The IndexedDB database holding what this peer stores for others.
pub const DB_NAME: &str = "meganet-contributed";
/// Default quota when none is given: 1 GiB.
pub const DEFAULT_QUOTA: u64 = 1 << 30;
/// Longest wait for the browser's answer to `navigator.storage.persist()`.
const PERSIST_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
/// Most shards deleted per listing round when leaving.
const DELETE_BATCH: usize = 256;

/// The contributed store while contributing; `None` otherwise.
pub type Shared = Rc<RefCell<Option<Store>>>;

/// What `peer.contribute()` resolves to.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub enabled: bool,
    pub quota_bytes: u64,
    /// Whether the browser promised not to evict the data (`persist()`).
    pub persisted: bool,
    pub stored_bytes: u64,
    pub stored_shards: u64,
    /// What a lowered quota evicted, and handed off first.
    pub evicted: HandedOff,
}

/// Turns contributing on (opening the store, asking for persistent
/// storage) or off (keeping what is stored, answering nothing). A lower
/// quota evicts the least recently used shards, each handed to
/// `hand_off` (the peer's node) first, as [`leave`] does.
pub async fn set<F, Fut, E>(
    shared: &Shared,
    enabled: bool,
    quota: u64,
    hand_off: F,
) -> Result<State, StoreError>
where
    F: Fn(Vec<u8>) -> Fut,
    Fut: std::future::Future<Output = Result<crate::hash::Hash, E>>,
    E: std::fmt::Display,
{
    if !enabled {
        let store = shared.borrow_mut().take();
        return Ok(state(store.as_ref(), false, quota, false));
    }
    let existing = shared.borrow().clone();
    let store = match existing {
        Some(store) => store,
        None => Store::open_idb(DB_NAME, store::Config { quota }).await?,
    };
    // The shards the lower quota evicts, handed off and then deleted by
    // name (reading them makes them recently used: the quota alone would
    // then pick others).
    let planned = store.over_quota(quota);
    let mut evicted = HandedOff::default();
    evicted.hand_off(&store, &planned, &hand_off).await;
    for entry in &planned {
        store.delete(entry.hash).await?;
    }
    let eviction = store.set_quota(quota).await?;
    let removed = (planned.len() + eviction.evicted.len()) as u64;
    evicted.dropped = removed.saturating_sub(evicted.handed_off);
    if removed > 0 {
        tracing::info!(
            shards = removed,
            handed_off = evicted.handed_off,
            "quota lowered: evicted contributed shards"
        );
    }
    // Firefox asks the user, and a prompt nobody answers never settles:
    // report "not (yet) persistent" rather than wait.
    let persisted = {
        use futures::FutureExt;
        futures::select! {
            answer = store.request_persistence().fuse() => answer.unwrap_or(false),
            () = crate::platform::sleep(PERSIST_WAIT).fuse() => false,
        }
    };
    *shared.borrow_mut() = Some(store.clone());
    Ok(State {
        evicted,
        ..state(Some(&store), true, quota, persisted)
    })
}

/// Most bytes a contributor hands off when it leaves or lowers its
/// quota, before deleting the rest (which repair then rebuilds once its
/// holder counts as lost).
pub const HANDOFF_MAX_BYTES: u64 = 256 << 20;

/// What leaving, or a lowered quota, did with the shards held for others.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HandedOff {
    /// Shards, and their bytes, a node took before they were deleted.
    pub handed_off: u64,
    pub handed_off_bytes: u64,
    /// Shards deleted without a new holder (over the limit, or refused).
    pub dropped: u64,
}

impl HandedOff {
    /// Hands `entries` to `hand_off` while under [`HANDOFF_MAX_BYTES`];
    /// counts what was taken (the caller deletes and counts the rest).
    async fn hand_off<F, Fut, E>(&mut self, store: &Store, entries: &[store::Entry], hand_off: &F)
    where
        F: Fn(Vec<u8>) -> Fut,
        Fut: std::future::Future<Output = Result<crate::hash::Hash, E>>,
        E: std::fmt::Display,
    {
        for entry in entries {
            if self.handed_off_bytes >= HANDOFF_MAX_BYTES {
                return;
            }
            let Ok(bytes) = store.get(entry.hash).await else {
                continue;
            };
            let len = bytes.len() as u64;
            match hand_off(bytes).await {
                Ok(_) => {
                    self.handed_off += 1;
                    self.handed_off_bytes += len;
                }
                Err(e) => tracing::warn!(error = %e, "the node did not take a shard"),
            }
        }
    }
}

/// Stops contributing, hands what is stored for others to `hand_off` (the
/// peer's node; at most [`HANDOFF_MAX_BYTES`]), so the files keep their
/// redundancy without waiting for repair, and deletes everything.
pub async fn leave<F, Fut, E>(shared: &Shared, hand_off: F) -> Result<HandedOff, StoreError>
where
    F: Fn(Vec<u8>) -> Fut,
    Fut: std::future::Future<Output = Result<crate::hash::Hash, E>>,
    E: std::fmt::Display,
{
    let taken = shared.borrow_mut().take();
    let store = match taken {
        Some(store) => store,
        None => Store::open_idb(DB_NAME, store::Config::default()).await?,
    };
    let mut left = HandedOff::default();
    loop {
        let entries = store.list(None, DELETE_BATCH);
        if entries.is_empty() {
            break;
        }
        let before = left.handed_off;
        left.hand_off(&store, &entries, &hand_off).await;
        left.dropped += entries.len() as u64 - (left.handed_off - before);
        for entry in entries {
            store.delete(entry.hash).await?;
        }
    }
    store.close();
    Ok(left)
}

/// Bytes held for others, as `peer.usage()` reports them.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub contributed: u64,
    pub entries: u64,
    pub quota: u64,
    pub effective_quota: u64,
}

pub fn usage(shared: &Shared) -> Usage {
    shared
        .borrow()
        .as_ref()
        .map_or_else(Usage::default, |store| {
            let u = store.usage();
            Usage {
                contributed: u.contributed,
                entries: u.entries,
                quota: u.quota,
                effective_quota: u.effective_quota,
            }
        })
}

fn state(store: Option<&Store>, enabled: bool, quota: u64, persisted: bool) -> State {
    let usage = store.map(Store::usage);
    State {
        enabled,
        quota_bytes: quota,
        persisted,
        stored_bytes: usage.as_ref().map_or(0, |u| u.contributed),
        stored_shards: usage.as_ref().map_or(0, |u| u.entries),
        evicted: HandedOff::default(),
    }
}
