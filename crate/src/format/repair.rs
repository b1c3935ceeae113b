//! The repair capability: a version-2 file's manifest hash and layout key.
//! It opens the file's layout (sizes, k, n, every shard hash, placement
//! hints) and derives its provider key, so its holder can check, rebuild
//! and re-place shards; it derives no segment key and does not open the
//! name or type, so it reads nothing. A link gives it
//! ([`Link::repair_cap`]); the manifest hash still commits to the layout.
//!
//! Text form: `meganet-repair:2.<manifest hash>.<layout key>`, both
//! unpadded base64url.

use std::fmt;
use std::str::FromStr;

use super::error::FormatError;
use super::link::{decode32, encode32, Link};
use super::manifest::Manifest;
use super::seal::LayoutKey;
use crate::hash::Hash;

/// The text form's prefix.
pub const PREFIX: &str = "meganet-repair:";

/// What lets a node or a browser repair a file without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairCap {
    pub manifest: Hash,
    pub key: LayoutKey,
}

impl RepairCap {
    /// The DHT key the file's holders announce.
    pub fn provider_key(&self) -> Hash {
        self.key.provider_key()
    }
}

/// What opens a manifest: a link (everything) or a repair capability (the
/// layout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    Read(Link),
    Repair(RepairCap),
}

impl Access {
    /// The manifest's hash.
    pub fn manifest(&self) -> Hash {
        match self {
            Self::Read(link) => link.manifest,
            Self::Repair(cap) => cap.manifest,
        }
    }

    /// The DHT key the file's holders announce.
    pub fn provider_key(&self) -> Hash {
        match self {
            Self::Read(link) => link.provider_key(),
            Self::Repair(cap) => cap.provider_key(),
        }
    }

    /// Opens `blob`: the whole manifest with a link (checked against its
    /// version), the layout with a capability.
    pub fn open(&self, blob: &[u8]) -> Result<Manifest, FormatError> {
        match self {
            Self::Read(link) => Ok(super::Decoder::open(link, blob)?.manifest().clone()),
            Self::Repair(cap) => Manifest::open_layout(blob, cap),
        }
    }
}

impl FromStr for Access {
    type Err = FormatError;

    /// A repair capability (`meganet-repair:…`) or a link, in any form.
    fn from_str(input: &str) -> Result<Self, FormatError> {
        if input.trim().starts_with(PREFIX) {
            Ok(Self::Repair(input.parse()?))
        } else {
            Ok(Self::Read(input.parse()?))
        }
    }
}

/// Version-1 files have no repair capability.
pub(super) fn no_capability() -> FormatError {
    FormatError::Invalid {
        what: "repair capability",
        reason: "version-1 files have none (their holders are announced under a key only the \
                 file key derives); share the file again for a version-2 link"
            .into(),
    }
}

impl Link {
    /// The file's repair capability (version 2 only).
    pub fn repair_cap(&self) -> Result<RepairCap, FormatError> {
        if self.version == 1 {
            return Err(no_capability());
        }
        Ok(RepairCap {
            manifest: self.manifest,
            key: self.key.layout_key(self.version),
        })
    }
}

impl fmt::Display for RepairCap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX}2.{}.{}",
            encode32(&self.manifest.0),
            encode32(&self.key.0)
        )
    }
}

fn malformed(reason: impl Into<String>) -> FormatError {
    FormatError::MalformedLink {
        reason: format!("repair capability: {}", reason.into()),
    }
}

impl FromStr for RepairCap {
    type Err = FormatError;

    fn from_str(input: &str) -> Result<Self, FormatError> {
        let input = input.trim();
        if input.len() > super::MAX_LINK_LEN {
            return Err(malformed(format!("{} characters is too long", input.len())));
        }
        let Some(rest) = input.strip_prefix(PREFIX) else {
            return Err(malformed(format!(
                "it must start with {PREFIX} (a link is not a repair capability)"
            )));
        };
        let parts: Vec<&str> = rest.split('.').collect();
        if parts[0] != "2" {
            return Err(malformed(format!("version {:?}; only 2 exists", parts[0])));
        }
        if parts.len() != 3 {
            return Err(malformed(format!(
                "expected 3 dot-separated parts (version.hash.key), got {}",
                parts.len()
            )));
        }
        let part = |i: usize, what: &str| {
            decode32(parts[i], what).map_err(|e| match e {
                FormatError::MalformedLink { reason } => malformed(reason),
                other => other,
            })
        };
        Ok(RepairCap {
            manifest: Hash(part(1, "manifest hash")?),
            key: LayoutKey(part(2, "layout key")?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::FileKey;

    #[test]
    fn a_link_gives_its_capability_and_it_prints_back() {
        let link = Link {
            version: 2,
            manifest: Hash([7; 32]),
            key: FileKey([9; 32]),
        };
        let cap = link.repair_cap().unwrap();
        assert_ne!(cap.key.0, link.key.0);
        assert_eq!(cap.provider_key(), link.provider_key());
        let text = cap.to_string();
        assert!(text.starts_with("meganet-repair:2."));
        assert_eq!(text.parse::<RepairCap>().unwrap(), cap);
    }

    #[test]
    fn a_capability_that_does_not_match_its_manifest_opens_nothing() {
        use crate::format::{Encoder, FormatError, Params};
        let enc = Encoder::new(FileKey([1; 32]), Params::default(), "secret.txt", "").unwrap();
        let finished = enc.finish().unwrap();
        let cap = finished.link.repair_cap().unwrap();
        let blob = &finished.manifest_blob;
        let wrong_key = RepairCap {
            key: LayoutKey([2; 32]),
            ..cap.clone()
        };
        assert_eq!(
            Manifest::open_layout(blob, &wrong_key),
            Err(FormatError::WrongKey)
        );
        let wrong_hash = RepairCap {
            manifest: Hash([3; 32]),
            ..cap.clone()
        };
        assert!(matches!(
            Manifest::open_layout(blob, &wrong_hash),
            Err(FormatError::ManifestTampered { .. })
        ));
        // The layout key is not a file key: it opens no name.
        let layout = Manifest::open_layout(blob, &cap).unwrap();
        assert_eq!(layout.name, "");
        assert!(!blob.windows(10).any(|w| w == b"secret.txt"));
    }

    #[test]
    fn bad_capabilities_say_why() {
        let link = Link {
            version: 1,
            manifest: Hash([7; 32]),
            key: FileKey([9; 32]),
        };
        assert!(link
            .repair_cap()
            .unwrap_err()
            .to_string()
            .contains("version-1"));
        for (text, why) in [
            ("meganet:2.a.b", "must start with"),
            ("meganet-repair:3.a.b", "only 2 exists"),
            ("meganet-repair:2.a", "3 dot-separated"),
            ("meganet-repair:2.abc.def", "43 base64url"),
        ] {
            let err = text.parse::<RepairCap>().unwrap_err().to_string();
            assert!(err.contains(why), "{text}: {err}");
        }
    }
}
