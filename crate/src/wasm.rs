//! The JavaScript boundary: every `#[wasm_bindgen]` item, and every
//! conversion between JavaScript values and the crate's Rust types, lives
//! here. Below it the peer, the gateway, the store and the policy are Rust
//! APIs that native code and tests can drive.
//!
//! - [`peer`]: the `Peer` class over [`crate::peer::Peer`];
//! - [`gateway`]: `gatewayOpen`, the service worker's entry;
//! - [`local_store`]: the `LocalStore` class (settings view, tests);
//! - [`policy`]: `decideContribution`, `defaultQuotaBytes`;
//! - [`site`]: `parseSite`, `siteType`: a site's directory document;
//! - [`error`]: every rejection is an `Error` with a stable `code`.
//!
//! Option and result objects go through serde-wasm-bindgen
//! ([`from_js`], [`to_js`]).

mod error;
pub mod gateway;
pub mod local_store;
pub mod peer;
pub mod policy;
pub mod site;

pub use error::{error, internal, invalid};

use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::JsValue;

/// A Rust value as a plain JavaScript value: maps (and flattened structs)
/// become ordinary objects, not `Map`s, so pages read fields directly.
pub fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true))
        .map_err(|e| internal(&format!("cannot return the result: {e}")))
}

/// An options object (`undefined` and `null` give the defaults); a value
/// of the wrong shape is `invalid-argument`, naming `what`.
pub fn from_js<T: DeserializeOwned + Default>(value: JsValue, what: &str) -> Result<T, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(T::default());
    }
    serde_wasm_bindgen::from_value(value).map_err(|e| invalid(&format!("invalid {what}: {e}")))
}
