//! Fetches a node's `/bootstrap.json` with a minimal HTTP/1.1 GET (the node
//! is our own server; no TLS here: behind TLS, pass the node's plain address).

use anyhow::{bail, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::net::Bootstrap;

/// Largest bootstrap document accepted.
const MAX_LEN: u64 = 64 * 1024;

/// `node_url` is like `http://127.0.0.1:8080` (a trailing path is ignored).
pub async fn fetch(node_url: &str) -> anyhow::Result<Bootstrap> {
    let rest = node_url
        .strip_prefix("http://")
        .with_context(|| format!("the node URL must start with http://, got {node_url:?}"))?;
    let host = rest.split(['/', '#', '?']).next().unwrap_or_default();
    if host.is_empty() {
        bail!("the node URL {node_url:?} has no host");
    }
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .with_context(|| format!("cannot reach the node at {node_url}"))?;
    let request =
        format!("GET /bootstrap.json HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream
        .take(MAX_LEN + 4096)
        .read_to_end(&mut response)
        .await?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .context("the node sent a malformed HTTP response")?;
    if !head.starts_with("HTTP/1.1 200") {
        bail!(
            "the node answered {}",
            head.lines().next().unwrap_or_default()
        );
    }
    serde_json::from_str(body).context("the node's /bootstrap.json is not valid")
}
