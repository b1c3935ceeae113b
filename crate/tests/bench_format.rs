//! Browser format benchmarks, run by `scripts/bench.sh` (ignored in normal
//! test runs); the body is `benches/format_common.rs`, shared with the
//! native harness. Results are JSON lines through the console.
#![cfg(all(target_arch = "wasm32", target_os = "unknown"))]

#[path = "../benches/format_common.rs"]
mod common;

use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
#[ignore]
fn bench_format_wasm() {
    common::run("wasm", 32 << 20, &mut |name, value| {
        web_sys::console::log_1(&JsValue::from_str(&format!(
            r#"{{"name":"{name}","value":{value},"unit":"MB/s"}}"#
        )));
    });
}
