//! The `Peer` class: [`crate::peer::Peer`] as JavaScript sees it. Only
//! conversions live here: option objects in, plain objects, streams and
//! coded errors out.

use std::cell::RefCell;
use std::rc::Rc;

use futures::StreamExt as _;
use js_sys::{Array, Function, Object, Reflect, Uint8Array};
use serde::Deserialize;
use tracing_subscriber::layer::SubscriberExt as _;
use wasm_bindgen::prelude::*;

use super::{from_js, invalid, to_js};
use crate::format::Link;
use crate::hash::Hash;
use crate::peer::{self, MAX_HASHES, MAX_PROBE_BYTES};
use crate::transfer::{self, Progress};

/// A running browser peer.
#[wasm_bindgen(js_name = Peer)]
pub struct JsPeer(peer::Peer);

/// `put`'s options besides `onProgress`: a stream's name and type.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PutOptions {
    name: Option<String>,
    #[serde(rename = "type")]
    mime: Option<String>,
    /// Give the link out once the file is encoded (`progress.link`).
    #[serde(rename = "linkFirst")]
    link_first: bool,
}

/// `get`'s range: `start` and `end` (negative or non-finite ignored).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Range {
    start: Option<f64>,
    end: Option<f64>,
}

impl Range {
    fn bytes(&self) -> Option<(u64, Option<u64>)> {
        let valid = |n: Option<f64>| n.filter(|n| n.is_finite() && *n >= 0.0).map(|n| n as u64);
        match (valid(self.start), valid(self.end)) {
            (None, None) => None,
            (start, end) => Some((start.unwrap_or(0), end)),
        }
    }
}

/// `contribute`'s options.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Contribute {
    enabled: bool,
    quota_bytes: Option<f64>,
}

#[wasm_bindgen(js_class = Peer)]
impl JsPeer {
    /// Starts the peer (`{bootstrapUrl, identityDb, private}`; `private`:
    /// reach other browsers only through nodes' relays): loads (or creates)
    /// its identity, then connects to the node named by the bootstrap
    /// document and keeps reconnecting.
    pub async fn start(options: JsValue) -> Result<JsPeer, JsValue> {
        console_error_panic_hook::set_once();
        // Warnings and errors go to the browser console; a second peer in
        // the same page keeps the first subscriber.
        let mut log = tracing_wasm::WASMLayerConfigBuilder::new();
        log.set_max_level(tracing::Level::WARN);
        let _ = tracing::subscriber::set_global_default(
            tracing_subscriber::registry().with(tracing_wasm::WASMLayer::new(log.build())),
        );
        let options: peer::Options = from_js(options, "options")?;
        Ok(JsPeer(peer::Peer::start(options).await?))
    }

    /// This peer's id.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.0.id().to_string()
    }

    /// A snapshot: node connection state and every open connection.
    pub fn status(&self) -> Result<JsValue, JsValue> {
        to_js(&self.0.status())
    }

    /// Stores a `File`, a `Blob` or a `ReadableStream` of bytes on the
    /// network; resolves to its link (`<origin>/#2.<hash>.<key>`) once
    /// every piece is placed (safe to close). `options.onProgress({stage,
    /// done, total, peers, link})` follows the upload (`total` is 0 for a
    /// stream); `options.name` and `options.type` name a stream's file (a
    /// `File` has its own). With `options.linkFirst`, the file is first
    /// encoded into this browser (stage `encoding`), and from then on every
    /// progress report carries `link`, which already works: this peer
    /// serves the pieces until they are placed (stage `storing`).
    pub async fn put(&self, input: JsValue, options: JsValue) -> Result<String, JsValue> {
        let link_out: Rc<RefCell<Option<String>>> = Rc::default();
        let report = progress_callback(&options);
        let progress = {
            let link_out = link_out.clone();
            move |mut p: Progress| {
                p.link = link_out.borrow().clone();
                report(p)
            }
        };
        let named: PutOptions = from_js(options, "put options").unwrap_or_default();
        let (stream, input) = if let Some(blob) = input.dyn_ref::<web_sys::Blob>() {
            let name = Reflect::get(&input, &JsValue::from_str("name"))
                .ok()
                .and_then(|v| v.as_string())
                .unwrap_or_default();
            let total = blob.size() as u64;
            let mime = blob.type_();
            (blob.stream(), transfer::Input { name, mime, total })
        } else if let Some(stream) = input.dyn_ref::<web_sys::ReadableStream>() {
            let input = transfer::Input {
                name: named.name.unwrap_or_default(),
                mime: named.mime.unwrap_or_default(),
                total: 0,
            };
            (stream.clone(), input)
        } else {
            return Err(invalid(
                "put takes a File, a Blob or a ReadableStream of bytes",
            ));
        };
        let reader = crate::format::read_stream(stream);
        let on_link = |link: &Link| *link_out.borrow_mut() = Some(link.to_url(&origin()));
        let on_link = named.link_first.then_some(&on_link as &dyn Fn(&Link));
        let link = self.0.put(reader, &input, &progress, on_link).await?;
        Ok(link.to_url(&origin()))
    }

    /// Opens the file a link names: resolves, once its manifest is
    /// fetched and checked, to `{name, size, type, start, end, stream}`.
    /// `stream` is a `ReadableStream` of the plaintext bytes `start..end`,
    /// verified and decrypted as they arrive; cancelling it stops the
    /// fetching. `options`: `onProgress({stage, done, total, peers})`, and
    /// `start`/`end` to fetch only part of the file (only the segments it
    /// covers are fetched).
    pub async fn get(&self, link: String, options: JsValue) -> Result<JsValue, JsValue> {
        let progress = progress_callback(&options);
        let range: Range = from_js(options, "get options").unwrap_or_default();
        let opened = self.0.get(&link, range.bytes(), &progress).await?;
        let out = Object::new();
        let set = |k: &str, v: &JsValue| Reflect::set(&out, &JsValue::from_str(k), v);
        set("name", &JsValue::from_str(&opened.name)).ok();
        set("size", &JsValue::from_f64(opened.size as f64)).ok();
        set("type", &JsValue::from_str(&opened.mime)).ok();
        set("start", &JsValue::from_f64(opened.range.start as f64)).ok();
        set("end", &JsValue::from_f64(opened.range.end as f64)).ok();
        set("stream", &byte_stream(opened.into_stream(progress))).ok();
        Ok(out.into())
    }

    /// Shards of the file `link` names, by hash (hex), for the service
    /// worker's gateway (`gatewayOpen`), which decodes and decrypts them:
    /// resolves to `{shards, peers}`, `shards` holding a `Uint8Array` (each
    /// checked against its hash) or `null` (no holder had it) per hash, in
    /// order, and `peers` the bytes each holder has sent for this file.
    /// `ahead` (optional, hashes as well): shards the worker will ask for
    /// next, fetched in the background once this answer is out.
    pub async fn shards(
        &self,
        link: String,
        hashes: JsValue,
        ahead: JsValue,
    ) -> Result<JsValue, JsValue> {
        let hashes = hash_list(hashes, "hashes")?;
        let ahead = match ahead.is_undefined() || ahead.is_null() {
            true => Vec::new(),
            false => hash_list(ahead, "ahead")?,
        };
        let (shards, progress) = self.0.shards(&link, &hashes, &ahead).await?;
        let list = Array::new();
        for shard in shards {
            list.push(&match shard {
                Some(bytes) => Uint8Array::from(bytes.as_slice()).into(),
                None => JsValue::NULL,
            });
        }
        let out = Object::new();
        Reflect::set(&out, &JsValue::from_str("shards"), &list).ok();
        Reflect::set(&out, &JsValue::from_str("peers"), &to_js(&progress.peers)?).ok();
        Ok(out.into())
    }

    /// Stops reading ahead for the file `link` names: the worker's stream
    /// of it ended early (cancelled, failed, lost). Resolves at once.
    #[wasm_bindgen(js_name = stopReadAhead)]
    pub async fn stop_read_ahead(&self, link: String) {
        self.0.stop_read_ahead(&link);
    }

    /// How many of a stored file's shards can be reached now: resolves
    /// to `{name, segments, k, n, weakest, state, holders, hinted}`, where
    /// `weakest` is the fewest reachable shards of any segment and `state`
    /// is `healthy`, `at-risk` (exactly k) or `unavailable`.
    pub async fn health(&self, link: String) -> Result<JsValue, JsValue> {
        to_js(&self.0.health(&link).await?)
    }

    /// Renews an upload on the nodes, which keep a block for a lease
    /// (`status.node.leaseSecs`) after its last renewal: resolves to
    /// `{blocks, renewed, holders, failed}`. The app renews its uploads
    /// while it is open.
    pub async fn renew(&self, link: String) -> Result<JsValue, JsValue> {
        to_js(&self.0.renew(&link).await?)
    }

    /// Connects directly to another browser at its `/webrtc` address
    /// (`<node>/p2p-circuit/webrtc/p2p/<peer>`): signaling over the node's
    /// relay, then a direct WebRTC connection. Resolves once it is up.
    pub async fn dial(&self, addr: String) -> Result<(), JsValue> {
        let addr = addr
            .parse()
            .map_err(|e| invalid(&format!("invalid address {addr:?}: {e}")))?;
        Ok(self.0.dial(addr).await?)
    }

    /// Stores shards for others (`{enabled, quotaBytes}`), or stops (what
    /// is stored stays until `leave()`). Asks the browser for persistent
    /// storage when switched on. Resolves to `{enabled, quotaBytes,
    /// persisted, storedBytes, storedShards}`.
    pub async fn contribute(&self, options: JsValue) -> Result<JsValue, JsValue> {
        let options: Contribute = serde_wasm_bindgen::from_value(options)
            .map_err(|e| invalid(&format!("invalid contribute options: {e}")))?;
        let quota = match options.quota_bytes {
            None => None,
            Some(q) if q.is_finite() && q >= 0.0 => Some(q as u64),
            Some(q) => return Err(invalid(&format!("invalid quotaBytes {q}"))),
        };
        to_js(&self.0.contribute(options.enabled, quota).await?)
    }

    /// What this peer stores for others now: `{contributed, entries, quota,
    /// effectiveQuota}` in bytes (zeros while not contributing).
    pub fn usage(&self) -> Result<JsValue, JsValue> {
        to_js(&self.0.usage())
    }

    /// The contribution decision the peer enforces now, or `null` before
    /// the page has reported its signals (then nothing is limited).
    pub fn decision(&self) -> Result<JsValue, JsValue> {
        match self.0.decision() {
            None => Ok(JsValue::NULL),
            Some(d) => to_js(&d),
        }
    }

    /// Applies the contribution policy: `signals` is what the page sees
    /// (`www/signals.js`); the opt-in, quota and usage are the peer's own.
    /// From now on new shards are refused while the decision pauses them,
    /// and shards are served at its bandwidth cap. Returns the decision.
    #[wasm_bindgen(js_name = applySignals)]
    pub fn apply_signals(&self, signals: JsValue) -> Result<JsValue, JsValue> {
        let signals = serde_wasm_bindgen::from_value(signals)
            .map_err(|e| invalid(&format!("invalid contribution signals: {e}")))?;
        to_js(&self.0.apply_signals(signals))
    }

    /// Repairs one of this browser's uploads (`link`) when the contribution
    /// policy allows background work; resolves to what the repair found
    /// and did (`{weakestBefore, weakestAfter, segments, shards, bytes,
    /// unrepairable, ...}`).
    pub async fn repair(&self, link: String) -> Result<JsValue, JsValue> {
        to_js(&self.0.repair(&link).await?)
    }

    /// Stops contributing, hands what is stored for others to the node,
    /// and deletes it all. Resolves to `{handedOff, handedOffBytes,
    /// dropped}`.
    pub async fn leave(&self) -> Result<JsValue, JsValue> {
        to_js(&self.0.leave().await?)
    }

    /// The `/webrtc` addresses of peers that announced they store for
    /// others (excluding this one).
    pub async fn contributors(&self) -> Result<Vec<String>, JsValue> {
        let addrs = self.0.contributors().await?;
        Ok(addrs.iter().map(ToString::to_string).collect())
    }

    /// The `/webrtc` addresses of the peers the DHT lists as holders of
    /// the file `link` names (excluding this one).
    pub async fn providers(&self, link: String) -> Result<Vec<String>, JsValue> {
        let addrs = self.0.providers(&link).await?;
        Ok(addrs.iter().map(ToString::to_string).collect())
    }

    /// Resolves a name link (`https://host/#n1.<key>.<key>`, `meganet:n1…`
    /// or the bare fragment) to its newest version: `{link, version,
    /// signedAt}`, `link` the site link's bare fragment `2.<hash>.<key>`
    /// (put it after `#` on the page's origin), `signedAt` unix ms.
    /// Rejects with `link-malformed` (not a name link), `not-connected` (no
    /// node yet), `not-found` (no node has a record of the name),
    /// `wrong-key` (the record does not open with the link's read key).
    #[wasm_bindgen(js_name = resolveName)]
    pub async fn resolve_name(&self, link: String) -> Result<JsValue, JsValue> {
        let resolved = self.0.resolve_name(&link).await?;
        let out = Object::new();
        let set = |k: &str, v: JsValue| Reflect::set(&out, &JsValue::from_str(k), &v);
        set("link", JsValue::from_str(&resolved.link.fragment()))?;
        set("version", JsValue::from_f64(resolved.version as f64))?;
        set("signedAt", JsValue::from_f64(resolved.signed_at_ms as f64))?;
        set("record", Uint8Array::from(&resolved.record[..]).into())?;
        Ok(out.into())
    }

    /// Publishes the site `siteLink` under a name: `key` is the text of
    /// the name's key (as `meganet publish --name` writes it; a new name
    /// when absent). Signs a record one version above the newest the
    /// nodes hold, puts it on every node, reads it back, and resolves to
    /// `{nameLink, key, version, signedAt}` (`nameLink` the bare fragment
    /// `n1.<publisher>.<read key>`; keep `key` to publish the next
    /// version: it never leaves this page). Rejects with
    /// `link-malformed` (a bad site link), `invalid-argument` (a bad key
    /// text), `not-connected`, or `refused` (no node kept the record, with
    /// why).
    #[wasm_bindgen(js_name = publishName)]
    pub async fn publish_name(
        &self,
        site_link: String,
        key: Option<String>,
    ) -> Result<JsValue, JsValue> {
        let key = match key {
            Some(text) => {
                crate::format::NameKey::from_text(&text).map_err(transfer::TransferError::from)?
            }
            None => crate::format::NameKey::random(),
        };
        let published = self.0.publish_name(&key, &site_link).await?;
        let out = Object::new();
        let set = |k: &str, v: JsValue| Reflect::set(&out, &JsValue::from_str(k), &v);
        set("nameLink", JsValue::from_str(&key.link().fragment()))?;
        set("key", JsValue::from_str(&key.to_text()))?;
        set("version", JsValue::from_f64(published.version as f64))?;
        set("signedAt", JsValue::from_f64(published.signed_at_ms as f64))?;
        set("record", Uint8Array::from(&published.record[..]).into())?;
        Ok(out.into())
    }

    /// Keeps a name record on the nodes: `record` is the `record` field of
    /// what `resolveName` or `publishName` gave (kept by the page, without
    /// the name's read key). The nodes' newest record is read; `record` is
    /// put on them when they hold none or an older one. Resolves to the
    /// newer of the two, `{record, version, signedAt, put}`, `put` true
    /// when the nodes took this one: keep the returned record. Rejects
    /// with `manifest-malformed` (not a name record: size, encoding,
    /// signed in the future), `manifest-tampered` (its signature fails),
    /// `not-connected`, or `refused`.
    #[wasm_bindgen(js_name = republishName)]
    pub async fn republish_name(&self, record: Vec<u8>) -> Result<JsValue, JsValue> {
        let kept = self.0.republish_name(&record).await?;
        let out = Object::new();
        let set = |k: &str, v: JsValue| Reflect::set(&out, &JsValue::from_str(k), &v);
        set("record", Uint8Array::from(&kept.record[..]).into())?;
        set("version", JsValue::from_f64(kept.version as f64))?;
        set("signedAt", JsValue::from_f64(kept.signed_at_ms as f64))?;
        set("put", JsValue::from_bool(kept.put))?;
        Ok(out.into())
    }

    /// Sends `data` to `peer`'s echo service; resolves to what came back.
    pub async fn echo(&self, peer: String, data: Vec<u8>) -> Result<Vec<u8>, JsValue> {
        let peer = parse_peer(&peer)?;
        if data.len() as u64 > MAX_PROBE_BYTES {
            return Err(invalid(&format!(
                "at most {MAX_PROBE_BYTES} bytes per echo"
            )));
        }
        Ok(self.0.echo(peer, &data).await?)
    }

    /// Streams `bytes` bytes to `peer`'s sink; resolves to the count it
    /// confirms (for measuring a connection).
    pub async fn sink(&self, peer: String, bytes: f64) -> Result<f64, JsValue> {
        let peer = parse_peer(&peer)?;
        if !(0.0..=MAX_PROBE_BYTES as f64).contains(&bytes) {
            return Err(invalid("bytes out of range"));
        }
        Ok(self.0.sink(peer, bytes as u64).await? as f64)
    }

    /// Calls `callback(status)` whenever the status changes.
    #[wasm_bindgen(js_name = onStatus)]
    pub fn on_status(&self, callback: Function) -> Result<(), JsValue> {
        let listener = move |status: &peer::PeerStatus| {
            if let Ok(value) = to_js(status) {
                // A throwing listener must not stop the others or the peer.
                let _ = callback.call1(&JsValue::NULL, &value);
            }
        };
        Ok(self.0.on_status(std::rc::Rc::new(listener))?)
    }
}

/// `options.onProgress` as a Rust callback (a no-op when absent).
fn progress_callback(options: &JsValue) -> impl Fn(Progress) + 'static {
    let callback = Reflect::get(options, &JsValue::from_str("onProgress"))
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok());
    move |p: Progress| {
        if let (Some(f), Ok(value)) = (&callback, to_js(&p)) {
            let _ = f.call1(&JsValue::NULL, &value);
        }
    }
}

/// Plaintext chunks as a `ReadableStream` of `Uint8Array`s; an error
/// errors the stream with a coded `Error`.
pub(super) fn byte_stream(
    chunks: impl futures::Stream<Item = transfer::Result<Vec<u8>>> + 'static,
) -> JsValue {
    let chunks = chunks.map(|chunk| match chunk {
        Ok(bytes) => Ok(Uint8Array::from(bytes.as_slice()).into()),
        Err(e) => Err(JsValue::from(e)),
    });
    wasm_streams::ReadableStream::from_stream(chunks)
        .into_raw()
        .into()
}

/// `shards`' list `name` of hex hashes; one past [`MAX_HASHES`] is kept,
/// enough for the peer to refuse the list.
fn hash_list(list: JsValue, name: &str) -> Result<Vec<Hash>, JsValue> {
    let list = list
        .dyn_into::<Array>()
        .map_err(|_| invalid(&format!("shards: {name} must be a list of hex strings")))?;
    list.iter()
        .take(MAX_HASHES + 1)
        .map(|h| {
            h.as_string()
                .and_then(|h| h.parse::<Hash>().ok())
                .ok_or_else(|| invalid(&format!("shards: invalid hash in {name} (64 hex digits)")))
        })
        .collect()
}

fn parse_peer(peer: &str) -> Result<libp2p::PeerId, JsValue> {
    peer.parse()
        .map_err(|_| invalid(&format!("invalid peer id {peer:?}")))
}

/// This page's origin plus `/`: where links point.
fn origin() -> String {
    web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .map_or_else(|| "meganet:".to_owned(), |o| format!("{o}/"))
}
