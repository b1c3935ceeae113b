//! Where contributors announce themselves in the DHT, and how a put finds
//! enough of them.
//!
//! Kademlia keeps at most 20 providers per key, so one well-known key
//! would cap the network at 20 browsers that ever receive new shards.
//! Instead every contributor provides one of [`BUCKETS`] keys, chosen by
//! its peer id ([`bucket_of`]); the network holds up to `BUCKETS × 20`
//! discoverable contributors, each bucket's records on the nodes closest
//! to its key. A put searches the buckets in an order drawn from the
//! file's own provider key ([`search_order`]), in growing waves, until it
//! has [`WANTED`] contributors: different files start at different
//! buckets, so over many files every contributor receives shards, and a
//! small network (every bucket nearly empty) is searched whole in three
//! rounds of lookups.

use std::collections::HashSet;
use std::future::Future;

use libp2p::kad::RecordKey;
use libp2p::PeerId;

use crate::hash::Hash;

/// Contributor keys in the DHT.
pub const BUCKETS: u16 = 64;

/// Contributors one search aims for: more than a segment's shards, so a
/// file's segments spread over several sets of holders.
pub const WANTED: usize = 32;

/// Buckets looked up at once in each round: small first (a big network
/// answers from a few buckets), then the rest.
const WAVES: [usize; 3] = [4, 12, BUCKETS as usize];

/// The bucket `peer` announces itself in.
pub fn bucket_of(peer: &PeerId) -> u16 {
    let hash = Hash::of(&peer.to_bytes());
    u16::from_le_bytes([hash.0[0], hash.0[1]]) % BUCKETS
}

/// The DHT key of one bucket.
pub fn key(bucket: u16) -> RecordKey {
    RecordKey::new(&format!("/meganet/contributors/2/{bucket}"))
}

/// The key `peer` provides while it contributes.
pub fn key_of(peer: &PeerId) -> RecordKey {
    key(bucket_of(peer))
}

/// Every bucket, in the order a search anchored at `anchor` (a file's
/// provider key) looks them up: rendezvous ranking, so each bucket comes
/// first for about 1/[`BUCKETS`] of all files.
pub fn search_order(anchor: &Hash) -> Vec<u16> {
    let buckets: Vec<u16> = (0..BUCKETS).collect();
    crate::transfer::rotation::rank_nodes(anchor, &buckets)
}

/// Looks up buckets in [`search_order`] for `anchor`, a wave at a time,
/// until [`WANTED`] distinct contributors are found or every bucket was
/// asked; `lookup` answers one bucket's providers. Returns them in the
/// order found (a wave's answers interleaved bucket by bucket), without
/// duplicates, at most [`WANTED`].
pub async fn search<T, F, Fut>(anchor: &Hash, lookup: F) -> Vec<T>
where
    T: Clone + Eq + std::hash::Hash,
    F: Fn(RecordKey) -> Fut,
    Fut: Future<Output = Vec<T>>,
{
    let order = search_order(anchor);
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    let mut next = 0;
    for wave in WAVES {
        if found.len() >= WANTED || next >= order.len() {
            break;
        }
        let end = (next + wave).min(order.len());
        let lookups = order[next..end].iter().map(|b| lookup(key(*b)));
        next = end;
        let mut answers = futures::future::join_all(lookups).await;
        // Each answer rotated by the anchor: a DHT lists a key's providers
        // in a fixed order, and a cut must not always keep the same ones.
        let shift = u64::from_le_bytes(anchor.0[..8].try_into().unwrap_or_default());
        for answer in answers.iter_mut().filter(|a| !a.is_empty()) {
            let by = (shift % answer.len() as u64) as usize;
            answer.rotate_left(by);
        }
        // Interleaved, so a cut at WANTED keeps some of every bucket.
        let longest = answers.iter().map(Vec::len).max().unwrap_or(0);
        for i in 0..longest {
            for peer in answers.iter().filter_map(|a| a.get(i)) {
                if seen.insert(peer.clone()) {
                    found.push(peer.clone());
                }
            }
        }
    }
    found.truncate(WANTED);
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    #[test]
    fn peers_spread_over_the_buckets() {
        let mut counts = HashMap::new();
        for _ in 0..6400 {
            *counts.entry(bucket_of(&PeerId::random())).or_insert(0) += 1;
        }
        assert_eq!(counts.len(), BUCKETS as usize);
        assert!(counts.values().all(|c| (50..150).contains(c)), "{counts:?}");
    }

    #[test]
    fn keys_differ_per_bucket_and_orders_per_file() {
        assert_ne!(key(0), key(1));
        let a = search_order(&Hash::of(b"a"));
        let b = search_order(&Hash::of(b"b"));
        assert_eq!(a.len(), BUCKETS as usize);
        assert_ne!(a, b);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..BUCKETS).collect::<Vec<_>>());
    }

    /// A DHT of `per_bucket` contributors in every bucket; counts lookups.
    fn network(per_bucket: usize) -> (HashMap<RecordKey, Vec<u32>>, RefCell<usize>) {
        let mut dht = HashMap::new();
        for b in 0..BUCKETS {
            let peers = (0..per_bucket).map(|i| u32::from(b) * 1000 + i as u32);
            dht.insert(key(b), peers.collect());
        }
        (dht, RefCell::new(0))
    }

    fn run(per_bucket: usize, anchor: &[u8]) -> (Vec<u32>, usize) {
        let (dht, asked) = network(per_bucket);
        let found = futures::executor::block_on(search(&Hash::of(anchor), |k| {
            *asked.borrow_mut() += 1;
            let answer = dht.get(&k).cloned().unwrap_or_default();
            async move { answer }
        }));
        (found, asked.into_inner())
    }

    #[test]
    fn a_big_network_answers_from_a_few_buckets() {
        let (found, asked) = run(20, b"file");
        assert_eq!(asked, 4);
        assert_eq!(found.len(), WANTED);
        // Every bucket asked gives some.
        let buckets: HashSet<u32> = found.iter().map(|p| p / 1000).collect();
        assert_eq!(buckets.len(), 4);
    }

    #[test]
    fn a_small_network_is_searched_whole() {
        let (found, asked) = run(0, b"file");
        assert!(found.is_empty());
        assert_eq!(asked, BUCKETS as usize);
    }

    #[test]
    fn a_middling_network_stops_once_enough_are_found() {
        let (found, asked) = run(2, b"file");
        assert_eq!(asked, 16);
        assert_eq!(found.len(), 32);
    }

    #[test]
    fn different_files_reach_every_contributor() {
        let mut reached = HashSet::new();
        for i in 0..64u32 {
            let (found, _) = run(4, &i.to_le_bytes());
            assert_eq!(found.len(), WANTED);
            reached.extend(found);
        }
        assert!(reached.len() > 240, "{} of 256 reached", reached.len());
    }
}
