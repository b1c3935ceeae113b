//! Allowances counted over a window: each key (a peer, an uploader, a
//! network address) may have `limit` units per `window_ms`, then nothing
//! until its window ends. Used for the bytes a contributor serves one peer,
//! the bytes it stores for a peer without a placement ticket, and the
//! bytes of placement tickets a node issues to one uploader or address.
//!
//! The table is bounded: past `max_keys`, ended windows are dropped first,
//! and a newcomer is refused while every slot is in use.

use std::collections::HashMap;

struct Window {
    since_ms: f64,
    used: u64,
}

/// What each key has used in its current window.
pub struct Allowance<K> {
    limit: u64,
    window_ms: f64,
    max_keys: usize,
    windows: HashMap<K, Window>,
}

impl<K: std::hash::Hash + Eq + Copy> Allowance<K> {
    /// `limit` units per key and `window_ms`, for at most `max_keys` keys.
    pub fn new(limit: u64, window_ms: f64, max_keys: usize) -> Self {
        Self {
            limit,
            window_ms,
            max_keys,
            windows: HashMap::new(),
        }
    }

    /// The most one key may have in a window.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Reserves up to `want` units for `key` at `now_ms`; returns how many
    /// it may have (0 once its allowance is used up). Unused units go back
    /// with [`Self::refund`].
    pub fn reserve(&mut self, key: K, want: u64, now_ms: f64) -> u64 {
        if !self.windows.contains_key(&key) && self.windows.len() >= self.max_keys {
            let window_ms = self.window_ms;
            self.windows.retain(|_, w| now_ms - w.since_ms < window_ms);
            if self.windows.len() >= self.max_keys {
                return 0;
            }
        }
        let window = self.windows.entry(key).or_insert(Window {
            since_ms: now_ms,
            used: 0,
        });
        if now_ms - window.since_ms >= self.window_ms {
            *window = Window {
                since_ms: now_ms,
                used: 0,
            };
        }
        let granted = want.min(self.limit.saturating_sub(window.used));
        window.used += granted;
        granted
    }

    /// Reserves exactly `want` units for `key`, or nothing: `false` when
    /// fewer are left.
    pub fn take(&mut self, key: K, want: u64, now_ms: f64) -> bool {
        let granted = self.reserve(key, want, now_ms);
        if granted < want {
            self.refund(key, granted);
            return false;
        }
        true
    }

    /// Gives back units reserved for `key` but not used.
    pub fn refund(&mut self, key: K, unused: u64) {
        if let Some(window) = self.windows.get_mut(&key) {
            window.used = window.used.saturating_sub(unused);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: u64 = 1000;
    const WINDOW_MS: f64 = 60_000.0;
    const MAX_KEYS: usize = 64;

    fn allowance() -> Allowance<u32> {
        Allowance::new(LIMIT, WINDOW_MS, MAX_KEYS)
    }

    #[test]
    fn a_key_gets_its_allowance_and_no_more_until_the_window_ends() {
        let mut caps = allowance();
        assert_eq!(caps.reserve(1, LIMIT - 10, 0.0), LIMIT - 10);
        assert_eq!(caps.reserve(1, 100, 1.0), 10, "only what is left");
        assert_eq!(caps.reserve(1, 100, 2.0), 0);
        assert_eq!(caps.reserve(2, 100, 3.0), 100, "another key has its own");
        caps.refund(1, 50);
        assert_eq!(caps.reserve(1, 100, 4.0), 50, "refunded units come back");
        assert_eq!(caps.reserve(1, 100, WINDOW_MS + 1.0), 100, "a new window");
    }

    #[test]
    fn take_is_all_or_nothing() {
        let mut caps = allowance();
        assert!(caps.take(1, LIMIT - 10, 0.0));
        assert!(!caps.take(1, 11, 1.0), "11 asked, 10 left");
        assert!(caps.take(1, 10, 2.0), "the refused take left the 10");
        assert!(!caps.take(1, 1, 3.0));
    }

    #[test]
    fn the_table_is_bounded() {
        let mut caps = allowance();
        for key in 0..MAX_KEYS as u32 {
            assert_eq!(caps.reserve(key, 1, f64::from(key)), 1);
        }
        assert_eq!(caps.reserve(9999, 1, 10.0), 0, "full, every window running");
        assert_eq!(
            caps.reserve(9999, 1, WINDOW_MS + 5_000.0),
            1,
            "ended windows make room"
        );
        assert!(caps.windows.len() <= MAX_KEYS);
    }
}
