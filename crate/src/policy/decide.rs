//! [`decide`]: collects the reasons that hold, then derives every output
//! from them, so each limitation is always explained.

use serde::Serialize;

use super::{
    Reason, Signals, StorageEstimate, Visibility, FREE_DIVISOR_BEST_EFFORT, FREE_DIVISOR_PERSISTED,
    FULL_CAP, MIN_BATTERY_PERCENT,
};

/// What this peer contributes right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// Take on new shards from others.
    pub accept_new_shards: bool,
    /// Answer requests for shards already held.
    pub serve_requests: bool,
    /// Upper bound on serving, bytes per second; 0 when not serving.
    pub bandwidth_cap_bytes_per_sec: u64,
    /// Run repair and other work nobody is waiting for.
    pub run_background_work: bool,
    /// The most bytes of others' data to hold: the quota, lowered by the
    /// browser's free space; 0 when not opted in.
    pub effective_quota_bytes: u64,
    /// Every condition that shaped this decision; limiting ones first.
    pub reasons: Vec<Reason>,
}

/// Decides from `signals`; see the module docs for the defaults.
pub fn decide(signals: &Signals) -> Decision {
    if !signals.opted_in {
        return Decision {
            accept_new_shards: false,
            serve_requests: false,
            bandwidth_cap_bytes_per_sec: 0,
            run_background_work: false,
            effective_quota_bytes: 0,
            reasons: vec![Reason::NotOptedIn],
        };
    }
    let mut reasons = Vec::new();

    if signals.visibility == Visibility::Visible {
        match signals.idle {
            Some(true) => {}
            Some(false) => reasons.push(Reason::TabInUse),
            None => reasons.push(Reason::IdleUnknown),
        }
    }

    match signals.battery {
        None => reasons.push(Reason::BatteryUnknown),
        Some(battery) if battery.charging => {}
        Some(battery) => {
            let percent = battery.percent();
            reasons.push(if percent > MIN_BATTERY_PERCENT {
                Reason::OnBattery { percent }
            } else {
                Reason::BatteryLow { percent }
            });
        }
    }

    match signals.network {
        None => reasons.push(Reason::NetworkUnknown),
        Some(network) => {
            if network.save_data {
                reasons.push(Reason::SaveData);
            }
            if network.metered_or_cellular {
                reasons.push(Reason::Metered);
            }
            if network.effective_type.is_slow() {
                reasons.push(Reason::SlowNetwork {
                    effective_type: network.effective_type,
                });
            }
        }
    }

    let limit = effective_quota(signals, &mut reasons);
    if signals.quota_bytes == 0 {
        reasons.push(Reason::NoQuota);
    } else if signals.used_contributed_bytes >= limit {
        reasons.push(Reason::StorageFull {
            used: signals.used_contributed_bytes,
            limit,
        });
    }

    // Stable: limiting reasons keep their order and come first.
    reasons.sort_by_key(Reason::is_informative);
    Decision {
        accept_new_shards: !reasons.iter().any(Reason::pauses_new_data),
        serve_requests: true,
        bandwidth_cap_bytes_per_sec: reasons
            .iter()
            .filter_map(Reason::serving_cap)
            .fold(FULL_CAP, u64::min),
        run_background_work: !reasons.iter().any(Reason::pauses_background),
        effective_quota_bytes: limit,
        reasons,
    }
}

/// The quota, lowered to a share of the space left to contribution.
fn effective_quota(signals: &Signals, reasons: &mut Vec<Reason>) -> u64 {
    let Some(StorageEstimate { quota, usage }) = signals.storage_estimate else {
        reasons.push(Reason::StorageUnknown);
        return signals.quota_bytes;
    };
    let divisor = if signals.persisted == Some(true) {
        FREE_DIVISOR_PERSISTED
    } else {
        reasons.push(Reason::NotPersisted);
        FREE_DIVISOR_BEST_EFFORT
    };
    // `usage` includes what is held for others: counting it back in keeps
    // the limit from creeping as the store fills. Estimates are rounded and
    // may lag, hence the clamp to the browser's quota.
    let available = quota
        .saturating_sub(usage)
        .saturating_add(signals.used_contributed_bytes)
        .min(quota);
    let from_estimate = available / divisor;
    if from_estimate < signals.quota_bytes {
        reasons.push(Reason::StorageLimited {
            limit: from_estimate,
        });
        from_estimate
    } else {
        signals.quota_bytes
    }
}
