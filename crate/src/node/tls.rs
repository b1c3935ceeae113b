//! The node's own TLS (`--tls-cert`, `--tls-key`): the app over HTTPS and
//! libp2p over secure WebSocket (`/tls/ws`), without a proxy in front.
//!
//! One accept loop per TLS port ([`accept`]) completes the handshake and
//! reads the request head: a WebSocket upgrade goes to libp2p (through
//! [`transport::Inbound`], a transport fed by that loop), everything else
//! to the HTTP server. So the app and the secure WebSocket can share one
//! port (the default) or use two (`--wss`). The node, not a proxy, sees
//! every browser's address, so per-address budgets keep working.
//!
//! Certificates renew: [`Certs`] is the rustls certificate resolver, and
//! [`Certs::watch`] reloads the files when they change (checked every
//! [`RELOAD_EVERY`]). A pair that fails to load at start stops the node
//! with an error naming the file; one that fails later is logged, and
//! the certificate in use stays.

pub mod accept;
pub mod transport;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use futures_rustls::rustls::{self, crypto::ring, pki_types, server::ClientHello, sign};
use pki_types::pem::PemObject as _;

/// How often the certificate files are checked for a change.
pub const RELOAD_EVERY: Duration = Duration::from_secs(10);

/// Largest certificate chain or key file read (a chain is a few KiB).
const MAX_PEM_BYTES: u64 = 1 << 20;

/// Where the certificate chain and its key are.
#[derive(Debug, Clone)]
pub struct Files {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Why a certificate pair could not be used; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is larger than {MAX_PEM_BYTES} bytes: not a PEM file", .0.display())]
    TooLarge(PathBuf),
    #[error("{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)", .0.display())]
    NoCertificate(PathBuf),
    #[error("{} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)", .0.display())]
    NoKey(PathBuf),
    #[error("{}: the key cannot sign: {reason}", path.display())]
    BadKey { path: PathBuf, reason: String },
    #[error("{} does not match the certificate in {} (the wrong key, or a renewal half-written)", key.display(), cert.display())]
    Mismatch { cert: PathBuf, key: PathBuf },
}

/// The certificate in use, replaced when the files change.
#[derive(Debug)]
pub struct Certs {
    files: Files,
    current: RwLock<Arc<sign::CertifiedKey>>,
    stamp: RwLock<Stamp>,
}

/// The files' modification times and sizes when last loaded.
type Stamp = [Option<(SystemTime, u64)>; 2];

impl Certs {
    /// Loads the pair, or says which file is wrong.
    pub fn load(files: Files) -> Result<Arc<Self>, CertError> {
        let stamp = stamp(&files);
        let key = certified_key(&files)?;
        Ok(Arc::new(Self {
            files,
            current: RwLock::new(Arc::new(key)),
            stamp: RwLock::new(stamp),
        }))
    }

    /// A rustls server configuration that asks this for its certificate.
    pub fn server_config(self: &Arc<Self>) -> anyhow::Result<Arc<rustls::ServerConfig>> {
        let mut config =
            rustls::ServerConfig::builder_with_provider(ring::default_provider().into())
                .with_safe_default_protocol_versions()?
                .with_no_client_auth()
                .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// Reloads the pair if either file changed since it was last loaded;
    /// returns whether a new certificate is in use. A pair that does not
    /// load leaves the current one, with a warning naming the file.
    pub fn reload_if_changed(&self) -> bool {
        let now = stamp(&self.files);
        if self.stamp.read().is_ok_and(|s| *s == now) {
            return false;
        }
        if let Ok(mut s) = self.stamp.write() {
            *s = now;
        }
        match certified_key(&self.files) {
            Ok(key) => {
                if let Ok(mut current) = self.current.write() {
                    *current = Arc::new(key);
                }
                tracing::info!(cert = %self.files.cert.display(), "TLS certificate reloaded");
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "the TLS certificate files changed but do not load: the previous certificate stays in use");
                false
            }
        }
    }

    /// Checks the files every `every` for as long as the node runs.
    pub fn watch(self: Arc<Self>, every: Duration) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                self.reload_if_changed();
            }
        });
    }
}

impl rustls::server::ResolvesServerCert for Certs {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<sign::CertifiedKey>> {
        self.current.read().ok().map(|c| c.clone())
    }
}

fn stamp(files: &Files) -> Stamp {
    let one = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .and_then(|m| Some((m.modified().ok()?, m.len())))
    };
    [one(&files.cert), one(&files.key)]
}

fn read_pem(path: &Path) -> Result<Vec<u8>, CertError> {
    let read = |source| CertError::Read {
        path: path.to_owned(),
        source,
    };
    let len = std::fs::metadata(path).map_err(read)?.len();
    if len > MAX_PEM_BYTES {
        return Err(CertError::TooLarge(path.to_owned()));
    }
    std::fs::read(path).map_err(read)
}

/// Reads and checks a certificate chain and its key.
fn certified_key(files: &Files) -> Result<sign::CertifiedKey, CertError> {
    let chain: Vec<_> = pki_types::CertificateDer::pem_slice_iter(&read_pem(&files.cert)?)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(CertError::NoCertificate(files.cert.clone()));
    }
    let key = pki_types::PrivateKeyDer::from_pem_slice(&read_pem(&files.key)?)
        .map_err(|_| CertError::NoKey(files.key.clone()))?;
    let signer = ring::default_provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| CertError::BadKey {
            path: files.key.clone(),
            reason: e.to_string(),
        })?;
    let certified = sign::CertifiedKey::new(chain, signer);
    certified.keys_match().map_err(|_| CertError::Mismatch {
        cert: files.cert.clone(),
        key: files.key.clone(),
    })?;
    Ok(certified)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A self-signed certificate for 127.0.0.1: (certificate PEM, key PEM).
    pub fn throwaway() -> (String, String) {
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
        (made.cert.pem(), made.key_pair.serialize_pem())
    }

    pub fn write_pair(dir: &Path, cert: &str, key: &str) -> Files {
        std::fs::create_dir_all(dir).unwrap();
        let files = Files {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        std::fs::write(&files.cert, cert).unwrap();
        std::fs::write(&files.key, key).unwrap();
        files
    }

    fn error(dir: &Path, cert: &str, key: &str) -> String {
        Certs::load(write_pair(dir, cert, key))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_good_pair_loads_and_each_bad_file_is_named() {
        let dir = crate::temp_dir::TempDir::new("tls-load");
        let (cert, key) = throwaway();
        let (_, other_key) = throwaway();
        assert!(Certs::load(write_pair(dir.path(), &cert, &key)).is_ok());

        let e = error(dir.path(), "not a certificate", &key);
        assert!(e.contains("cert.pem holds no PEM certificate"), "{e}");
        let e = error(dir.path(), &cert, "not a key");
        assert!(e.contains("key.pem holds no PEM private key"), "{e}");
        let e = error(dir.path(), &cert, &other_key);
        assert!(
            e.contains("key.pem does not match the certificate in") && e.contains("cert.pem"),
            "{e}"
        );
        // The key where the certificate should be, and the other way round.
        let e = error(dir.path(), &key, &cert);
        assert!(e.contains("cert.pem holds no PEM certificate"), "{e}");
        let missing = Files {
            cert: dir.path().join("nope.pem"),
            key: dir.path().join("key.pem"),
        };
        let e = Certs::load(missing).unwrap_err().to_string();
        assert!(e.contains("cannot read") && e.contains("nope.pem"), "{e}");
    }

    #[test]
    fn changed_files_are_reloaded_and_broken_ones_keep_the_old_certificate() {
        let dir = crate::temp_dir::TempDir::new("tls-reload");
        let (cert, key) = throwaway();
        let certs = Certs::load(write_pair(dir.path(), &cert, &key)).unwrap();
        let serving = |c: &Certs| c.current.read().unwrap().cert[0].clone();
        let first = serving(&certs);
        assert!(!certs.reload_if_changed(), "nothing changed");

        let (cert2, key2) = throwaway();
        write_pair(dir.path(), &cert2, &key2);
        assert!(certs.reload_if_changed());
        let second = serving(&certs);
        assert_ne!(first, second);

        // A renewal caught half-written: the new certificate with the old key.
        write_pair(dir.path(), &cert, &key2);
        assert!(!certs.reload_if_changed());
        assert_eq!(
            serving(&certs),
            second,
            "a broken pair replaced the certificate"
        );
    }
}
