//! The security headers every response of the node's HTTP server carries:
//! a Content-Security-Policy allowing exactly what the web app needs,
//! `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`.
//!
//! The app loads only its own scripts, styles, images and wasm (compiled
//! under `'wasm-unsafe-eval'`, never `'unsafe-eval'`), previews files
//! from `blob:` URLs, and dials nodes over WebSocket on other ports and
//! hosts (`ws:`/`wss:`; WebRTC is not governed by CSP), and frames the
//! sites' origin (its port, on whatever name the app was reached by). No
//! page may be
//! framed (`frame-ancestors 'none'`) except the widget's frame,
//! `/widget.html`, which the sites `--widget-frame-ancestors` names may
//! embed (default any: the widget is meant for other sites; consent is a
//! click inside the frame, which the host page cannot fake).
//!
//! `/bootstrap.json` alone may be read from any origin
//! (`Access-Control-Allow-Origin: *`): it is public, and an app that uses
//! the `meganet` npm package on its own site starts its peer from it.

use axum::http::{HeaderMap, HeaderValue};

/// Everything but `frame-src` and `frame-ancestors`.
const POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; \
connect-src 'self' ws: wss:; worker-src 'self'; manifest-src 'self'; \
object-src 'none'; base-uri 'none'; form-action 'self'";

/// What a response's policy depends on.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// `--widget-frame-ancestors`.
    pub widget_ancestors: String,
    /// The sites' origin's port, which the app frames.
    pub sites_port: Option<u16>,
}

/// The widget's frame: the one page other sites may embed.
pub const WIDGET_PAGE: &str = "/widget.html";

/// The bootstrap document: the one resource other origins may read.
pub const BOOTSTRAP: &str = "/bootstrap.json";

/// The CSP for a response to `path`: `frame-ancestors` is `'none'` but
/// for the widget's frame, which gets `widget_ancestors`.
pub fn policy(path: &str, policy: &Policy) -> String {
    let ancestors = if path == WIDGET_PAGE {
        policy.widget_ancestors.as_str()
    } else {
        "'none'"
    };
    let sites = match policy.sites_port {
        Some(port) => format!(" http://*:{port} https://*:{port}"),
        None => String::new(),
    };
    format!("{POLICY}; frame-src 'self' blob:{sites}; frame-ancestors {ancestors}")
}

/// Sets the security headers on a response to `path`.
pub fn apply(headers: &mut HeaderMap, path: &str, p: &Policy) {
    if let Ok(csp) = HeaderValue::from_str(&policy(path, p)) {
        headers.insert("content-security-policy", csp);
    }
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    if path == BOOTSTRAP {
        headers.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    }
}

/// Checks a `--widget-frame-ancestors` value: `*`, `'self'`, `'none'`, or
/// origins (`https://example.com`, `https://*.example.com:8443`),
/// separated by spaces. Nothing else may reach the header.
pub fn parse_ancestors(value: &str) -> Result<String, String> {
    let sources: Vec<&str> = value.split_whitespace().collect();
    if sources.is_empty() {
        return Err("give at least one source, such as * or https://example.com".into());
    }
    if sources.len() > 32 {
        return Err("at most 32 sources".into());
    }
    for source in &sources {
        if !is_source(source) {
            return Err(format!(
                "{source:?} is not *, 'self', 'none' or an origin such as https://example.com"
            ));
        }
    }
    if sources.len() > 1 && sources.contains(&"'none'") {
        return Err("'none' cannot be combined with other sources".into());
    }
    Ok(sources.join(" "))
}

fn is_source(source: &str) -> bool {
    if matches!(source, "*" | "'self'" | "'none'") {
        return true;
    }
    let Some((scheme, rest)) = source.split_once("://") else {
        return false;
    };
    let host = rest.strip_prefix("*.").unwrap_or(rest);
    let (host, port) = match host.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (host, None),
    };
    matches!(scheme, "http" | "https")
        && !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && port.is_none_or(|p| p.parse::<u16>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(ancestors: &str) -> Policy {
        Policy {
            widget_ancestors: ancestors.into(),
            sites_port: Some(8081),
        }
    }

    #[test]
    fn only_the_widget_frame_may_be_framed() {
        let any = with("*");
        assert!(policy("/", &any).ends_with("frame-ancestors 'none'"));
        assert!(policy("/index.html", &any).ends_with("frame-ancestors 'none'"));
        assert!(policy(WIDGET_PAGE, &with("https://a.example"))
            .ends_with("frame-ancestors https://a.example"));
        assert!(policy("/", &any).contains("script-src 'self' 'wasm-unsafe-eval';"));
        assert!(!policy("/", &any).contains("'unsafe-eval'"));
        assert!(!policy("/", &any).contains("'unsafe-inline'"));
    }

    #[test]
    fn only_the_bootstrap_document_is_readable_from_other_origins() {
        let cors = |path| {
            let mut headers = HeaderMap::new();
            apply(&mut headers, path, &Policy::default());
            headers.get("access-control-allow-origin").cloned()
        };
        assert_eq!(cors(BOOTSTRAP).unwrap(), "*");
        for path in ["/", "/status.json", WIDGET_PAGE, "/meganet_bg.wasm"] {
            assert!(cors(path).is_none(), "{path} readable cross-origin");
        }
    }

    #[test]
    fn the_app_frames_its_sites_origin_only() {
        assert!(policy("/", &with("*"))
            .contains("frame-src 'self' blob: http://*:8081 https://*:8081;"));
        let none = Policy::default();
        assert!(policy("/", &none).contains("frame-src 'self' blob:;"));
    }

    #[test]
    fn ancestors_accept_origins_and_keywords_and_refuse_anything_else() {
        assert_eq!(parse_ancestors("*").unwrap(), "*");
        assert_eq!(
            parse_ancestors("  https://a.example   https://*.b.example:8443 'self' ").unwrap(),
            "https://a.example https://*.b.example:8443 'self'"
        );
        for bad in [
            "",
            "https://a.example; script-src *",
            "javascript://x",
            "a.example",
            "https://",
            "https://a..example",
            "https://a.example:99999",
            "'none' https://a.example",
            "https://a.example/path",
            "https://a.example,https://b.example",
        ] {
            assert!(parse_ancestors(bad).is_err(), "{bad:?} accepted");
        }
    }
}
