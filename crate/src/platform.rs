//! The one seam between the browser and native builds.
//!
//! `web.rs` and `native.rs` export the same names (`spawn`, `sleep`,
//! `encode_workers`, `IdentityStore`); code elsewhere uses `crate::platform::...` and never
//! checks the target itself.

#[cfg(not(wasm_browser))]
mod native;
#[cfg(not(wasm_browser))]
pub use native::*;

#[cfg(wasm_browser)]
mod web;
#[cfg(wasm_browser)]
pub use web::*;

/// Errors from loading or saving the peer's identity.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The stored key exists but cannot be decoded. It is left untouched.
    #[error("identity key {location} is corrupt ({reason}); refusing to overwrite it: move it away to create a new identity")]
    Corrupt { location: String, reason: String },
    /// The key could not be read or written.
    #[error("cannot access identity key {location}: {reason}")]
    Io { location: String, reason: String },
}
