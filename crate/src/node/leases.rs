//! Who stored what on this node, for how long, and how much each may
//! store: the lease book.
//!
//! - **Budgets.** Every block a peer PUTs is charged to that peer's
//!   identity and to its source (its IP address, an IPv6 /64, or "relayed"
//!   for every peer that reached the node through a relay, whose address
//!   the node cannot see). A PUT that would take either past its budget is
//!   refused ([`Refusal::OverBudget`]). Fresh identities share their IP's
//!   budget, so a flood from one machine stops at it. A block is charged at
//!   least [`MIN_CHARGE`] bytes, which bounds the entries one source can
//!   make. Blocks that member nodes place (repair) are charged to no one.
//! - **Leases.** A block is leased for `lease_ms` from its last renewal: a
//!   PUT of a block already here, or a RENEW naming it, renews it. Data is
//!   never evicted while its lease runs. When a PUT needs room, expired
//!   blocks go first, least recently renewed first ([`Leases::make_room`]);
//!   when none have expired the node is full and says so.
//! - **Persistence.** The book is written to `<data>/leases.bin` through a
//!   temporary file ([`file`]). Blocks the store holds that the book does
//!   not know (written before a crash lost the last snapshot) are leased
//!   afresh and charged to no one: nothing stored is lost to a lost book.

mod file;

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use libp2p::PeerId;

use crate::hash::Hash;

/// The least a block is charged, in bytes: a flood of tiny blocks costs
/// as much as one of 4 KiB each.
pub const MIN_CHARGE: u64 = 4096;

/// Where a PUT came from, as budgets count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// An IPv4 address, or the /64 prefix of an IPv6 address (as 16 bytes).
    Ip([u8; 16]),
    /// Through a relay: the node does not see the address.
    Relayed,
}

impl Source {
    /// The source for a connection from `ip`: IPv4 whole, IPv6 by /64.
    pub fn from_ip(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self::Ip(v4.to_ipv6_mapped().octets()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::Ip(v4.to_ipv6_mapped().octets()),
                None => {
                    let mut octets = v6.octets();
                    octets[8..].fill(0);
                    Self::Ip(octets)
                }
            },
        }
    }
}

/// Who pays for a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charge {
    pub uploader: PeerId,
    pub source: Source,
}

/// The limits, from the node's flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terms {
    /// Bytes one uploader identity may have stored here.
    pub per_uploader: u64,
    /// Bytes one source (IP, /64, or every relayed peer together) may have.
    pub per_source: u64,
    /// How long a block is kept after its last renewal, in ms.
    pub lease_ms: u64,
}

/// Why a PUT was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The uploader or its source has used its budget.
    OverBudget {
        whose: &'static str,
        used: u64,
        budget: u64,
    },
    /// Every block here is leased and there is no room.
    Full { leased: u64, capacity: u64 },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::OverBudget {
                whose,
                used,
                budget,
            } => write!(
                f,
                "over budget: {whose} already stores {} on this node, and the limit is {}; \
                 space comes back as leases that are not renewed run out",
                human(*used),
                human(*budget)
            ),
            Self::Full { leased, capacity } => write!(
                f,
                "this node is full: {} of its {} hold data whose leases are running, \
                 and nothing is removed before its lease ends",
                human(*leased),
                human(*capacity)
            ),
        }
    }
}

/// Bytes for people: "1.5 GiB".
pub(super) fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// One block's lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// Bytes it is charged (at least [`MIN_CHARGE`]).
    pub charged: u64,
    /// Its size in the store.
    pub size: u64,
    /// Unix ms of the last renewal.
    pub renewed_ms: u64,
    /// Who pays; `None` for blocks the network placed or the book forgot.
    pub charge: Option<Charge>,
}

/// Totals for `/status.json`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub leased_bytes: u64,
    pub expired_bytes: u64,
}

/// The lease book. Time is passed in as Unix ms.
#[derive(Debug)]
pub struct Leases {
    terms: Terms,
    leases: HashMap<Hash, Lease>,
    by_renewal: BTreeSet<(u64, Hash)>,
    by_uploader: HashMap<PeerId, u64>,
    by_source: HashMap<Source, u64>,
    dirty: bool,
}

impl Leases {
    /// An empty book.
    pub fn new(terms: Terms) -> Self {
        Self {
            terms,
            leases: HashMap::new(),
            by_renewal: BTreeSet::new(),
            by_uploader: HashMap::new(),
            by_source: HashMap::new(),
            dirty: false,
        }
    }

    /// The terms it runs under.
    pub fn terms(&self) -> Terms {
        self.terms
    }

    /// Whether `charge` may store `size` more bytes.
    pub fn admit(&self, charge: Option<Charge>, size: u64) -> Result<(), Refusal> {
        let Some(charge) = charge else { return Ok(()) };
        let cost = size.max(MIN_CHARGE);
        let uploader = self.by_uploader.get(&charge.uploader).copied().unwrap_or(0);
        if uploader + cost > self.terms.per_uploader {
            return Err(Refusal::OverBudget {
                whose: "your peer",
                used: uploader,
                budget: self.terms.per_uploader,
            });
        }
        let source = self.by_source.get(&charge.source).copied().unwrap_or(0);
        if source + cost > self.terms.per_source {
            return Err(Refusal::OverBudget {
                whose: match charge.source {
                    Source::Ip(_) => "your network address",
                    Source::Relayed => "every peer relayed to this node",
                },
                used: source,
                budget: self.terms.per_source,
            });
        }
        Ok(())
    }

    /// Records a block just stored, or renews it if it is known (its
    /// first uploader keeps paying).
    pub fn record(&mut self, hash: Hash, size: u64, charge: Option<Charge>, now_ms: u64) {
        if self.renew(&hash, now_ms) {
            return;
        }
        let lease = Lease {
            charged: size.max(MIN_CHARGE),
            size,
            renewed_ms: now_ms,
            charge,
        };
        self.insert(hash, lease);
    }

    /// Renews `hash`'s lease; false when the book does not know it.
    pub fn renew(&mut self, hash: &Hash, now_ms: u64) -> bool {
        let Some(lease) = self.leases.get_mut(hash) else {
            return false;
        };
        if lease.renewed_ms != now_ms {
            self.by_renewal.remove(&(lease.renewed_ms, *hash));
            lease.renewed_ms = lease.renewed_ms.max(now_ms);
            self.by_renewal.insert((lease.renewed_ms, *hash));
            self.dirty = true;
        }
        true
    }

    /// Forgets a block the store no longer holds.
    pub fn remove(&mut self, hash: &Hash) -> Option<Lease> {
        let lease = self.leases.remove(hash)?;
        self.by_renewal.remove(&(lease.renewed_ms, *hash));
        if let Some(charge) = lease.charge {
            debit(&mut self.by_uploader, charge.uploader, lease.charged);
            debit(&mut self.by_source, charge.source, lease.charged);
        }
        self.dirty = true;
        Some(lease)
    }

    /// Expired blocks to remove so that `needed` more bytes fit in
    /// `capacity` when `used` are stored, least recently renewed first;
    /// [`Refusal::Full`] when the expired ones are not enough. Nothing is
    /// removed here: the caller deletes them from the store, then calls
    /// [`Leases::remove`].
    pub fn make_room(
        &self,
        used: u64,
        needed: u64,
        capacity: u64,
        now_ms: u64,
    ) -> Result<Vec<(Hash, u64)>, Refusal> {
        if used + needed <= capacity {
            return Ok(Vec::new());
        }
        let mut freed = 0;
        let mut victims = Vec::new();
        for (renewed, hash) in &self.by_renewal {
            if !self.expired(*renewed, now_ms) || used.saturating_sub(freed) + needed <= capacity {
                break;
            }
            let size = self.leases[hash].size;
            freed += size;
            victims.push((*hash, size));
        }
        if used.saturating_sub(freed) + needed > capacity {
            return Err(Refusal::Full {
                leased: used.saturating_sub(freed),
                capacity,
            });
        }
        Ok(victims)
    }

    /// Leased and expired bytes now (a walk of the whole book: for the
    /// node's tick, not for every request).
    pub fn totals(&self, now_ms: u64) -> Totals {
        let mut totals = Totals::default();
        for (renewed, hash) in &self.by_renewal {
            let size = self.leases[hash].size;
            if self.expired(*renewed, now_ms) {
                totals.expired_bytes += size;
            } else {
                totals.leased_bytes += size;
            }
        }
        totals
    }

    /// Bytes charged to `uploader`.
    #[cfg(test)]
    pub fn used_by(&self, uploader: &PeerId) -> u64 {
        self.by_uploader.get(uploader).copied().unwrap_or(0)
    }

    /// Bytes charged to `source`.
    #[cfg(test)]
    pub fn used_from(&self, source: &Source) -> u64 {
        self.by_source.get(source).copied().unwrap_or(0)
    }

    /// Number of leases.
    pub fn len(&self) -> usize {
        self.leases.len()
    }

    /// True when there are none.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.leases.is_empty()
    }

    /// The lease of `hash`.
    #[cfg(test)]
    pub fn get(&self, hash: &Hash) -> Option<Lease> {
        self.leases.get(hash).copied()
    }

    /// True once, after a change, until [`Leases::saved`].
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// The book was written.
    pub fn saved(&mut self) {
        self.dirty = false;
    }

    /// Makes the book match the store: leases of blocks it no longer
    /// holds are dropped; blocks it holds without a lease get one from
    /// `now_ms`, charged to no one.
    pub fn reconcile(&mut self, stored: impl IntoIterator<Item = (Hash, u64)>, now_ms: u64) {
        let stored: HashMap<Hash, u64> = stored.into_iter().collect();
        let gone: Vec<Hash> = self
            .leases
            .keys()
            .filter(|h| !stored.contains_key(h))
            .copied()
            .collect();
        for hash in gone {
            self.remove(&hash);
        }
        for (hash, size) in stored {
            if !self.leases.contains_key(&hash) {
                self.record(hash, size, None, now_ms);
            }
        }
    }

    fn expired(&self, renewed_ms: u64, now_ms: u64) -> bool {
        renewed_ms.saturating_add(self.terms.lease_ms) <= now_ms
    }

    fn insert(&mut self, hash: Hash, lease: Lease) {
        if let Some(charge) = lease.charge {
            *self.by_uploader.entry(charge.uploader).or_default() += lease.charged;
            *self.by_source.entry(charge.source).or_default() += lease.charged;
        }
        self.by_renewal.insert((lease.renewed_ms, hash));
        self.leases.insert(hash, lease);
        self.dirty = true;
    }
}

fn debit<K: std::hash::Hash + Eq>(map: &mut HashMap<K, u64>, key: K, amount: u64) {
    if let Some(used) = map.get_mut(&key) {
        *used = used.saturating_sub(amount);
        if *used == 0 {
            map.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests;
