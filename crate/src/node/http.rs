//! The node's HTTP server: the built web app (service worker at the site
//! root), `/bootstrap.json` and `/status.json`, every response with the
//! security headers of [`headers`].

pub mod headers;
pub mod sites;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use tokio::sync::RwLock;
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::net::{Bootstrap, NodeStatus};

type Shared = Arc<RwLock<NodeStatus>>;

/// What the API handlers read: the status, and whether `/status.json`
/// lists connected peers (`--status-details`; otherwise only their count,
/// so no visitor's address or peer id is published).
#[derive(Clone)]
struct Api {
    status: Shared,
    details: bool,
    sites_port: Option<u16>,
}

/// What the app's HTTP server serves and publishes.
pub struct Options {
    pub www: PathBuf,
    pub widget_ancestors: String,
    /// List connected peers in `/status.json`.
    pub details: bool,
    /// The sites' origin's port, published in `/bootstrap.json`.
    pub sites_port: Option<u16>,
}

/// Serves HTTP on `listener` until `shutdown` resolves.
pub async fn serve<L: axum::serve::Listener<Addr = std::net::SocketAddr>>(
    listener: L,
    options: Options,
    status: Shared,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let api = Api {
        status,
        details: options.details,
        sites_port: options.sites_port,
    };
    let policy = headers::Policy {
        widget_ancestors: options.widget_ancestors,
        sites_port: options.sites_port,
    };
    let app = router(options.www, policy, api);
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(error = %e, "HTTP server failed");
    }
}

fn router(www: PathBuf, policy: headers::Policy, api_state: Api) -> Router {
    let index = www.join("index.html");
    let api = Router::new()
        .route(headers::BOOTSTRAP, get(bootstrap))
        .route("/status.json", get(node_status))
        .with_state(api_state);
    let app = if index.exists() {
        // Unknown paths fall back to the app shell so deep links work.
        Router::new().fallback_service(ServeDir::new(&www).fallback(ServeFile::new(index)))
    } else {
        tracing::warn!(dir = %www.display(), "web app not built: serving a placeholder");
        Router::new().fallback(get(not_built))
    };
    api.merge(app)
        // The app shell changes with every build; the service worker decides
        // what to cache, so the HTTP cache must not get in its way.
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        // The wasm module is about 2.2 MB; brotli makes it a third of that,
        // which matters most on phones.
        .layer(CompressionLayer::new())
        .layer(middleware::from_fn_with_state(Arc::new(policy), secure))
}

/// Adds the security headers ([`headers`]) to every response.
async fn secure(
    State(policy): State<Arc<headers::Policy>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let mut response = match lost_upgrade(&request) {
        Some(refusal) => refusal.into_response(),
        None => next.run(request).await,
    };
    headers::apply(response.headers_mut(), &path, &policy);
    response
}

/// What the node says when a browser's WebSocket handshake reaches the
/// HTTP server without its `Upgrade` header: a proxy in front dropped it
/// (nginx does, unless told to pass `Upgrade` and `Connection`).
const LOST_UPGRADE: &str = "a WebSocket handshake reached the HTTP server without its Upgrade \
header: the proxy in front of the node drops it. Pass Upgrade and Connection, and send \
upgrades to --ws (docs/DEPLOY.md, docs/nginx-meganet.conf)";

/// A WebSocket handshake (it has `Sec-WebSocket-Key`) without `Upgrade`:
/// refused with the reason, which is also logged (at most once a minute).
fn lost_upgrade(request: &Request) -> Option<(axum::http::StatusCode, &'static str)> {
    let headers = request.headers();
    if !headers.contains_key(header::SEC_WEBSOCKET_KEY) || headers.contains_key(header::UPGRADE) {
        return None;
    }
    static LAST_WARNED: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);
    if let Ok(mut last) = LAST_WARNED.lock() {
        if last.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(60)) {
            *last = Some(std::time::Instant::now());
            tracing::warn!("{LOST_UPGRADE}");
        }
    }
    Some((axum::http::StatusCode::BAD_REQUEST, LOST_UPGRADE))
}

async fn bootstrap(State(api): State<Api>) -> impl IntoResponse {
    Json(bootstrap_document(
        &*api.status.read().await,
        api.sites_port,
    ))
}

/// What `/bootstrap.json` says, from the node's status.
pub fn bootstrap_document(status: &NodeStatus, sites_port: Option<u16>) -> Bootstrap {
    let addrs = status
        .public_addrs()
        .map(|a| format!("{a}/p2p/{}", status.peer_id))
        .collect();
    Bootstrap {
        peer_id: status.peer_id.clone(),
        addrs,
        ice_servers: status.ice_servers.clone(),
        nodes: status.nodes.clone(),
        repair_threshold: Some(status.repair.threshold).filter(|t| *t > 0),
        lease_secs: Some(status.storage.lease_secs).filter(|s| *s > 0),
        sites_port,
    }
}

async fn node_status(State(api): State<Api>) -> impl IntoResponse {
    let mut status = api.status.read().await.clone();
    status.peer_count = status.peers.len();
    if !api.details {
        status.peers.clear();
    }
    Json(status)
}

async fn not_built() -> impl IntoResponse {
    Html("<!doctype html><title>meganet</title><p>The web app is not built. Run <code>npm start</code>.</p>")
}
