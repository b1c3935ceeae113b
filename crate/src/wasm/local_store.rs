//! `LocalStore`: this browser's chunk store (IndexedDB) as JavaScript sees
//! it. The settings view reads its usage; tests drive it directly, for
//! example to kill the browser in the middle of a batch and check, after
//! reopening, that nothing half-written is visible.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::to_js;
use crate::store::{Class, Config, Shard, Store};

/// A handle on an IndexedDB chunk store.
#[wasm_bindgen]
pub struct LocalStore {
    store: Store,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UsageView {
    own: u64,
    contributed: u64,
    entries: u64,
    quota: u64,
    effective_quota: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CheckView {
    entries: u64,
    bytes: u64,
    corrupt: u64,
}

fn js_err(e: crate::store::StoreError) -> JsValue {
    super::error(e.code(), &e.to_string())
}

#[wasm_bindgen]
impl LocalStore {
    /// Opens (or creates) the store in IndexedDB database `name`.
    pub async fn open(name: String, quota_bytes: f64) -> Result<LocalStore, JsValue> {
        let store = Store::open_idb(
            &name,
            Config {
                quota: quota_bytes as u64,
            },
        )
        .await
        .map_err(js_err)?;
        Ok(LocalStore { store })
    }

    /// Bytes held, by class, and the quota.
    pub fn usage(&self) -> Result<JsValue, JsValue> {
        let u = self.store.usage();
        to_js(&UsageView {
            own: u.own,
            contributed: u.contributed,
            entries: u.entries,
            quota: u.quota,
            effective_quota: u.effective_quota,
        })
    }

    /// Stores `blocks` (an array of `Uint8Array`) as own data in one
    /// all-or-nothing batch; resolves to their hashes (hex).
    #[wasm_bindgen(js_name = putBatch)]
    pub async fn put_batch(&self, blocks: js_sys::Array) -> Result<js_sys::Array, JsValue> {
        let items: Vec<Shard> = blocks
            .iter()
            .map(|b| Shard::new(js_sys::Uint8Array::new(&b).to_vec()))
            .collect();
        let hashes: js_sys::Array = items
            .iter()
            .map(|s| JsValue::from_str(&s.hash().to_hex()))
            .collect();
        self.store
            .put_many(items, Class::Own)
            .await
            .map_err(js_err)?;
        Ok(hashes)
    }

    /// Reads every entry back, verifying each; counts entries, bytes and
    /// corrupt entries (which the store removes).
    pub async fn check(&self) -> Result<JsValue, JsValue> {
        let mut view = CheckView {
            entries: 0,
            bytes: 0,
            corrupt: 0,
        };
        let mut after = None;
        loop {
            let page = self.store.list(after, 256);
            let Some(last) = page.last() else { break };
            after = Some(last.hash);
            for entry in page {
                match self.store.get(entry.hash).await {
                    Ok(bytes) => {
                        view.entries += 1;
                        view.bytes += bytes.len() as u64;
                    }
                    Err(_) => view.corrupt += 1,
                }
            }
        }
        to_js(&view)
    }

    /// Closes the database connection.
    pub fn close(&self) {
        self.store.close();
    }
}
