//! Fetches a node's `/bootstrap.json` with a minimal HTTP/1.1 GET, over
//! TLS for an `https://` node (one with `--tls-cert`, or behind a proxy).
//! TLS trusts the public web's authorities (Mozilla's list, compiled in)
//! and, when `SSL_CERT_FILE` names a PEM file, the authorities in it too
//! (a private or test authority).

use std::sync::Arc;

use anyhow::{bail, Context};
use futures::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use futures_rustls::rustls::{self, pki_types};
use pki_types::pem::PemObject as _;
use tokio_util::compat::TokioAsyncReadCompatExt as _;

use crate::net::Bootstrap;

/// Largest bootstrap document accepted.
const MAX_LEN: u64 = 64 * 1024;

/// Largest `SSL_CERT_FILE` read.
const MAX_CA_FILE: u64 = 4 << 20;

/// `node_url` is like `http://127.0.0.1:8080` or `https://node.example`
/// (a trailing path is ignored).
pub async fn fetch(node_url: &str) -> anyhow::Result<Bootstrap> {
    let (secure, rest) = match node_url.split_once("://") {
        Some(("https", rest)) => (true, rest),
        Some(("http", rest)) => (false, rest),
        _ => bail!("the node URL must start with http:// or https://, got {node_url:?}"),
    };
    let host = rest.split(['/', '#', '?']).next().unwrap_or_default();
    if host.is_empty() {
        bail!("the node URL {node_url:?} has no host");
    }
    let (name, address) = match split_port(host) {
        (name, Some(_)) => (name, host.to_owned()),
        (name, None) => (name, format!("{host}:{}", if secure { 443 } else { 80 })),
    };
    let tcp = tokio::net::TcpStream::connect(&address)
        .await
        .with_context(|| format!("cannot reach the node at {node_url}"))?;
    let response = if secure {
        let server = pki_types::ServerName::try_from(name.to_owned())
            .with_context(|| format!("{name:?} is not a host name TLS can check"))?;
        let tls = futures_rustls::TlsConnector::from(client_config()?)
            .connect(server, tcp.compat())
            .await
            .with_context(|| format!("TLS with the node at {node_url} failed"))?;
        exchange(tls, host).await?
    } else {
        exchange(tcp.compat(), host).await?
    };
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

/// Sends the GET and reads the whole (capped) response.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    host: &str,
) -> anyhow::Result<Vec<u8>> {
    let request =
        format!("GET /bootstrap.json HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    stream.flush().await?;
    let mut response = Vec::new();
    stream
        .take(MAX_LEN + 4096)
        .read_to_end(&mut response)
        .await?;
    Ok(response)
}

/// `host:port` to (`host`, `Some(port)`); a bracketed IPv6 loses its
/// brackets.
fn split_port(host: &str) -> (&str, Option<&str>) {
    if let Some(rest) = host.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((ip, port)) => (ip, port.strip_prefix(':')),
            None => (host, None),
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    }
}

/// Mozilla's authorities, and `SSL_CERT_FILE`'s.
fn client_config() -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(file) = std::env::var_os("SSL_CERT_FILE").filter(|f| !f.is_empty()) {
        let path = std::path::PathBuf::from(file);
        let len = std::fs::metadata(&path)
            .with_context(|| format!("cannot read SSL_CERT_FILE {}", path.display()))?
            .len();
        if len > MAX_CA_FILE {
            bail!(
                "SSL_CERT_FILE {} is over {MAX_CA_FILE} bytes",
                path.display()
            );
        }
        let pem = std::fs::read(&path)
            .with_context(|| format!("cannot read SSL_CERT_FILE {}", path.display()))?;
        let (added, _) = roots.add_parsable_certificates(
            pki_types::CertificateDer::pem_slice_iter(&pem).filter_map(Result::ok),
        );
        if added == 0 {
            bail!("SSL_CERT_FILE {} holds no PEM certificate", path.display());
        }
    }
    let provider = rustls::crypto::ring::default_provider();
    Ok(Arc::new(
        rustls::ClientConfig::builder_with_provider(provider.into())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

#[cfg(test)]
mod tests {
    use super::split_port;

    #[test]
    fn hosts_split_into_name_and_port() {
        assert_eq!(split_port("127.0.0.1:8080"), ("127.0.0.1", Some("8080")));
        assert_eq!(split_port("node.example"), ("node.example", None));
        assert_eq!(split_port("[::1]:443"), ("::1", Some("443")));
        assert_eq!(split_port("[::1]"), ("::1", None));
    }
}
