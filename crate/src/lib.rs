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
//! what the fuzz targets build against, plus the pure wire codecs they
//! decode: the block protocol's message bodies ([`net::block`]), the WebRTC
//! signaling messages ([`webrtc::signal`]) and the WebRTC stream frames
//! ([`webrtc::stream::message`]), at the same paths as with `net`.

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
/// Without `net`: only the block protocol's message codec (bytes in, value
/// out), for the fuzz targets.
#[cfg(not(feature = "net"))]
pub mod net {
    pub mod block;
    pub mod ticket;
}
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
/// Without `net`: only the signaling messages and the stream frames (bytes
/// in, value out), for the fuzz targets.
#[cfg(not(feature = "net"))]
pub mod webrtc {
    pub mod signal;
    pub mod stream {
        pub mod message;
    }
    mod varint;
}
