//! Keeping an upload alive: nodes keep a block for a lease (`meganet
//! node --lease-secs`, 30 days by default) after its last renewal, and
//! remove expired blocks only when they need the room. The uploader's
//! peer renews its own uploads while it runs: [`renew`] opens the
//! manifest and sends every holder it knows a RENEW naming the manifest
//! and every shard, in requests of at most [`MAX_HAS`] hashes. Nodes
//! renew what they hold; other peers just say what they hold.

use std::collections::BTreeSet;

use super::check::Auditor;
use super::error::Result;
use super::fetcher::Fetcher;
use super::get::open_access;
use crate::format::Access;
use crate::hash::Hash;
use crate::net::block::MAX_HAS;

/// What one renewal did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Renewal {
    /// Blocks of the file: its manifest and every shard.
    pub blocks: usize,
    /// Blocks some holder renewed.
    pub renewed: usize,
    /// Holders asked.
    pub holders: usize,
    /// Holders that could not be asked (the others still renewed).
    pub failed: usize,
}

/// Renews the leases of every block of the file `access` names, on every
/// holder `source` knows once it is ready and the manifest is open.
pub async fn renew<S: Auditor>(
    mut source: S,
    access: &Access,
    timeout: std::time::Duration,
) -> Result<Renewal> {
    source.ready().await?;
    let mut fetcher = Fetcher::new(source, timeout);
    let (manifest, _) = open_access(&mut fetcher, access).await?;
    let mut source = fetcher.source;
    let blocks: Vec<Hash> = std::iter::once(access.manifest())
        .chain(manifest.shards.iter().flatten().copied())
        .collect();
    let holders: Vec<S::Holder> = source.holders().into_iter().map(|(h, _)| h).collect();
    let source = &source;
    let blocks_ref = &blocks;
    let asks = holders.iter().map(|holder| async move {
        let mut held = Vec::with_capacity(blocks_ref.len());
        for chunk in blocks_ref.chunks(MAX_HAS) {
            held.extend(source.renew(*holder, chunk).await?);
        }
        Ok::<_, super::error::TransferError>(held)
    });
    let answers = futures::future::join_all(asks).await;
    let mut renewed = BTreeSet::new();
    let mut failed = 0;
    for answer in answers {
        match answer {
            Ok(held) => renewed.extend(
                held.iter()
                    .zip(&blocks)
                    .filter(|(h, _)| **h)
                    .map(|(_, b)| *b),
            ),
            Err(e) => {
                tracing::debug!(error = %e, "a holder could not renew");
                failed += 1;
            }
        }
    }
    Ok(Renewal {
        blocks: blocks.len(),
        renewed: renewed.len(),
        holders: holders.len(),
        failed,
    })
}
