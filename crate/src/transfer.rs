//! The transfer engine: one getter and one putter for every place a file
//! moves from or to. The tab (browsers and the node over libp2p), the
//! service worker's gateway (its own IndexedDB, then the tab) and the CLI
//! (one node) each implement [`ShardSource`] and [`ShardSink`]; the
//! window, read-ahead, ranges, holder rotation, retries and placement are
//! decided here once, and tested here with in-memory sources.
//!
//! Layering: above `format` (encode, verify, decode), `store` and `hash`;
//! below `peer`, `gateway`, `client` and `node`. Compiles natively and for
//! wasm32; its only platform need is a timer (`crate::platform::sleep`).

pub mod ahead;
pub mod check;
mod demoted;
mod error;
mod fetcher;
mod get;
mod place;
mod progress;
mod put;
mod renew;
pub mod repair;
mod retry;
pub mod rotation;
mod source;
// Native only: the tests run on tokio's clock.
#[cfg(all(test, not(wasm_browser)))]
mod tests;

pub use check::{check, Auditor, Health, HolderHealth};
pub use error::{Result, TransferError};
pub use fetcher::{Fetched, Fetcher, Verdict};
pub use get::{open_manifest, Config, Getter};
pub use progress::{OnProgress, Progress, Stage, Tally};
pub use put::{put, Early, Input};
pub use renew::{renew, Renewal};
pub use repair::{repair, Memory, Policy, Repaired, Standing};
pub use retry::Retries;
pub use source::{Answers, HolderId, Reach, ShardSink, ShardSource};
