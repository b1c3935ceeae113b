//! The browser peer: a libp2p swarm in the page, exposed to JavaScript as
//! `Peer`. JavaScript only wires the page; every decision is made here.

mod blocks;
mod bootstrap;
mod connection;
mod contribute;
mod gate;
mod local_store;
mod network;
mod probe;
mod provided;
mod status;
mod swarm;

/// The IndexedDB store a contributing peer keeps shards in, which the
/// service worker's gateway reads too.
pub use contribute::DB_NAME as CONTRIBUTED_STORE;

use std::cell::RefCell;
use std::rc::Rc;

use futures::StreamExt as _;
use serde::Deserialize;
use tracing_subscriber::layer::SubscriberExt as _;
use wasm_bindgen::prelude::*;

use crate::platform::IdentityStore;
use crate::transfer;
pub use local_store::LocalStore;
pub use status::{PeerStatus, Status};

/// Options of `Peer.start`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Options {
    /// Where the node publishes its addresses; default `/bootstrap.json`.
    bootstrap_url: Option<String>,
    /// IndexedDB database holding the identity; default `meganet-identity`.
    identity_db: Option<String>,
}

/// A running browser peer.
#[wasm_bindgen]
pub struct Peer {
    peer_id: String,
    status: Rc<RefCell<Status>>,
    blocks: blocks::Blocks,
    commands: futures::channel::mpsc::Sender<connection::Command>,
    streams: libp2p_stream::Control,
    contribution: contribute::Shared,
    /// Shards fetched lately, shared by every get.
    shards: crate::shard_cache::ShardCache,
    /// The files the service worker's gateway is fetching.
    gateway_files: network::Sessions,
    /// The contribution policy's current decision, obeyed when serving.
    gate: gate::SharedGate,
}

#[wasm_bindgen]
impl Peer {
    /// Starts the peer: loads (or creates) its identity, then connects to the
    /// node named by the bootstrap document and keeps reconnecting.
    pub async fn start(options: JsValue) -> Result<Peer, JsError> {
        console_error_panic_hook::set_once();
        // Warnings and errors go to the browser console; a second peer in
        // the same page keeps the first subscriber.
        let mut log = tracing_wasm::WASMLayerConfigBuilder::new();
        log.set_max_level(tracing::Level::WARN);
        let _ = tracing::subscriber::set_global_default(
            tracing_subscriber::registry().with(tracing_wasm::WASMLayer::new(log.build())),
        );
        let options: Options = if options.is_undefined() || options.is_null() {
            Options::default()
        } else {
            serde_wasm_bindgen::from_value(options)
                .map_err(|e| JsError::new(&format!("invalid options: {e}")))?
        };
        let store = IdentityStore::new(
            options
                .identity_db
                .as_deref()
                .unwrap_or(IdentityStore::DEFAULT_DB),
        );
        let keypair = store.load_or_create().await?;
        let peer_id = keypair.public().to_peer_id();
        let status = Rc::new(RefCell::new(Status::new(peer_id)));
        let bootstrap_url = options
            .bootstrap_url
            .unwrap_or_else(|| "/bootstrap.json".to_owned());
        let ice_servers = crate::webrtc::session::IceServers::default();
        let (swarm, signaling) =
            swarm::build(keypair, ice_servers.clone()).map_err(|e| JsError::new(&e))?;
        let streams = swarm.behaviour().stream.new_control();
        probe::serve(&streams);
        crate::platform::spawn(signaling.run());
        let (tx, rx) = futures::channel::mpsc::channel(connection::COMMAND_QUEUE);
        let contribution = contribute::Shared::default();
        let gate = gate::SharedGate::default();
        let driver = connection::Driver::new(
            swarm,
            bootstrap_url,
            status.clone(),
            rx,
            contribution.clone(),
            gate.clone(),
            ice_servers,
        );
        crate::platform::spawn(driver.run());
        Ok(Peer {
            peer_id: peer_id.to_string(),
            blocks: blocks::Blocks::new(tx.clone(), status.clone()),
            status,
            commands: tx,
            streams,
            contribution,
            shards: Default::default(),
            gateway_files: Default::default(),
            gate,
        })
    }

    /// This peer's id.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> String {
        self.peer_id.clone()
    }

    /// A snapshot: node connection state and every open connection.
    pub fn status(&self) -> Result<JsValue, JsError> {
        let snapshot = self.status.borrow().snapshot();
        status::to_js(&snapshot).map_err(|e| JsError::new(&e.to_string()))
    }

    /// Stores a `File`, a `Blob` or a `ReadableStream` of bytes on the
    /// network; resolves to its link (`<origin>/#1.<hash>.<key>`).
    /// `options.onProgress({stage, done, total, peers})` follows the upload
    /// (`total` is 0 for a stream); `options.name` and `options.type` name
    /// a stream's file (a `File` has its own).
    pub async fn put(&self, input: JsValue, options: JsValue) -> Result<String, JsValue> {
        let progress = progress_callback(&options);
        let text = |from: &JsValue, key: &str| {
            js_sys::Reflect::get(from, &JsValue::from_str(key))
                .ok()
                .and_then(|v| v.as_string())
                .unwrap_or_default()
        };
        let (stream, input) = if let Some(blob) = input.dyn_ref::<web_sys::Blob>() {
            let name = text(&input, "name");
            let total = blob.size() as u64;
            let input = transfer::Input {
                name,
                mime: blob.type_(),
                total,
            };
            (blob.stream(), input)
        } else if let Some(stream) = input.dyn_ref::<web_sys::ReadableStream>() {
            let (name, mime) = (text(&options, "name"), text(&options, "type"));
            (
                stream.clone(),
                transfer::Input {
                    name,
                    mime,
                    total: 0,
                },
            )
        } else {
            return Err(crate::wasm::invalid(
                "put takes a File, a Blob or a ReadableStream of bytes",
            ));
        };
        let mut sink = network::Uploads {
            blocks: self.blocks.clone(),
        };
        let reader = crate::format::read_stream(stream);
        let link = transfer::put(&mut sink, reader, &input, &progress).await?;
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
        let number = |key: &str| {
            js_sys::Reflect::get(&options, &JsValue::from_str(key))
                .ok()
                .and_then(|v| v.as_f64())
                .filter(|n| n.is_finite() && *n >= 0.0)
                .map(|n| n as u64)
        };
        let range = match (number("start"), number("end")) {
            (None, None) => None,
            (start, end) => Some((start.unwrap_or(0), end)),
        };
        let progress = progress_callback(&options);
        if self.status.borrow().node().state != "connected" {
            progress(transfer::Tally::default().progress(transfer::Stage::Connecting, 0, 0));
        }
        let opened = network::open(&self.blocks, &self.shards, &link, range).await?;
        let out = js_sys::Object::new();
        let set = |k: &str, v: &JsValue| js_sys::Reflect::set(&out, &JsValue::from_str(k), v);
        set("name", &JsValue::from_str(&opened.name)).ok();
        set("size", &JsValue::from_f64(opened.size as f64)).ok();
        set("type", &JsValue::from_str(&opened.mime)).ok();
        set("start", &JsValue::from_f64(opened.range.start as f64)).ok();
        set("end", &JsValue::from_f64(opened.range.end as f64)).ok();
        let chunks = opened.into_stream(progress).map(|chunk| match chunk {
            Ok(bytes) => Ok(js_sys::Uint8Array::from(bytes.as_slice()).into()),
            Err(e) => Err(JsValue::from(e)),
        });
        let stream = wasm_streams::ReadableStream::from_stream(chunks).into_raw();
        set("stream", &stream).ok();
        Ok(out.into())
    }

    /// Shards of the file `link` names, by hash (hex), for the service
    /// worker's gateway (`gatewayOpen`), which decodes and decrypts them:
    /// resolves to `{shards, peers}`, `shards` holding a `Uint8Array` (each
    /// checked against its hash) or `null` (no holder had it) per hash, in
    /// order, and `peers` the bytes each holder has sent for this file.
    pub async fn shards(&self, link: String, hashes: JsValue) -> Result<JsValue, JsValue> {
        let hashes = hashes
            .dyn_into::<js_sys::Array>()
            .map_err(|_| crate::wasm::invalid("shards: hashes must be a list of hex strings"))?;
        // One past the limit is enough for `transfer::shards` to refuse.
        let hashes = hashes
            .iter()
            .take(network::MAX_HASHES + 1)
            .map(|h| {
                h.as_string()
                    .and_then(|h| h.parse::<crate::hash::Hash>().ok())
                    .ok_or_else(|| {
                        crate::wasm::invalid("shards: invalid shard hash (64 hex digits)")
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (shards, progress) = network::shards(
            &self.blocks,
            &self.shards,
            &self.gateway_files,
            &link,
            &hashes,
        )
        .await?;
        let list = js_sys::Array::new();
        for shard in shards {
            list.push(&match shard {
                Some(bytes) => js_sys::Uint8Array::from(bytes.as_slice()).into(),
                None => JsValue::NULL,
            });
        }
        let out = js_sys::Object::new();
        js_sys::Reflect::set(&out, &JsValue::from_str("shards"), &list).ok();
        let peers =
            status::to_js(&progress.peers).map_err(|e| crate::wasm::internal(&e.to_string()))?;
        js_sys::Reflect::set(&out, &JsValue::from_str("peers"), &peers).ok();
        Ok(out.into())
    }

    /// How many of a stored file's shards can be reached now: resolves
    /// to `{name, segments, k, n, weakest, state, holders, hinted}`, where
    /// `weakest` is the fewest reachable shards of any segment and `state`
    /// is `healthy`, `at-risk` (exactly k) or `unavailable`.
    pub async fn health(&self, link: String) -> Result<JsValue, JsValue> {
        let health = network::health(&self.blocks, &link).await?;
        status::to_js(&health).map_err(|e| crate::wasm::internal(&e.to_string()))
    }

    /// Connects directly to another browser at its `/webrtc` address
    /// (`<node>/p2p-circuit/webrtc/p2p/<peer>`): signaling over the node's
    /// relay, then a direct WebRTC connection. Resolves once it is up.
    pub async fn dial(&self, addr: String) -> Result<(), JsError> {
        let addr: libp2p::Multiaddr = addr
            .parse()
            .map_err(|e| JsError::new(&format!("invalid address {addr:?}: {e}")))?;
        let (reply, answer) = futures::channel::oneshot::channel();
        let mut commands = self.commands.clone();
        futures::SinkExt::send(&mut commands, connection::Command::Connect { addr, reply })
            .await
            .map_err(|_| JsError::new("the peer has stopped"))?;
        answer
            .await
            .map_err(|_| JsError::new("the peer has stopped"))?
            .map_err(|e| JsError::new(&e))
    }

    /// Stores shards for others (`{enabled, quotaBytes}`), or stops (what
    /// is stored stays until `leave()`). Asks the browser for persistent
    /// storage when switched on. Resolves to `{enabled, quotaBytes,
    /// persisted, storedBytes, storedShards}`.
    pub async fn contribute(&self, options: JsValue) -> Result<JsValue, JsError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Contribute {
            enabled: bool,
            quota_bytes: Option<f64>,
        }
        let options: Contribute = serde_wasm_bindgen::from_value(options)
            .map_err(|e| JsError::new(&format!("invalid contribute options: {e}")))?;
        let quota = match options.quota_bytes {
            None => contribute::DEFAULT_QUOTA,
            Some(q) if q.is_finite() && q >= 0.0 => q as u64,
            Some(q) => return Err(JsError::new(&format!("invalid quotaBytes {q}"))),
        };
        let state = contribute::set(&self.contribution, options.enabled, quota)
            .await
            .map_err(|e| JsError::new(&e))?;
        self.gate.borrow_mut().reconsider(self.own());
        self.send(connection::Command::Announce { forget: false })
            .await?;
        status::to_js(&state).map_err(|e| JsError::new(&e.to_string()))
    }

    /// What this peer stores for others now: `{contributed, entries, quota,
    /// effectiveQuota}` in bytes (zeros while not contributing).
    pub fn usage(&self) -> Result<JsValue, JsError> {
        status::to_js(&contribute::usage(&self.contribution))
            .map_err(|e| JsError::new(&e.to_string()))
    }

    /// The contribution decision the peer enforces now, or `null` before
    /// the page has reported its signals (then nothing is limited).
    pub fn decision(&self) -> Result<JsValue, JsError> {
        match self.gate.borrow().decision() {
            None => Ok(JsValue::NULL),
            Some(d) => serde_wasm_bindgen::to_value(d)
                .map_err(|e| JsError::new(&format!("cannot return the decision: {e}"))),
        }
    }

    /// Applies the contribution policy: `signals` is what the page sees
    /// (`www/signals.js`); the opt-in, quota and usage are the peer's own.
    /// From now on new shards are refused while the decision pauses them,
    /// and shards are served at its bandwidth cap. Returns the decision.
    #[wasm_bindgen(js_name = applySignals)]
    pub fn apply_signals(&self, signals: JsValue) -> Result<JsValue, JsError> {
        let signals: crate::policy::Signals = serde_wasm_bindgen::from_value(signals)
            .map_err(|e| JsError::new(&format!("invalid contribution signals: {e}")))?;
        let decision = self.gate.borrow_mut().update(signals, self.own());
        serde_wasm_bindgen::to_value(&decision)
            .map_err(|e| JsError::new(&format!("cannot return the decision: {e}")))
    }

    /// Stops contributing and deletes everything stored for others.
    pub async fn leave(&self) -> Result<(), JsError> {
        contribute::leave(&self.contribution)
            .await
            .map_err(|e| JsError::new(&e))?;
        self.gate.borrow_mut().reconsider(self.own());
        self.send(connection::Command::Announce { forget: true })
            .await
    }

    /// The `/webrtc` addresses of peers that announced they store for
    /// others (excluding this one).
    pub async fn contributors(&self) -> Result<Vec<String>, JsError> {
        self.providers_of(connection::contributors_key()).await
    }

    /// The `/webrtc` addresses of the peers the DHT lists as holders of
    /// the file `link` names (excluding this one).
    pub async fn providers(&self, link: String) -> Result<Vec<String>, JsError> {
        let link: crate::format::Link = link.parse().map_err(|e| JsError::new(&format!("{e}")))?;
        let key = libp2p::kad::RecordKey::new(&link.key.provider_key().0);
        self.providers_of(key).await
    }

    async fn providers_of(&self, key: libp2p::kad::RecordKey) -> Result<Vec<String>, JsError> {
        let (reply, answer) = futures::channel::oneshot::channel();
        self.send(connection::Command::Providers { key, reply })
            .await?;
        let addrs = answer
            .await
            .map_err(|_| JsError::new("the peer has stopped"))?;
        Ok(addrs.iter().map(ToString::to_string).collect())
    }

    /// Sends `data` to `peer`'s echo service; resolves to what came back.
    pub async fn echo(&self, peer: String, data: Vec<u8>) -> Result<Vec<u8>, JsError> {
        let peer = parse_peer(&peer)?;
        probe::echo(&self.streams, peer, &data)
            .await
            .map_err(|e| JsError::new(&e))
    }

    /// Streams `bytes` bytes to `peer`'s sink; resolves to the count it
    /// confirms (for measuring a connection).
    pub async fn sink(&self, peer: String, bytes: f64) -> Result<f64, JsError> {
        let peer = parse_peer(&peer)?;
        if !(0.0..=probe::MAX_PROBE_BYTES as f64).contains(&bytes) {
            return Err(JsError::new("bytes out of range"));
        }
        probe::sink(&self.streams, peer, bytes as u64)
            .await
            .map(|n| n as f64)
            .map_err(|e| JsError::new(&e))
    }

    /// Calls `callback(status)` whenever the status changes.
    #[wasm_bindgen(js_name = onStatus)]
    pub fn on_status(&self, callback: js_sys::Function) -> Result<(), JsError> {
        self.status
            .borrow_mut()
            .subscribe(callback)
            .map_err(|e| JsError::new(&e))
    }
}

/// `options.onProgress` as a Rust callback (a no-op when absent).
fn progress_callback(options: &JsValue) -> impl Fn(transfer::Progress) + 'static {
    let callback = js_sys::Reflect::get(options, &JsValue::from_str("onProgress"))
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    move |p: transfer::Progress| {
        if let (Some(f), Ok(value)) = (&callback, status::to_js(&p)) {
            let _ = f.call1(&JsValue::NULL, &value);
        }
    }
}

impl Peer {
    /// The peer's own side of the contribution policy's inputs.
    fn own(&self) -> gate::Own {
        let usage = contribute::usage(&self.contribution);
        gate::Own {
            opted_in: self.contribution.borrow().is_some(),
            quota_bytes: usage.quota,
            used_bytes: usage.contributed,
        }
    }

    async fn send(&self, command: connection::Command) -> Result<(), JsError> {
        let mut commands = self.commands.clone();
        futures::SinkExt::send(&mut commands, command)
            .await
            .map_err(|_| JsError::new("the peer has stopped"))
    }
}

fn parse_peer(peer: &str) -> Result<libp2p::PeerId, JsError> {
    peer.parse()
        .map_err(|_| JsError::new(&format!("invalid peer id {peer:?}")))
}

/// This page's origin plus `/`: where links point.
fn origin() -> String {
    web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .map_or_else(|| "meganet:".to_owned(), |o| format!("{o}/"))
}
