//! Per-peer byte caps on everything a contributing browser serves: shard
//! bytes and probe bytes alike count against one allowance per remote peer
//! and minute, so one peer cannot take a contributor's whole upload
//! however many streams it opens. A fetcher that meets the cap goes on to
//! the file's other holders.

use std::collections::HashMap;

use libp2p::PeerId;

/// Bytes one peer may be served in one [`WINDOW_MS`]: a quarter of a
/// 1 GiB file a minute, far more than one holder's share of a get.
pub const BYTES_PER_WINDOW: u64 = 256 * 1024 * 1024;
/// The window the allowance is counted over.
pub const WINDOW_MS: f64 = 60_000.0;
/// Most peers counted at once; past it, windows that ended are dropped
/// first, and a newcomer is refused while every slot is in use.
pub const MAX_PEERS: usize = 1024;

struct Window {
    since_ms: f64,
    used: u64,
}

/// What each remote peer has been served in its current window.
#[derive(Default)]
pub struct PerPeer {
    windows: HashMap<PeerId, Window>,
}

impl PerPeer {
    /// Reserves up to `want` bytes for `peer` at `now_ms`; returns how
    /// many it may have (0 once its allowance is used up). Unused bytes
    /// go back with [`Self::refund`].
    pub fn reserve(&mut self, peer: PeerId, want: u64, now_ms: f64) -> u64 {
        if !self.windows.contains_key(&peer) && self.windows.len() >= MAX_PEERS {
            self.windows.retain(|_, w| now_ms - w.since_ms < WINDOW_MS);
            if self.windows.len() >= MAX_PEERS {
                return 0;
            }
        }
        let window = self.windows.entry(peer).or_insert(Window {
            since_ms: now_ms,
            used: 0,
        });
        if now_ms - window.since_ms >= WINDOW_MS {
            *window = Window {
                since_ms: now_ms,
                used: 0,
            };
        }
        let granted = want.min(BYTES_PER_WINDOW.saturating_sub(window.used));
        window.used += granted;
        granted
    }

    /// Gives back bytes reserved for `peer` but not served.
    pub fn refund(&mut self, peer: PeerId, unused: u64) {
        if let Some(window) = self.windows.get_mut(&peer) {
            window.used = window.used.saturating_sub(unused);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn a_peer_gets_its_allowance_and_no_more_until_the_window_ends() {
        let mut caps = PerPeer::default();
        let (a, b) = (PeerId::random(), PeerId::random());
        assert_eq!(
            caps.reserve(a, BYTES_PER_WINDOW - 10, 0.0),
            BYTES_PER_WINDOW - 10
        );
        assert_eq!(caps.reserve(a, 100, 1.0), 10, "only what is left");
        assert_eq!(caps.reserve(a, 100, 2.0), 0);
        assert_eq!(caps.reserve(b, 100, 3.0), 100, "another peer has its own");
        caps.refund(a, 50);
        assert_eq!(caps.reserve(a, 100, 4.0), 50, "refunded bytes come back");
        assert_eq!(caps.reserve(a, 100, WINDOW_MS + 1.0), 100, "a new window");
    }

    #[wasm_bindgen_test]
    fn the_table_is_bounded() {
        let mut caps = PerPeer::default();
        for i in 0..MAX_PEERS {
            assert_eq!(caps.reserve(PeerId::random(), 1, i as f64), 1);
        }
        assert_eq!(
            caps.reserve(PeerId::random(), 1, 10.0),
            0,
            "full, every window running"
        );
        assert_eq!(
            caps.reserve(PeerId::random(), 1, WINDOW_MS + 5_000.0),
            1,
            "ended windows make room"
        );
        assert!(caps.windows.len() <= MAX_PEERS);
    }
}
