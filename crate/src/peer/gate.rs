//! The contribution policy applied to serving: the page reports its
//! signals (`peer.applySignals`), the peer decides with
//! [`crate::policy::decide`] using its own opt-in, quota and usage, and the
//! driver consults the decision for every request from another peer:
//! new shards are refused while the decision pauses them (with its reason),
//! and shard bytes served go through a [`TokenBucket`] at the decision's
//! bandwidth cap.
//!
//! Until the page has reported signals (a peer without the web app, such
//! as a test harness) there is no decision and nothing is limited but the
//! per-peer caps ([`SERVED_PER_WINDOW`] a minute), which hold always.

use std::cell::RefCell;
use std::rc::Rc;

use libp2p::PeerId;

use crate::policy::{decide, Allowance, Decision, Signals, TokenBucket, WaitMs};

/// Bytes one peer may be served in one [`WINDOW_MS`], shard and probe
/// bytes alike, however many streams it opens: a quarter of a 1 GiB file
/// a minute, far more than one holder's share of a get. A fetcher that
/// meets the cap goes on to the file's other holders.
pub const SERVED_PER_WINDOW: u64 = 256 * 1024 * 1024;
/// The window the per-peer caps are counted over.
pub const WINDOW_MS: f64 = 60_000.0;
/// Most peers counted at once.
const MAX_PEERS: usize = 1024;

/// The most bytes served at once after a quiet spell: one shard of a
/// 1 MiB segment with room to spare.
const BURST_BYTES: u64 = 512 * 1024;

/// The current decision and the bucket that enforces its cap.
pub struct Gate {
    /// The page's last signals, kept to decide again when the peer's own
    /// state (opt-in, quota, usage) changes.
    signals: Option<Signals>,
    decision: Option<Decision>,
    bucket: TokenBucket,
    per_peer: Allowance<PeerId>,
}

/// What the peer itself knows about its contribution.
#[derive(Debug, Clone, Copy)]
pub struct Own {
    pub opted_in: bool,
    pub quota_bytes: u64,
    pub used_bytes: u64,
}

/// Shared by the `Peer` (which updates it) and the driver (which obeys).
pub type SharedGate = Rc<RefCell<Gate>>;

impl Default for Gate {
    fn default() -> Self {
        Self {
            signals: None,
            decision: None,
            bucket: TokenBucket::new(0, BURST_BYTES, now_ms()),
            per_peer: Allowance::new(SERVED_PER_WINDOW, WINDOW_MS, MAX_PEERS),
        }
    }
}

impl Gate {
    /// Decides anew from the page's `signals` and the peer's own state;
    /// returns the decision.
    pub fn update(&mut self, mut signals: Signals, own: Own) -> Decision {
        let decision = self.decide_with(&mut signals, own);
        self.signals = Some(signals);
        decision
    }

    /// Decides again after the peer's own state changed; `None` before
    /// the page has reported any signals.
    pub fn reconsider(&mut self, own: Own) -> Option<Decision> {
        let mut signals = self.signals.take()?;
        let decision = self.decide_with(&mut signals, own);
        self.signals = Some(signals);
        Some(decision)
    }

    fn decide_with(&mut self, signals: &mut Signals, own: Own) -> Decision {
        signals.opted_in = own.opted_in;
        signals.quota_bytes = own.quota_bytes;
        signals.used_contributed_bytes = own.used_bytes;
        let decision = decide(signals);
        let rate = if decision.serve_requests {
            decision.bandwidth_cap_bytes_per_sec
        } else {
            0
        };
        self.bucket.set_rate(rate, now_ms());
        self.decision = Some(decision.clone());
        decision
    }

    /// The decision in force, if any.
    pub fn decision(&self) -> Option<&Decision> {
        self.decision.as_ref()
    }

    /// Whether a new shard may be stored for another peer; the reason when
    /// not.
    pub fn admit_new_shard(&self) -> Result<(), String> {
        match &self.decision {
            Some(d) if !d.accept_new_shards => Err(why(d, "not taking new data now")),
            _ => Ok(()),
        }
    }

    /// Whether requests are answered at all; the reason when not.
    pub fn admit_request(&self) -> Result<(), String> {
        match &self.decision {
            Some(d) if !d.serve_requests => Err(why(d, "not serving now")),
            _ => Ok(()),
        }
    }

    /// Reserves up to `want` bytes to serve `peer` from its per-peer
    /// allowance; returns how many it may have (0: used up for now).
    pub fn reserve(&mut self, peer: PeerId, want: u64) -> u64 {
        self.per_peer.reserve(peer, want, now_ms())
    }

    /// Gives back what [`Self::reserve`] granted but was not served.
    pub fn refund(&mut self, peer: PeerId, unused: u64) {
        self.per_peer.refund(peer, unused);
    }

    /// Whether another peer's stream (a probe) may be served: only while
    /// contributing (`contributing`: the store is open) and serving.
    pub fn admit_stream(&self, contributing: bool) -> Result<(), String> {
        if !contributing {
            return Err("not contributing".into());
        }
        self.admit_request()
    }

    /// Takes `bytes` from the serving budget, or says how long to wait.
    pub fn take(&mut self, bytes: usize) -> Result<(), WaitMs> {
        if self.decision.is_none() {
            return Ok(());
        }
        self.bucket.try_take(bytes as u64, now_ms())
    }
}

/// The first limiting reason's message, else `fallback`.
fn why(decision: &Decision, fallback: &str) -> String {
    decision
        .reasons
        .iter()
        .find(|r| r.pauses_new_data() || r.stops_serving())
        .map(|r| r.message())
        .unwrap_or_else(|| fallback.to_owned())
}

/// Unix time in ms, as allowances count it.
pub fn now_ms() -> f64 {
    web_time::SystemTime::now()
        .duration_since(web_time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// Waits until the gate lets `bytes` go (the serving cap), rechecking as
/// the rate changes; gives up after `limit_ms` so a paused peer does not
/// hold a request forever.
pub async fn pace(gate: &SharedGate, bytes: usize, limit_ms: u64) -> Result<(), String> {
    let mut waited = 0u64;
    loop {
        let wait = match gate.borrow_mut().take(bytes) {
            Ok(()) => return Ok(()),
            Err(WaitMs(ms)) => ms,
        };
        if waited >= limit_ms {
            return Err("serving is paused or capped; try another holder".into());
        }
        // Recheck at least every second: the cap may be lifted.
        let step = wait.clamp(1, 1000);
        crate::platform::sleep(std::time::Duration::from_millis(step)).await;
        waited += step;
    }
}
