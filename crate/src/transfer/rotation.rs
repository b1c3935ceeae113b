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

#[cfg(test)]
mod tests {
    use super::*;

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
}
