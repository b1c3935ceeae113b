//! Repair duty. A node keeps the repair capabilities of the files placed
//! through it (KEEP on `/meganet/block`) in `<data>/repair/`
//! ([`caps`]), with what it remembers of them ([`ledger`]). Every
//! interval (jittered), each node it knows is asked once whether it
//! answers, and for each capability the nodes that do are ranked for the
//! file ([`rotation::rank_nodes`], the same ranking placement uses); the
//! first [`REPLICAS`] keep it:
//!
//! - the first is on duty: it passes the capability to the other
//!   keepers, then checks the file and repairs it ([`transfer::repair`]);
//!   a node that cannot be reached is passed over, so the next in the
//!   ranking is on duty while the first is down;
//! - a node outside them passes it to the keepers and, once the first
//!   has taken it, forgets it;
//! - the others keep it for the day the first is gone: the ranking then
//!   puts one of them first. Losing a node loses no repair duty.
//!
//! A capability is passed to a keeper once, and again when the ranking
//! makes a node a keeper anew or [`KEEP_AGAIN`] has gone by (a keeper
//! that lost its repair directory but not its identity gets it back),
//! not on every pass.
//!
//! The pass runs through a client of this node over loopback TCP, the
//! same path `meganet repair` takes: shards are fetched from any holder,
//! rebuilt, and placed on nodes and contributors as a put places them.
//! The node never holds a file key: a capability opens only the layout.

mod caps;
mod ledger;

pub use caps::{Caps, SharedCaps};
pub use ledger::{now_ms, Ledger};

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use libp2p::PeerId;
use tokio::sync::RwLock;

use crate::net::{NodeStatus, RepairStatus};
use crate::transfer::{self, rotation, TransferError};

/// Nodes that keep each capability.
pub const REPLICAS: usize = 3;
/// How long a keeper's copy of a capability is trusted before it is
/// passed again.
pub const KEEP_AGAIN: Duration = Duration::from_secs(86_400);

/// Options of the repair duty.
#[derive(Debug, Clone, clap::Args)]
pub struct RepairConfig {
    /// Repair: seconds between two checks of the files this node is on
    /// duty for (each wait drawn within ±25 %).
    #[arg(long, default_value_t = 600, value_name = "SECS")]
    pub repair_interval_secs: u64,

    /// Repair: a segment is rebuilt when fewer of its shards than this are
    /// live or away (of n = 8, k = 4 by default).
    #[arg(long, default_value_t = DEFAULT_REPAIR_THRESHOLD, value_name = "SHARDS")]
    pub repair_threshold: usize,

    /// Repair: seconds a holder that stopped answering still counts (away)
    /// before its shards count as lost.
    #[arg(long, default_value_t = 3600, value_name = "SECS")]
    pub repair_lost_after_secs: u64,

    /// Repair: most bytes of rebuilt shards placed per second.
    #[arg(long, default_value_t = 8 << 20, value_name = "BYTES")]
    pub repair_bytes_per_second: u64,

    /// Repair: seconds between two audits of a file's holders (0: at every
    /// check); the checks between trust what holders say they hold,
    /// except what a holder failed at its last audit. A day, chosen by
    /// simulation (docs/DESIGN.md).
    #[arg(long, default_value_t = 86_400, value_name = "SECS")]
    pub audit_interval_secs: u64,
}

pub use transfer::repair::DEFAULT_THRESHOLD as DEFAULT_REPAIR_THRESHOLD;

/// The duty loop: runs until the node stops.
pub async fn run(
    config: RepairConfig,
    caps: SharedCaps,
    mut ledger: Ledger,
    own: PeerId,
    status: Arc<RwLock<NodeStatus>>,
    identity: libp2p::identity::Keypair,
) {
    let mut totals = RepairStatus {
        threshold: config.repair_threshold,
        untrusted_holders: ledger.untrusted(),
        ..RepairStatus::default()
    };
    status.write().await.repair = totals.clone();
    loop {
        tokio::time::sleep(jittered(config.repair_interval_secs)).await;
        let pass = Instant::now();
        match pass_once(
            &config,
            &caps,
            &mut ledger,
            own,
            &status,
            &identity,
            &mut totals,
        )
        .await
        {
            Ok(()) => tracing::info!(
                files = totals.files_checked,
                segments = totals.segments_repaired,
                bytes = totals.bytes_placed,
                ms = pass.elapsed().as_millis() as u64,
                "repair pass done"
            ),
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "repair pass failed"),
        }
        ledger.save_standing();
        totals.caps = caps.lock().map(|c| c.count()).unwrap_or_default();
        totals.untrusted_holders = ledger.untrusted();
        totals.last_pass_ms = pass.elapsed().as_millis() as u64;
        totals.passes += 1;
        status.write().await.repair = totals.clone();
    }
}

/// `secs` seconds, give or take a quarter, so nodes' passes drift apart.
fn jittered(secs: u64) -> Duration {
    let ms = secs.max(1) * 1000;
    let spread = ms / 2;
    let draw = crate::audit::os_random() % (spread + 1);
    Duration::from_millis(ms - ms / 4 + draw)
}

async fn pass_once(
    config: &RepairConfig,
    caps: &SharedCaps,
    ledger: &mut Ledger,
    own: PeerId,
    status: &RwLock<NodeStatus>,
    identity: &libp2p::identity::Keypair,
    totals: &mut RepairStatus,
) -> anyhow::Result<()> {
    let all = caps.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.all();
    let Some(probe) = all.first().map(|c| c.manifest) else {
        return Ok(());
    };
    totals.unrepairable_segments = 0;
    // The node's own document, as `/bootstrap.json` would give it: the
    // duty needs no HTTP (the node's may be TLS with a certificate for
    // its public name).
    let doc = super::http::bootstrap_document(&*status.read().await, None);
    let mut client = crate::client::Client::from_document(&doc, identity.clone()).await?;
    let policy = transfer::Policy {
        threshold: config.repair_threshold,
        lost_after: Duration::from_secs(config.repair_lost_after_secs),
        bytes_per_second: config.repair_bytes_per_second,
        timeout: transfer::check::AUDIT_TIMEOUT,
        audit_every: Duration::from_secs(config.audit_interval_secs),
    };
    // Nodes that do not answer in this pass are passed over.
    let mut down: HashSet<PeerId> = HashSet::new();
    for node in client.node_ids().into_iter().filter(|n| *n != own) {
        if let Err(TransferError::Unreachable { .. }) = client.reach(node, probe).await {
            tracing::info!(%node, "a node is down: passed over for this pass");
            down.insert(node);
            client.forget_node(node);
        }
    }
    let nodes = client.node_ids();
    let keep_again = KEEP_AGAIN.as_millis() as u64;
    for cap in all {
        let keepers: Vec<PeerId> = rotation::rank_nodes(&cap.manifest, &nodes)
            .into_iter()
            .take(REPLICAS)
            .collect();
        let now = ledger::now_ms();
        let (state, standing) = ledger.file(&cap.manifest);
        // A node that is no longer a keeper gets the capability anew if
        // the ranking makes it one again.
        let before = state.kept.len();
        state.kept.retain(|node, _| keepers.contains(node));
        let mut changed = state.kept.len() != before;
        for &node in keepers.iter().filter(|n| **n != own) {
            let due = state
                .kept
                .get(&node)
                .is_none_or(|at| now.saturating_sub(*at) >= keep_again);
            if !due {
                continue;
            }
            match client.keep(node, &cap).await {
                Ok(()) => {
                    state.kept.insert(node, now);
                    changed = true;
                }
                Err(e) => tracing::warn!(%node, error = %e, "a node will not keep a capability"),
            }
        }
        // The first keeper is on duty; a node that is not a keeper has
        // passed the capability on and forgets it once the first has it.
        if !keepers.contains(&own) {
            if keepers
                .first()
                .is_some_and(|first| state.kept.contains_key(first))
            {
                caps.lock()
                    .map_err(|_| anyhow::anyhow!("poisoned"))?
                    .forget(&cap.manifest);
                ledger.forget(&cap.manifest);
            }
            continue;
        }
        // A keeper not on duty writes its state only when it changed.
        if keepers.first() != Some(&own) {
            if changed {
                ledger.save(&cap.manifest);
            }
            continue;
        }
        totals.files_checked += 1;
        let repaired = client.repair(&cap, &policy, &mut state.memory, standing, now);
        match repaired.await {
            Ok(report) => {
                totals.segments_repaired += report.segments as u64;
                totals.shards_placed += report.shards as u64;
                totals.bytes_placed += report.bytes;
                totals.failed_audits += report.failed_audits as u64;
                if report.segments > 0 || !report.unrepairable.is_empty() {
                    tracing::info!(
                        manifest = %cap.manifest,
                        weakest_before = report.weakest_before,
                        weakest_after = report.weakest_after,
                        away = report.away,
                        segments = report.segments,
                        bytes = report.bytes,
                        unrepairable = report.unrepairable.len(),
                        "repaired a file"
                    );
                }
                totals.unrepairable_segments += report.unrepairable.len() as u64;
            }
            Err(e) => {
                totals.failed_files += 1;
                tracing::warn!(manifest = %cap.manifest, error = %format!("{e:#}"), "repair failed");
            }
        }
        ledger.save(&cap.manifest);
    }
    Ok(())
}
