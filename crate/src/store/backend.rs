//! The narrow interface every storage backend offers, as an enum so the
//! futures stay `Send` natively and may be `!Send` in the browser.
//!
//! Backends store bytes and metadata and nothing else: hashing, quotas and
//! the index live in [`super::Store`]. A batch put is all or nothing.

use super::index::Meta;
use super::StoreError;
use crate::hash::Hash;

pub(crate) enum Backend {
    Memory(super::memory::Memory),
    #[cfg(not(wasm_browser))]
    Disk(super::disk::Disk),
    #[cfg(wasm_browser)]
    Idb(super::idb::Idb),
}

impl Backend {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Memory(_) => "memory",
            #[cfg(not(wasm_browser))]
            Self::Disk(_) => "disk",
            #[cfg(wasm_browser)]
            Self::Idb(_) => "indexeddb",
        }
    }

    /// Writes every item or none.
    pub async fn put_batch(&self, items: Vec<(Hash, Meta, Vec<u8>)>) -> Result<(), StoreError> {
        match self {
            Self::Memory(b) => b.put_batch(items),
            #[cfg(not(wasm_browser))]
            Self::Disk(b) => b.put_batch(items).await,
            #[cfg(wasm_browser)]
            Self::Idb(b) => b.put_batch(items).await,
        }
    }

    /// The stored bytes (unverified), `None` when absent, or
    /// [`StoreError::Corrupt`] when what is stored is not a shard at all.
    pub async fn get(&self, hash: Hash, meta: Meta) -> Result<Option<Vec<u8>>, StoreError> {
        match self {
            Self::Memory(b) => b.get(hash),
            #[cfg(not(wasm_browser))]
            Self::Disk(b) => b.get(hash, meta).await,
            #[cfg(wasm_browser)]
            Self::Idb(b) => {
                let _ = meta;
                b.get(hash).await
            }
        }
    }

    pub async fn delete_batch(&self, items: Vec<(Hash, Meta)>) -> Result<(), StoreError> {
        match self {
            Self::Memory(b) => b.delete_batch(items),
            #[cfg(not(wasm_browser))]
            Self::Disk(b) => b.delete_batch(items).await,
            #[cfg(wasm_browser)]
            Self::Idb(b) => b.delete_batch(items).await,
        }
    }

    /// Rewrites the class and recency of a stored shard.
    pub async fn set_meta(&self, hash: Hash, meta: Meta) -> Result<(), StoreError> {
        match self {
            Self::Memory(b) => b.set_meta(hash, meta),
            #[cfg(not(wasm_browser))]
            Self::Disk(b) => b.set_meta(hash, meta).await,
            #[cfg(wasm_browser)]
            Self::Idb(b) => b.set_meta(hash, meta).await,
        }
    }

    /// Bytes the device can still take beyond what the store holds, when known.
    pub async fn headroom(&self) -> Option<u64> {
        match self {
            Self::Memory(b) => b.headroom(),
            #[cfg(not(wasm_browser))]
            Self::Disk(_) => None,
            #[cfg(wasm_browser)]
            Self::Idb(_) => super::idb::headroom().await,
        }
    }

    /// How the data is kept before anyone asked for persistence.
    pub fn storage(&self) -> super::Storage {
        match self {
            #[cfg(not(wasm_browser))]
            Self::Disk(_) => super::Storage::Durable,
            _ => super::Storage::Evictable,
        }
    }

    pub async fn request_persistence(&self) -> Result<bool, StoreError> {
        match self {
            Self::Memory(_) => Ok(false),
            #[cfg(not(wasm_browser))]
            Self::Disk(_) => Ok(true),
            #[cfg(wasm_browser)]
            Self::Idb(_) => super::idb::request_persistence().await,
        }
    }

    pub fn close(&self) {
        #[cfg(wasm_browser)]
        if let Self::Idb(b) = self {
            b.close();
        }
    }

    /// Test hook: damages the stored bytes.
    pub async fn tamper(&self, hash: Hash, meta: Meta) -> Result<(), StoreError> {
        match self {
            Self::Memory(b) => b.tamper(hash),
            #[cfg(not(wasm_browser))]
            Self::Disk(b) => b.tamper(hash, meta).await,
            #[cfg(wasm_browser)]
            Self::Idb(b) => {
                let _ = meta;
                b.tamper(hash).await
            }
        }
    }
}
