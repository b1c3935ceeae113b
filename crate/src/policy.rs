//! Contribution policy: from what the browser reports (opt-in, quota, tab
//! visibility and activity, battery, connection, free storage) to what this
//! peer contributes right now, and why. Pure: no I/O, no clock, no
//! `web-sys`; the page gathers the signals (`www/signals.js`) and the wasm
//! binding hands them to [`decide`].
//!
//! # Defaults
//!
//! Each condition that holds adds one [`Reason`]; the decision follows from
//! the reasons alone:
//!
//! | Condition | Reason code | New data | Serving cap | Background |
//! |---|---|---|---|---|
//! | not opted in | `not-opted-in` | no | not served | no |
//! | quota is 0 | `no-quota` | no | - | - |
//! | contributed bytes at or over the effective quota | `storage-full` | no | - | - |
//! | tab visible, input in the last minute | `tab-in-use` | no | [`BUSY_CAP`] | no |
//! | tab visible, activity unknown | `idle-unknown` | no | [`BUSY_CAP`] | no |
//! | discharging above [`MIN_BATTERY_PERCENT`] | `on-battery` | - | [`BATTERY_CAP`] | no |
//! | discharging at or below it | `battery-low` | no | [`BATTERY_CAP`], [`TRICKLE_CAP`] at or below [`LOW_BATTERY_PERCENT`] | no |
//! | data saver on | `save-data` | no | [`TRICKLE_CAP`] | no |
//! | cellular or metered | `metered` | no | [`METERED_CAP`] | no |
//! | effective type `slow-2g` or `2g` | `slow-network` | no | [`TRICKLE_CAP`] | no |
//! | Battery Status API absent | `battery-unknown` | - | - | - |
//! | Network Information API absent | `network-unknown` | - | - | - |
//! | no storage estimate | `storage-unknown` | - | - | - |
//! | estimate lowers the quota | `storage-limited` | - | - | - |
//! | storage not persisted (estimate known) | `not-persisted` | - | - | - |
//!
//! A dash means "no effect". With no limiting reason an opted-in peer serves
//! at [`FULL_CAP`]; otherwise at the lowest cap any reason sets.
//!
//! Why these defaults:
//!
//! - **Serving is always on when opted in.** Shards this peer already holds
//!   are only useful if they can be fetched; a peer that stops answering
//!   whenever its tab is in use would make the data it holds unreachable
//!   most of the day. The caps keep serving from being felt instead.
//! - **New data and background work (repair) wait.** They cost bandwidth,
//!   CPU and disk writes the user did not ask for, so they wait for a tab
//!   that is hidden or idle, power, and an unmetered, fast-enough link.
//!   New data may still arrive on a battery above [`MIN_BATTERY_PERCENT`];
//!   repair, which decodes and re-encodes whole segments, waits for a
//!   charger.
//! - **Absent APIs degrade to the permissive side, and say so.** Firefox and
//!   Safari expose neither the Battery Status nor the Network Information
//!   API; treating "unknown" as "on battery, metered" would mean those
//!   browsers never contribute. Desktops are the common case there; the
//!   reason tells the user what was assumed.
//! - **Idleness unknown on a visible tab counts as in use**: guessing wrong
//!   the other way would compete with what the user is looking at.
//! - **The effective quota** is the lower of the user's quota and a share
//!   of the space left to contribution (the estimate's free space plus what
//!   this peer already holds for others, so the limit does not creep as it
//!   fills): a half ([`FREE_DIVISOR_PERSISTED`]) when storage is persisted,
//!   a quarter ([`FREE_DIVISOR_BEST_EFFORT`]) otherwise, because the browser clears
//!   non-persisted storage under pressure, taking the user's own data with
//!   it. The policy never evicts; the effective quota only stops new data.
//!
//! [`TokenBucket`] enforces the cap on the serving side.

mod allowance;
mod bucket;
mod decide;
mod reason;
mod signals;
#[cfg(test)]
mod tests;

pub use allowance::Allowance;
pub use bucket::{TokenBucket, WaitMs};
pub use decide::{decide, Decision};
pub use reason::Reason;
pub use signals::{Battery, EffectiveType, Network, Signals, StorageEstimate, Visibility};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// Serving cap when hidden or idle and plugged in: one largest shard
/// ([`crate::store::MAX_SHARD`]) per second, about 34 Mbit/s, below most
/// broadband uplinks while nobody is using the tab.
pub const FULL_CAP: u64 = 4 * MIB;
/// Serving cap while the tab is in use: about 8 Mbit/s, leaves a typical
/// uplink free for a video call.
pub const BUSY_CAP: u64 = MIB;
/// Serving cap on battery: radio time costs energy in proportion to the
/// bytes sent, so a quarter of the full cap.
pub const BATTERY_CAP: u64 = MIB;
/// Serving cap on a cellular or metered link: about 2 Mbit/s, a ceiling for
/// the occasional request, not a sustained rate.
pub const METERED_CAP: u64 = 256 * KIB;
/// Serving cap with data saver, on a 2g-class link, or on a nearly empty
/// battery: requesters choose the fastest `k` of `n` holders, so a peer this
/// slow is only a last resort, yet what it holds stays reachable.
pub const TRICKLE_CAP: u64 = 32 * KIB;
/// Discharging above this many percent, new data is still accepted.
pub const MIN_BATTERY_PERCENT: u8 = 50;
/// Discharging at or below this many percent (where operating systems
/// switch to battery saver), serving drops to [`TRICKLE_CAP`].
pub const LOW_BATTERY_PERCENT: u8 = 20;
/// With persisted storage: at most 1/2 of the space left to contribution.
pub const FREE_DIVISOR_PERSISTED: u64 = 2;
/// Without (or not knowing about) persisted storage: at most 1/4.
pub const FREE_DIVISOR_BEST_EFFORT: u64 = 4;
/// No pointer or keyboard input for this long makes a visible tab idle
/// (`www/signals.js` measures it).
pub const IDLE_AFTER_MS: u64 = 60_000;
