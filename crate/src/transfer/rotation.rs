//! Which holder to ask first for a shard, and which next: plain
//! functions, so the spreading of load is tested without a network.

/// The holders to ask for one shard, in turn. Local stores come first
/// (free); then the partial holders that have it and, once the search for
/// holders is over, the full holders too, rotated by `turn` so successive
/// shards start at different holders; while the search runs the full
/// holders come last, so the browsers found so far serve what they have.
pub fn order<H: Copy>(local: &[H], have: &[H], full: &[H], searching: bool, turn: usize) -> Vec<H> {
    let mut rotating: Vec<H> = have.to_vec();
    if !searching {
        rotating.extend_from_slice(full);
    }
    if !rotating.is_empty() {
        let first = turn % rotating.len();
        rotating.rotate_left(first);
    }
    let mut out = local.to_vec();
    out.extend(rotating);
    if searching {
        out.extend_from_slice(full);
    }
    out
}

/// `nodes` in the order a block with hash `key` (or the segment it
/// opens) is dealt to them: rendezvous hashing, each node ranked by the
/// BLAKE3 hash of the key and its name. Each node comes first for about
/// 1/N of all keys, the order for one key depends on no other, and a node
/// that joins or leaves changes only the rankings it takes part in.
pub fn rank_nodes<H: Copy + std::fmt::Display>(key: &crate::hash::Hash, nodes: &[H]) -> Vec<H> {
    let mut scored: Vec<([u8; 32], H)> = nodes
        .iter()
        .map(|node| {
            let mut h = blake3::Hasher::new();
            h.update(&key.0);
            h.update(node.to_string().as_bytes());
            (*h.finalize().as_bytes(), *node)
        })
        .collect();
    scored.sort_by_key(|s| std::cmp::Reverse(s.0));
    scored.into_iter().map(|(_, node)| node).collect()
}

/// The contributor that takes a best-effort copy of shard `shard` of
/// segment `segment` (`n` shards per segment): `(segment * n + shard) mod
/// c`, so the shards of a segment land on distinct contributors when
/// there are at least `n` of them.
pub fn contributor_for<H: Copy>(
    segment: u64,
    shard: usize,
    n: usize,
    contributors: &[H],
) -> Option<H> {
    if contributors.is_empty() {
        return None;
    }
    let c = contributors.len() as u64;
    let at = (segment % c * (n as u64 % c) + shard as u64 % c) % c;
    contributors.get(at as usize).copied()
}

/// The list [`contributor_for`] deals copies over: every durable
/// contributor, then those whose storage the browser may evict, then the
/// durable ones again. So one that may evict takes half the copies of one
/// that keeps them (an evicted copy is a repair), while a network of
/// browsers that may all evict still spreads over all of them; the shards
/// of a segment walk consecutive places, which stay distinct holders while
/// there are at least `n` contributors.
pub fn weighted<H: Copy>(contributors: &[(H, crate::store::Storage)]) -> Vec<H> {
    use crate::store::Storage;
    let of = |kind: Storage| {
        contributors
            .iter()
            .filter(move |(_, storage)| *storage == kind)
            .map(|(holder, _)| *holder)
    };
    of(Storage::Durable)
        .chain(of(Storage::Evictable))
        .chain(of(Storage::Durable))
        .collect()
}

/// The `keep` contributors most likely to be online, best first:
/// `contributors` with each one's observed availability (time online over
/// time known); ties keep their order. Copies on them stay live with
/// fewer repairs (chosen by simulation: docs/DESIGN.md).
pub fn most_available<H: Copy>(contributors: &[(H, f64)], keep: usize) -> Vec<H> {
    let mut sorted = contributors.to_vec();
    sorted.sort_by(|a, b| b.1.total_cmp(&a.1));
    sorted.into_iter().take(keep).map(|(h, _)| h).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contributor_that_may_evict_takes_half_the_copies() {
        use crate::store::Storage::{Durable, Evictable};
        let list = weighted(&[('d', Durable), ('e', Evictable), ('f', Durable)]);
        assert_eq!(list, ['d', 'f', 'e', 'd', 'f']);
        let mut copies = std::collections::BTreeMap::new();
        for segment in 0..list.len() as u64 {
            for shard in 0..8 {
                let holder = contributor_for(segment, shard, 8, &list).unwrap();
                *copies.entry(holder).or_insert(0) += 1;
            }
        }
        assert_eq!(copies[&'d'], 2 * copies[&'e'], "{copies:?}");
        assert_eq!(copies[&'f'], 2 * copies[&'e'], "{copies:?}");
        // Alike, they share alike.
        assert_eq!(weighted(&[('e', Evictable), ('x', Evictable)]), ['e', 'x']);
        assert_eq!(weighted(&[('d', Durable)]), ['d', 'd']);
        assert!(weighted::<char>(&[]).is_empty());
        // Eight or more durable contributors: a segment's copies land on
        // distinct ones wherever it starts.
        let many: Vec<_> = (0..9u8)
            .map(|i| (i, Durable))
            .chain([(99, Evictable)])
            .collect();
        let list = weighted(&many);
        for segment in 0..50 {
            let holders: std::collections::BTreeSet<_> = (0..8)
                .map(|i| contributor_for(segment, i, 8, &list).unwrap())
                .collect();
            assert_eq!(holders.len(), 8, "segment {segment}");
        }
    }

    #[test]
    fn locals_first_full_holders_last_while_searching() {
        assert_eq!(
            order(&['L'], &['a', 'b'], &['N'], true, 0),
            vec!['L', 'a', 'b', 'N']
        );
        assert_eq!(
            order(&['L'], &['a', 'b'], &['N'], true, 1),
            vec!['L', 'b', 'a', 'N']
        );
        assert_eq!(order::<char>(&[], &[], &['N'], true, 5), vec!['N']);
    }

    #[test]
    fn full_holders_take_their_turn_once_the_search_is_over() {
        let firsts: Vec<char> = (0..6)
            .map(|t| order(&[], &['a', 'b'], &['N'], false, t)[0])
            .collect();
        assert_eq!(firsts, vec!['a', 'b', 'N', 'a', 'b', 'N']);
        assert_eq!(order::<char>(&[], &[], &[], false, 3), Vec::<char>::new());
    }

    #[test]
    fn nodes_share_keys_evenly_and_rankings_are_stable() {
        let nodes = ["node-a", "node-b", "node-c"];
        let mut firsts = std::collections::HashMap::new();
        for i in 0..3000u32 {
            let key = crate::hash::Hash::of(&i.to_le_bytes());
            let ranked = rank_nodes(&key, &nodes);
            assert_eq!(ranked.len(), 3);
            assert_eq!(ranked, rank_nodes(&key, &nodes), "deterministic");
            *firsts.entry(ranked[0]).or_insert(0) += 1;
            // A node leaving keeps the others' relative order.
            let without_b: Vec<_> = ranked.iter().copied().filter(|n| *n != "node-b").collect();
            assert_eq!(rank_nodes(&key, &["node-a", "node-c"]), without_b);
        }
        for node in nodes {
            let share = firsts[node];
            assert!(
                (850..1150).contains(&share),
                "{node} first for {share} of 3000"
            );
        }
        assert!(rank_nodes::<&str>(&crate::hash::Hash::of(b"x"), &[]).is_empty());
    }

    #[test]
    fn a_segment_spreads_over_distinct_contributors() {
        let peers = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'];
        for segment in 0..5 {
            let chosen: std::collections::BTreeSet<char> = (0..8)
                .filter_map(|i| contributor_for(segment, i, 8, &peers))
                .collect();
            assert_eq!(chosen.len(), 8, "segment {segment}");
        }
        assert_eq!(contributor_for::<char>(0, 0, 8, &[]), None);
        assert_eq!(contributor_for(3, 2, 8, &['x']), Some('x'));
        // Huge indexes do not overflow.
        assert!(contributor_for(u64::MAX, usize::MAX, usize::MAX, &peers).is_some());
    }

    #[test]
    fn the_most_available_contributors_come_first() {
        let scored = [('a', 0.2), ('b', 0.9), ('c', 0.5), ('d', 0.9)];
        assert_eq!(most_available(&scored, 3), vec!['b', 'd', 'c']);
        assert_eq!(most_available(&scored, 9).len(), 4);
        assert!(most_available::<char>(&[], 2).is_empty());
    }
}
