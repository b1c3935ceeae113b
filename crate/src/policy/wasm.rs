//! The page's entry to the policy: `decideContribution(signals)` takes the
//! object `www/signals.js` builds and returns the decision as a plain
//! object, reasons as `[{code, message}]`.

use wasm_bindgen::prelude::*;

use super::{decide, Signals};

/// Decides what to contribute from the signals the page gathered.
#[wasm_bindgen(js_name = decideContribution)]
pub fn decide_js(signals: JsValue) -> Result<JsValue, JsError> {
    let signals: Signals = serde_wasm_bindgen::from_value(signals)
        .map_err(|e| JsError::new(&format!("invalid contribution signals: {e}")))?;
    let decision = decide(&signals);
    serde_wasm_bindgen::to_value(&decision)
        .map_err(|e| JsError::new(&format!("cannot return the decision: {e}")))
}
