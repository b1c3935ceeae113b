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
const ROUNDS: usize = 3;
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

/// Raw IndexedDB: one object store, batches of BATCH puts per transaction,
/// one read-only transaction per get. Returns (put MB/s, get MB/s).
async fn ceiling(data: &[Shard]) -> (f64, f64) {
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
    let mb = (COUNT * SHARD) as f64 / 1e6;
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
    let put = mb / start.elapsed().as_secs_f64();
    let start = Instant::now();
    lanes(values.len(), GET_LANES, |i| {
        let (db, key) = (&db, values[i].0.clone());
        async move {
            let tx = db.transaction(&["raw"], TransactionMode::ReadOnly).unwrap();
            let value = tx
                .object_store("raw")
                .unwrap()
                .get(key)
                .unwrap()
                .await
                .unwrap();
            assert!(value.is_some());
        }
    })
    .await;
    let get = mb / start.elapsed().as_secs_f64();
    db.close();
    delete_db(name).await;
    (put, get)
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
async fn store(data: &[Shard], hashing: Hashing) -> (f64, f64) {
    let name = "bench-store-idb";
    delete_db(name).await;
    let store = Store::open_idb(name, Config { quota: u64::MAX })
        .await
        .unwrap();
    let mb = (COUNT * SHARD) as f64 / 1e6;
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
    let put = mb / start.elapsed().as_secs_f64();
    let start = Instant::now();
    lanes(data.len(), GET_LANES, |i| {
        let (store, hash) = (store.clone(), data[i].hash());
        async move {
            std::hint::black_box(store.get(hash).await.unwrap());
        }
    })
    .await;
    let get = mb / start.elapsed().as_secs_f64();
    store.close();
    delete_db(name).await;
    (put, get)
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
    let (mut best_ceiling, mut best_store, mut best_hashing_put) =
        ((0f64, 0f64), (0f64, 0f64), 0f64);
    // Alternate them so drift in the browser hits all alike.
    for _ in 0..ROUNDS {
        let c = ceiling(&data).await;
        let s = store(&data, Hashing::Done).await;
        let h = store(&data, Hashing::InPut).await;
        best_ceiling = (best_ceiling.0.max(c.0), best_ceiling.1.max(c.1));
        best_store = (best_store.0.max(s.0), best_store.1.max(s.1));
        best_hashing_put = best_hashing_put.max(h.0);
    }
    report("store.put.idb", best_store.0, "MB/s");
    report("store.put.idb.hashing", best_hashing_put, "MB/s");
    report("store.get.idb", best_store.1, "MB/s");
    report("store.ceiling.idb", best_ceiling.0, "MB/s");
    report("store.ceiling.get.idb", best_ceiling.1, "MB/s");
    report(
        "store.put.idb.ratio",
        100.0 * best_store.0 / best_ceiling.0,
        "%",
    );
    report(
        "store.get.idb.ratio",
        100.0 * best_store.1 / best_ceiling.1,
        "%",
    );
}
