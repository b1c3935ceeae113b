//! The page's entry to the policy: `decideContribution(signals)` takes the
//! object `www/signals.js` builds and returns the decision as a plain
//! object, reasons as `[{code, message, pausesNewData}]`; and the facts the
//! page shows that the crate decides (`defaultQuotaBytes`).

use wasm_bindgen::prelude::*;

use crate::policy::{decide, Signals};

/// Decides what to contribute from the signals the page gathered.
#[wasm_bindgen(js_name = decideContribution)]
pub fn decide_js(signals: JsValue) -> Result<JsValue, JsValue> {
    let signals: Signals = serde_wasm_bindgen::from_value(signals)
        .map_err(|e| super::invalid(&format!("invalid contribution signals: {e}")))?;
    super::to_js(&decide(&signals))
}

/// The storage a peer offers when the user has not chosen an amount.
#[wasm_bindgen(js_name = defaultQuotaBytes)]
pub fn default_quota_bytes() -> f64 {
    crate::peer::DEFAULT_QUOTA as f64
}
