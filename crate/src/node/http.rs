//! The node's HTTP server: the built web app (service worker at the site
//! root), `/bootstrap.json` and `/status.json`.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use tokio::sync::RwLock;
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::net::{Bootstrap, NodeStatus};

type Shared = Arc<RwLock<NodeStatus>>;

/// Serves HTTP on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    www: PathBuf,
    status: Shared,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let app = router(www, status);
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(error = %e, "HTTP server failed");
    }
}

fn router(www: PathBuf, status: Shared) -> Router {
    let index = www.join("index.html");
    let api = Router::new()
        .route("/bootstrap.json", get(bootstrap))
        .route("/status.json", get(node_status))
        .with_state(status);
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
}

async fn bootstrap(State(status): State<Shared>) -> impl IntoResponse {
    let status = status.read().await;
    let addrs = status
        .public_addrs()
        .map(|a| format!("{a}/p2p/{}", status.peer_id))
        .collect();
    Json(Bootstrap {
        peer_id: status.peer_id.clone(),
        addrs,
        ice_servers: status.ice_servers.clone(),
        nodes: status.nodes.clone(),
        repair_threshold: Some(status.repair.threshold).filter(|t| *t > 0),
    })
}

async fn node_status(State(status): State<Shared>) -> impl IntoResponse {
    Json(status.read().await.clone())
}

async fn not_built() -> impl IntoResponse {
    Html("<!doctype html><title>meganet</title><p>The web app is not built. Run <code>npm start</code>.</p>")
}
