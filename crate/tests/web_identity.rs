//! The browser identity store, in real IndexedDB (headless Chromium via
//! wasm-bindgen-test): a key survives reopening; a corrupt one is refused and
//! left in place.
#![cfg(all(target_arch = "wasm32", target_os = "unknown"))]

use idb::{Factory, TransactionMode};
use meganet::platform::{IdentityError, IdentityStore};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn identity_survives_reopening() {
    let store = IdentityStore::new("test-identity-reopen");
    let first = store.load_or_create().await.expect("create");
    let again = IdentityStore::new("test-identity-reopen")
        .load_or_create()
        .await
        .expect("load");
    assert_eq!(first.public().to_peer_id(), again.public().to_peer_id());
    let other = IdentityStore::new("test-identity-other")
        .load_or_create()
        .await
        .expect("create other");
    assert_ne!(first.public().to_peer_id(), other.public().to_peer_id());
}

#[wasm_bindgen_test]
async fn corrupt_identity_is_refused_and_kept() {
    let name = "test-identity-corrupt";
    IdentityStore::new(name)
        .load_or_create()
        .await
        .expect("create");
    overwrite(name, JsValue::from_str("garbage")).await;
    let err = IdentityStore::new(name).load_or_create().await.unwrap_err();
    assert!(matches!(err, IdentityError::Corrupt { .. }), "{err}");
    overwrite(name, js_sys::Uint8Array::from(&[1u8, 2, 3][..]).into()).await;
    let err = IdentityStore::new(name).load_or_create().await.unwrap_err();
    assert!(err.to_string().contains("refusing to overwrite"), "{err}");
    // Still the corrupt bytes: nothing replaced them.
    let db = Factory::new()
        .unwrap()
        .open(name, None)
        .unwrap()
        .await
        .unwrap();
    let tx = db
        .transaction(&["identity"], TransactionMode::ReadOnly)
        .unwrap();
    let value = tx
        .object_store("identity")
        .unwrap()
        .get(JsValue::from_str("ed25519"))
        .unwrap()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(js_sys::Uint8Array::new(&value).to_vec(), vec![1, 2, 3]);
    db.close();
}

async fn overwrite(db_name: &str, value: JsValue) {
    let db = Factory::new()
        .unwrap()
        .open(db_name, None)
        .unwrap()
        .await
        .unwrap();
    let tx = db
        .transaction(&["identity"], TransactionMode::ReadWrite)
        .unwrap();
    tx.object_store("identity")
        .unwrap()
        .put(&value, Some(&JsValue::from_str("ed25519")))
        .unwrap()
        .await
        .unwrap();
    tx.commit().unwrap().await.unwrap();
    db.close();
}
