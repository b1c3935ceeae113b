//! When a shard whose holders failed is asked again: the one rule for
//! every caller of the fetcher (a get, the tab's shard service for the
//! gateway). A shard is asked again up to a limit; a round that kept
//! nothing is followed by a pause that doubles, so a holder whose
//! connection dropped has time to come back.

use std::collections::HashMap;
use std::time::Duration;

use crate::hash::Hash;

/// Longest pause between rounds.
const MAX_BACKOFF: Duration = Duration::from_secs(4);

/// Failed rounds per shard, and rounds in a row that kept nothing.
#[derive(Debug)]
pub struct Retries {
    limit: u32,
    backoff: Duration,
    tries: HashMap<Hash, u32>,
    stalls: u32,
}

impl Retries {
    /// At most `limit` retries per shard; the first pause is `backoff`.
    pub fn new(limit: u32, backoff: Duration) -> Self {
        Self {
            limit,
            backoff,
            tries: HashMap::new(),
            stalls: 0,
        }
    }

    /// `hash` failed this round: true while it may be asked again.
    pub fn again(&mut self, hash: Hash) -> bool {
        let tries = self.tries.entry(hash).or_default();
        *tries += 1;
        *tries <= self.limit
    }

    /// The pause before the next round: none after a round that kept
    /// something, else `backoff`, doubling per round up to 4 s.
    pub fn pause(&mut self, kept_any: bool) -> Option<Duration> {
        if kept_any {
            self.stalls = 0;
            return None;
        }
        let pause = self
            .backoff
            .saturating_mul(1 << self.stalls.min(8))
            .min(MAX_BACKOFF);
        self.stalls += 1;
        Some(pause)
    }

    /// Forgets shards that are done with (a get's window moved past them),
    /// so the bookkeeping stays bounded by the window.
    pub fn forget(&mut self, keep: impl Fn(&Hash) -> bool) {
        self.tries.retain(|h, _| keep(h));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shard_is_asked_again_up_to_the_limit() {
        let mut r = Retries::new(2, Duration::from_millis(100));
        let h = Hash::of(b"x");
        assert!(r.again(h));
        assert!(r.again(h));
        assert!(!r.again(h));
        assert!(r.again(Hash::of(b"y")));
    }

    #[test]
    fn pauses_double_until_a_round_keeps_something() {
        let mut r = Retries::new(4, Duration::from_millis(250));
        let ms = |d: Option<Duration>| d.map(|d| d.as_millis());
        assert_eq!(ms(r.pause(false)), Some(250));
        assert_eq!(ms(r.pause(false)), Some(500));
        assert_eq!(ms(r.pause(false)), Some(1000));
        assert_eq!(r.pause(true), None);
        assert_eq!(ms(r.pause(false)), Some(250));
        for _ in 0..20 {
            r.pause(false);
        }
        assert_eq!(ms(r.pause(false)), Some(4000));
    }
}
