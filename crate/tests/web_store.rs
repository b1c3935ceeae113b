//! The chunk store's conformance suite over IndexedDB, in headless Chromium
//! (wasm-bindgen-test), plus what only the browser has: format versions in
//! the database version, entries left incomplete by a closed tab, the
//! storage estimate and `navigator.storage.persist()`.
#![cfg(all(target_arch = "wasm32", target_os = "unknown"))]

use idb::{Factory, TransactionMode};
use meganet::store::conformance::{self, shard};
use meganet::store::{Class, Config, Store, StoreError, FORMAT_VERSION};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

async fn delete_db(name: &str) {
    let _ = Factory::new().unwrap().delete(name).unwrap().await;
}

#[wasm_bindgen_test]
async fn idb_conformance() {
    let mut n = 0;
    conformance::run_all(|quota| {
        n += 1;
        let name = format!("test-store-conformance-{n}");
        async move {
            delete_db(&name).await;
            Store::open_idb(&name, Config { quota }).await.unwrap()
        }
    })
    .await;
}

#[wasm_bindgen_test]
async fn idb_reopen_keeps_data() {
    let name = "test-store-reopen";
    delete_db(name).await;
    conformance::reopen_keeps_data(|| Store::open_idb(name, Config::default())).await;
}

#[wasm_bindgen_test]
async fn idb_refuses_newer_format() {
    let name = "test-store-newer";
    delete_db(name).await;
    let db = Factory::new()
        .unwrap()
        .open(name, Some(FORMAT_VERSION + 4))
        .unwrap()
        .await
        .unwrap();
    db.close();
    let err = Store::open_idb(name, Config::default()).await.unwrap_err();
    assert_eq!(
        err,
        StoreError::NewerFormat {
            found: FORMAT_VERSION + 4,
            supported: FORMAT_VERSION
        }
    );
}

#[wasm_bindgen_test]
async fn idb_drops_incomplete_entries_on_open() {
    let name = "test-store-incomplete";
    delete_db(name).await;
    let store = Store::open_idb(name, Config::default()).await.unwrap();
    let (kept, kept_bytes) = shard(1000, 1).into_parts();
    store.put(shard(1000, 1), Class::Own).await.unwrap();
    store.close();
    // A shard without metadata and metadata without a shard: what a torn
    // write would leave if the two were not in one transaction.
    let (lonely, lonely_bytes) = shard(500, 2).into_parts();
    let ghost = shard(600, 3).hash();
    let db = Factory::new()
        .unwrap()
        .open(name, None)
        .unwrap()
        .await
        .unwrap();
    let tx = db
        .transaction(&["shards", "meta"], TransactionMode::ReadWrite)
        .unwrap();
    let value = js_sys::Uint8Array::from(lonely_bytes.as_slice());
    tx.object_store("shards")
        .unwrap()
        .put(&value, Some(&JsValue::from_str(&lonely.to_hex())))
        .unwrap();
    let meta = js_sys::Uint8Array::from(&[0u8; 17][..]);
    tx.object_store("meta")
        .unwrap()
        .put(&meta, Some(&JsValue::from_str(&ghost.to_hex())))
        .unwrap();
    tx.commit().unwrap().await.unwrap();
    db.close();

    let store = Store::open_idb(name, Config::default()).await.unwrap();
    assert_eq!(
        store.has(&[kept, lonely, ghost]).unwrap(),
        vec![true, false, false]
    );
    assert_eq!(store.usage().total(), 1000);
    assert_eq!(store.get(kept).await.unwrap(), kept_bytes);
    store.close();
}

#[wasm_bindgen_test]
async fn idb_quota_is_capped_by_the_estimate_and_persist_answers() {
    let name = "test-store-estimate";
    delete_db(name).await;
    let store = Store::open_idb(name, Config { quota: u64::MAX })
        .await
        .unwrap();
    let usage = store.usage();
    assert!(usage.effective_quota < u64::MAX, "{usage:?}");
    assert!(usage.effective_quota > 0, "{usage:?}");
    // Headless Chromium refuses persistence without the permission; what
    // matters is that the answer comes back.
    let _granted: bool = store.request_persistence().await.unwrap();
    store.close();
}
