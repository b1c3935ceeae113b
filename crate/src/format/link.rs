//! Links: `https://<host>/#1.<manifest hash>.<file key>`. Both values are
//! unpadded base64url (43 characters). The key is only in the fragment,
//! which browsers never send to a server. `meganet:1.<hash>.<key>` and the
//! bare `1.<hash>.<key>` parse too.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use super::error::FormatError;
use super::seal::FileKey;
use super::{VERSION, VERSIONS};
use crate::hash::Hash;

/// Longest link accepted (a URL with a long host still fits easily).
pub const MAX_LINK_LEN: usize = 2048;

/// What a link names: a manifest and the key that opens it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The format version the file is written in.
    pub version: u8,
    /// BLAKE3 hash of the sealed manifest.
    pub manifest: Hash,
    /// The file key.
    pub key: FileKey,
}

impl Link {
    /// The fragment, without `#`: `1.<hash>.<key>`.
    pub fn fragment(&self) -> String {
        format!(
            "{}.{}.{}",
            self.version,
            encode32(&self.manifest.0),
            encode32(&self.key.0)
        )
    }

    /// A full link on `base` (e.g. `https://example.org/`).
    /// The DHT key the file's holders announce.
    pub fn provider_key(&self) -> Hash {
        self.key.provider_key(self.version)
    }

    pub fn to_url(&self, base: &str) -> String {
        let base = base.split('#').next().unwrap_or(base);
        format!("{base}#{}", self.fragment())
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "meganet:{}", self.fragment())
    }
}

fn malformed(reason: impl Into<String>) -> FormatError {
    FormatError::MalformedLink {
        reason: reason.into(),
    }
}

pub(super) fn encode32(bytes: &[u8; 32]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(super) fn decode32(part: &str, what: &str) -> Result<[u8; 32], FormatError> {
    if part.len() != 43 {
        return Err(malformed(format!(
            "the {what} must be 43 base64url characters, got {}",
            part.len()
        )));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| malformed(format!("the {what} is not valid base64url")))?;
    bytes
        .try_into()
        .map_err(|_| malformed(format!("the {what} is not 32 bytes")))
}

impl FromStr for Link {
    type Err = FormatError;

    fn from_str(input: &str) -> Result<Self, FormatError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(malformed("the link is empty"));
        }
        if input.len() > MAX_LINK_LEN {
            return Err(malformed(format!(
                "the link is {} characters long; the limit is {MAX_LINK_LEN}",
                input.len()
            )));
        }
        let fragment = if let Some((_, frag)) = input.split_once('#') {
            frag
        } else if let Some(rest) = input.strip_prefix("meganet:") {
            rest
        } else if input.contains("://") {
            return Err(malformed(
                "the link has no #fragment: the part after # holds the file's key; copy the whole link",
            ));
        } else {
            input
        };
        if fragment.starts_with('n') {
            return Err(malformed(
                "this is a name link (n1.…), not a file link: resolve it to the site's link first (meganet resolve)",
            ));
        }
        let parts: Vec<&str> = fragment.split('.').collect();
        let version = parts[0];
        let version: u32 = version
            .parse()
            .map_err(|_| malformed(format!("the version {version:?} is not a number")))?;
        if !VERSIONS.iter().any(|v| u32::from(*v) == version) {
            return Err(FormatError::UnsupportedVersion {
                found: version,
                supported: VERSION,
            });
        }
        if parts.len() != 3 {
            return Err(malformed(format!(
                "expected 3 dot-separated parts (version.hash.key), got {}",
                parts.len()
            )));
        }
        Ok(Link {
            version: version as u8,
            manifest: Hash(decode32(parts[1], "manifest hash")?),
            key: FileKey(decode32(parts[2], "file key")?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Link {
        Link {
            version: 2,
            manifest: Hash([7; 32]),
            key: FileKey([9; 32]),
        }
    }

    #[test]
    fn round_trips_in_every_form() {
        let link = sample();
        for text in [
            link.to_url("https://meganet.example/"),
            link.to_string(),
            link.fragment(),
            format!("#{}", link.fragment()),
            format!("  {}\n", link.to_url("http://127.0.0.1:8080/?x=1")),
        ] {
            assert_eq!(text.parse::<Link>().unwrap(), link, "{text}");
        }
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let f = sample().fragment();
        let err = |s: &str| s.parse::<Link>().unwrap_err().to_string();
        assert!(err("").contains("empty"));
        assert!(err("https://x.example/").contains("no #fragment"));
        assert!(err("#x.a.b").contains("not a number"));
        assert!(err("http://h/#n1.a.b").contains("this is a name link"));
        assert!(err(&f.replacen("2.", "3.", 1)).contains("unsupported format version 3"));
        assert!(err("1.abc").contains("3 dot-separated parts"));
        assert_eq!(
            f.replacen("2.", "1.", 1).parse::<Link>().unwrap().version,
            1
        );
        assert!(err(&format!("{}x", f)).contains("file key must be 43"));
        assert!(err(&f.replacen('A', "*", 1).replacen('H', "*", 1)).contains("base64url"));
        assert!(err(&"#".repeat(5000)).contains("limit"));
    }
}
