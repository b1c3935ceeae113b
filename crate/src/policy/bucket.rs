//! A token bucket that enforces the serving cap. Pure: the caller passes
//! the time (`performance.now()`, `web_time::Instant`), so it runs the same
//! in a page, a worker and a test.
//!
//! Tokens are counted in thousandths of a byte and time in whole
//! milliseconds, so the arithmetic is exact: waiting the returned time is
//! always enough.

/// How long to wait before the same request can succeed, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct WaitMs(pub u64);

impl WaitMs {
    /// The rate is 0: nothing will ever be allowed until it changes.
    pub const NEVER: WaitMs = WaitMs(u64::MAX);
}

/// Allows on average `rate` bytes per second, at most `burst` bytes at once
/// after a quiet spell.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    /// Bytes per second, which is also thousandths of a byte per millisecond.
    rate: u64,
    /// Thousandths of a byte.
    burst: i128,
    /// Thousandths of a byte; negative after a request larger than `burst`.
    tokens: i128,
    /// The time up to which tokens have been added.
    last_ms: f64,
}

impl TokenBucket {
    /// A full bucket: `burst` bytes may go at once.
    pub fn new(rate_bytes_per_sec: u64, burst_bytes: u64, now_ms: f64) -> Self {
        let burst = i128::from(burst_bytes) * 1000;
        Self {
            rate: rate_bytes_per_sec,
            burst,
            tokens: burst,
            last_ms: now_ms,
        }
    }

    /// The current rate, bytes per second.
    pub fn rate(&self) -> u64 {
        self.rate
    }

    /// Changes the rate from `now_ms` on; time before counts at the old rate.
    pub fn set_rate(&mut self, rate_bytes_per_sec: u64, now_ms: f64) {
        self.refill(now_ms);
        self.rate = rate_bytes_per_sec;
    }

    /// Takes `bytes` if the bucket holds them, or tells how long to wait.
    ///
    /// A request larger than the burst goes through once the bucket is
    /// full and leaves it in debt, so large requests make progress while
    /// the average rate still holds.
    pub fn try_take(&mut self, bytes: u64, now_ms: f64) -> Result<(), WaitMs> {
        self.refill(now_ms);
        let want = i128::from(bytes) * 1000;
        let needed = want.min(self.burst);
        if self.tokens >= needed {
            self.tokens -= want;
            return Ok(());
        }
        if self.rate == 0 {
            return Err(WaitMs::NEVER);
        }
        let missing = needed - self.tokens;
        let rate = i128::from(self.rate);
        let wait = (missing + rate - 1) / rate;
        Err(WaitMs(u64::try_from(wait).unwrap_or(u64::MAX)))
    }

    /// Adds the tokens earned since `last_ms`, in whole milliseconds (the
    /// fraction carries over). A clock that goes back, or NaN, adds nothing.
    fn refill(&mut self, now_ms: f64) {
        let elapsed = (now_ms - self.last_ms).floor();
        if elapsed.is_nan() || elapsed < 1.0 {
            return;
        }
        self.last_ms += elapsed;
        // f64 to i128 saturates; the product is clamped by `burst` anyway.
        let earned = (elapsed as i128).saturating_mul(i128::from(self.rate));
        self.tokens = self.tokens.saturating_add(earned).min(self.burst);
    }
}

#[cfg(test)]
mod tests {
    use super::{TokenBucket, WaitMs};

    #[test]
    fn a_full_bucket_allows_the_burst_then_waits() {
        let mut b = TokenBucket::new(1000, 500, 0.0);
        assert_eq!(b.try_take(500, 0.0), Ok(()));
        assert_eq!(b.try_take(1, 0.0), Err(WaitMs(1)));
        assert_eq!(b.try_take(100, 0.0), Err(WaitMs(100)));
        assert_eq!(b.try_take(100, 100.0), Ok(()));
    }

    #[test]
    fn waiting_the_returned_time_is_always_enough() {
        for rate in [1, 7, 1000, 32 * 1024, 4 << 20] {
            for size in [1, 3, 999, 16 * 1024, 4 << 20] {
                let mut b = TokenBucket::new(rate, 64 * 1024, 0.0);
                let mut now = 0.5;
                let mut sent = 0u64;
                for _ in 0..20 {
                    match b.try_take(size, now) {
                        Ok(()) => sent += size,
                        Err(WaitMs(ms)) => {
                            assert!(ms >= 1);
                            now += ms as f64;
                            assert_eq!(b.try_take(size, now), Ok(()), "rate {rate} size {size}");
                            sent += size;
                        }
                    }
                }
                // Never more than the burst (or one oversized request) plus
                // what the rate earned over the elapsed time.
                let allowed = (64 * 1024u64).max(size) + (rate as f64 * now / 1000.0) as u64;
                assert!(
                    sent <= allowed,
                    "rate {rate} size {size}: {sent} > {allowed}"
                );
            }
        }
    }

    #[test]
    fn the_bucket_never_holds_more_than_the_burst() {
        let mut b = TokenBucket::new(1000, 100, 0.0);
        assert_eq!(b.try_take(100, 1e9), Ok(()));
        assert!(b.try_take(1, 1e9).is_err());
    }

    #[test]
    fn an_oversized_request_waits_for_a_full_bucket_then_leaves_debt() {
        let mut b = TokenBucket::new(1000, 100, 0.0);
        assert_eq!(b.try_take(50, 0.0), Ok(()));
        assert_eq!(b.try_take(1000, 0.0), Err(WaitMs(50)));
        assert_eq!(b.try_take(1000, 50.0), Ok(()));
        // 900 bytes of debt plus one byte: 901 ms.
        assert_eq!(b.try_take(1, 50.0), Err(WaitMs(901)));
    }

    #[test]
    fn rate_zero_never_allows_more_than_what_is_held() {
        let mut b = TokenBucket::new(0, 10, 0.0);
        assert_eq!(b.try_take(10, 0.0), Ok(()));
        assert_eq!(b.try_take(1, 1e12), Err(WaitMs::NEVER));
        b.set_rate(1000, 1e12);
        assert_eq!(b.try_take(1, 1e12 + 1.0), Ok(()));
    }

    #[test]
    fn a_clock_going_back_or_nan_adds_nothing() {
        let mut b = TokenBucket::new(1000, 100, 1000.0);
        assert_eq!(b.try_take(100, 1000.0), Ok(()));
        assert!(b.try_take(1, 0.0).is_err());
        assert!(b.try_take(1, f64::NAN).is_err());
        assert_eq!(b.try_take(1, 1001.0), Ok(()));
    }

    #[test]
    fn fractions_of_a_millisecond_carry_over() {
        let mut b = TokenBucket::new(1000, 1, 0.0);
        assert_eq!(b.try_take(1, 0.0), Ok(()));
        assert!(b.try_take(1, 0.6).is_err());
        assert_eq!(b.try_take(1, 1.2), Ok(()));
        assert!(b.try_take(1, 1.9).is_err());
        assert_eq!(b.try_take(1, 2.0), Ok(()));
    }

    #[test]
    fn a_new_rate_applies_from_the_change_on() {
        let mut b = TokenBucket::new(1000, 10_000, 0.0);
        assert_eq!(b.try_take(10_000, 0.0), Ok(()));
        b.set_rate(100, 1000.0); // earned 1000 at the old rate
        assert_eq!(b.try_take(1000, 1000.0), Ok(()));
        assert_eq!(b.try_take(100, 1000.0), Err(WaitMs(1000)));
        assert_eq!(b.rate(), 100);
    }
}
