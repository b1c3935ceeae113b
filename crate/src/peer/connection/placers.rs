//! Who may ask this contributor to announce a file (PROVIDE): only a peer
//! that placed shards here, one announcement per shard placed. Without the
//! rule any peer could fill this browser's announce list (1,000 keys,
//! oldest out) with keys of its choosing and push out the real ones.

use std::collections::HashMap;

use libp2p::PeerId;

/// Most announcements one peer may have in hand (a file's shards placed
/// here earn more than its one PROVIDE needs).
pub const MAX_CREDITS: u32 = 64;
/// Most peers remembered; the one that placed least recently goes first.
pub const MAX_PLACERS: usize = 256;

/// Announcements earned by placing shards, per peer.
#[derive(Default)]
pub struct Placers {
    credits: HashMap<PeerId, (u32, u64)>,
    /// Counts placements, to find the least recent placer.
    clock: u64,
}

impl Placers {
    /// `peer` placed a shard here: one more announcement it may ask for.
    pub fn placed(&mut self, peer: PeerId) {
        self.clock += 1;
        if !self.credits.contains_key(&peer) && self.credits.len() >= MAX_PLACERS {
            if let Some(oldest) = self
                .credits
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(p, _)| *p)
            {
                self.credits.remove(&oldest);
            }
        }
        let entry = self.credits.entry(peer).or_insert((0, 0));
        entry.0 = (entry.0 + 1).min(MAX_CREDITS);
        entry.1 = self.clock;
    }

    /// Spends one of `peer`'s announcements; `false` when it has none.
    pub fn take(&mut self, peer: &PeerId) -> bool {
        match self.credits.get_mut(peer) {
            Some((credits, _)) if *credits > 0 => {
                *credits -= 1;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn announcements_are_earned_by_placing_shards() {
        let mut placers = Placers::default();
        let (placer, stranger) = (PeerId::random(), PeerId::random());
        assert!(!placers.take(&stranger), "a peer that placed nothing");
        placers.placed(placer);
        placers.placed(placer);
        assert!(placers.take(&placer));
        assert!(placers.take(&placer));
        assert!(!placers.take(&placer), "two shards, two announcements");
        for _ in 0..1000 {
            placers.placed(placer);
        }
        let taken = (0..1000).take_while(|_| placers.take(&placer)).count();
        assert_eq!(taken, MAX_CREDITS as usize, "credits are capped");
    }

    #[wasm_bindgen_test]
    fn the_table_is_bounded_and_forgets_the_least_recent_placer() {
        let mut placers = Placers::default();
        let first = PeerId::random();
        placers.placed(first);
        for _ in 0..MAX_PLACERS {
            placers.placed(PeerId::random());
        }
        assert_eq!(placers.credits.len(), MAX_PLACERS);
        assert!(
            !placers.take(&first),
            "the least recent placer was forgotten"
        );
    }
}
