//! The sites' origin (`--sites`): a second HTTP listener on its own port,
//! so published sites run in an origin that is not the app's. The app
//! opens a site in a frame of this origin; this origin's service worker
//! (`site-sw.js`) serves the site's files, asking the app, through the
//! bridge page the app frames (`/meganet/bridge.html`), for each file's
//! link and for its shards. A site's scripts therefore share nothing with
//! the app: not its IndexedDB (the identity, the contributed store), not
//! its localStorage (the uploads' links), not `window.meganet`.
//!
//! The node serves only the bridge, the worker and the wasm module here;
//! everything else is the worker's, and without it a plain page says how
//! to open a site. The bridge may be framed only by the app's origins.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::Router;
use tower_http::services::ServeFile;

/// The page the app frames to reach this origin's worker.
pub const BRIDGE_PAGE: &str = "/meganet/bridge.html";

/// What this origin serves from the built app, by path.
const FILES: [(&str, &str); 4] = [
    (BRIDGE_PAGE, "bridge.html"),
    ("/bridge.js", "bridge.js"),
    ("/site-sw.js", "site-sw.js"),
    ("/meganet_bg.wasm", "meganet_bg.wasm"),
];

/// The policy of everything the node serves on this origin (the sites'
/// own files come from the worker, with their own headers).
const POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
connect-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'";

/// The origins the app is served from, for the bridge's
/// `frame-ancestors`: the HTTP address itself, and `localhost` beside a
/// loopback one. A server listening on every address may be reached by
/// any name, so then any `http:` or `https:` page (the bridge only
/// relays to the origin the framing app names, and the app only answers
/// for sites it opened). `scheme` is `https` when the node does its own
/// TLS.
pub fn app_origins(http: SocketAddr, scheme: &str) -> String {
    let port = http.port();
    match http.ip() {
        ip if ip.is_unspecified() => "http: https:".into(),
        ip if ip.is_loopback() => {
            let host = match ip {
                std::net::IpAddr::V6(_) => format!("[{ip}]"),
                std::net::IpAddr::V4(_) => ip.to_string(),
            };
            format!("{scheme}://{host}:{port} {scheme}://localhost:{port}")
        }
        std::net::IpAddr::V6(ip) => format!("{scheme}://[{ip}]:{port}"),
        ip => format!("{scheme}://{ip}:{port}"),
    }
}

/// Serves the sites' origin on `listener` until `shutdown` resolves.
pub async fn serve<L: axum::serve::Listener<Addr = std::net::SocketAddr>>(
    listener: L,
    www: PathBuf,
    app_origins: String,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    if let Err(e) = axum::serve(listener, router(www, app_origins))
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(error = %e, "the sites' HTTP server failed");
    }
}

fn router(www: PathBuf, app_origins: String) -> Router {
    let mut router = Router::new();
    for (path, file) in FILES {
        router = router.route_service(path, ServeFile::new(www.join(file)));
    }
    let csp = format!("{POLICY}; frame-ancestors {app_origins}");
    router
        .fallback(no_worker)
        .layer(middleware::from_fn_with_state(
            Arc::<str>::from(csp),
            secure,
        ))
}

/// A site path reached without the worker (a site link opened outside
/// the app, or this origin's worker removed).
async fn no_worker() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        Html(
            "<!doctype html><meta charset=utf-8><title>meganet sites</title>\
             <p>This is where meganet shows published sites. Open a site from its \
             meganet link, in the meganet app, and it appears here.</p>",
        ),
    )
}

async fn secure(State(csp): State<Arc<str>>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&csp) {
        headers.insert("content-security-policy", csp);
    }
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::app_origins;

    #[test]
    fn the_bridge_may_be_framed_by_the_app_only() {
        let at = |s: &str| app_origins(s.parse().unwrap(), "http");
        assert_eq!(
            at("127.0.0.1:8080"),
            "http://127.0.0.1:8080 http://localhost:8080"
        );
        assert_eq!(at("[::1]:80"), "http://[::1]:80 http://localhost:80");
        assert_eq!(at("192.0.2.7:9000"), "http://192.0.2.7:9000");
        assert_eq!(at("0.0.0.0:8080"), "http: https:");
        assert_eq!(
            app_origins("127.0.0.1:8443".parse().unwrap(), "https"),
            "https://127.0.0.1:8443 https://localhost:8443"
        );
    }
}
