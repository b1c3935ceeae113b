//! Native format benchmarks, printed as JSON lines by `npm run bench`
//! (the body is `format_common.rs`, shared with the browser harness),
//! and the peak memory of encoding a 2 GiB stream, measured first, while
//! the process holds nothing else.

#[path = "format_common.rs"]
mod common;

use futures::io::AsyncRead;
use meganet::format::{encode_reader, Encoder, FileKey, FormatError, Params};

fn main() {
    let print = |name: String, value: f64, unit: &str| {
        println!(r#"{{"name":"{name}","value":{value},"unit":"{unit}"}}"#);
    };
    let workers = meganet::platform::encode_workers();
    print(
        "format.peak_rss_2GiB.native".into(),
        (encode_peak_rss(2 << 30, workers) as f64 / f64::from(1 << 20) * 10.0).round() / 10.0,
        "MiB",
    );
    common::run("native", 64 << 20, workers, &mut |name, value, unit| {
        print(name, value, unit)
    });
}

/// Encodes a generated stream of `size` bytes, dropping each segment as a
/// put does once it is placed; the process's peak resident memory after,
/// in bytes (Linux `VmHWM`).
fn encode_peak_rss(size: u64, workers: usize) -> u64 {
    let encoder = Encoder::new(FileKey::random(), Params::default(), "big", "")
        .unwrap()
        .with_workers(workers);
    let reader = Generated { left: size };
    let encoded = encode_reader(reader, encoder, |segment| {
        std::hint::black_box(segment);
        async { Ok::<(), FormatError>(()) }
    });
    futures::executor::block_on(encoded).unwrap();
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

/// `left` bytes of a cheap pattern, made as they are read.
struct Generated {
    left: u64,
}

impl AsyncRead for Generated {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let n = buf.len().min(self.left as usize);
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = (self.left as usize + i * 7) as u8;
        }
        self.left -= n as u64;
        std::task::Poll::Ready(Ok(n))
    }
}
