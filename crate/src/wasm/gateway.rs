//! `gatewayOpen`: the service worker's entry to [`crate::gateway`]. The
//! tab's `peer.shards` comes in as a JavaScript function and is wrapped
//! here; what goes back is a plain object with a byte stream.

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::invalid;
use crate::gateway::{self, AskTab};
use crate::hash::Hash;
use crate::transfer::{self, TransferError};

/// Who the gateway's remote shards come from, in messages.
const TAB: &str = "the tab running the peer";

/// Opens the file a link names, in the service worker: resolves, once its
/// manifest is read and checked, to `{name, size, type, start, end,
/// stream}`, `stream` being a `ReadableStream` of the plaintext bytes
/// `start..end`, verified and decrypted in this worker. `options`:
/// `shards(hashes, ahead)` (required: the tab's `peer.shards`, answering
/// with an array of `Uint8Array` or `null`; `ahead`, the shards to read
/// ahead), `start`/`end`, and `onProgress({done,
/// total, localBytes, remoteBytes})`, and `local` (default true; false
/// never opens this origin's store: the sites' origin). Errors carry a
/// `code`.
#[wasm_bindgen(js_name = gatewayOpen)]
pub async fn gateway_open(link: String, options: JsValue) -> Result<JsValue, JsValue> {
    let get = |key: &str| Reflect::get(&options, &JsValue::from_str(key)).ok();
    let number = |key: &str| {
        get(key)
            .and_then(|v| v.as_f64())
            .filter(|n| n.is_finite() && *n >= 0.0)
            .map(|n| n as u64)
    };
    let shards = get("shards")
        .and_then(|f| f.dyn_into::<Function>().ok())
        .ok_or_else(|| invalid("gatewayOpen needs a shards function"))?;
    let on_progress = get("onProgress").and_then(|f| f.dyn_into::<Function>().ok());
    let range = match (number("start"), number("end")) {
        (None, None) => None,
        (start, end) => Some((start.unwrap_or(0), end)),
    };
    let local = get("local").and_then(|v| v.as_bool()).unwrap_or(true);
    let getter = gateway::open(&link, range, ask_tab(shards), local).await?;
    let m = getter.manifest();
    let range = getter.range();
    let out = Object::new();
    let set = |k: &str, v: JsValue| Reflect::set(&out, &JsValue::from_str(k), &v);
    set("name", JsValue::from_str(&m.name)).ok();
    set("size", JsValue::from_f64(m.size as f64)).ok();
    set("type", JsValue::from_str(&m.mime)).ok();
    set("start", JsValue::from_f64(range.start as f64)).ok();
    set("end", JsValue::from_f64(range.end as f64)).ok();
    let chunks = getter.into_stream(move |p| report(on_progress.as_ref(), &p));
    set("stream", super::peer::byte_stream(chunks)).ok();
    Ok(out.into())
}

/// The tab's `shards(hashes, ahead)` as the gateway's [`AskTab`].
fn ask_tab(shards: Function) -> AskTab {
    Box::new(move |hashes: Vec<Hash>, ahead: Vec<Hash>| {
        let shards = shards.clone();
        Box::pin(async move {
            let hex = |list: &[Hash]| -> Array {
                list.iter()
                    .map(|h| JsValue::from_str(&h.to_hex()))
                    .collect()
            };
            let (names, ahead) = (hex(&hashes), hex(&ahead));
            let broken = |message: &str| TransferError::Protocol {
                holder: TAB.into(),
                message: message.into(),
            };
            let promise = shards
                .call2(&JsValue::NULL, &names, &ahead)
                .map_err(from_tab)?
                .dyn_into::<Promise>()
                .map_err(|_| broken("its shard source did not return a promise"))?;
            let answer = JsFuture::from(promise)
                .await
                .map_err(from_tab)?
                .dyn_into::<Array>()
                .map_err(|_| broken("it answered a shard request with something not a list"))?;
            // Anything but bytes is "not had"; the gateway caps and checks
            // every shard.
            Ok((0..hashes.len() as u32)
                .map(|j| answer.get(j).dyn_into::<Uint8Array>().ok())
                .map(|bytes| bytes.map(|b| b.to_vec()))
                .collect())
        })
    })
}

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

/// `onProgress({done, total, localBytes, remoteBytes})`.
fn report(on_progress: Option<&Function>, p: &transfer::Progress) {
    let Some(f) = on_progress else { return };
    let (local, remote) = gateway::split(p);
    let o = Object::new();
    for (k, v) in [
        ("done", p.done),
        ("total", p.total),
        ("localBytes", local),
        ("remoteBytes", remote),
    ] {
        Reflect::set(&o, &JsValue::from_str(k), &JsValue::from_f64(v as f64)).ok();
    }
    let _ = f.call1(&JsValue::NULL, &o);
}
