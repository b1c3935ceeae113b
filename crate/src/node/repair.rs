//! Repair duty. A node keeps the repair capabilities of the files placed
//! through it (KEEP on `/meganet/block`) in `<data>/repair/`, one file
//! each. Every interval (jittered), for each capability, the nodes it
//! knows are ranked for the file ([`rotation::rank_nodes`], the same
//! ranking placement uses); the first [`REPLICAS`] keep it:
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
//! The pass runs through a client of this node over loopback TCP, the
//! same path `meganet repair` takes: shards are fetched from any holder,
//! rebuilt, and placed on nodes and contributors as a put places them.
//! The node never holds a file key: a capability opens only the layout.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use libp2p::PeerId;
use tokio::sync::RwLock;

use crate::format::RepairCap;
use crate::hash::Hash;
use crate::net::{NodeStatus, RepairStatus};
use crate::transfer::{self, rotation, TransferError};

/// Nodes that keep each capability.
pub const REPLICAS: usize = 3;
/// Most capabilities one node keeps.
pub const MAX_CAPS: usize = 65_536;

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

/// The capabilities this node keeps, on disk.
#[derive(Debug)]
pub struct Caps {
    dir: PathBuf,
    caps: HashMap<Hash, RepairCap>,
}

/// Shared between the swarm (which takes KEEP) and the duty loop.
pub type SharedCaps = Arc<Mutex<Caps>>;

impl Caps {
    /// Loads every capability in `dir` (created if missing); a file that
    /// does not parse is skipped with a warning.
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut caps = HashMap::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            match text.parse::<RepairCap>() {
                Ok(cap) if caps.len() < MAX_CAPS => {
                    caps.insert(cap.manifest, cap);
                }
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "skipping a repair capability")
                }
            }
        }
        Ok(Self {
            dir: dir.to_owned(),
            caps,
        })
    }

    /// Keeps `cap` (written to disk before it counts); an error when the
    /// node keeps [`MAX_CAPS`] already or the disk fails.
    pub fn keep(&mut self, cap: &RepairCap) -> Result<(), String> {
        if self.caps.contains_key(&cap.manifest) {
            return Ok(());
        }
        if self.caps.len() >= MAX_CAPS {
            return Err(format!(
                "this node keeps {MAX_CAPS} repair capabilities already"
            ));
        }
        let path = self.path(&cap.manifest);
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, cap.to_string())
            .and_then(|()| std::fs::File::open(&tmp)?.sync_all())
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| format!("cannot keep the repair capability: {e}"))?;
        self.caps.insert(cap.manifest, cap.clone());
        Ok(())
    }

    /// Forgets the capability of `manifest`.
    pub fn forget(&mut self, manifest: &Hash) {
        if self.caps.remove(manifest).is_some() {
            let _ = std::fs::remove_file(self.path(manifest));
        }
    }

    /// How many it keeps.
    pub fn count(&self) -> usize {
        self.caps.len()
    }

    fn all(&self) -> Vec<RepairCap> {
        self.caps.values().cloned().collect()
    }

    fn path(&self, manifest: &Hash) -> PathBuf {
        self.dir.join(format!("{}.cap", manifest.to_hex()))
    }
}

/// The duty loop: runs until the node stops.
pub async fn run(
    config: RepairConfig,
    caps: SharedCaps,
    own: PeerId,
    url: String,
    status: Arc<RwLock<NodeStatus>>,
) {
    let mut memories: HashMap<Hash, transfer::Memory<PeerId>> = HashMap::new();
    let started = Instant::now();
    let mut totals = RepairStatus {
        threshold: config.repair_threshold,
        ..RepairStatus::default()
    };
    status.write().await.repair = totals.clone();
    loop {
        tokio::time::sleep(jittered(config.repair_interval_secs)).await;
        let pass = Instant::now();
        match pass_once(
            &config,
            &caps,
            own,
            &url,
            &mut memories,
            started,
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
        totals.caps = caps.lock().map(|c| c.count()).unwrap_or_default();
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
    own: PeerId,
    url: &str,
    memories: &mut HashMap<Hash, transfer::Memory<PeerId>>,
    started: Instant,
    totals: &mut RepairStatus,
) -> anyhow::Result<()> {
    let all = caps.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.all();
    if all.is_empty() {
        return Ok(());
    }
    totals.unrepairable_segments = 0;
    let mut client = crate::client::Client::connect(url).await?;
    let nodes = client.node_ids();
    let policy = transfer::Policy {
        threshold: config.repair_threshold,
        lost_after: Duration::from_secs(config.repair_lost_after_secs),
        bytes_per_second: config.repair_bytes_per_second,
        timeout: transfer::check::AUDIT_TIMEOUT,
        audit_every: Duration::from_secs(config.audit_interval_secs),
    };
    // Nodes that could not be reached in this pass are passed over.
    let mut down: HashSet<PeerId> = HashSet::new();
    for cap in all {
        let mut keepers: Vec<PeerId> = Vec::with_capacity(REPLICAS);
        for node in rotation::rank_nodes(&cap.manifest, &nodes) {
            if keepers.len() == REPLICAS {
                break;
            }
            if node == own {
                keepers.push(node);
                continue;
            }
            if down.contains(&node) {
                continue;
            }
            match client.keep(node, &cap).await {
                Ok(()) => keepers.push(node),
                Err(TransferError::Unreachable { .. }) => {
                    tracing::info!(%node, "a node is down: passed over for this pass");
                    down.insert(node);
                    client.forget_node(node);
                }
                Err(e) => tracing::warn!(%node, error = %e, "a node will not keep a capability"),
            }
        }
        // The first reachable keeper is on duty; a node that is not a
        // keeper has passed the capability on and forgets it.
        if !keepers.contains(&own) {
            if !keepers.is_empty() {
                caps.lock()
                    .map_err(|_| anyhow::anyhow!("poisoned"))?
                    .forget(&cap.manifest);
                memories.remove(&cap.manifest);
            }
            continue;
        }
        if keepers.first() != Some(&own) {
            continue;
        }
        let memory = memories.entry(cap.manifest).or_default();
        let now = started.elapsed().as_millis() as u64;
        totals.files_checked += 1;
        match client.repair(&cap, &policy, memory, now).await {
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
    }
    Ok(())
}
