//! The node's long-lived secrets: its libp2p identity and its WebRTC
//! certificate. Both persist in the data directory, so the peer id and the
//! certhash browsers dial stay the same across restarts.

use std::path::Path;

use anyhow::Context;
use libp2p::identity::Keypair;
use libp2p_webrtc::tokio::Certificate;

use crate::platform::IdentityStore;

/// File name of the WebRTC-direct certificate (PEM).
pub const CERT_FILE: &str = "webrtc-cert.pem";

/// The node's identity key and WebRTC certificate.
pub struct Secrets {
    pub keypair: Keypair,
    pub certificate: Certificate,
}

impl Secrets {
    /// Loads both from `dir`, creating them on first start. Corrupt files are
    /// reported and left in place.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let store = IdentityStore::open(dir)
            .with_context(|| format!("data directory {} is not usable", dir.display()))?;
        let keypair = store.load_or_create()?;
        let cert_path = store.path(CERT_FILE);
        let certificate = match store.read(CERT_FILE)? {
            Some(bytes) => {
                let pem = std::str::from_utf8(&bytes).map_err(|_| {
                    anyhow::anyhow!(
                        "WebRTC certificate {} is corrupt (not UTF-8); refusing to overwrite it",
                        cert_path.display()
                    )
                })?;
                Certificate::from_pem(pem).map_err(|e| {
                    anyhow::anyhow!(
                        "WebRTC certificate {} is corrupt ({e}); refusing to overwrite it",
                        cert_path.display()
                    )
                })?
            }
            None => {
                let cert = Certificate::generate(&mut rand::rng())
                    .context("cannot generate a WebRTC certificate")?;
                store.write_new(CERT_FILE, cert.serialize_pem().as_bytes())?;
                cert
            }
        };
        Ok(Self {
            keypair,
            certificate,
        })
    }

    /// The certhash multiaddr component of the WebRTC-direct listener.
    pub fn certhash(&self) -> String {
        let hash = self.certificate.fingerprint().to_multihash();
        libp2p::multiaddr::Protocol::Certhash(hash)
            .to_string()
            .trim_start_matches("/certhash/")
            .to_owned()
    }
}
