//! Browser side of the platform seam: `spawn_local`, timers on the global
//! scope (window or worker alike), and the identity kept in IndexedDB.

use std::time::Duration;

use idb::{Database, DatabaseEvent, Factory, ObjectStoreParams, TransactionMode};
use libp2p::identity::Keypair;
use wasm_bindgen::{JsCast, JsValue};

use super::IdentityError;

/// Runs a future in the background on the page's event loop.
pub fn spawn<F>(future: F)
where
    F: std::future::Future<Output = ()> + 'static,
{
    wasm_bindgen_futures::spawn_local(future);
}

/// Threads the encoder seals segments on: the page has one.
pub fn encode_workers() -> usize {
    1
}

/// Waits for `duration` using `setTimeout` of whatever global scope we run in.
pub async fn sleep(duration: Duration) {
    let millis = i32::try_from(duration.as_millis()).unwrap_or(i32::MAX);
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let global = js_sys::global();
        let set_timeout = js_sys::Reflect::get(&global, &JsValue::from_str("setTimeout"))
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        match set_timeout {
            Some(f) => {
                let _ = f.call2(&global, &resolve, &JsValue::from(millis));
            }
            // No timer available: resolve at once rather than hang forever.
            None => {
                let _ = resolve.call0(&JsValue::NULL);
            }
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Whether this browser can make WebRTC connections: `RTCPeerConnection`
/// exists on the global scope (feature-detected; WebKitGTK and browsers
/// with WebRTC turned off by policy have none).
pub fn has_webrtc() -> bool {
    js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("RTCPeerConnection"))
        .is_ok_and(|constructor| constructor.is_function())
}

/// Keeps the browser peer's identity in IndexedDB, so a reload keeps the
/// same peer id.
#[derive(Debug, Clone)]
pub struct IdentityStore {
    db_name: String,
}

const STORE: &str = "identity";
const KEY: &str = "ed25519";

impl IdentityStore {
    /// The database the app uses.
    pub const DEFAULT_DB: &'static str = "meganet-identity";

    /// A store backed by the IndexedDB database `db_name`.
    pub fn new(db_name: &str) -> Self {
        Self {
            db_name: db_name.to_owned(),
        }
    }

    fn io(&self, e: impl std::fmt::Display) -> IdentityError {
        IdentityError::Io {
            location: format!("IndexedDB {}", self.db_name),
            reason: e.to_string(),
        }
    }

    async fn open(&self) -> Result<Database, IdentityError> {
        let factory = Factory::new().map_err(|e| self.io(e))?;
        let mut request = factory
            .open(&self.db_name, Some(1))
            .map_err(|e| self.io(e))?;
        request.on_upgrade_needed(|event| {
            if let Ok(db) = event.database() {
                if !db.store_names().iter().any(|n| n == STORE) {
                    let _ = db.create_object_store(STORE, ObjectStoreParams::new());
                }
            }
        });
        request.await.map_err(|e| self.io(e))
    }

    /// Loads the identity, or creates and saves a new one when none exists.
    /// A stored value that does not decode is an error and is never replaced.
    pub async fn load_or_create(&self) -> Result<Keypair, IdentityError> {
        let db = self.open().await?;
        let result = self.load_or_create_in(&db).await;
        db.close();
        result
    }

    async fn load_or_create_in(&self, db: &Database) -> Result<Keypair, IdentityError> {
        // One read-write transaction for read-then-create, so two tabs
        // starting at once cannot both create a key.
        let tx = db
            .transaction(&[STORE], TransactionMode::ReadWrite)
            .map_err(|e| self.io(e))?;
        let store = tx.object_store(STORE).map_err(|e| self.io(e))?;
        let key = JsValue::from_str(KEY);
        let existing = store
            .get(key.clone())
            .map_err(|e| self.io(e))?
            .await
            .map_err(|e| self.io(e))?;
        if let Some(value) = existing {
            let bytes = value
                .dyn_into::<js_sys::Uint8Array>()
                .map_err(|_| IdentityError::Corrupt {
                    location: format!("IndexedDB {}", self.db_name),
                    reason: "stored key is not a byte array".into(),
                })?
                .to_vec();
            let _ = tx.await;
            return Keypair::from_protobuf_encoding(&bytes).map_err(|e| IdentityError::Corrupt {
                location: format!("IndexedDB {}", self.db_name),
                reason: e.to_string(),
            });
        }
        let keypair = Keypair::generate_ed25519();
        let bytes = keypair.to_protobuf_encoding().map_err(|e| self.io(e))?;
        let value = js_sys::Uint8Array::from(bytes.as_slice());
        store
            .add(&value, Some(&key))
            .map_err(|e| self.io(e))?
            .await
            .map_err(|e| self.io(e))?;
        tx.commit()
            .map_err(|e| self.io(e))?
            .await
            .map_err(|e| self.io(e))?;
        Ok(keypair)
    }
}
