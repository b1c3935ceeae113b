//! The chunk store: where shards live.
//!
//! One cheap-to-clone handle, [`Store`], over one of three backends: memory
//! (tests), files on disk (native nodes) and IndexedDB (browsers). Everything
//! that must hold for every backend lives here, once:
//!
//! - **Verification.** A shard is checked against its BLAKE3 hash before it is
//!   stored (the store takes only a [`Shard`], which cannot be made without
//!   that check) and again when it is read. A corrupt entry is reported
//!   ([`StoreError::Corrupt`]), removed, and never returned.
//! - **Classes and quota.** Data this peer uploaded or pinned is
//!   [`Class::Own`]; data held for others is [`Class::Contributed`]. New
//!   contributed shards that do not fit under the quota are refused
//!   ([`StoreError::QuotaExceeded`]); lowering the quota evicts contributed
//!   data, least recently used first, and reports what went. Own data is never
//!   evicted.
//! - **Bounds.** Shards are at most [`MAX_SHARD`] bytes, batches at most
//!   [`MAX_BATCH`] shards and [`MAX_BATCH_BYTES`] bytes, `has` and `list` at
//!   most [`MAX_QUERY`] hashes per call.
//!
//! The async API is plain `async fn`s that dispatch over a backend enum (no
//! trait objects): natively the futures are `Send` and run on tokio; in the
//! browser they are `!Send` and run on the page's event loop. The index
//! (sizes, classes, recency) is kept in memory, loaded from the backend when
//! the store opens, and changed only after the backend has committed, so a
//! failed or interrupted write leaves nothing half-visible.

mod backend;
#[doc(hidden)]
pub mod conformance;
#[cfg(not(wasm_browser))]
mod disk;
#[cfg(wasm_browser)]
mod idb;
mod index;
mod memory;
mod shard;

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::hash::Hash;
use backend::Backend;
use index::{Index, Meta};
pub use shard::Shard;

/// The largest shard the store accepts, in bytes.
pub const MAX_SHARD: usize = 4 << 20;
/// The most shards one [`Store::put_many`] may carry.
pub const MAX_BATCH: usize = 64;
/// The most bytes one [`Store::put_many`] may carry.
pub const MAX_BATCH_BYTES: usize = 64 << 20;
/// The most hashes one [`Store::has`] may ask about, and the most entries one
/// [`Store::list`] returns.
pub const MAX_QUERY: usize = 4096;
/// The on-disk / in-database format this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// A read persists the new recency of an entry only when the stored one is
/// older than this (milliseconds), so reads stay read-only most of the time.
const TOUCH_PERSIST_MS: u64 = 60_000;

/// Why data is held: decides whether it may be evicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// Uploaded or pinned by this peer: never evicted.
    Own,
    /// Held for others: counted against the quota, evicted least recently
    /// used first when the quota is lowered.
    Contributed,
}

/// Whether a store keeps what it holds until told otherwise: told to
/// other peers in HAS answers ([`crate::net::block::BlockResponse::Have`]),
/// so placement gives a holder that may lose its data fewer copies
/// ([`crate::transfer::rotation::weighted`]) and a health check tells its
/// pieces apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Storage {
    /// Kept until deleted: files on disk (nodes), or a browser's storage
    /// that the browser made persistent.
    #[default]
    Durable,
    /// The browser may clear it under storage pressure (not persistent),
    /// or it lives in memory.
    Evictable,
}

/// One stored shard, as listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub hash: Hash,
    pub size: u64,
    pub class: Class,
}

/// What the store holds, in bytes of shard data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub own: u64,
    pub contributed: u64,
    pub entries: u64,
    /// The quota set by the user or operator.
    pub quota: u64,
    /// The quota actually applied: `quota`, capped by what the backend can
    /// still hold (in browsers, `navigator.storage.estimate()`).
    pub effective_quota: u64,
}

impl Usage {
    /// Own plus contributed bytes.
    pub fn total(&self) -> u64 {
        self.own.saturating_add(self.contributed)
    }
}

/// What lowering the quota did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Eviction {
    /// Contributed shards removed, least recently used first.
    pub evicted: Vec<Entry>,
    /// Bytes still over the quota because they are own data, which is never
    /// evicted: the user must decide what to unpin.
    pub own_over_quota: u64,
}

/// Everything that can go wrong in the store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("shard of {size} bytes is larger than the limit of {max} bytes")]
    TooLarge { size: u64, max: u64 },
    #[error("shard does not match its address: expected {expected}, got {actual}")]
    HashMismatch { expected: Hash, actual: Hash },
    #[error("no shard {0} in the store")]
    NotFound(Hash),
    #[error("quota exceeded: {needed} bytes needed, {available} bytes available")]
    QuotaExceeded { needed: u64, available: u64 },
    #[error(
        "store format {found} is newer than this code supports ({supported}); upgrade meganet"
    )]
    NewerFormat { found: u32, supported: u32 },
    #[error("stored shard {hash} was corrupt and has been removed")]
    Corrupt { hash: Hash },
    #[error("request too large: {count} items, at most {max} allowed")]
    TooMany { count: u64, max: u64 },
    #[error("storage backend failed: {0}")]
    Backend(String),
}

/// Read-only access to a browser store that another context owns: the
/// service worker's gateway reading what the peer's tab stored. It keeps
/// no index and never writes; a shard is returned only when it matches
/// its hash (the owner removes a corrupt one when it next reads it).
#[cfg(wasm_browser)]
pub struct Reader(idb::Idb);

#[cfg(wasm_browser)]
impl Reader {
    /// Opens the IndexedDB store `name` (created empty if there is none).
    pub async fn open(name: &str) -> Result<Self, StoreError> {
        Ok(Self(idb::Idb::open(name).await?))
    }

    /// True when no shard is stored (then there is nothing to read).
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        self.0.is_empty().await
    }

    /// The shards `hashes`, read in one transaction and verified; each
    /// `None` when it is not stored, or is stored corrupt.
    pub async fn get_many(&self, hashes: &[Hash]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let read = self.0.get_many(hashes).await?;
        let mut out = Vec::with_capacity(read.len());
        for (hash, read) in hashes.iter().zip(read) {
            out.push(match read {
                Ok(Some(bytes)) if Hash::of(&bytes) == *hash => Some(bytes),
                Ok(Some(_)) | Err(StoreError::Corrupt { .. }) => {
                    tracing::warn!(%hash, "a stored shard is corrupt; fetching it instead");
                    None
                }
                Ok(None) => None,
                Err(e) => return Err(e),
            });
        }
        Ok(out)
    }
}

#[cfg(wasm_browser)]
impl Drop for Reader {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// How to open a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Bytes the store may hold (own plus contributed) before refusing new
    /// contributed shards.
    pub quota: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self { quota: 1 << 30 }
    }
}

#[cfg(not(wasm_browser))]
type Shared<T> = std::sync::Arc<T>;
// The IndexedDB handles are !Send: in the browser the handle is an `Rc`.
#[cfg(wasm_browser)]
type Shared<T> = std::rc::Rc<T>;

/// A cheap-to-clone handle to one chunk store.
#[derive(Clone)]
pub struct Store {
    inner: Shared<Inner>,
}

struct Inner {
    backend: Backend,
    state: Mutex<State>,
}

struct State {
    index: Index,
    quota: u64,
    /// The most the backend can hold for us: what we held when it was last
    /// asked plus the room it reported (None: unknown).
    capacity: Option<u64>,
    /// Bytes of contributed writes in flight, reserved against the quota.
    reserved: u64,
    /// How the backend keeps the data, as last learnt
    /// ([`Store::request_persistence`]).
    storage: Storage,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.inner.backend.kind())
            .field("usage", &self.usage())
            .finish()
    }
}

impl Store {
    /// A store in memory, for tests. `capacity` simulates a full device: past
    /// it, every write fails with [`StoreError::QuotaExceeded`].
    pub fn memory(config: Config, capacity: Option<u64>) -> Self {
        Self::from_backend(
            Backend::Memory(memory::Memory::new(capacity)),
            config,
            Vec::new(),
            capacity,
        )
    }

    /// Opens (or creates) a store in the directory `dir`.
    #[cfg(not(wasm_browser))]
    pub async fn open_disk(dir: &std::path::Path, config: Config) -> Result<Self, StoreError> {
        let disk = disk::Disk::open(dir).await?;
        let entries = disk.load().await?;
        Ok(Self::from_backend(
            Backend::Disk(disk),
            config,
            entries,
            None,
        ))
    }

    /// Opens (or creates) a store in the IndexedDB database `name`. The
    /// quota is capped by `navigator.storage.estimate()`.
    #[cfg(wasm_browser)]
    pub async fn open_idb(name: &str, config: Config) -> Result<Self, StoreError> {
        let db = idb::Idb::open(name).await?;
        let entries = db.load().await?;
        let headroom = idb::headroom().await;
        Ok(Self::from_backend(
            Backend::Idb(db),
            config,
            entries,
            headroom,
        ))
    }

    fn from_backend(
        backend: Backend,
        config: Config,
        entries: Vec<(Hash, Meta)>,
        headroom: Option<u64>,
    ) -> Self {
        let index = Index::from_entries(entries);
        let held = index.own().saturating_add(index.contributed());
        let state = State {
            index,
            quota: config.quota,
            capacity: headroom.map(|room| held.saturating_add(room)),
            reserved: 0,
            storage: backend.storage(),
        };
        Self {
            inner: Shared::new(Inner {
                backend,
                state: Mutex::new(state),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves a usable index:
        // every change to it is a single step.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Stores one shard.
    pub async fn put(&self, shard: Shard, class: Class) -> Result<(), StoreError> {
        self.put_many(vec![shard], class).await
    }

    /// Stores shards, all or nothing, in one backend transaction. Their
    /// hashes were checked when each [`Shard`] was made, before any
    /// transaction opens (IndexedDB commits one as soon as we await anything
    /// that is not one of its requests). A shard already present is not
    /// written again; storing it as [`Class::Own`] pins it.
    pub async fn put_many(&self, items: Vec<Shard>, class: Class) -> Result<(), StoreError> {
        check_batch(&items)?;
        let mut fresh: BTreeMap<Hash, Vec<u8>> = BTreeMap::new();
        let mut pins = Vec::new();
        let needed;
        {
            let mut state = self.state();
            for (hash, bytes) in items.into_iter().map(Shard::into_parts) {
                match state.index.get(&hash) {
                    Some(meta) if class == Class::Own && meta.class == Class::Contributed => {
                        pins.push((hash, meta))
                    }
                    Some(_) => {}
                    None => {
                        fresh.insert(hash, bytes);
                    }
                }
            }
            needed = fresh.values().map(|b| b.len() as u64).sum::<u64>();
            if class == Class::Contributed {
                let available = state.available();
                if needed > available {
                    return Err(StoreError::QuotaExceeded { needed, available });
                }
                state.reserved = state.reserved.saturating_add(needed);
            }
        }
        let now = self.state().index.now();
        let writes: Vec<(Hash, Meta, Vec<u8>)> = fresh
            .into_iter()
            .map(|(hash, bytes)| {
                let meta = Meta::new(bytes.len() as u64, class, now);
                (hash, meta, bytes)
            })
            .collect();
        let metas: Vec<(Hash, Meta)> = writes.iter().map(|(h, m, _)| (*h, *m)).collect();
        let written = if writes.is_empty() {
            Ok(())
        } else {
            self.inner.backend.put_batch(writes).await
        };
        {
            let mut state = self.state();
            if class == Class::Contributed {
                state.reserved = state.reserved.saturating_sub(needed);
            }
            if let Err(e) = written {
                return Err(match e {
                    StoreError::QuotaExceeded { .. } => StoreError::QuotaExceeded {
                        needed,
                        available: state.backend_room(),
                    },
                    other => other,
                });
            }
            for (hash, meta) in metas {
                state.index.insert(hash, meta);
            }
        }
        for (hash, mut meta) in pins {
            meta.class = Class::Own;
            meta.last_used = now;
            self.inner.backend.set_meta(hash, meta).await?;
            self.state().index.insert(hash, meta);
        }
        Ok(())
    }

    /// Returns the shard `hash`, checked against its hash. A shard that fails
    /// the check is removed and reported as [`StoreError::Corrupt`].
    pub async fn get(&self, hash: Hash) -> Result<Vec<u8>, StoreError> {
        let meta = self
            .state()
            .index
            .get(&hash)
            .ok_or(StoreError::NotFound(hash))?;
        let read = self.inner.backend.get(hash, meta).await;
        let bytes = match read {
            Ok(Some(bytes)) if bytes.len() <= MAX_SHARD && Hash::of(&bytes) == hash => bytes,
            Ok(None) => {
                tracing::warn!(%hash, "indexed shard missing from the backend");
                self.state().index.remove(&hash);
                return Err(StoreError::NotFound(hash));
            }
            Ok(Some(_)) | Err(StoreError::Corrupt { .. }) => {
                tracing::warn!(%hash, "corrupt shard removed");
                self.state().index.remove(&hash);
                self.inner.backend.delete_batch(vec![(hash, meta)]).await?;
                return Err(StoreError::Corrupt { hash });
            }
            Err(e) => return Err(e),
        };
        let persist = {
            let mut state = self.state();
            state.index.touch(&hash, TOUCH_PERSIST_MS)
        };
        if let Some(meta) = persist {
            // Recency is advisory: a failure to persist it is not the
            // reader's problem.
            if let Err(e) = self.inner.backend.set_meta(hash, meta).await {
                tracing::debug!(%hash, error = %e, "could not persist recency");
            }
        }
        Ok(bytes)
    }

    /// Which of `hashes` the store holds, in the same order.
    pub fn has(&self, hashes: &[Hash]) -> Result<Vec<bool>, StoreError> {
        check_count(hashes.len(), MAX_QUERY)?;
        let state = self.state();
        Ok(hashes
            .iter()
            .map(|h| state.index.get(h).is_some())
            .collect())
    }

    /// Removes `hash`; returns whether it was there. Own data goes only
    /// this way.
    pub async fn delete(&self, hash: Hash) -> Result<bool, StoreError> {
        Ok(self.delete_many(&[hash]).await? == 1)
    }

    /// Removes `hashes` (at most [`MAX_BATCH`]) in one backend transaction;
    /// returns how many were there.
    pub async fn delete_many(&self, hashes: &[Hash]) -> Result<usize, StoreError> {
        check_count(hashes.len(), MAX_BATCH)?;
        let present: Vec<(Hash, Meta)> = {
            let state = self.state();
            let known = hashes
                .iter()
                .filter_map(|h| Some((*h, state.index.get(h)?)));
            known.collect()
        };
        if present.is_empty() {
            return Ok(0);
        }
        let hashes: Vec<Hash> = present.iter().map(|(h, _)| *h).collect();
        self.inner.backend.delete_batch(present).await?;
        let mut state = self.state();
        for hash in &hashes {
            state.index.remove(hash);
        }
        Ok(hashes.len())
    }

    /// Up to `limit` (at most [`MAX_QUERY`]) entries in hash order, starting
    /// after `after`.
    pub fn list(&self, after: Option<Hash>, limit: usize) -> Vec<Entry> {
        self.state().index.list(after, limit.min(MAX_QUERY))
    }

    /// What the store holds.
    pub fn usage(&self) -> Usage {
        let state = self.state();
        Usage {
            own: state.index.own(),
            contributed: state.index.contributed(),
            entries: state.index.len() as u64,
            quota: state.quota,
            effective_quota: state.effective_quota(),
        }
    }

    /// The contributed shards [`Store::set_quota`] with `quota` would
    /// evict now, least recently used first (so they can be handed off).
    pub fn over_quota(&self, quota: u64) -> Vec<Entry> {
        let state = self.state();
        let limit = state.capacity.map_or(quota, |c| quota.min(c));
        state
            .index
            .lru_victims(limit)
            .into_iter()
            .map(|(hash, meta)| Entry {
                hash,
                size: meta.size,
                class: meta.class,
            })
            .collect()
    }

    /// Sets the quota and evicts contributed shards, least recently used
    /// first, until the store fits under it. Own data is never evicted; what
    /// it still exceeds is reported in [`Eviction::own_over_quota`].
    pub async fn set_quota(&self, quota: u64) -> Result<Eviction, StoreError> {
        let headroom = self.inner.backend.headroom().await;
        let victims = {
            let mut state = self.state();
            state.quota = quota;
            if let Some(room) = headroom {
                let held = state.index.own().saturating_add(state.index.contributed());
                state.capacity = Some(held.saturating_add(room));
            }
            let limit = state.effective_quota();
            state.index.lru_victims(limit)
        };
        let mut evicted = Vec::with_capacity(victims.len());
        for chunk in victims.chunks(MAX_BATCH) {
            self.inner.backend.delete_batch(chunk.to_vec()).await?;
            let mut state = self.state();
            for (hash, meta) in chunk {
                if state.index.remove(hash).is_some() {
                    evicted.push(Entry {
                        hash: *hash,
                        size: meta.size,
                        class: meta.class,
                    });
                }
            }
        }
        let state = self.state();
        let total = state.index.own().saturating_add(state.index.contributed());
        let own_over_quota = total
            .saturating_sub(state.effective_quota())
            .min(state.index.own());
        Ok(Eviction {
            evicted,
            own_over_quota,
        })
    }

    /// Asks the platform to keep this store's data under storage pressure
    /// (`navigator.storage.persist()` in browsers) and returns the answer.
    /// Files on disk are always persistent.
    pub async fn request_persistence(&self) -> Result<bool, StoreError> {
        let persistent = self.inner.backend.request_persistence().await?;
        if persistent {
            self.state().storage = Storage::Durable;
        }
        Ok(persistent)
    }

    /// How this store keeps its data: durable on disk, or in a browser once
    /// it agreed to persist it; evictable otherwise.
    pub fn storage(&self) -> Storage {
        self.state().storage
    }

    /// Closes the backend (the IndexedDB connection). Later calls fail.
    pub fn close(&self) {
        self.inner.backend.close();
    }

    /// Test hook: damages the stored bytes of `hash` behind the store's back.
    #[doc(hidden)]
    pub async fn tamper(&self, hash: Hash) -> Result<(), StoreError> {
        let meta = self
            .state()
            .index
            .get(&hash)
            .ok_or(StoreError::NotFound(hash))?;
        self.inner.backend.tamper(hash, meta).await
    }
}

impl State {
    fn used(&self) -> u64 {
        self.index
            .own()
            .saturating_add(self.index.contributed())
            .saturating_add(self.reserved)
    }

    fn effective_quota(&self) -> u64 {
        match self.capacity {
            Some(capacity) => self.quota.min(capacity),
            None => self.quota,
        }
    }

    /// Bytes a contributed write may still use.
    fn available(&self) -> u64 {
        self.effective_quota().saturating_sub(self.used())
    }

    /// What the backend can still take, as far as we know (for error reports).
    fn backend_room(&self) -> u64 {
        let held = self.index.own().saturating_add(self.index.contributed());
        self.capacity.map_or(0, |c| c.saturating_sub(held))
    }
}

fn check_count(count: usize, max: usize) -> Result<(), StoreError> {
    if count > max {
        return Err(StoreError::TooMany {
            count: count as u64,
            max: max as u64,
        });
    }
    Ok(())
}

fn check_batch(items: &[Shard]) -> Result<(), StoreError> {
    check_count(items.len(), MAX_BATCH)?;
    let mut total = 0usize;
    for shard in items {
        if shard.len() > MAX_SHARD {
            return Err(StoreError::TooLarge {
                size: shard.len() as u64,
                max: MAX_SHARD as u64,
            });
        }
        total = total.saturating_add(shard.len());
    }
    if total > MAX_BATCH_BYTES {
        return Err(StoreError::TooLarge {
            size: total as u64,
            max: MAX_BATCH_BYTES as u64,
        });
    }
    Ok(())
}

#[cfg(all(test, not(wasm_browser)))]
mod tests;
