//! Defines the one platform alias the crate uses instead of `target_arch` checks.
fn main() {
    cfg_aliases::cfg_aliases! {
        wasm_browser: { all(target_family = "wasm", target_os = "unknown") },
    }
}
