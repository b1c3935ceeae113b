//! Browser chunk-store benchmarks, run by `scripts/bench.sh` (ignored in
//! normal test runs): MB/s putting and getting 1 MiB shards through the
//! IndexedDB store, beside raw IndexedDB puts and gets of the same bytes in
//! the same run (the ceiling). Results are printed as JSON lines
//! (`{"name","value","unit"}`) through the console.
#![cfg(all(target_arch = "wasm32", target_os = "unknown"))]

use idb::{Database, Factory, ObjectStoreParams, TransactionMode};
use meganet::hash::Hash;
use meganet::store::{Class, Config, Shard, Store};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;
use web_time::Instant;

wasm_bindgen_test_configure!(run_in_browser);

const SHARD: usize = 1 << 20;
const COUNT: usize = 64;
const BATCH: usize = 8;
const ROUNDS: usize = 5;
/// Read passes over the data per round: a round's gets take about as long
/// as its puts instead of a fifth of a second.
const GET_PASSES: usize = 4;
/// Writers and readers in flight at once, the same for the raw ceiling and
/// the store: how an uploader or a swarm download uses it. With more than
/// one in flight, hashing one batch overlaps the commit of another.
const PUT_LANES: usize = 2;
const GET_LANES: usize = 4;

/// Runs `job(0..count)` with at most `width` jobs in flight.
async fn lanes<F, Fut>(count: usize, width: usize, job: F)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use futures::StreamExt;
    futures::stream::iter(0..count)
        .map(job)
        .buffer_unordered(width)
        .collect::<Vec<()>>()
        .await;
}

fn report(name: &str, value: f64, unit: &str) {
    let value = (value * 10.0).round() / 10.0;
    web_sys::console::log_1(&JsValue::from_str(&format!(
        r#"{{"name":"{name}","value":{value},"unit":"{unit}"}}"#
    )));
}

fn shards() -> Vec<Shard> {
    (0..COUNT)
        .map(|i| {
            let bytes: Vec<u8> = (0..SHARD)
                .map(|j| (j as u8).wrapping_mul(13) ^ (i as u8) ^ (j >> 10) as u8)
                .collect();
            Shard::new(bytes)
        })
        .collect()
}

async fn delete_db(name: &str) {
    let _ = Factory::new().unwrap().delete(name).unwrap().await;
}

/// Seconds one round took: one put pass, GET_PASSES get passes (and, for
/// the ceiling, GET_PASSES verified get passes).
#[derive(Default, Clone, Copy)]
struct Seconds {
    put: f64,
    get: f64,
    verified_get: f64,
}

impl std::ops::AddAssign for Seconds {
    fn add_assign(&mut self, other: Self) {
        self.put += other.put;
        self.get += other.get;
        self.verified_get += other.verified_get;
    }
}

/// Raw IndexedDB: one object store, batches of BATCH puts per transaction,
/// one read-only transaction per get.
async fn ceiling(data: &[Shard]) -> Seconds {
    let name = "bench-store-ceiling";
    delete_db(name).await;
    let mut request = Factory::new().unwrap().open(name, Some(1)).unwrap();
    request.on_upgrade_needed(|event| {
        use idb::DatabaseEvent;
        let db = event.database().unwrap();
        db.create_object_store("raw", ObjectStoreParams::new())
            .unwrap();
    });
    let db: Database = request.await.unwrap();
    // The bytes are in JS before the clock starts: this is IndexedDB alone.
    let values: Vec<(JsValue, js_sys::Uint8Array)> = data
        .iter()
        .map(|s| {
            (
                JsValue::from_str(&s.hash().to_hex()),
                js_sys::Uint8Array::from(s.bytes()),
            )
        })
        .collect();
    let chunks: Vec<_> = values.chunks(BATCH).collect();
    let start = Instant::now();
    lanes(chunks.len(), PUT_LANES, |i| {
        let (db, chunk) = (&db, chunks[i]);
        async move {
            let tx = db
                .transaction(&["raw"], TransactionMode::ReadWrite)
                .unwrap();
            let store = tx.object_store("raw").unwrap();
            for (key, value) in chunk {
                store.put(value, Some(key)).unwrap();
            }
            tx.commit().unwrap().await.unwrap();
        }
    })
    .await;
    let put = start.elapsed().as_secs_f64();
    let get = raw_gets(&db, &values, false).await;
    let verified_get = raw_gets(&db, &values, true).await;
    db.close();
    delete_db(name).await;
    Seconds {
        put,
        get,
        verified_get,
    }
}

/// Seconds for GET_PASSES passes of raw gets, one read-only transaction
/// each. With `verify`, each value is also copied into wasm memory and
/// hashed: the least any store that checks its reads can do.
async fn raw_gets(db: &Database, values: &[(JsValue, js_sys::Uint8Array)], verify: bool) -> f64 {
    let start = Instant::now();
    lanes(values.len() * GET_PASSES, GET_LANES, |i| {
        let key = values[i % values.len()].0.clone();
        async move {
            let tx = db.transaction(&["raw"], TransactionMode::ReadOnly).unwrap();
            let value = tx
                .object_store("raw")
                .unwrap()
                .get(key)
                .unwrap()
                .await
                .unwrap()
                .unwrap();
            if verify {
                let bytes = js_sys::Uint8Array::from(value).to_vec();
                std::hint::black_box(Hash::of(&bytes));
            }
        }
    })
    .await;
    start.elapsed().as_secs_f64()
}

/// How the shards reach the store's put.
#[derive(Clone, Copy, PartialEq)]
enum Hashing {
    /// Already hashed, as every caller has them: a node hashes the block a
    /// peer sent, an uploader the shards it encoded.
    Done,
    /// Raw bytes hashed into a `Shard` inside the timed put (what a caller
    /// would pay if nothing had hashed them yet).
    InPut,
}

/// The store: put_many of BATCH shards, get one by one (verified).
async fn store(data: &[Shard], hashing: Hashing) -> Seconds {
    let name = "bench-store-idb";
    delete_db(name).await;
    let store = Store::open_idb(name, Config { quota: u64::MAX })
        .await
        .unwrap();
    let batches: Vec<Vec<Shard>> = data.chunks(BATCH).map(|c| c.to_vec()).collect();
    let batches = std::cell::RefCell::new(batches.into_iter().map(Some).collect::<Vec<_>>());
    let start = Instant::now();
    lanes(COUNT / BATCH, PUT_LANES, |i| {
        let mut batch = batches.borrow_mut()[i].take().unwrap();
        if hashing == Hashing::InPut {
            batch = batch
                .into_iter()
                .map(|s| Shard::new(s.into_parts().1))
                .collect();
        }
        let store = store.clone();
        async move { store.put_many(batch, Class::Contributed).await.unwrap() }
    })
    .await;
    let put = start.elapsed().as_secs_f64();
    let start = Instant::now();
    lanes(data.len() * GET_PASSES, GET_LANES, |i| {
        let (store, hash) = (store.clone(), data[i % data.len()].hash());
        async move {
            std::hint::black_box(store.get(hash).await.unwrap());
        }
    })
    .await;
    let get = start.elapsed().as_secs_f64();
    store.close();
    delete_db(name).await;
    Seconds {
        put,
        get,
        verified_get: 0.0,
    }
}

#[wasm_bindgen_test]
#[ignore]
async fn bench_store_idb() {
    let data = shards();
    let start = Instant::now();
    for shard in &data {
        std::hint::black_box(Hash::of(shard.bytes()));
    }
    let mb = (COUNT * SHARD) as f64 / 1e6;
    report(
        "store.hash.wasm",
        mb / start.elapsed().as_secs_f64(),
        "MB/s",
    );
    // Alternate them so drift in the browser hits all alike, and report
    // each one's total bytes over its total time: the best of a few short
    // runs favoured the raw ceiling, whose runs vary more (raw gets: best
    // 390 to 405 MB/s where 2-second runs averaged 320 to 360).
    let [mut raw, mut stored, mut hashing] = [Seconds::default(); 3];
    for _ in 0..ROUNDS {
        raw += ceiling(&data).await;
        stored += store(&data, Hashing::Done).await;
        hashing += store(&data, Hashing::InPut).await;
    }
    let put_mb = (ROUNDS * COUNT * SHARD) as f64 / 1e6;
    let get_mb = put_mb * GET_PASSES as f64;
    report("store.put.idb", put_mb / stored.put, "MB/s");
    report("store.put.idb.hashing", put_mb / hashing.put, "MB/s");
    report("store.get.idb", get_mb / stored.get, "MB/s");
    report("store.ceiling.idb", put_mb / raw.put, "MB/s");
    report("store.ceiling.get.idb", get_mb / raw.get, "MB/s");
    report("store.put.idb.ratio", 100.0 * raw.put / stored.put, "%");
    report("store.get.idb.ratio", 100.0 * raw.get / stored.get, "%");
    // What the read check itself costs: raw gets that also copy each value
    // into wasm and hash it, beside the store's gets.
    report(
        "store.ceiling.get.verified.idb",
        get_mb / raw.verified_get,
        "MB/s",
    );
    report(
        "store.get.idb.verified_ratio",
        100.0 * raw.verified_get / stored.get,
        "%",
    );
}
