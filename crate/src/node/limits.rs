//! Per-peer limits on block requests to a node: each peer may send
//! [`REQUESTS_PER_SEC`] requests a second on average, [`BURST`] at once.
//! A request over the limit is answered with an error at once (the
//! requester slows down or tries another holder); nothing queues. Request
//! size is capped by the codec (`net::block`), concurrency by the
//! request-response behaviour.

use std::collections::HashMap;

use libp2p::PeerId;

use crate::policy::TokenBucket;

/// Average block requests a second one peer may send. A browser fetching
/// at 30 MB/s sends about 120 GETs and a few HAS a second.
pub const REQUESTS_PER_SEC: u64 = 400;
/// Requests one peer may send at once after a quiet spell.
pub const BURST: u64 = 800;
/// Peers tracked at once; the least recently seen are forgotten first.
const MAX_PEERS: usize = 4096;

/// One bucket per peer; time is passed in, so tests control it.
#[derive(Default)]
pub struct RequestLimits {
    buckets: HashMap<PeerId, (TokenBucket, f64)>,
}

impl RequestLimits {
    /// Admits one request from `peer` at `now_ms`, or says why not.
    pub fn admit(&mut self, peer: PeerId, now_ms: f64) -> Result<(), String> {
        if self.buckets.len() >= MAX_PEERS && !self.buckets.contains_key(&peer) {
            self.forget_oldest();
        }
        let (bucket, seen) = self
            .buckets
            .entry(peer)
            .or_insert_with(|| (TokenBucket::new(REQUESTS_PER_SEC, BURST, now_ms), now_ms));
        *seen = now_ms;
        bucket.try_take(1, now_ms).map_err(|_| {
            format!("rate limit: at most {REQUESTS_PER_SEC} block requests a second per peer; slow down")
        })
    }

    /// A peer disconnected.
    pub fn forget(&mut self, peer: &PeerId) {
        self.buckets.remove(peer);
    }

    fn forget_oldest(&mut self) {
        let oldest = self
            .buckets
            .iter()
            .min_by(|a, b| a.1 .1.total_cmp(&b.1 .1))
            .map(|(p, _)| *p);
        if let Some(p) = oldest {
            self.buckets.remove(&p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_holds_per_peer() {
        let mut limits = RequestLimits::default();
        let (a, b) = (PeerId::random(), PeerId::random());
        let admitted = (0..BURST + 50)
            .filter(|_| limits.admit(a, 0.0).is_ok())
            .count();
        assert_eq!(admitted as u64, BURST);
        let refused = limits.admit(a, 0.0).unwrap_err();
        assert!(refused.contains("rate limit"), "{refused}");
        assert!(
            limits.admit(b, 0.0).is_ok(),
            "another peer has its own budget"
        );
        // A second later, a second's worth more.
        let later = (0..REQUESTS_PER_SEC + 50)
            .filter(|_| limits.admit(a, 1000.0).is_ok())
            .count();
        assert_eq!(later as u64, REQUESTS_PER_SEC);
    }

    #[test]
    fn forgets_the_least_recent_peer_when_full() {
        let mut limits = RequestLimits::default();
        let first = PeerId::random();
        limits.admit(first, 0.0).unwrap();
        for i in 1..MAX_PEERS {
            limits.admit(PeerId::random(), i as f64).unwrap();
        }
        limits.admit(PeerId::random(), 1e6).unwrap();
        assert_eq!(limits.buckets.len(), MAX_PEERS);
        assert!(!limits.buckets.contains_key(&first));
    }
}
