//! The node's side of placement tickets ([`crate::net::ticket`]): it signs
//! one for each shard an uploader is about to place on a contributing
//! browser, and counts the shard's bytes against the uploader's identity
//! and its source address, like the bytes it stores itself.
//!
//! Tickets are counted per hour ([`WINDOW_MS`]): in any hour an uploader
//! (and its address) may have tickets for as many bytes as its storage
//! budget on this node (`--budget-per-uploader`, `--budget-per-ip`). A
//! node does not see what contributors keep, or for how long, so a rate
//! is what it can hold to; it bounds how fast one identity or address can
//! fill the network's browsers, and fresh identities share their address's
//! allowance. Member nodes and this node's repair duty are charged nothing.

use libp2p::identity::Keypair;
use libp2p::PeerId;

use super::leases::{human, Charge, Source, Terms, MIN_CHARGE};
use crate::hash::Hash;
use crate::net::ticket::Ticket;
use crate::policy::Allowance;

/// The window tickets are counted over.
pub const WINDOW_MS: f64 = 3_600_000.0;
/// Most uploaders, and most addresses, counted at once.
const MAX_KEYS: usize = 65_536;

/// Signs tickets within each uploader's and each address's allowance.
pub struct Tickets {
    key: Keypair,
    by_uploader: Allowance<PeerId>,
    by_source: Allowance<Source>,
}

impl Tickets {
    /// Tickets signed with the node's `key`, within `terms`' budgets.
    pub fn new(key: Keypair, terms: Terms) -> Self {
        Self {
            key,
            by_uploader: Allowance::new(terms.per_uploader, WINDOW_MS, MAX_KEYS),
            by_source: Allowance::new(terms.per_source, WINDOW_MS, MAX_KEYS),
        }
    }

    /// A ticket for `shard` of `size` bytes (the codec caps it at a
    /// block's), charged to `charge` (`None`:
    /// the network's own placement), or why not.
    pub fn issue(
        &mut self,
        charge: Option<Charge>,
        shard: Hash,
        size: u32,
        now_ms: u64,
    ) -> Result<Ticket, String> {
        // Signed before it is charged: a failure costs the uploader nothing.
        let ticket = Ticket::issue(&self.key, shard, size, now_ms / 1000)
            .map_err(|e| format!("this node cannot sign placement tickets: {e}"))?;
        if let Some(charge) = charge {
            self.charge(charge, u64::from(size).max(MIN_CHARGE), now_ms as f64)?;
        }
        Ok(ticket)
    }

    fn charge(&mut self, charge: Charge, cost: u64, now_ms: f64) -> Result<(), String> {
        let over = |whose: &str, limit: u64| {
            format!(
                "over budget: {whose} has placed {} on contributors through this node in the \
                 last hour, its limit; try again later or run your own node",
                human(limit)
            )
        };
        if !self.by_uploader.take(charge.uploader, cost, now_ms) {
            return Err(over("your peer", self.by_uploader.limit()));
        }
        if !self.by_source.take(charge.source, cost, now_ms) {
            self.by_uploader.refund(charge.uploader, cost);
            let whose = match charge.source {
                Source::Ip(_) => "your network address",
                Source::Relayed => "every peer relayed to this node",
            };
            return Err(over(whose, self.by_source.limit()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    const MIB: u64 = 1 << 20;

    fn desk() -> (Tickets, PeerId) {
        let key = Keypair::generate_ed25519();
        let id = key.public().to_peer_id();
        let terms = Terms {
            per_uploader: 4 * MIB,
            per_source: 6 * MIB,
            lease_ms: 1000,
        };
        (Tickets::new(key, terms), id)
    }

    fn from(ip: u8) -> Charge {
        Charge {
            uploader: PeerId::random(),
            source: Source::from_ip(IpAddr::V4(Ipv4Addr::new(10, 0, 0, ip))),
        }
    }

    #[test]
    fn tickets_verify_and_stop_at_the_uploader_s_budget() {
        let (mut desk, node) = desk();
        let charge = from(1);
        for i in 0..4u8 {
            let ticket = desk
                .issue(Some(charge), Hash::of(&[i]), MIB as u32, 0)
                .unwrap();
            assert_eq!(ticket.verify(|p| *p == node), Ok(()));
            assert_eq!(ticket.covers(&Hash::of(&[i]), MIB as usize, 0), Ok(()));
        }
        let refused = desk.issue(Some(charge), Hash::of(b"5"), 1, 0).unwrap_err();
        assert!(refused.contains("your peer"), "{refused}");
        let later = WINDOW_MS as u64 + 1;
        assert!(desk.issue(Some(charge), Hash::of(b"5"), 1, later).is_ok());
    }

    #[test]
    fn fresh_identities_share_their_address_s_budget() {
        let (mut desk, _) = desk();
        let mut granted = 0;
        let refused = loop {
            match desk.issue(Some(from(2)), Hash::of(b"x"), MIB as u32, 0) {
                Ok(_) => granted += 1,
                Err(why) => break why,
            }
        };
        assert_eq!(granted, 6, "the address's 6 MiB");
        assert!(refused.contains("your network address"), "{refused}");
        assert!(desk
            .issue(Some(from(3)), Hash::of(b"x"), MIB as u32, 0)
            .is_ok());
        assert!(
            desk.issue(None, Hash::of(b"x"), MIB as u32, 0).is_ok(),
            "repair"
        );
    }
}
