//! The gateway: this same module, run by the service worker that answers
//! `/meganet/file/...` requests (downloads to disk, `<video>` with seeking).
//!
//! For the byte range asked, it reads the shards this browser already
//! stores straight from IndexedDB (the store the peer contributes with),
//! asks the tab running the peer for the rest by hash (the tab holds the
//! connections: a worker cannot have an `RTCPeerConnection`), and checks,
//! decodes and decrypts every segment here. The tab only carries sealed
//! shards; what reaches the response is plaintext verified in this worker.
//!
//! Like a get in the tab, it fetches a window of segments that starts at
//! one and grows by one with every segment read, so a `<video>` that reads
//! a little and cancels costs little, and memory stays bounded by the
//! window whatever the file size.

use std::collections::HashSet;

use futures::StreamExt as _;
use js_sys::{Array, Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::format::{self, Decoder, Reassembler};
use crate::hash::Hash;
use crate::peer::CONTRIBUTED_STORE;
use crate::store::{Reader, MAX_SHARD};

/// Segments fetched ahead of the one being decoded, at most.
const WINDOW: u64 = 8;

/// Where the gateway's shards come from: the local store, then the tab.
struct Shards {
    local: Option<Reader>,
    /// `(hashes: string[]) => Promise<(Uint8Array | null)[]>`, answered by
    /// the tab running the peer (`peer.shards`).
    remote: Function,
    local_bytes: u64,
    remote_bytes: u64,
}

impl Shards {
    /// Each of `hashes`, or `None` where neither the store nor the tab had
    /// it. Bytes are not checked here: the reassembler checks each against
    /// the manifest.
    async fn get(&mut self, hashes: &[Hash]) -> Result<Vec<Option<Vec<u8>>>, String> {
        let mut out: Vec<Option<Vec<u8>>> = vec![None; hashes.len()];
        if let Some(local) = &self.local {
            match local.get_many(hashes).await {
                Ok(found) => out = found,
                Err(e) => tracing::warn!(error = %e, "reading the local store failed"),
            }
        }
        self.local_bytes += out.iter().flatten().map(|b| b.len() as u64).sum::<u64>();
        let ask: Vec<usize> = (0..hashes.len()).filter(|&i| out[i].is_none()).collect();
        if ask.is_empty() {
            return Ok(out);
        }
        let names: Array = ask
            .iter()
            .map(|&i| JsValue::from_str(&hashes[i].to_hex()))
            .collect();
        let promise = self
            .remote
            .call1(&JsValue::NULL, &names)
            .map_err(js_text)?
            .dyn_into::<Promise>()
            .map_err(|_| "the tab's shard source did not return a promise".to_owned())?;
        let answer = JsFuture::from(promise)
            .await
            .map_err(js_text)?
            .dyn_into::<Array>()
            .map_err(|_| "the tab answered a shard request with something not a list".to_owned())?;
        for (j, &i) in ask.iter().enumerate() {
            let Ok(bytes) = answer.get(j as u32).dyn_into::<Uint8Array>() else {
                continue;
            };
            if bytes.length() as usize <= MAX_SHARD {
                self.remote_bytes += u64::from(bytes.length());
                out[i] = Some(bytes.to_vec());
            }
        }
        Ok(out)
    }
}

/// One range being served.
struct Serve {
    shards: Shards,
    reassembler: Reassembler,
    /// Shard positions that could not be had.
    skip: HashSet<(u64, usize)>,
    /// The last shard that failed its check, for the error.
    tampered: Option<String>,
    done: u64,
    total: u64,
    on_progress: Option<Function>,
}

impl Serve {
    /// The next piece of plaintext; `None` at the end of the range.
    async fn next(&mut self) -> Result<Option<Vec<u8>>, String> {
        loop {
            let next = self.reassembler.next_chunk_growing(WINDOW);
            if let Some(chunk) = next.map_err(|e| e.to_string())? {
                self.done += chunk.len() as u64;
                self.report();
                return Ok(Some(chunk));
            }
            if self.reassembler.is_done() {
                return Ok(None);
            }
            let plan = self.reassembler.plan(&self.skip);
            if plan.is_empty() {
                let why = match self.reassembler.finish() {
                    Err(e) => e.to_string(),
                    Ok(()) => "no shards left to try".to_owned(),
                };
                return Err(match &self.tampered {
                    Some(t) => format!("{why}; bad data: {t}"),
                    None => why,
                });
            }
            let hashes: Vec<Hash> = plan.iter().map(|(_, _, h)| *h).collect();
            let found = self.shards.get(&hashes).await?;
            for ((segment, shard, _), bytes) in plan.into_iter().zip(found) {
                let Some(bytes) = bytes else {
                    self.skip.insert((segment, shard));
                    continue;
                };
                match self.reassembler.add(segment, shard, bytes) {
                    Ok(_) => {}
                    Err(e @ format::FormatError::ShardTampered { .. }) => {
                        self.tampered = Some(e.to_string());
                        self.skip.insert((segment, shard));
                    }
                    Err(e) => return Err(e.to_string()),
                }
            }
        }
    }

    fn report(&self) {
        let Some(f) = &self.on_progress else { return };
        let p = js_sys::Object::new();
        for (k, v) in [
            ("done", self.done),
            ("total", self.total),
            ("localBytes", self.shards.local_bytes),
            ("remoteBytes", self.shards.remote_bytes),
        ] {
            Reflect::set(&p, &JsValue::from_str(k), &JsValue::from_f64(v as f64)).ok();
        }
        let _ = f.call1(&JsValue::NULL, &p);
    }
}

fn js_text(e: JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "the tab running the peer did not answer".to_owned())
}

/// Opens the file a link names, in the service worker: resolves, once its
/// manifest is read and checked, to `{name, size, type, start, end,
/// stream}`, `stream` being a `ReadableStream` of the plaintext bytes
/// `start..end`, verified and decrypted in this worker. `options`:
/// `shards(hashes)` (required: the tab's `peer.shards`, answering with an
/// array of `Uint8Array` or `null`), `start`/`end`, and `onProgress({done,
/// total, localBytes, remoteBytes})`.
#[wasm_bindgen(js_name = gatewayOpen)]
pub async fn gateway_open(link: String, options: JsValue) -> Result<JsValue, JsError> {
    let get = |key: &str| Reflect::get(&options, &JsValue::from_str(key)).ok();
    let number = |key: &str| {
        get(key)
            .and_then(|v| v.as_f64())
            .filter(|n| n.is_finite() && *n >= 0.0)
            .map(|n| n as u64)
    };
    let remote = get("shards")
        .and_then(|f| f.dyn_into::<Function>().ok())
        .ok_or_else(|| JsError::new("gatewayOpen needs a shards function"))?;
    let on_progress = get("onProgress").and_then(|f| f.dyn_into::<Function>().ok());
    // Without the store the tab still has every shard: not fatal. An
    // empty store (a browser that does not contribute) is not read at all.
    let local = match Reader::open(CONTRIBUTED_STORE).await {
        Ok(reader) if !reader.is_empty().await.unwrap_or(false) => Some(reader),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "the local store cannot be read");
            None
        }
    };
    let link: format::Link = link
        .parse()
        .map_err(|e: format::FormatError| JsError::new(&e.to_string()))?;
    let mut shards = Shards {
        local,
        remote,
        local_bytes: 0,
        remote_bytes: 0,
    };
    let manifest = shards
        .get(&[link.manifest])
        .await
        .map_err(|e| JsError::new(&e))?
        .pop()
        .flatten()
        .ok_or_else(|| JsError::new(format::FILE_NOT_FOUND))?;
    let decoder = Decoder::open(&link, &manifest).map_err(|e| JsError::new(&e.to_string()))?;
    let range = match (number("start"), number("end")) {
        (None, None) => None,
        (start, end) => Some((start.unwrap_or(0), end)),
    };
    let range = decoder
        .clip_range(range)
        .map_err(|e| JsError::new(&e.to_string()))?;
    let reassembler =
        Reassembler::new(&decoder, range.clone(), 1).map_err(|e| JsError::new(&e.to_string()))?;
    let serve = Serve {
        shards,
        reassembler,
        skip: HashSet::new(),
        tampered: None,
        done: 0,
        total: range.end - range.start,
        on_progress,
    };
    // Pulled one chunk at a time; an error ends the stream.
    let chunks = futures::stream::unfold(Some(serve), |serve| async move {
        let mut serve = serve?;
        match serve.next().await {
            Ok(Some(chunk)) => Some((Ok(chunk), Some(serve))),
            Ok(None) => None,
            Err(e) => Some((Err(e), None)),
        }
    })
    .map(|chunk| match chunk {
        Ok(bytes) => Ok(Uint8Array::from(bytes.as_slice()).into()),
        Err(e) => Err(js_sys::Error::new(&e).into()),
    });
    let m = decoder.manifest();
    let out = js_sys::Object::new();
    let set = |k: &str, v: JsValue| Reflect::set(&out, &JsValue::from_str(k), &v);
    set("name", JsValue::from_str(&m.name)).ok();
    set("size", JsValue::from_f64(m.size as f64)).ok();
    set("type", JsValue::from_str(&m.mime)).ok();
    set("start", JsValue::from_f64(range.start as f64)).ok();
    set("end", JsValue::from_f64(range.end as f64)).ok();
    let stream = wasm_streams::ReadableStream::from_stream(chunks).into_raw();
    set("stream", stream.into()).ok();
    Ok(out.into())
}
