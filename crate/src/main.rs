//! The `meganet` binary. It is native only; for wasm32 it is an empty
//! program so that `cargo test --target wasm32-unknown-unknown` can build the
//! package's browser integration tests.

#[cfg(not(target_arch = "wasm32"))]
mod cli;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
