//! Sites for the page and the service worker: `parseSite(bytes)` checks a
//! directory document ([`crate::format::parse_site`]) and returns it as a
//! plain object; `siteDocument(site)` writes one (the page's "Publish a
//! folder"), with every rule of the format checked; `siteType()` is the
//! media type that marks one; `guessType(name)` the type a site serves a
//! file as.

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use crate::code::ErrorCode;
use crate::format::{parse_site, type_for_name, Link, Site, SiteEntry, SITE_TYPE};

/// What `parseSite` returns.
#[derive(Serialize)]
struct SiteView<'a> {
    index: &'a str,
    entries: Vec<EntryView<'a>>,
}

#[derive(Serialize)]
struct EntryView<'a> {
    path: &'a str,
    /// The bare link, `2.<hash>.<key>`.
    link: String,
    /// A JavaScript number: exact up to 2^53 bytes.
    size: f64,
    #[serde(rename = "type")]
    mime: &'a str,
}

impl<'a> SiteView<'a> {
    fn of(site: &'a Site) -> Self {
        Self {
            index: site.index(),
            entries: site
                .entries()
                .iter()
                .map(|e| EntryView {
                    path: &e.path,
                    link: e.link.fragment(),
                    size: e.size as f64,
                    mime: &e.mime,
                })
                .collect(),
        }
    }
}

/// Reads a directory document (the bytes of a file whose type is
/// `siteType()`): `{index, entries: [{path, link, size, type}]}`, entries
/// in the document's order. A document that breaks any rule of the format
/// is refused with an `Error` whose `code` is `manifest-malformed` and
/// whose message says what is wrong.
#[wasm_bindgen(js_name = parseSite)]
pub fn parse_site_js(bytes: &[u8]) -> Result<JsValue, JsValue> {
    let site = parse_site(bytes).map_err(|e| super::error(e.code(), &e.to_string()))?;
    super::to_js(&SiteView::of(&site))
}

/// The media type of a directory document,
/// `application/vnd.meganet.site+json`.
#[wasm_bindgen(js_name = siteType)]
pub fn site_type() -> String {
    SITE_TYPE.to_owned()
}

/// What `siteDocument` takes: `{index, entries: [{path, link, size, type}]}`.
#[derive(Deserialize, Default)]
struct SiteInput {
    index: String,
    entries: Vec<EntryInput>,
}

#[derive(Deserialize)]
struct EntryInput {
    path: String,
    /// A link in any form `Link` parses (a full URL, or bare).
    link: String,
    size: f64,
    #[serde(rename = "type", default)]
    mime: String,
}

/// Writes the directory document of `{index, entries: [{path, link, size,
/// type}]}` (links in any form a link may be pasted in): the bytes to
/// store as a file of type `siteType()`. A site that breaks any rule or
/// cap of the format is refused (`manifest-malformed`, saying what is
/// wrong), so the page can check a folder with placeholder links before
/// uploading anything.
#[wasm_bindgen(js_name = siteDocument)]
pub fn site_document(site: JsValue) -> Result<Vec<u8>, JsValue> {
    let input: SiteInput = super::from_js(site, "site")?;
    let malformed = |e: crate::format::FormatError| super::error(e.code(), &e.to_string());
    let entries = input
        .entries
        .into_iter()
        .map(|e| {
            let link: Link = e.link.parse().map_err(|_| {
                super::error(
                    ErrorCode::InvalidArgument,
                    &format!("{}: not a meganet link", e.path),
                )
            })?;
            if !(e.size.is_finite() && e.size >= 0.0 && e.size.fract() == 0.0) {
                return Err(super::invalid(&format!(
                    "{}: size must be a whole number of bytes",
                    e.path
                )));
            }
            Ok(SiteEntry {
                path: e.path,
                link,
                size: e.size as u64,
                mime: e.mime,
            })
        })
        .collect::<Result<Vec<_>, JsValue>>()?;
    let site = Site::new(input.index, entries).map_err(malformed)?;
    Ok(site.to_json())
}

/// The media type a site serves a file named `name` as (by its
/// extension, as `meganet publish` does); empty when unknown.
#[wasm_bindgen(js_name = guessType)]
pub fn guess_type(name: &str) -> String {
    type_for_name(name).to_owned()
}
