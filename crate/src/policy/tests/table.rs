//! Explicit cases: the decision table row by row, the effective quota,
//! messages, and the shape the page sends.

use super::*;

#[test]
fn table_cases() {
    struct Case {
        name: &'static str,
        change: fn(&mut Signals),
        accept: bool,
        background: bool,
        cap: u64,
        codes: &'static [&'static str],
    }
    #[rustfmt::skip]
    let cases = [
        Case { name: "ideal", change: |_| {}, accept: true, background: true, cap: FULL_CAP, codes: &[] },
        Case { name: "not opted in", change: |s| s.opted_in = false, accept: false, background: false, cap: 0, codes: &["not-opted-in"] },
        Case { name: "tab in use", change: |s| { s.visibility = Visibility::Visible; s.idle = Some(false) }, accept: false, background: false, cap: BUSY_CAP, codes: &["tab-in-use"] },
        Case { name: "visible, idle", change: |s| s.visibility = Visibility::Visible, accept: true, background: true, cap: FULL_CAP, codes: &[] },
        Case { name: "visible, unknown", change: |s| { s.visibility = Visibility::Visible; s.idle = None }, accept: false, background: false, cap: BUSY_CAP, codes: &["idle-unknown"] },
        Case { name: "battery 80%", change: |s| s.battery = batteries()[2], accept: true, background: false, cap: BATTERY_CAP, codes: &["on-battery"] },
        Case { name: "battery 23%", change: |s| s.battery = battery(false, 0.23), accept: false, background: false, cap: BATTERY_CAP, codes: &["battery-low"] },
        Case { name: "battery 20%", change: |s| s.battery = batteries()[3], accept: false, background: false, cap: TRICKLE_CAP, codes: &["battery-low"] },
        Case { name: "charging 10%", change: |s| s.battery = batteries()[1], accept: true, background: true, cap: FULL_CAP, codes: &[] },
        Case { name: "firefox", change: |s| { s.battery = None; s.network = None }, accept: true, background: true, cap: FULL_CAP, codes: &["battery-unknown", "network-unknown"] },
        Case { name: "save data", change: |s| s.network = networks()[2], accept: false, background: false, cap: TRICKLE_CAP, codes: &["save-data"] },
        Case { name: "cellular", change: |s| s.network = networks()[3], accept: false, background: false, cap: METERED_CAP, codes: &["metered"] },
        Case { name: "2g", change: |s| s.network = networks()[4], accept: false, background: false, cap: TRICKLE_CAP, codes: &["slow-network"] },
        Case { name: "at quota", change: |s| s.used_contributed_bytes = QUOTA, accept: false, background: true, cap: FULL_CAP, codes: &["storage-full"] },
        Case { name: "no quota", change: |s| s.quota_bytes = 0, accept: false, background: true, cap: FULL_CAP, codes: &["no-quota"] },
        Case { name: "disk nearly full", change: |s| s.storage_estimate = estimates()[2], accept: true, background: true, cap: FULL_CAP, codes: &["storage-limited"] },
        Case { name: "no estimate", change: |s| s.storage_estimate = None, accept: true, background: true, cap: FULL_CAP, codes: &["storage-unknown"] },
        Case { name: "not persisted", change: |s| s.persisted = Some(false), accept: true, background: true, cap: FULL_CAP, codes: &["not-persisted"] },
        Case { name: "cellular on battery, in use", change: |s| { s.network = networks()[3]; s.battery = batteries()[2]; s.visibility = Visibility::Visible; s.idle = Some(false) }, accept: false, background: false, cap: METERED_CAP, codes: &["tab-in-use", "on-battery", "metered"] },
    ];
    for c in cases {
        let mut s = ideal();
        (c.change)(&mut s);
        let d = decide(&s);
        assert_eq!(d.accept_new_shards, c.accept, "{}: {d:?}", c.name);
        assert_eq!(d.run_background_work, c.background, "{}: {d:?}", c.name);
        assert_eq!(d.bandwidth_cap_bytes_per_sec, c.cap, "{}: {d:?}", c.name);
        assert_eq!(codes(&d), c.codes, "{}", c.name);
    }
}

#[test]
fn the_effective_quota_is_a_share_of_what_is_left_and_does_not_creep() {
    let mut s = ideal();
    s.quota_bytes = 100 * GIB;
    s.storage_estimate = estimate(50 * GIB, 10 * GIB);
    assert_eq!(decide(&s).effective_quota_bytes, 20 * GIB);
    // Holding 5 GiB more for others changes nothing.
    s.used_contributed_bytes = 5 * GIB;
    s.storage_estimate = estimate(50 * GIB, 15 * GIB);
    assert_eq!(decide(&s).effective_quota_bytes, 20 * GIB);
    s.persisted = None;
    assert_eq!(decide(&s).effective_quota_bytes, (40 * GIB) / 4);
    // A lagging estimate never yields more than the browser's quota.
    s.storage_estimate = estimate(GIB, 0);
    s.used_contributed_bytes = 10 * GIB;
    assert_eq!(decide(&s).effective_quota_bytes, GIB / 4);
}

#[test]
fn messages_read_as_specified() {
    let mut s = ideal();
    s.battery = battery(false, 0.23);
    s.network = networks()[2];
    let d = decide(&s);
    let messages: Vec<String> = d.reasons.iter().map(Reason::message).collect();
    assert_eq!(
        messages,
        ["paused: on battery (23%)", "paused: data saver is on"]
    );
    s.battery = None;
    s.opted_in = true;
    s.used_contributed_bytes = QUOTA;
    let d = decide(&s);
    assert!(d.reasons.contains(&Reason::StorageFull {
        used: QUOTA,
        limit: QUOTA
    }));
    assert_eq!(
        Reason::StorageFull {
            used: QUOTA,
            limit: QUOTA
        }
        .message(),
        "storage full: holding 1.0 GiB of 1.0 GiB"
    );
    assert_eq!(
        Reason::BatteryUnknown.message(),
        "battery status unknown: assuming plugged in"
    );
}

#[test]
fn odd_battery_levels_are_clamped() {
    let level = |level| {
        Battery {
            charging: false,
            level,
        }
        .percent()
    };
    assert_eq!(level(f64::NAN), 0);
    assert_eq!(level(-1.0), 0);
    assert_eq!(level(7.0), 100);
    assert_eq!(level(0.505), 51);
}

#[test]
fn signals_read_the_shape_the_page_sends() {
    let json = r#"{"optedIn":true,"quotaBytes":1073741824,"usedContributedBytes":0,
        "visibility":"hidden","idle":null,"battery":null,
        "network":{"saveData":false,"meteredOrCellular":false,"effectiveType":"slow-2g"},
        "storageEstimate":{"quota":100,"usage":5},"persisted":false}"#;
    let s: Signals = serde_json::from_str(json).unwrap();
    assert_eq!(s.network.unwrap().effective_type, EffectiveType::Slow2g);
    assert_eq!(s.visibility, Visibility::Hidden);
    // Absent fields are unknown, as if the page sent null.
    let s: Signals = serde_json::from_str(
        r#"{"optedIn":false,"quotaBytes":0,"usedContributedBytes":0,"visibility":"visible"}"#,
    )
    .unwrap();
    assert_eq!(
        (s.idle, s.battery, s.network, s.persisted),
        (None, None, None, None)
    );
    let d = serde_json::to_value(decide(&s)).unwrap();
    assert_eq!(
        d,
        serde_json::json!({
            "acceptNewShards": false, "serveRequests": false, "bandwidthCapBytesPerSec": 0,
            "runBackgroundWork": false, "effectiveQuotaBytes": 0,
            "reasons": [{"code": "not-opted-in", "message": Reason::NotOptedIn.message(), "pausesNewData": true}],
        })
    );
}
