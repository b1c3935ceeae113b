//! The IndexedDB backend for browsers (the `idb` crate).
//!
//! One database per store, its IndexedDB version being the store's format
//! version, with two object stores keyed by the shard's hex hash: `shards`
//! (the bytes, a `Uint8Array`) and `meta` (17 bytes: size, class, last use).
//! A batch writes both stores in one read-write transaction, so a tab closed
//! mid-write leaves the whole batch or none of it; entries found in only one
//! of the two stores on open are removed. Hashing happens before the
//! transaction opens (IndexedDB commits as soon as the code awaits anything
//! else), and a `QuotaExceededError` aborts the whole transaction and
//! becomes [`StoreError::QuotaExceeded`].

use std::collections::BTreeSet;

use idb::{
    Database, DatabaseEvent, Factory, ObjectStoreParams, TransactionMode, TransactionResult,
};
use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::index::Meta;
use super::{StoreError, FORMAT_VERSION};
use crate::hash::Hash;

const SHARDS: &str = "shards";
const META: &str = "meta";

pub(crate) struct Idb {
    db: Database,
    /// One reusable JavaScript array per shard size written lately: a put
    /// clones its value before it returns, so the array can take the next
    /// shard at once, and writing makes no 1 MiB of garbage per shard.
    scratch: std::cell::RefCell<Vec<Uint8Array>>,
}

/// Most scratch arrays kept (shards of one file share a size).
const SCRATCH_SIZES: usize = 2;

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("IndexedDB: {e}"))
}

/// Maps an IndexedDB failure; a full origin becomes the quota error (the
/// store fills in the numbers).
fn map_err(e: &idb::Error, tx_error: Option<web_sys::DomException>) -> StoreError {
    let name = match (e, tx_error) {
        (_, Some(dom)) => dom.name(),
        (idb::Error::DomException(dom), None) => dom.name(),
        _ => String::new(),
    };
    if name == "QuotaExceededError" {
        StoreError::QuotaExceeded {
            needed: 0,
            available: 0,
        }
    } else {
        backend(e)
    }
}

fn key(hash: &Hash) -> JsValue {
    JsValue::from_str(&hash.to_hex())
}

impl Idb {
    /// Opens or creates the database; refuses one a newer format wrote.
    pub async fn open(name: &str) -> Result<Self, StoreError> {
        let factory = Factory::new().map_err(backend)?;
        let mut request = factory.open(name, Some(FORMAT_VERSION)).map_err(backend)?;
        request.on_upgrade_needed(|event| {
            if let Ok(db) = event.database() {
                let names = db.store_names();
                for store in [SHARDS, META] {
                    if !names.iter().any(|n| n == store) {
                        let _ = db.create_object_store(store, ObjectStoreParams::new());
                    }
                }
            }
        });
        let mut db = match request.await {
            Ok(db) => db,
            Err(e) => return Err(newer_format(&factory, name).await.unwrap_or(backend(e))),
        };
        // Another tab upgrading the database must not wait on us forever.
        db.on_version_change(|event| {
            if let Some(Ok(db)) = event.target().map(Database::try_from) {
                db.close();
            }
        });
        Ok(Self {
            db,
            scratch: Default::default(),
        })
    }

    pub fn close(&self) {
        self.db.close();
    }

    /// Reads every entry's metadata, and removes shards without metadata and
    /// metadata without shards (neither can come from a committed batch).
    pub async fn load(&self) -> Result<Vec<(Hash, Meta)>, StoreError> {
        let tx = self
            .db
            .transaction(&[SHARDS, META], TransactionMode::ReadOnly)
            .map_err(backend)?;
        let shards = tx.object_store(SHARDS).map_err(backend)?;
        let meta = tx.object_store(META).map_err(backend)?;
        let shard_keys = shards.get_all_keys(None, None).map_err(backend)?;
        let meta_keys = meta.get_all_keys(None, None).map_err(backend)?;
        let meta_values = meta.get_all(None, None).map_err(backend)?;
        let shard_keys = shard_keys.await.map_err(backend)?;
        let meta_keys = meta_keys.await.map_err(backend)?;
        let meta_values = meta_values.await.map_err(backend)?;
        drop(tx);

        let mut with_shard: BTreeSet<String> = shard_keys
            .into_iter()
            .filter_map(|k| k.as_string())
            .collect();
        let mut entries = Vec::new();
        let mut orphans = Vec::new();
        for (k, v) in meta_keys.into_iter().zip(meta_values) {
            let Some(k) = k.as_string() else { continue };
            let hash = k.parse::<Hash>().ok();
            let decoded = v
                .dyn_into::<Uint8Array>()
                .ok()
                .and_then(|a| Meta::decode(&a.to_vec()));
            let present = with_shard.remove(&k);
            match (hash, decoded, present) {
                (Some(hash), Some(meta), true) => entries.push((hash, meta)),
                _ => orphans.push(k),
            }
        }
        orphans.extend(with_shard);
        if !orphans.is_empty() {
            tracing::warn!(count = orphans.len(), "removing incomplete store entries");
            self.delete_keys(orphans.iter().map(|k| JsValue::from_str(k)).collect())
                .await?;
        }
        Ok(entries)
    }

    pub async fn put_batch(&self, items: Vec<(Hash, Meta, Vec<u8>)>) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(&[SHARDS, META], TransactionMode::ReadWrite)
            .map_err(backend)?;
        let shards = tx.object_store(SHARDS).map_err(backend)?;
        let metas = tx.object_store(META).map_err(backend)?;
        let issued = (|| {
            for (hash, meta, bytes) in &items {
                let key = key(hash);
                shards.put(&self.staged(bytes), Some(&key))?;
                metas.put(&Uint8Array::from(&meta.encode()[..]), Some(&key))?;
            }
            Ok::<_, idb::Error>(())
        })();
        if let Err(e) = issued {
            // Never let a partial batch auto-commit.
            let _ = tx.abort();
            return Err(map_err(&e, None));
        }
        let result = tx.commit().map_err(backend)?.await;
        finish(result, &shards)
    }

    /// `bytes` copied into a JavaScript array of exactly their size (never
    /// `Uint8Array::view` or a subarray: the structured clone of a view
    /// takes its whole buffer, i.e. all of wasm memory), reused across puts.
    fn staged(&self, bytes: &[u8]) -> Uint8Array {
        let mut scratch = self.scratch.borrow_mut();
        let array = match scratch
            .iter()
            .position(|a| a.length() as usize == bytes.len())
        {
            Some(i) => scratch.remove(i),
            None => Uint8Array::new_with_length(bytes.len() as u32),
        };
        array.copy_from(bytes);
        scratch.insert(0, array.clone());
        scratch.truncate(SCRATCH_SIZES);
        array
    }

    pub async fn get(&self, hash: Hash) -> Result<Option<Vec<u8>>, StoreError> {
        let tx = self
            .db
            .transaction(&[SHARDS], TransactionMode::ReadOnly)
            .map_err(backend)?;
        let store = tx.object_store(SHARDS).map_err(backend)?;
        let value = store
            .get(key(&hash))
            .map_err(backend)?
            .await
            .map_err(backend)?;
        value.map(|v| shard_bytes(hash, v)).transpose()
    }

    /// Several shards in one read-only transaction (every request is made
    /// before the first is awaited, which keeps the transaction open); each
    /// as [`Self::get`] would give it.
    pub async fn get_many(
        &self,
        hashes: &[Hash],
    ) -> Result<Vec<Result<Option<Vec<u8>>, StoreError>>, StoreError> {
        let tx = self
            .db
            .transaction(&[SHARDS], TransactionMode::ReadOnly)
            .map_err(backend)?;
        let store = tx.object_store(SHARDS).map_err(backend)?;
        let requests = hashes
            .iter()
            .map(|h| store.get(key(h)).map_err(backend))
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = Vec::with_capacity(hashes.len());
        for (hash, request) in hashes.iter().zip(requests) {
            let value = request.await.map_err(backend)?;
            out.push(value.map(|v| shard_bytes(*hash, v)).transpose());
        }
        Ok(out)
    }

    /// True when no shard is stored.
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        let tx = self
            .db
            .transaction(&[SHARDS], TransactionMode::ReadOnly)
            .map_err(backend)?;
        let store = tx.object_store(SHARDS).map_err(backend)?;
        let count = store.count(None).map_err(backend)?.await.map_err(backend)?;
        Ok(count == 0)
    }

    pub async fn delete_batch(&self, items: Vec<(Hash, Meta)>) -> Result<(), StoreError> {
        self.delete_keys(items.iter().map(|(h, _)| key(h)).collect())
            .await
    }

    async fn delete_keys(&self, keys: Vec<JsValue>) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(&[SHARDS, META], TransactionMode::ReadWrite)
            .map_err(backend)?;
        let shards = tx.object_store(SHARDS).map_err(backend)?;
        let metas = tx.object_store(META).map_err(backend)?;
        for k in keys {
            shards.delete(k.clone()).map_err(backend)?;
            metas.delete(k).map_err(backend)?;
        }
        let result = tx.commit().map_err(backend)?.await;
        finish(result, &shards)
    }

    pub async fn set_meta(&self, hash: Hash, meta: Meta) -> Result<(), StoreError> {
        let tx = self
            .db
            .transaction(&[META], TransactionMode::ReadWrite)
            .map_err(backend)?;
        let metas = tx.object_store(META).map_err(backend)?;
        metas
            .put(&Uint8Array::from(&meta.encode()[..]), Some(&key(&hash)))
            .map_err(backend)?;
        let result = tx.commit().map_err(backend)?.await;
        finish(result, &metas)
    }

    pub async fn tamper(&self, hash: Hash) -> Result<(), StoreError> {
        let Some(mut bytes) = self.get(hash).await? else {
            return Err(StoreError::NotFound(hash));
        };
        match bytes.first_mut() {
            Some(b) => *b ^= 1,
            None => bytes.push(0),
        }
        let tx = self
            .db
            .transaction(&[SHARDS], TransactionMode::ReadWrite)
            .map_err(backend)?;
        let shards = tx.object_store(SHARDS).map_err(backend)?;
        shards
            .put(&Uint8Array::from(bytes.as_slice()), Some(&key(&hash)))
            .map_err(backend)?;
        let result = tx.commit().map_err(backend)?.await;
        finish(result, &shards)
    }
}

/// A stored value as shard bytes; anything else is corrupt.
fn shard_bytes(hash: Hash, value: JsValue) -> Result<Vec<u8>, StoreError> {
    match value.dyn_into::<Uint8Array>() {
        Ok(a) if a.length() as usize <= super::MAX_SHARD => Ok(a.to_vec()),
        _ => Err(StoreError::Corrupt { hash }),
    }
}

/// Turns a transaction's outcome into ours; an abort names its cause.
fn finish(
    result: Result<TransactionResult, idb::Error>,
    store: &idb::ObjectStore,
) -> Result<(), StoreError> {
    match result {
        Ok(TransactionResult::Committed) => Ok(()),
        Ok(TransactionResult::Aborted) => {
            let error = store.transaction().error();
            if error
                .as_ref()
                .is_some_and(|d| d.name() == "QuotaExceededError")
            {
                return Err(StoreError::QuotaExceeded {
                    needed: 0,
                    available: 0,
                });
            }
            Err(backend(format!(
                "transaction aborted: {}",
                error.map(|d| d.message()).unwrap_or_default()
            )))
        }
        Err(e) => Err(map_err(&e, store.transaction().error())),
    }
}

/// When opening failed, checks whether a newer format is the reason.
async fn newer_format(factory: &Factory, name: &str) -> Option<StoreError> {
    let db = factory.open(name, None).ok()?.await.ok()?;
    let found = db.version().ok();
    db.close();
    let found = found?;
    (found > FORMAT_VERSION).then_some(StoreError::NewerFormat {
        found,
        supported: FORMAT_VERSION,
    })
}

/// `navigator.storage` of whatever global scope we run in (window or worker).
fn storage_manager() -> Option<JsValue> {
    let navigator = Reflect::get(&js_sys::global(), &JsValue::from_str("navigator")).ok()?;
    let storage = Reflect::get(&navigator, &JsValue::from_str("storage")).ok()?;
    (!storage.is_undefined() && !storage.is_null()).then_some(storage)
}

async fn call_storage(method: &str) -> Option<JsValue> {
    let storage = storage_manager()?;
    let f = Reflect::get(&storage, &JsValue::from_str(method))
        .ok()?
        .dyn_into::<js_sys::Function>()
        .ok()?;
    let promise = f.call0(&storage).ok()?.dyn_into::<js_sys::Promise>().ok()?;
    JsFuture::from(promise).await.ok()
}

/// What the origin may still store, from `navigator.storage.estimate()`.
pub(crate) async fn headroom() -> Option<u64> {
    let estimate = call_storage("estimate").await?;
    let number = |name: &str| {
        Reflect::get(&estimate, &JsValue::from_str(name))
            .ok()
            .and_then(|v| v.as_f64())
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    let quota = number("quota")?;
    let usage = number("usage").unwrap_or(0.0);
    // f64 to u64 saturates; a quota under usage leaves no room.
    Some((quota - usage).max(0.0) as u64)
}

/// Asks `navigator.storage.persist()`; false where it is not offered (it
/// exists in windows only) or refused.
pub(crate) async fn request_persistence() -> Result<bool, StoreError> {
    Ok(call_storage("persist")
        .await
        .and_then(|v| v.as_bool())
        .unwrap_or(false))
}
