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
}

/// Turns contributing on (opening the store, asking for persistent
/// storage) or off (keeping what is stored, answering nothing).
pub async fn set(shared: &Shared, enabled: bool, quota: u64) -> Result<State, StoreError> {
    if !enabled {
        let store = shared.borrow_mut().take();
        return Ok(state(store.as_ref(), false, quota, false));
    }
    let existing = shared.borrow().clone();
    let store = match existing {
        Some(store) => store,
        None => Store::open_idb(DB_NAME, store::Config { quota }).await?,
    };
    let evicted = store.set_quota(quota).await?;
    if !evicted.evicted.is_empty() {
        tracing::info!(
            shards = evicted.evicted.len(),
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
    Ok(state(Some(&store), true, quota, persisted))
}

/// Stops contributing and deletes everything stored for others.
pub async fn leave(shared: &Shared) -> Result<(), StoreError> {
    let taken = shared.borrow_mut().take();
    let store = match taken {
        Some(store) => store,
        None => Store::open_idb(DB_NAME, store::Config::default()).await?,
    };
    loop {
        let entries = store.list(None, DELETE_BATCH);
        if entries.is_empty() {
            break;
        }
        for entry in entries {
            store.delete(entry.hash).await?;
        }
    }
    store.close();
    Ok(())
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
    }
}
