//! Native format benchmarks, printed as JSON lines by `npm run bench`
//! (the body is `format_common.rs`, shared with the browser harness).

#[path = "format_common.rs"]
mod common;

fn main() {
    common::run("native", 64 << 20, &mut |name, value| {
        println!(r#"{{"name":"{name}","value":{value},"unit":"MB/s"}}"#);
    });
}
