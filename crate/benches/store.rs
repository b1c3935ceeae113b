//! Native chunk-store benchmarks: MB/s putting and getting 1 MiB shards on
//! disk, printed as JSON lines (`{"name","value","unit"}`) for
//! `scripts/bench.sh`. `MEGANET_BENCH_DIR` picks the directory (default: the
//! system temp dir); `MEGANET_BENCH_MIB` the amount (default 256).

use std::time::Instant;

use meganet::hash::Hash;
use meganet::store::{Class, Config, Shard, Store};

const SHARD: usize = 1 << 20;
const BATCH: usize = 8;

fn report(name: &str, value: f64, unit: &str) {
    let value = (value * 10.0).round() / 10.0;
    println!(r#"{{"name":"{name}","value":{value},"unit":"{unit}"}}"#);
}

fn shards(count: usize) -> Vec<Shard> {
    (0..count)
        .map(|i| {
            let mut bytes = vec![0u8; SHARD];
            for (j, b) in bytes.iter_mut().enumerate() {
                *b = (j as u8).wrapping_mul(13) ^ (i as u8) ^ (j >> 10) as u8;
            }
            Shard::new(bytes)
        })
        .collect()
}

async fn disk(count: usize) -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::var_os("MEGANET_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!("meganet-bench-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = shards(count);
    let hashes: Vec<Hash> = data.iter().map(Shard::hash).collect();
    let mb = (count * SHARD) as f64 / 1e6;
    let store = Store::open_disk(&dir, Config { quota: u64::MAX }).await?;

    let start = Instant::now();
    let mut rest = data;
    while !rest.is_empty() {
        let tail = rest.split_off(rest.len().saturating_sub(BATCH));
        store.put_many(tail, Class::Contributed).await?;
    }
    report("store.put.disk", mb / start.elapsed().as_secs_f64(), "MB/s");

    // Reads come from the page cache here, as they mostly would on a node
    // serving recently stored shards.
    let start = Instant::now();
    for hash in &hashes {
        std::hint::black_box(store.get(*hash).await?);
    }
    report("store.get.disk", mb / start.elapsed().as_secs_f64(), "MB/s");
    drop(store);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let mib: usize = std::env::var("MEGANET_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(disk(mib.max(BATCH)))
}
