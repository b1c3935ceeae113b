//! Sites (spec: docs/FORMAT.md, "Sites: the directory document"): a folder
//! published as one *directory document*, a JSON list of every file's
//! path, link, size and media type, stored as an ordinary file of type
//! [`SITE_TYPE`]. The site's link is that file's link, and the document
//! carries every file's key, so only who holds the site link reads the
//! site. Paths are flat (`img/cat.png`), so no folder can contain itself.
//!
//! [`parse_site`] checks everything a reader relies on and never panics;
//! [`Site::new`] applies the same rules to a site being built, so a
//! document this crate writes is one it reads.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::error::FormatError;
use super::link::Link;

/// The media type of a directory document: a file of this type is a site.
pub const SITE_TYPE: &str = "application/vnd.meganet.site+json";
/// The document version this build writes and reads (`meganet_site`).
pub const SITE_VERSION: u64 = 1;
/// The index document `meganet publish` expects at the folder's root.
pub const SITE_INDEX: &str = "index.html";
/// Largest directory document, in bytes (about 20,000 entries of typical
/// length; twice what [`MAX_SITE_ENTRIES`] allows).
pub const MAX_SITE_DOCUMENT: usize = 4 << 20;
/// Most files in one site.
pub const MAX_SITE_ENTRIES: usize = 10_000;
/// Longest path, in bytes (UTF-8), the manifest's limit for a file name.
pub const MAX_SITE_PATH: usize = 1024;
/// Longest path segment (one file or folder name), in bytes: the usual
/// file-system limit.
pub const MAX_SITE_SEGMENT: usize = 255;
/// Most segments in a path (`a/b/c` has 3).
pub const MAX_SITE_DEPTH: usize = 32;
/// Longest media type, in bytes, as in a manifest.
pub const MAX_SITE_TYPE: usize = 255;

/// One file of a site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteEntry {
    /// Where it is in the site: relative, `/` between folders.
    pub path: String,
    /// Its file link (key included).
    pub link: Link,
    /// Its plaintext size in bytes.
    pub size: u64,
    /// The media type to serve it with (empty: `application/octet-stream`).
    pub mime: String,
}

/// A directory document that follows every rule: build one with
/// [`Site::new`] or [`parse_site`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    index: String,
    entries: Vec<SiteEntry>,
}

/// A refusal with its reason.
fn bad(reason: impl Into<String>) -> FormatError {
    FormatError::BadSite {
        reason: reason.into(),
    }
}

/// A path as a reason quotes it: escaped, and cut at 100 characters (it
/// may be megabytes long).
fn quote(path: &str) -> String {
    match path.char_indices().nth(100) {
        Some((at, _)) => format!("{:?}…", &path[..at]),
        None => format!("{path:?}"),
    }
}

impl Site {
    /// A site with the index document `index` and these entries, in this
    /// order; refused, with the reason, when it breaks any rule or cap,
    /// including the size of the document it would write.
    pub fn new(index: String, entries: Vec<SiteEntry>) -> Result<Self, FormatError> {
        if entries.len() > MAX_SITE_ENTRIES {
            return Err(bad(format!(
                "it has {} entries; the limit is {MAX_SITE_ENTRIES}",
                entries.len()
            )));
        }
        let mut files = BTreeSet::new();
        // Each folder, with the first path found inside it.
        let mut folders: BTreeMap<&str, &str> = BTreeMap::new();
        for entry in &entries {
            let path = entry.path.as_str();
            check_site_path(path)?;
            check_type(path, &entry.mime)?;
            if !files.insert(path) {
                return Err(bad(format!("the path {path:?} is listed twice")));
            }
            for (at, _) in path.match_indices('/') {
                folders.entry(&path[..at]).or_insert(path);
            }
        }
        if let Some((folder, inside)) = folders.iter().find(|(f, _)| files.contains(*f)) {
            return Err(bad(format!(
                "the path {folder:?} is both a file and a folder (it holds {inside:?})"
            )));
        }
        if !files.contains(index.as_str()) {
            return Err(bad(format!(
                "the index {} is not one of the entries",
                quote(&index)
            )));
        }
        let site = Self { index, entries };
        let len = site.to_json().len();
        if len > MAX_SITE_DOCUMENT {
            return Err(bad(format!(
                "its document would be {len} bytes; the limit is {MAX_SITE_DOCUMENT}"
            )));
        }
        Ok(site)
    }

    /// The index document's path.
    pub fn index(&self) -> &str {
        &self.index
    }

    /// Every entry, in the document's order.
    pub fn entries(&self) -> &[SiteEntry] {
        &self.entries
    }

    /// The entry at exactly `path` (no normalisation: `a/./b` is not `a/b`).
    pub fn entry(&self, path: &str) -> Option<&SiteEntry> {
        self.entries.iter().find(|e| e.path == path)
    }

    /// The directory document: one line for the header, one per entry, so
    /// it reads well and diffs well; [`parse_site`] gives this site back.
    pub fn to_json(&self) -> Vec<u8> {
        let text = |s: &str| serde_json::Value::from(s).to_string();
        let mut out = format!(
            "{{\"meganet_site\":{SITE_VERSION},\"index\":{},\"entries\":[\n",
            text(&self.index)
        );
        for (i, e) in self.entries.iter().enumerate() {
            out.push_str(&format!(
                "{{\"path\":{},\"link\":{},\"size\":{},\"type\":{}}}{}\n",
                text(&e.path),
                text(&e.link.fragment()),
                e.size,
                text(&e.mime),
                if i + 1 < self.entries.len() { "," } else { "" }
            ));
        }
        out.push_str("]}\n");
        out.into_bytes()
    }
}

/// Checks one path: relative, `/` between segments, none empty, `.` or
/// `..`, no `\` or control character, within [`MAX_SITE_PATH`],
/// [`MAX_SITE_SEGMENT`] and [`MAX_SITE_DEPTH`]. The reason names it.
pub fn check_site_path(path: &str) -> Result<(), FormatError> {
    let refuse = |why: &str| Err(bad(format!("the path {} {why}", quote(path))));
    if path.is_empty() {
        return Err(bad("a path is empty"));
    }
    if path.len() > MAX_SITE_PATH {
        return refuse(&format!(
            "is {} bytes long; the limit is {MAX_SITE_PATH}",
            path.len()
        ));
    }
    if path.starts_with('/') {
        return refuse("starts with /: paths are relative to the site");
    }
    if path.contains('\\') {
        return refuse("contains a backslash: folders are separated by /");
    }
    if path.chars().any(char::is_control) {
        return refuse("contains a control character");
    }
    let segments: Vec<&str> = path.split('/').collect();
    if segments.len() > MAX_SITE_DEPTH {
        return refuse(&format!(
            "is {} levels deep; the limit is {MAX_SITE_DEPTH}",
            segments.len()
        ));
    }
    for segment in segments {
        match segment {
            "" => return refuse("has an empty segment (// or a trailing /)"),
            "." | ".." => return refuse(&format!("has a {segment:?} segment")),
            s if s.len() > MAX_SITE_SEGMENT => {
                return refuse(&format!(
                    "has a segment of {} bytes; the limit is {MAX_SITE_SEGMENT}",
                    s.len()
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks the media type of the entry at `path`.
fn check_type(path: &str, mime: &str) -> Result<(), FormatError> {
    if mime.len() > MAX_SITE_TYPE {
        return Err(bad(format!(
            "the type of {path:?} is {} bytes long; the limit is {MAX_SITE_TYPE}",
            mime.len()
        )));
    }
    if !mime.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err(bad(format!("the type of {path:?} is not printable ASCII")));
    }
    Ok(())
}

/// A JSON object and nothing else: serde's derived structs would also
/// take an array, fields by position, which the format does not allow.
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(input: D) -> Result<Self, D::Error> {
        struct Only<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Only<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }
        input.deserialize_map(Only(PhantomData)).map(Object)
    }
}

/// Just the version, read first: a later version may change the rest.
#[derive(Deserialize)]
struct Version {
    meganet_site: Option<serde_json::Value>,
}

/// The document as JSON gives it; fields not named here are ignored.
#[derive(Deserialize)]
struct Document {
    index: String,
    entries: Vec<Object<RawEntry>>,
}

#[derive(Deserialize)]
struct RawEntry {
    path: String,
    link: String,
    size: u64,
    #[serde(rename = "type")]
    mime: String,
}

/// Reads a directory document: refused, with a reason that says what is
/// wrong, when it is larger than [`MAX_SITE_DOCUMENT`], is not a JSON
/// object of version [`SITE_VERSION`] with every field of the right type
/// (duplicate keys included), or breaks a rule of [`Site::new`]. A link
/// must be the bare fragment (`2.<hash>.<key>`).
pub fn parse_site(bytes: &[u8]) -> Result<Site, FormatError> {
    if bytes.len() > MAX_SITE_DOCUMENT {
        return Err(bad(format!(
            "the document is {} bytes; the limit is {MAX_SITE_DOCUMENT}",
            bytes.len()
        )));
    }
    let json = |e: serde_json::Error| bad(format!("the document is not valid: {e}"));
    let Object(version): Object<Version> = serde_json::from_slice(bytes).map_err(json)?;
    match version.meganet_site {
        None => {
            return Err(bad(
                "the document has no \"meganet_site\" version: it is not a site",
            ))
        }
        Some(v) if v.as_u64() == Some(SITE_VERSION) => {}
        Some(v) => {
            return Err(bad(format!(
                "the document is of version {v}; this build reads version {SITE_VERSION}"
            )))
        }
    }
    let Object(doc): Object<Document> = serde_json::from_slice(bytes).map_err(json)?;
    if doc.entries.len() > MAX_SITE_ENTRIES {
        return Err(bad(format!(
            "it has {} entries; the limit is {MAX_SITE_ENTRIES}",
            doc.entries.len()
        )));
    }
    let entries = doc
        .entries
        .into_iter()
        .map(|Object(e)| {
            let link = parse_entry_link(&e.path, &e.link)?;
            Ok(SiteEntry {
                path: e.path,
                link,
                size: e.size,
                mime: e.mime,
            })
        })
        .collect::<Result<Vec<_>, FormatError>>()?;
    Site::new(doc.index, entries)
}

/// An entry's link: exactly a bare fragment that parses. Messages never
/// repeat the link: it holds the file's key.
fn parse_entry_link(path: &str, text: &str) -> Result<Link, FormatError> {
    let link: Link = text
        .parse()
        .map_err(|e| bad(format!("the link of {path:?} is not a file link: {e}")))?;
    if link.fragment() != text {
        return Err(bad(format!(
            "the link of {path:?} must be the bare form version.hash.key"
        )));
    }
    Ok(link)
}

#[cfg(test)]
mod tests;
