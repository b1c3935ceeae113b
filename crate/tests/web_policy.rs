//! `decideContribution` across the wasm boundary (headless Chromium via
//! wasm-bindgen-test): the object `www/signals.js` builds goes in, a plain
//! object with `reasons: [{code, message}]` comes out.
#![cfg(all(target_arch = "wasm32", target_os = "unknown"))]

use meganet::policy::{FULL_CAP, TRICKLE_CAP};
use meganet::wasm::policy::decide_js;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn parse(json: &str) -> JsValue {
    js_sys::JSON::parse(json).expect("test JSON")
}

fn stringify(value: &JsValue) -> String {
    js_sys::JSON::stringify(value)
        .expect("a plain object")
        .into()
}

#[wasm_bindgen_test]
fn a_firefox_like_page_contributes_and_says_what_it_assumed() {
    let signals = parse(
        r#"{"optedIn":true,"quotaBytes":1073741824,"usedContributedBytes":0,
            "visibility":"hidden","idle":null,"battery":null,"network":null,
            "storageEstimate":{"quota":107374182400,"usage":1073741824},"persisted":true}"#,
    );
    let decision = decide_js(signals).expect("valid signals");
    assert_eq!(
        stringify(&decision),
        format!(
            concat!(
                r#"{{"acceptNewShards":true,"serveRequests":true,"bandwidthCapBytesPerSec":{},"#,
                r#""runBackgroundWork":true,"effectiveQuotaBytes":1073741824,"reasons":["#,
                r#"{{"code":"battery-unknown","message":"battery status unknown: assuming plugged in","pausesNewData":false}},"#,
                r#"{{"code":"network-unknown","message":"connection type unknown: assuming unmetered","pausesNewData":false}}]}}"#
            ),
            FULL_CAP
        )
    );
}

#[wasm_bindgen_test]
fn data_saver_pauses_new_data_and_trickles() {
    let signals = parse(
        r#"{"optedIn":true,"quotaBytes":1000,"usedContributedBytes":0,"visibility":"visible",
            "idle":true,"battery":{"charging":false,"level":0.23},
            "network":{"saveData":true,"meteredOrCellular":false,"effectiveType":"4g"},
            "storageEstimate":null,"persisted":null}"#,
    );
    let decision = decide_js(signals).expect("valid signals");
    let get = |key: &str| js_sys::Reflect::get(&decision, &key.into()).unwrap();
    assert_eq!(get("acceptNewShards").as_bool(), Some(false));
    assert_eq!(
        get("bandwidthCapBytesPerSec").as_f64(),
        Some(TRICKLE_CAP as f64)
    );
    let reasons = stringify(&get("reasons"));
    assert!(
        reasons.contains(r#""message":"paused: on battery (23%)""#),
        "{reasons}"
    );
    assert!(
        reasons.contains(r#""message":"paused: data saver is on""#),
        "{reasons}"
    );
}

#[wasm_bindgen_test]
fn malformed_signals_are_an_error_not_a_panic() {
    assert!(decide_js(JsValue::from_str("not signals")).is_err());
    assert!(decide_js(parse(r#"{"optedIn":true}"#)).is_err());
    let bad_type = parse(
        r#"{"optedIn":true,"quotaBytes":1,"usedContributedBytes":0,"visibility":"visible",
            "network":{"saveData":false,"meteredOrCellular":false,"effectiveType":"5g"}}"#,
    );
    assert!(decide_js(bad_type).is_err());
}
