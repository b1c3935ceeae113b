//! meganet: an encrypted, erasure-coded storage network whose peers are web
//! browsers.
//!
//! The same crate builds natively (the `meganet` binary: node and CLI) and for
//! `wasm32-unknown-unknown` (the browser peer). Platform differences live in
//! [`platform`] only; everything else is shared or sits behind the
//! `wasm_browser` alias defined in `build.rs`.
//!
//! The `net` feature (on by default) brings in libp2p and everything that
//! talks to the network; without it only the data format remains, which is
//! what the fuzz targets build against.

pub mod audit;
#[cfg(all(feature = "net", not(wasm_browser)))]
pub mod client;
pub mod code;
pub mod format;
#[cfg(all(feature = "net", wasm_browser))]
pub mod gateway;
pub mod hash;
#[cfg(feature = "net")]
pub mod net;
#[cfg(all(feature = "net", not(wasm_browser)))]
pub mod node;
#[cfg(all(feature = "net", wasm_browser))]
pub mod peer;
#[cfg(feature = "net")]
pub mod platform;
pub mod policy;
pub mod shard_cache;
#[cfg(all(feature = "net", not(wasm_browser)))]
pub mod sim;
pub mod store;
#[cfg(all(test, not(wasm_browser)))]
mod temp_dir;
#[cfg(feature = "net")]
pub mod transfer;
#[cfg(all(feature = "net", wasm_browser))]
pub mod wasm;
#[cfg(feature = "net")]
pub mod webrtc;
