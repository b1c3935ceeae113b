//! The uploader's own repair: an idle tab (the contribution policy allows
//! background work: idle, charging, unmetered) checks one of its uploads
//! and rebuilds the segments below the threshold, as a node on duty does
//! ([`crate::transfer::repair`]), from what this one check shows (a holder
//! it cannot reach counts as lost: the tab keeps no memory between
//! checks, and an extra copy costs only space).

use std::time::Duration;

use super::Network;
use crate::format::Link;
use crate::peer::blocks::Blocks;
use crate::transfer::{self, Repaired, TransferError};

/// Checks the file `link` names and repairs the segments below
/// `threshold` (the node's, as its `/bootstrap.json` says).
pub async fn repair(
    blocks: &Blocks,
    link: &str,
    threshold: usize,
) -> Result<Repaired, TransferError> {
    let link: Link = link.parse()?;
    let cap = link.repair_cap()?;
    let source = Network::new(blocks, &link);
    let policy = transfer::Policy {
        threshold,
        lost_after: Duration::ZERO,
        bytes_per_second: 0,
        timeout: transfer::check::AUDIT_TIMEOUT,
        audit_every: Duration::ZERO,
    };
    // One check, by a page that keeps no record between them.
    let (mut memory, mut standing) = Default::default();
    let mut random = crate::audit::os_random;
    transfer::repair(
        source,
        &cap,
        &policy,
        &mut memory,
        &mut standing,
        0,
        &mut random,
    )
    .await
}
