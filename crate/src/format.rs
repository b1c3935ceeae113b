//! The meganet content format (spec: docs/FORMAT.md): a byte stream becomes
//! sealed, erasure-coded, content-addressed shards plus a sealed manifest
//! and a link; and back, from any `k` of `n` shards per segment, verifying
//! everything on the way. Identical in wasm and natively; no I/O here but
//! the streaming adapters in `stream` (futures I/O) and `web` (browser
//! `ReadableStream`). A site is a folder described by a directory document
//! stored as an ordinary file (`site`); a name (`name`) is a signed,
//! sealed pointer to a site's newest version.

mod decoder;
mod encoder;
mod erasure;
mod error;
mod link;
mod manifest;
mod media;
mod name;
mod params;
mod rebuild;
mod repair;
mod seal;
mod site;
mod stream;
#[cfg(wasm_browser)]
mod web;

pub use decoder::{Decoder, Reassembler};
pub use encoder::{EncodedSegment, Encoder, Finished, Shard};
pub use error::{FormatError, Result};
pub use link::{Link, MAX_LINK_LEN};
pub use manifest::{Manifest, MAX_HINTS, MAX_MANIFEST_LEN};
pub use media::type_for_name;
pub use name::{
    dht_key as name_dht_key, NameError, NameKey, NameLink, NameRecord, PublisherKey, ReadKey,
    MAX_NAME_CLOCK_SKEW_MS, MAX_NAME_RECORD, NAME_DHT_CONTEXT, NAME_VERSION,
};
pub use params::{Params, DEFAULT_K, DEFAULT_N, DEFAULT_SEGMENT_SIZE, MAX_SEGMENT_SIZE};
pub use repair::{Access, RepairCap};
pub use seal::{FileKey, LayoutKey, TAG_LEN};
pub use site::{
    check_site_path, parse_site, Site, SiteEntry, MAX_SITE_DEPTH, MAX_SITE_DOCUMENT,
    MAX_SITE_ENTRIES, MAX_SITE_PATH, MAX_SITE_SEGMENT, MAX_SITE_TYPE, SITE_INDEX, SITE_TYPE,
    SITE_VERSION,
};
pub use stream::{encode_reader, READ_CHUNK};
#[cfg(wasm_browser)]
pub use web::read_stream;

/// The format version this build writes and reads.
pub const VERSION: u8 = 2;
/// The versions this build reads (FORMAT.md, "Versioning").
pub const VERSIONS: [u8; 2] = [1, 2];
