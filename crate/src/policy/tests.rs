//! The policy's tests: over the cartesian product of representative values
//! of every input against its invariants (`matrix`), and explicit cases
//! (`table`). Shared fixtures live here.

mod matrix;
mod table;

use super::*;

const GIB: u64 = 1 << 30;
const QUOTA: u64 = GIB;

fn battery(charging: bool, level: f64) -> Option<Battery> {
    Some(Battery { charging, level })
}

/// Absent, charging at 10 %, discharging at 80 % and at 20 %.
fn batteries() -> [Option<Battery>; 4] {
    [
        None,
        battery(true, 0.1),
        battery(false, 0.8),
        battery(false, 0.2),
    ]
}

/// Absent, wifi, data saver, cellular, 2g.
fn networks() -> [Option<Network>; 5] {
    let net = |save_data, metered_or_cellular, effective_type| {
        Some(Network {
            save_data,
            metered_or_cellular,
            effective_type,
        })
    };
    [
        None,
        net(false, false, EffectiveType::G4),
        net(true, false, EffectiveType::G4),
        net(false, true, EffectiveType::G3),
        net(false, false, EffectiveType::G2),
    ]
}

fn estimate(quota: u64, usage: u64) -> Option<StorageEstimate> {
    Some(StorageEstimate { quota, usage })
}

/// Absent, plenty, and 10 MiB left (a share of it is far below what the
/// matrix holds).
fn estimates() -> [Option<StorageEstimate>; 3] {
    [
        None,
        estimate(100 * GIB, GIB),
        estimate(10 * GIB, 10 * GIB - (10 << 20)),
    ]
}

/// Hidden, charging, on wifi, storage plenty and persisted: everything on.
fn ideal() -> Signals {
    Signals {
        opted_in: true,
        quota_bytes: QUOTA,
        used_contributed_bytes: 0,
        visibility: Visibility::Hidden,
        idle: Some(true),
        battery: battery(true, 1.0),
        network: networks()[1],
        storage_estimate: estimates()[1],
        persisted: Some(true),
    }
}

fn codes(d: &Decision) -> Vec<&'static str> {
    d.reasons.iter().map(Reason::code).collect()
}
