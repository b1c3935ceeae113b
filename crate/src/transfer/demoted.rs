//! Holders that recently said they had a shard and then did not, or did
//! not answer in time: a fetcher asks them last for the rest of its
//! transfer, and so do the transfers of the next [`REMEMBERED`] in this
//! process (a tab's peer, the CLI, a node's repair duty). A holder asked
//! last is still asked when nobody else has a shard: being slow once is
//! not lying, and bad bytes, which are, drop a holder outright
//! ([`super::fetcher`]).
//!
//! Kept per thread (the engine's futures stay on one), by the holder's
//! text form, at most [`MAX_REMEMBERED`] at once.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Display;
use std::time::Duration;

use web_time::Instant;

/// How long a holder stays asked last after its last slip.
pub const REMEMBERED: Duration = Duration::from_secs(600);
/// Most holders remembered at once; past it, new slips are not noted.
pub const MAX_REMEMBERED: usize = 1024;

thread_local! {
    static RECENT: RefCell<HashMap<String, Instant>> = RefCell::new(HashMap::new());
}

/// Notes that `holder` slipped now.
pub fn note(holder: &impl Display) {
    let key = holder.to_string();
    RECENT.with(|recent| {
        let mut recent = recent.borrow_mut();
        let now = Instant::now();
        recent.retain(|_, at| now.duration_since(*at) < REMEMBERED);
        if recent.len() < MAX_REMEMBERED || recent.contains_key(&key) {
            recent.insert(key, now);
        }
    });
}

/// Whether `holder` slipped within the last [`REMEMBERED`].
pub fn recently(holder: &impl Display) -> bool {
    let key = holder.to_string();
    RECENT.with(|recent| {
        recent
            .borrow()
            .get(&key)
            .is_some_and(|at| at.elapsed() < REMEMBERED)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slip_is_remembered_and_the_memory_is_bounded() {
        assert!(!recently(&"peer-a"));
        note(&"peer-a");
        assert!(recently(&"peer-a"));
        assert!(!recently(&"peer-b"));
        for i in 0..2 * MAX_REMEMBERED {
            note(&format!("flood-{i}"));
        }
        let kept = RECENT.with(|r| r.borrow().len());
        assert_eq!(kept, MAX_REMEMBERED);
        assert!(
            recently(&"peer-a"),
            "a flood does not push out earlier slips"
        );
    }
}
