//! A holder's reputation from its audit history: a Beta estimate that
//! forgets, as Storj scores its storage nodes.
//!
//! Each audit is evidence `v` (+1 passed, −1 failed or no answer in time):
//! `α ← λα + (1 + v)/2`, `β ← λβ + (1 − v)/2`, and the score is
//! `α / (α + β)`, the mean of Beta(α, β). With λ = 0.95 the estimate
//! weighs about the last 20 audits. A holder starts at α = 1, β = 0 and is
//! *trusted* while its score is at least [`TRUST_THRESHOLD`]: a new holder
//! that fails its first audit drops to 0.49 and is out at once; one with a
//! long clean record (20 passes) survives a single failure (0.93) but not
//! a run of them (eight failures in a row bring it to 0.57).
//! A shard whose own audit failed counts as lost whatever the score: the
//! score only decides whether the holder's other shards still count and
//! whether it is given new ones.

/// How much each earlier audit still weighs (λ).
pub const FORGETTING: f64 = 0.95;
/// Scores below this lose a holder its standing.
pub const TRUST_THRESHOLD: f64 = 0.6;

/// One holder's audit record.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Reputation {
    alpha: f64,
    beta: f64,
    audits: u32,
    failures: u32,
}

impl Default for Reputation {
    fn default() -> Self {
        Self {
            alpha: 1.0,
            beta: 0.0,
            audits: 0,
            failures: 0,
        }
    }
}

impl Reputation {
    /// Records one audit's outcome (a timeout is a failure).
    pub fn record(&mut self, passed: bool) {
        let v = if passed { 1.0 } else { -1.0 };
        self.alpha = FORGETTING * self.alpha + (1.0 + v) / 2.0;
        self.beta = FORGETTING * self.beta + (1.0 - v) / 2.0;
        self.audits = self.audits.saturating_add(1);
        self.failures = self.failures.saturating_add(u32::from(!passed));
    }

    /// The estimated chance the holder passes its next audit, 0 to 1.
    pub fn score(&self) -> f64 {
        self.alpha / (self.alpha + self.beta)
    }

    /// Whether its shards still count and it may be given new ones.
    pub fn trusted(&self) -> bool {
        self.score() >= TRUST_THRESHOLD
    }

    /// Audits recorded, and how many failed.
    pub fn history(&self) -> (u32, u32) {
        (self.audits, self.failures)
    }

    /// Records one check's audits of a holder: `proven` passed, then
    /// `failed` failed (failures last: the record ends on them).
    pub fn record_check(&mut self, proven: usize, failed: usize) {
        (0..proven).for_each(|_| self.record(true));
        (0..failed).for_each(|_| self.record(false));
    }

    /// Whether its record holds nothing but passes: such an entry may be
    /// dropped when records are full, as a new holder starts trusted.
    pub fn is_clean(&self) -> bool {
        self.failures == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn after(outcomes: &[bool]) -> Reputation {
        let mut r = Reputation::default();
        outcomes.iter().for_each(|&p| r.record(p));
        r
    }

    #[test]
    fn a_new_holder_is_trusted_until_it_fails() {
        assert!(Reputation::default().trusted());
        assert_eq!(Reputation::default().score(), 1.0);
        let failed = after(&[false]);
        assert!(!failed.trusted(), "{}", failed.score());
        assert_eq!(failed.history(), (1, 1));
    }

    #[test]
    fn a_long_clean_record_survives_one_failure_but_not_a_run() {
        let mut history = vec![true; 20];
        history.push(false);
        let one = after(&history);
        assert!(one.trusted(), "{}", one.score());
        history.extend([false; 7]);
        let run = after(&history);
        assert!(!run.trusted(), "{}", run.score());
    }

    #[test]
    fn a_holder_can_earn_its_standing_back() {
        let mut history = vec![false];
        history.extend([true; 30]);
        assert!(after(&history).trusted());
        assert!(after(&history).score() < 1.0);
    }
}
