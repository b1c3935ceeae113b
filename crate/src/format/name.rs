//! Names (spec: docs/FORMAT.md, "Names"): a stable link that always opens
//! the newest version of a site. A publisher holds an Ed25519 key and a
//! random 32-byte *read key*; the name link `n1.<public key>.<read key>`
//! carries both public halves. Each version is a *name record*, the DHT
//! value stored under [`dht_key`]: the public key, a sequence number, the
//! signing time and the site's link sealed under the read key, all signed
//! by the publisher. Nodes check the signature and keep the highest
//! sequence; only holders of the name link can open the sealed link, so
//! the DHT never learns which site a name points to.

#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use chacha20poly1305::aead::{Aead, KeyInit, OsRng, Payload};
use chacha20poly1305::{AeadCore, ChaCha20Poly1305, Key, Nonce};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use super::error::FormatError;
use super::link::{decode32, encode32, Link, MAX_LINK_LEN};
use crate::hash::Hash;

/// The name format version (the `1` of `n1.` and byte 4 of a record).
pub const NAME_VERSION: u8 = 1;
/// The largest encoded name record accepted.
pub const MAX_NAME_RECORD: usize = 1024;
/// How far in the future a record's signing time may be (clock skew).
pub const MAX_NAME_CLOCK_SKEW_MS: u64 = 10 * 60 * 1000;

/// A record starts with these four bytes.
pub const NAME_MAGIC: [u8; 4] = *b"MGNR";
/// BLAKE3 `derive_key` context of the DHT key (input: the public key).
pub const NAME_DHT_CONTEXT: &str = "meganet 2026-12 name v1 dht key";
/// BLAKE3 `derive_key` context of the sealing key (input: the read key).
pub const NAME_SEAL_CONTEXT: &str = "meganet 2026-12 name v1 seal key";
/// Prefix of the signed message (then the record up to its signature).
pub const NAME_SIGN_CONTEXT: &[u8] = b"meganet 2026-12 name v1 record\0";

/// magic, version, public key, sequence, signed at, nonce, sealed length.
const HEADER_LEN: usize = 4 + 1 + 32 + 8 + 8 + 12 + 2;
const SIGNATURE_LEN: usize = 64;
const TAG_LEN: usize = 16;

/// Why a name record was refused: one case per check, so callers (the
/// node's log, the CLI) can say which.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// Over [`MAX_NAME_RECORD`], or shorter than the fixed fields.
    #[error("it is {size} bytes; a name record is {min} to {max} bytes")]
    WrongSize { size: usize, min: usize, max: usize },
    /// Not a name record at all (magic), or its lengths disagree.
    #[error("it is not a name record: {0}")]
    Malformed(&'static str),
    /// A record version this build does not read.
    #[error("it is name record version {0}; this build reads version {NAME_VERSION}")]
    UnknownVersion(u8),
    /// The public key is not a valid Ed25519 key.
    #[error("its public key is not a valid Ed25519 key")]
    BadPublicKey,
    /// The signature does not verify under the record's public key.
    #[error("its signature does not verify")]
    BadSignature,
    /// Signed more than [`MAX_NAME_CLOCK_SKEW_MS`] after `now`.
    #[error("it was signed in the future ({ahead_ms} ms ahead of this clock)")]
    FutureTime { ahead_ms: u64 },
    /// The sealed link does not open with the read key (another name's
    /// read key, or an altered record), or what it holds is not a link.
    #[error("its sealed link does not open with this name's read key")]
    SealedLink,
    /// The record was signed by another publisher than the name's.
    #[error("it was signed by another publisher than this name's")]
    OtherPublisher,
}

impl From<NameError> for FormatError {
    fn from(reason: NameError) -> Self {
        FormatError::BadName { reason }
    }
}

/// A publisher's public key (Ed25519, 32 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublisherKey(pub [u8; 32]);

impl fmt::Debug for PublisherKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublisherKey({})", encode32(&self.0))
    }
}

impl fmt::Display for PublisherKey {
    /// Unpadded base64url, 43 characters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&encode32(&self.0))
    }
}

impl PublisherKey {
    /// The DHT key the name's records are stored under:
    /// `BLAKE3 derive_key("meganet 2026-12 name v1 dht key", public key)`.
    pub fn dht_key(&self) -> Hash {
        dht_key(self)
    }

    /// The first 8 characters of the key, for messages.
    pub fn short(&self) -> String {
        encode32(&self.0)[..8].to_owned()
    }
}

/// The DHT key of the name published by `key`.
pub fn dht_key(key: &PublisherKey) -> Hash {
    Hash(blake3::derive_key(NAME_DHT_CONTEXT, &key.0))
}

/// The secret that opens a name's records: 32 random bytes, in the name
/// link only.
#[derive(Clone, PartialEq, Eq)]
pub struct ReadKey(pub [u8; 32]);

impl fmt::Debug for ReadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReadKey(..)")
    }
}

impl ReadKey {
    /// 32 random bytes from the OS.
    pub fn random() -> Self {
        Self(ChaCha20Poly1305::generate_key(&mut OsRng).into())
    }

    fn seal_key(&self) -> [u8; 32] {
        blake3::derive_key(NAME_SEAL_CONTEXT, &self.0)
    }
}

/// A name link: `n1.<publisher key>.<read key>`, both unpadded base64url.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameLink {
    pub publisher: PublisherKey,
    pub read: ReadKey,
}

impl NameLink {
    /// The fragment, without `#`: `n1.<publisher key>.<read key>`.
    pub fn fragment(&self) -> String {
        format!(
            "n{NAME_VERSION}.{}.{}",
            encode32(&self.publisher.0),
            encode32(&self.read.0)
        )
    }

    /// A full link on `base` (e.g. `https://example.org/`).
    pub fn to_url(&self, base: &str) -> String {
        let base = base.split('#').next().unwrap_or(base);
        format!("{base}#{}", self.fragment())
    }

    /// Whether `input` looks like a name link rather than a file link (its
    /// fragment starts with `n`), so callers pick the right parser.
    pub fn is_name_link(input: &str) -> bool {
        fragment_of(input.trim()).is_some_and(|f| f.starts_with('n'))
    }
}

impl fmt::Display for NameLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "meganet:{}", self.fragment())
    }
}

fn malformed(reason: impl Into<String>) -> FormatError {
    FormatError::MalformedLink {
        reason: reason.into(),
    }
}

/// The fragment of a link in any accepted form; `None` for a URL with no
/// fragment.
fn fragment_of(input: &str) -> Option<&str> {
    if let Some((_, frag)) = input.split_once('#') {
        Some(frag)
    } else if let Some(rest) = input.strip_prefix("meganet:") {
        Some(rest)
    } else if input.contains("://") {
        None
    } else {
        Some(input)
    }
}

impl FromStr for NameLink {
    type Err = FormatError;

    fn from_str(input: &str) -> Result<Self, FormatError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(malformed("the name link is empty"));
        }
        if input.len() > MAX_LINK_LEN {
            return Err(malformed(format!(
                "the name link is {} characters long; the limit is {MAX_LINK_LEN}",
                input.len()
            )));
        }
        let fragment = fragment_of(input).ok_or_else(|| {
            malformed("the name link has no #fragment: the part after # holds the name's keys; copy the whole link")
        })?;
        let parts: Vec<&str> = fragment.split('.').collect();
        let Some(version) = parts[0].strip_prefix('n') else {
            return Err(malformed(
                "not a name link: a name link's fragment starts with n1. (this may be a file link)",
            ));
        };
        let version: u32 = version
            .parse()
            .map_err(|_| malformed(format!("the name version {version:?} is not a number")))?;
        if version != u32::from(NAME_VERSION) {
            return Err(malformed(format!(
                "name link version {version} is not supported (this build reads n{NAME_VERSION})"
            )));
        }
        if parts.len() != 3 {
            return Err(malformed(format!(
                "expected 3 dot-separated parts (n1.publisher.readkey), got {}",
                parts.len()
            )));
        }
        let publisher = PublisherKey(decode32(parts[1], "publisher key")?);
        if VerifyingKey::from_bytes(&publisher.0).is_err() {
            return Err(malformed("the publisher key is not a valid Ed25519 key"));
        }
        Ok(NameLink {
            publisher,
            read: ReadKey(decode32(parts[2], "read key")?),
        })
    }
}

/// What a publisher keeps: the Ed25519 secret and the read key. Its text
/// form (the CLI's key file, FORMAT.md "Names"):
/// `meganet name key 1\nsecret <43>\nread <43>\n`.
#[derive(Clone)]
pub struct NameKey {
    secret: SigningKey,
    pub read: ReadKey,
}

impl fmt::Debug for NameKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NameKey({:?})", self.publisher())
    }
}

const KEY_FILE_HEADER: &str = "meganet name key 1";

impl NameKey {
    /// A new name: a random secret and a random read key.
    pub fn random() -> Self {
        Self::from_parts(ReadKey::random().0, ReadKey::random())
    }

    /// The key with Ed25519 secret (seed) `secret`.
    pub fn from_parts(secret: [u8; 32], read: ReadKey) -> Self {
        Self {
            secret: SigningKey::from_bytes(&secret),
            read,
        }
    }

    /// The public key.
    pub fn publisher(&self) -> PublisherKey {
        PublisherKey(self.secret.verifying_key().to_bytes())
    }

    /// The name link that resolves to this key's newest record.
    pub fn link(&self) -> NameLink {
        NameLink {
            publisher: self.publisher(),
            read: self.read.clone(),
        }
    }

    /// The key file's text.
    pub fn to_text(&self) -> String {
        format!(
            "{KEY_FILE_HEADER}\nsecret {}\nread {}\n",
            encode32(&self.secret.to_bytes()),
            encode32(&self.read.0)
        )
    }

    /// Parses a key file's text.
    pub fn from_text(text: &str) -> Result<Self, FormatError> {
        let bad = |why: &str| FormatError::Invalid {
            what: "name key file",
            reason: why.into(),
        };
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        if lines.next() != Some(KEY_FILE_HEADER) {
            return Err(bad("it does not start with \"meganet name key 1\""));
        }
        let mut field = |name: &str| -> Result<[u8; 32], FormatError> {
            let line = lines
                .next()
                .ok_or_else(|| bad(&format!("the {name} line is missing")))?;
            let value = line
                .strip_prefix(name)
                .and_then(|v| v.strip_prefix(' '))
                .ok_or_else(|| bad(&format!("expected the {name} line, got another")))?;
            decode32(value, name)
                .map_err(|_| bad(&format!("the {name} is not 43 base64url characters")))
        };
        let secret = field("secret")?;
        let read = field("read")?;
        if lines.next().is_some() {
            return Err(bad("it has lines after the read key"));
        }
        Ok(Self::from_parts(secret, ReadKey(read)))
    }

    /// Signs a record: version `sequence` of the name points to `site`.
    /// The link is sealed under a random nonce.
    pub fn sign(&self, sequence: u64, signed_at_ms: u64, site: &Link) -> Vec<u8> {
        let nonce: [u8; 12] = ChaCha20Poly1305::generate_nonce(&mut OsRng).into();
        self.sign_with_nonce(sequence, signed_at_ms, site, nonce)
    }

    /// [`NameKey::sign`] with a given nonce (test vectors). A nonce must
    /// never repeat under one read key.
    pub fn sign_with_nonce(
        &self,
        sequence: u64,
        signed_at_ms: u64,
        site: &Link,
        nonce: [u8; 12],
    ) -> Vec<u8> {
        let plain = site.fragment();
        let sealed_len = (plain.len() + TAG_LEN) as u16;
        let mut out = Vec::with_capacity(HEADER_LEN + sealed_len as usize + SIGNATURE_LEN);
        out.extend_from_slice(&NAME_MAGIC);
        out.push(NAME_VERSION);
        out.extend_from_slice(&self.publisher().0);
        out.extend_from_slice(&sequence.to_le_bytes());
        out.extend_from_slice(&signed_at_ms.to_le_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed_len.to_le_bytes());
        let sealed = cipher(&self.read)
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: &out,
                },
            )
            .expect("ChaCha20-Poly1305 encryption cannot fail for in-memory buffers");
        out.extend_from_slice(&sealed);
        let signature = self.secret.sign(&signed_message(&out));
        out.extend_from_slice(&signature.to_bytes());
        out
    }
}

fn cipher(read: &ReadKey) -> ChaCha20Poly1305 {
    ChaCha20Poly1305::new(Key::from_slice(&read.seal_key()))
}

fn signed_message(body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(NAME_SIGN_CONTEXT.len() + body.len());
    message.extend_from_slice(NAME_SIGN_CONTEXT);
    message.extend_from_slice(body);
    message
}

/// A verified name record: authentic, but its link still sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameRecord {
    pub publisher: PublisherKey,
    pub sequence: u64,
    /// Unix milliseconds, as the publisher's clock had it.
    pub signed_at_ms: u64,
    nonce: [u8; 12],
    /// The record's bytes up to the sealed link (the AEAD's associated data).
    header: Vec<u8>,
    sealed: Vec<u8>,
}

impl NameRecord {
    /// Checks a record's size, encoding and signature, and that it was not
    /// signed more than 10 minutes after `now_ms` (unix milliseconds).
    /// Never panics, whatever `bytes` hold.
    pub fn verify(bytes: &[u8], now_ms: u64) -> Result<NameRecord, FormatError> {
        let min = HEADER_LEN + TAG_LEN + SIGNATURE_LEN;
        if bytes.len() < min || bytes.len() > MAX_NAME_RECORD {
            return Err(NameError::WrongSize {
                size: bytes.len(),
                min,
                max: MAX_NAME_RECORD,
            }
            .into());
        }
        if bytes[..4] != NAME_MAGIC {
            return Err(NameError::Malformed("it does not start with MGNR").into());
        }
        if bytes[4] != NAME_VERSION {
            return Err(NameError::UnknownVersion(bytes[4]).into());
        }
        let array = |at: usize| -> [u8; 8] { bytes[at..at + 8].try_into().unwrap_or_default() };
        let publisher = PublisherKey(bytes[5..37].try_into().unwrap_or_default());
        let sequence = u64::from_le_bytes(array(37));
        let signed_at_ms = u64::from_le_bytes(array(45));
        let nonce: [u8; 12] = bytes[53..65].try_into().unwrap_or_default();
        let sealed_len = usize::from(u16::from_le_bytes([bytes[65], bytes[66]]));
        if HEADER_LEN + sealed_len + SIGNATURE_LEN != bytes.len() || sealed_len < TAG_LEN {
            return Err(
                NameError::Malformed("its sealed link's length disagrees with its size").into(),
            );
        }
        let body = &bytes[..bytes.len() - SIGNATURE_LEN];
        let signature: [u8; 64] = bytes[body.len()..].try_into().unwrap_or([0; 64]);
        let key = VerifyingKey::from_bytes(&publisher.0).map_err(|_| NameError::BadPublicKey)?;
        key.verify_strict(&signed_message(body), &Signature::from_bytes(&signature))
            .map_err(|_| NameError::BadSignature)?;
        if signed_at_ms > now_ms.saturating_add(MAX_NAME_CLOCK_SKEW_MS) {
            return Err(NameError::FutureTime {
                ahead_ms: signed_at_ms - now_ms,
            }
            .into());
        }
        Ok(NameRecord {
            publisher,
            sequence,
            signed_at_ms,
            nonce,
            header: bytes[..HEADER_LEN].to_vec(),
            sealed: bytes[HEADER_LEN..body.len()].to_vec(),
        })
    }

    /// Verifies `bytes` as a record of the name `name` and opens its link.
    pub fn resolve(
        name: &NameLink,
        bytes: &[u8],
        now_ms: u64,
    ) -> Result<(NameRecord, Link), FormatError> {
        let record = Self::verify(bytes, now_ms)?;
        if record.publisher != name.publisher {
            return Err(NameError::OtherPublisher.into());
        }
        let link = record.open(&name.read)?;
        Ok((record, link))
    }

    /// Unseals the site link with the name's read key.
    pub fn open(&self, read: &ReadKey) -> Result<Link, FormatError> {
        let plain = cipher(read)
            .decrypt(
                Nonce::from_slice(&self.nonce),
                Payload {
                    msg: &self.sealed,
                    aad: &self.header,
                },
            )
            .map_err(|_| NameError::SealedLink)?;
        std::str::from_utf8(&plain)
            .ok()
            .and_then(|text| text.parse::<Link>().ok())
            .ok_or_else(|| NameError::SealedLink.into())
    }

    /// Of `values` (what the DHT returned for `publisher`'s key), the valid
    /// record of `publisher` with the highest sequence, with its bytes; and
    /// how many values were refused (forged, another publisher's, broken).
    pub fn newest(
        publisher: &PublisherKey,
        values: &[Vec<u8>],
        now_ms: u64,
    ) -> (Option<(NameRecord, Vec<u8>)>, usize) {
        let mut best: Option<(NameRecord, Vec<u8>)> = None;
        let mut refused = 0;
        for value in values {
            match Self::verify(value, now_ms) {
                Ok(record) if record.publisher == *publisher => {
                    if best
                        .as_ref()
                        .is_none_or(|(held, _)| record.sequence > held.sequence)
                    {
                        best = Some((record, value.clone()));
                    }
                }
                _ => refused += 1,
            }
        }
        (best, refused)
    }

    /// The DHT key this record belongs under.
    pub fn dht_key(&self) -> Hash {
        dht_key(&self.publisher)
    }

    /// Whether `held`, the newest record the nodes hold after a publish,
    /// is `ours` (version `version`, just put): the reason for the
    /// publisher when it is not. Another publish with the same key may
    /// have taken that version first, which a bare sequence check would
    /// count as ours.
    pub fn check_published(
        held: Option<&(NameRecord, Vec<u8>)>,
        ours: &[u8],
        version: u64,
    ) -> Result<(), String> {
        match held {
            Some((_, bytes)) if bytes == ours => Ok(()),
            Some((record, _)) if record.sequence >= version => Err(format!(
                "version {} of the name was published meanwhile with the same key; publish again to go above it",
                record.sequence
            )),
            Some((record, _)) => Err(format!(
                "the nodes did not keep version {version} of the name (they hold version {}); their logs say why",
                record.sequence
            )),
            None => Err("no node kept the name's record; their logs say why".into()),
        }
    }
}
