//! The gateway: this same module, run by the service worker that answers
//! `/meganet/file/...` requests (downloads to disk, `<video>` with seeking).
//!
//! It runs the transfer engine's getter over [`Places`]: the shards this
//! browser already stores, straight from IndexedDB (the store the peer
//! contributes with), then the tab running the peer for the rest, by hash
//! (the tab holds the connections: a worker cannot have an
//! `RTCPeerConnection`). Every shard is checked, decoded and decrypted
//! here; the tab only carries sealed shards, and what reaches the response
//! is plaintext verified in this worker. Window, ranges and retries are
//! the engine's.

use std::time::Duration;

use futures::StreamExt as _;
use js_sys::{Array, Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::format::Link;
use crate::hash::Hash;
use crate::peer::CONTRIBUTED_STORE;
use crate::store::{Reader, MAX_SHARD};
use crate::transfer::{self, Answers, Getter, Reach, ShardSource, TransferError};
use crate::wasm;

/// Where the gateway's shards come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Place {
    /// This browser's IndexedDB store.
    Local,
    /// The tab running the peer.
    Tab,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Local => "local",
            Self::Tab => "tab",
        })
    }
}

/// The local store, then the tab.
struct Places {
    local: Option<Reader>,
    /// `(hashes: string[]) => Promise<(Uint8Array | null)[]>`, answered by
    /// the tab running the peer (`peer.shards`).
    remote: Function,
}

impl Places {
    /// One request to the tab; a failure keeps the code the tab gave it.
    async fn ask_tab(&self, hashes: &[Hash]) -> transfer::Result<Array> {
        let names: Array = hashes
            .iter()
            .map(|h| JsValue::from_str(&h.to_hex()))
            .collect();
        let broken = |message: &str| TransferError::Protocol {
            holder: TAB.into(),
            message: message.into(),
        };
        let promise = self
            .remote
            .call1(&JsValue::NULL, &names)
            .map_err(from_tab)?
            .dyn_into::<Promise>()
            .map_err(|_| broken("its shard source did not return a promise"))?;
        JsFuture::from(promise)
            .await
            .map_err(from_tab)?
            .dyn_into::<Array>()
            .map_err(|_| broken("it answered a shard request with something not a list"))
    }
}

impl ShardSource for Places {
    type Holder = Place;

    fn holders(&mut self) -> Vec<(Place, Reach)> {
        let local = self.local.is_some().then_some((Place::Local, Reach::Local));
        local
            .into_iter()
            .chain([(Place::Tab, Reach::Full)])
            .collect()
    }

    async fn fetch(&self, place: Place, hashes: &[Hash]) -> Answers {
        match (place, &self.local) {
            (Place::Local, Some(local)) => match local.get_many(hashes).await {
                Ok(found) => found.into_iter().map(Ok).collect(),
                Err(e) => {
                    // Not fatal: the tab still has every shard.
                    tracing::warn!(error = %e, "reading the local store failed");
                    vec![Ok(None); hashes.len()]
                }
            },
            (Place::Local, None) => vec![Ok(None); hashes.len()],
            (Place::Tab, _) => match self.ask_tab(hashes).await {
                Ok(answer) => (0..hashes.len() as u32)
                    .map(|j| match answer.get(j).dyn_into::<Uint8Array>() {
                        Ok(bytes) if bytes.length() as usize <= MAX_SHARD => {
                            Ok(Some(bytes.to_vec()))
                        }
                        _ => Ok(None),
                    })
                    .collect(),
                Err(e) => vec![Err(e); hashes.len()],
            },
        }
    }

    async fn pause(&self, duration: Duration) {
        crate::platform::sleep(duration).await;
    }
}

/// Who the gateway's remote shards come from, in messages.
const TAB: &str = "the tab running the peer";

/// An error the tab rejected with: its own code when it gave a known one
/// (a file the tab cannot find stays `not-found`), else a lost tab.
fn from_tab(e: JsValue) -> TransferError {
    let message = e
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string());
    let code = Reflect::get(&e, &JsValue::from_str("code"))
        .ok()
        .and_then(|c| c.as_string())
        .and_then(|c| c.parse().ok());
    match (code, message) {
        (Some(code), Some(message)) => TransferError::Relayed { code, message },
        (_, message) => TransferError::Unreachable {
            holder: TAB.into(),
            message: message.unwrap_or_else(|| "it did not answer".into()),
        },
    }
}

/// Opens the file a link names, in the service worker: resolves, once its
/// manifest is read and checked, to `{name, size, type, start, end,
/// stream}`, `stream` being a `ReadableStream` of the plaintext bytes
/// `start..end`, verified and decrypted in this worker. `options`:
/// `shards(hashes)` (required: the tab's `peer.shards`, answering with an
/// array of `Uint8Array` or `null`), `start`/`end`, and `onProgress({done,
/// total, localBytes, remoteBytes})`. Errors carry a `code`.
#[wasm_bindgen(js_name = gatewayOpen)]
pub async fn gateway_open(link: String, options: JsValue) -> Result<JsValue, JsValue> {
    let get = |key: &str| Reflect::get(&options, &JsValue::from_str(key)).ok();
    let number = |key: &str| {
        get(key)
            .and_then(|v| v.as_f64())
            .filter(|n| n.is_finite() && *n >= 0.0)
            .map(|n| n as u64)
    };
    let remote = get("shards")
        .and_then(|f| f.dyn_into::<Function>().ok())
        .ok_or_else(|| wasm::invalid("gatewayOpen needs a shards function"))?;
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
    let link: Link = link.parse().map_err(TransferError::from)?;
    let range = match (number("start"), number("end")) {
        (None, None) => None,
        (start, end) => Some((start.unwrap_or(0), end)),
    };
    let places = Places { local, remote };
    let config = transfer::Config::default();
    let getter = Getter::open(places, &link, range, config, None).await?;
    let m = getter.manifest();
    let range = getter.range();
    let out = js_sys::Object::new();
    let set = |k: &str, v: JsValue| Reflect::set(&out, &JsValue::from_str(k), &v);
    set("name", JsValue::from_str(&m.name)).ok();
    set("size", JsValue::from_f64(m.size as f64)).ok();
    set("type", JsValue::from_str(&m.mime)).ok();
    set("start", JsValue::from_f64(range.start as f64)).ok();
    set("end", JsValue::from_f64(range.end as f64)).ok();
    let chunks = getter
        .into_stream(move |p| report(on_progress.as_ref(), &p))
        .map(|chunk| match chunk {
            Ok(bytes) => Ok(Uint8Array::from(bytes.as_slice()).into()),
            Err(e) => Err(JsValue::from(e)),
        });
    let stream = wasm_streams::ReadableStream::from_stream(chunks).into_raw();
    set("stream", stream.into()).ok();
    Ok(out.into())
}

/// `onProgress({done, total, localBytes, remoteBytes})`.
fn report(on_progress: Option<&Function>, p: &transfer::Progress) {
    let Some(f) = on_progress else { return };
    let bytes = |place: Place| p.peers.get(&place.to_string()).copied().unwrap_or(0);
    let o = js_sys::Object::new();
    for (k, v) in [
        ("done", p.done),
        ("total", p.total),
        ("localBytes", bytes(Place::Local)),
        ("remoteBytes", bytes(Place::Tab)),
    ] {
        Reflect::set(&o, &JsValue::from_str(k), &JsValue::from_f64(v as f64)).ok();
    }
    let _ = f.call1(&JsValue::NULL, &o);
}
