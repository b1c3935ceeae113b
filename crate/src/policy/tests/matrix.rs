//! Every combination of representative inputs, checked against the
//! invariants the policy promises.

use std::collections::BTreeSet;

use super::*;

/// Every combination: 2 x 2 x 3 x 4 x 5 x 3 x 3 x 3 = 6 480 cases.
fn matrix() -> Vec<Signals> {
    let mut all = Vec::new();
    for opted_in in [false, true] {
        for visibility in [Visibility::Visible, Visibility::Hidden] {
            for idle in [None, Some(false), Some(true)] {
                for battery in batteries() {
                    for network in networks() {
                        for storage_estimate in estimates() {
                            for persisted in [None, Some(false), Some(true)] {
                                // Under the quota, at it, and a quota of 0.
                                for (quota_bytes, used) in
                                    [(QUOTA, QUOTA / 2), (QUOTA, QUOTA), (0, 0)]
                                {
                                    all.push(Signals {
                                        opted_in,
                                        quota_bytes,
                                        used_contributed_bytes: used,
                                        visibility,
                                        idle,
                                        battery,
                                        network,
                                        storage_estimate,
                                        persisted,
                                    });
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    all
}

#[test]
fn invariants_hold_over_the_whole_matrix() {
    let all = matrix();
    assert_eq!(all.len(), 6_480);
    // The matrix must reach every outcome, cap and reason.
    let (mut outcomes, mut caps, mut seen_codes) =
        (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for s in &all {
        let d = decide(s);
        outcomes.insert((d.accept_new_shards, d.run_background_work));
        caps.insert(d.bandwidth_cap_bytes_per_sec);
        seen_codes.extend(codes(&d));
        let ctx = format!("{s:?} -> {d:?}");
        let net = s.network.unwrap_or(Network {
            save_data: false,
            metered_or_cellular: false,
            effective_type: EffectiveType::G4,
        });
        let discharging = s.battery.is_some_and(|b| !b.charging);
        let in_use = s.visibility == Visibility::Visible && s.idle != Some(true);

        if d.accept_new_shards {
            assert!(s.opted_in, "{ctx}");
            assert!(!net.save_data && !net.metered_or_cellular, "{ctx}");
            assert!(!net.effective_type.is_slow(), "{ctx}");
            assert!(!in_use, "{ctx}");
            assert!(
                s.battery.is_none_or(|b| b.charging || b.level > 0.5),
                "{ctx}"
            );
            assert!(s.used_contributed_bytes < d.effective_quota_bytes, "{ctx}");
        }
        assert!(d.effective_quota_bytes <= s.quota_bytes, "{ctx}");
        assert_eq!(d.serve_requests, s.opted_in, "{ctx}");
        assert_eq!(d.bandwidth_cap_bytes_per_sec > 0, d.serve_requests, "{ctx}");
        assert!(d.bandwidth_cap_bytes_per_sec <= FULL_CAP, "{ctx}");
        if d.run_background_work {
            assert!(d.accept_new_shards || s.used_contributed_bytes >= d.effective_quota_bytes);
            assert!(!discharging, "{ctx}");
        }
        // The full cap exactly when idle (or hidden) on power and an
        // unmetered, fast link.
        let unhindered = s.opted_in
            && !in_use
            && !discharging
            && s.network.is_none_or(|n| {
                !n.save_data && !n.metered_or_cellular && !n.effective_type.is_slow()
            });
        assert_eq!(
            d.bandwidth_cap_bytes_per_sec == FULL_CAP,
            unhindered,
            "{ctx}"
        );
        if net.save_data || net.effective_type.is_slow() {
            assert!(d.bandwidth_cap_bytes_per_sec <= TRICKLE_CAP, "{ctx}");
        }
        if net.metered_or_cellular {
            assert!(d.bandwidth_cap_bytes_per_sec <= METERED_CAP, "{ctx}");
        }

        // Every "no" is explained by a reason that says so.
        let any = |f: fn(&Reason) -> bool| d.reasons.iter().any(f);
        assert_eq!(!d.accept_new_shards, any(Reason::pauses_new_data), "{ctx}");
        assert_eq!(
            !d.run_background_work,
            any(Reason::pauses_background),
            "{ctx}"
        );
        assert_eq!(!d.serve_requests, any(Reason::stops_serving), "{ctx}");
        if d.serve_requests && d.bandwidth_cap_bytes_per_sec < FULL_CAP {
            assert!(any(|r| r.serving_cap().is_some()), "{ctx}");
        }
        // Assumptions are stated.
        if s.opted_in {
            assert_eq!(s.battery.is_none(), any(|r| *r == Reason::BatteryUnknown));
            assert_eq!(s.network.is_none(), any(|r| *r == Reason::NetworkUnknown));
            assert_eq!(
                s.storage_estimate.is_none(),
                any(|r| *r == Reason::StorageUnknown)
            );
        }
        // Limiting reasons first, then informative ones.
        let first_info = d.reasons.iter().position(Reason::is_informative);
        if let Some(i) = first_info {
            assert!(d.reasons[i..].iter().all(Reason::is_informative), "{ctx}");
        }
        for r in &d.reasons {
            assert_plain_language(r);
        }
    }
    assert_eq!(outcomes.len(), 4, "{outcomes:?}");
    let all_caps = [0, TRICKLE_CAP, METERED_CAP, BUSY_CAP, FULL_CAP];
    assert_eq!(caps, BTreeSet::from(all_caps));
    assert_eq!(seen_codes.len(), 15, "{seen_codes:?}");
}

fn assert_plain_language(r: &Reason) {
    let m = r.message();
    assert!(!m.is_empty(), "{r:?}");
    assert!(m.len() < 100, "{r:?}: {m}");
    assert!(
        !m.contains("Some(") && !m.contains('{') && !m.contains('_'),
        "{m}"
    );
    assert!(
        m.chars().next().is_some_and(|c| c.is_ascii_lowercase()),
        "{m}"
    );
    let code = r.code();
    assert!(!code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '-'));
}
