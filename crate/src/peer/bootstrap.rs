//! Fetching the node's `/bootstrap.json` and choosing an address to dial.

use libp2p::multiaddr::Protocol;
use libp2p::Multiaddr;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::net::{Bootstrap, MAX_NODES};
use libp2p::PeerId;

/// Largest bootstrap document accepted: a handful of addresses.
const MAX_BOOTSTRAP_BYTES: usize = 64 * 1024;

/// Fetches and parses the bootstrap document.
pub async fn fetch(url: &str) -> Result<Bootstrap, String> {
    let global = js_sys::global();
    let promise = if let Some(window) = global.dyn_ref::<web_sys::Window>() {
        window.fetch_with_str(url)
    } else if let Some(worker) = global.dyn_ref::<web_sys::WorkerGlobalScope>() {
        worker.fetch_with_str(url)
    } else {
        return Err("no fetch in this context".into());
    };
    let response: web_sys::Response = JsFuture::from(promise)
        .await
        .map_err(|_| format!("cannot reach the node at {url}"))?
        .dyn_into()
        .map_err(|_| "fetch returned no response".to_owned())?;
    if !response.ok() {
        return Err(format!("{url} answered HTTP {}", response.status()));
    }
    let text = JsFuture::from(response.text().map_err(|_| "unreadable body".to_owned())?)
        .await
        .map_err(|_| format!("{url}: body could not be read"))?
        .as_string()
        .unwrap_or_default();
    if text.len() > MAX_BOOTSTRAP_BYTES {
        return Err(format!("{url} is larger than {MAX_BOOTSTRAP_BYTES} bytes"));
    }
    serde_json::from_str(&text).map_err(|e| format!("{url} is not a bootstrap document: {e}"))
}

/// The address a browser dials: the first WebSocket address. WebRTC-direct
/// is not used for the node link until large browser-to-node messages are
/// proven to pass over it (docs/DESIGN.md).
pub fn pick_address(bootstrap: &Bootstrap) -> Option<Multiaddr> {
    websocket(&bootstrap.addrs)
}

/// The first address among `addrs` the WebSocket transport dials
/// ([`super::websocket::url_of`]: `/ws`, `/wss` or `/tls/ws`, never a
/// relayed one); on a page served over HTTPS only a secure one, since the
/// browser blocks `ws://` there.
fn websocket(addrs: &[String]) -> Option<Multiaddr> {
    let secure_only = page_is_secure();
    addrs
        .iter()
        .filter_map(|a| a.parse::<Multiaddr>().ok())
        .find(|a| {
            super::websocket::url_of(a).is_some_and(|url| !secure_only || url.starts_with("wss:"))
        })
}

/// Why [`pick_address`] found nothing, in words that say what to fix.
pub fn no_address(bootstrap: &Bootstrap) -> String {
    let insecure = bootstrap
        .addrs
        .iter()
        .filter_map(|a| a.parse::<Multiaddr>().ok())
        .any(|a| super::websocket::url_of(&a).is_some());
    if insecure {
        "this page is served over HTTPS, and the node offers only ws:// addresses, which the \
         browser blocks here: put the node behind a TLS proxy and advertise the proxy's address \
         with --external-address /dns4/<host>/tcp/443/wss"
            .to_owned()
    } else {
        "the node offers no WebSocket address".to_owned()
    }
}

/// Whether the page (or worker) was loaded over HTTPS.
fn page_is_secure() -> bool {
    js_sys::Reflect::get(&js_sys::global(), &"location".into())
        .and_then(|location| js_sys::Reflect::get(&location, &"protocol".into()))
        .ok()
        .and_then(|protocol| protocol.as_string())
        .is_some_and(|protocol| protocol == "https:")
}

/// The other nodes of the network the document lists, each with the
/// WebSocket address a browser dials (ending in `/p2p/<peer id>`); at most
/// [`MAX_NODES`], without `own` and entries a browser cannot dial.
pub fn other_nodes(bootstrap: &Bootstrap, own: PeerId) -> Vec<(PeerId, Multiaddr)> {
    let mut out: Vec<(PeerId, Multiaddr)> = Vec::new();
    for entry in bootstrap.nodes.iter().take(MAX_NODES) {
        let Ok(peer) = entry.peer_id.parse::<PeerId>() else {
            continue;
        };
        let Some(mut addr) = websocket(&entry.addrs) else {
            continue;
        };
        if peer == own || out.iter().any(|(p, _)| *p == peer) {
            continue;
        }
        if !matches!(addr.iter().last(), Some(Protocol::P2p(_))) {
            addr.push(Protocol::P2p(peer));
        }
        out.push((peer, addr));
    }
    out
}

/// The node's STUN servers that pass [`crate::net::check_stun_url`], at
/// most [`crate::net::MAX_ICE_SERVERS`]: a bad URL would make every
/// `RTCPeerConnection` fail to construct, so it is dropped with a warning.
pub fn stun_servers(bootstrap: &Bootstrap) -> Vec<String> {
    bootstrap
        .ice_servers
        .iter()
        .filter(|url| match crate::net::check_stun_url(url) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "ignoring a STUN server from the node");
                false
            }
        })
        .take(crate::net::MAX_ICE_SERVERS)
        .cloned()
        .collect()
}
