use super::*;

const DAY: u64 = 86_400_000;

fn terms() -> Terms {
    Terms {
        per_uploader: 1 << 20,
        per_source: 3 << 20,
        lease_ms: DAY,
    }
}

fn hash(i: u32) -> Hash {
    Hash(*blake3::hash(&i.to_le_bytes()).as_bytes())
}

fn from(ip: [u8; 4]) -> Charge {
    Charge {
        uploader: PeerId::random(),
        source: Source::from_ip(IpAddr::from(ip)),
    }
}

#[test]
fn fresh_identities_share_their_address_budget() {
    let mut book = Leases::new(terms());
    let mut stored = 0;
    let mut refusal = None;
    for i in 0..100 {
        // A new identity for every block, all from one address.
        let charge = Some(from([10, 0, 0, 1]));
        match book.admit(charge, 512 << 10) {
            Ok(()) => {
                book.record(hash(i), 512 << 10, charge, 0);
                stored += 1;
            }
            Err(e) => {
                refusal = Some(e);
                break;
            }
        }
    }
    assert_eq!(stored, 6, "3 MiB from one address, in 512 KiB blocks");
    let refusal = refusal.expect("refused").to_string();
    assert!(refusal.contains("your network address"), "{refusal}");
    assert!(refusal.contains("3.0 MiB"), "{refusal}");
    // Another address has its own budget.
    assert!(book.admit(Some(from([10, 0, 0, 2])), 512 << 10).is_ok());
}

#[test]
fn one_identity_stops_at_its_own_budget_and_tiny_blocks_cost_the_minimum() {
    let mut book = Leases::new(terms());
    let payer = from([10, 0, 0, 1]);
    let charge = Some(payer);
    let fits = (1 << 20) / MIN_CHARGE as u32;
    for i in 0..fits {
        book.admit(charge, 1).unwrap();
        book.record(hash(i), 1, charge, 0);
    }
    assert_eq!(book.used_by(&payer.uploader), 1 << 20);
    let refusal = book.admit(charge, 1).unwrap_err();
    assert!(matches!(
        refusal,
        Refusal::OverBudget {
            whose: "your peer",
            ..
        }
    ));
    // Removing a block gives its charge back.
    book.remove(&hash(0));
    assert!(book.admit(charge, 1).is_ok());
}

#[test]
fn ipv6_addresses_count_by_their_64_prefix() {
    let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
    let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
    let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
    assert_eq!(Source::from_ip(a), Source::from_ip(b));
    assert_ne!(Source::from_ip(a), Source::from_ip(c));
    let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
    assert_eq!(
        Source::from_ip(mapped),
        Source::from_ip(IpAddr::from([10, 0, 0, 1]))
    );
}

#[test]
fn room_comes_from_expired_blocks_least_recently_renewed_first() {
    let mut book = Leases::new(terms());
    for i in 0..4 {
        book.record(hash(i), 100, None, u64::from(i) * 10);
    }
    // Block 0 is renewed late: it is now the most recent.
    assert!(book.renew(&hash(0), 50));
    let now = 45 + DAY;
    // 400 stored of 450: 100 more need 50 freed. Blocks 1 to 3 expired
    // (renewed at 10, 20, 30); block 1 is the oldest.
    assert_eq!(book.make_room(400, 100, 450, now), Ok(vec![(hash(1), 100)]));
    assert_eq!(
        book.make_room(400, 300, 450, now),
        Ok(vec![(hash(1), 100), (hash(2), 100), (hash(3), 100)])
    );
    // Block 0's lease runs: it is never taken, so 400 more cannot fit.
    let full = book.make_room(400, 400, 450, now).unwrap_err();
    assert_eq!(
        full,
        Refusal::Full {
            leased: 100,
            capacity: 450
        }
    );
    assert!(full.to_string().contains("this node is full"));
    assert_eq!(
        book.totals(now),
        Totals {
            leased_bytes: 100,
            expired_bytes: 300
        }
    );
    // Nothing expired yet: full at once.
    assert!(book.make_room(400, 100, 450, 1).is_err());
    assert_eq!(book.make_room(300, 100, 450, 1), Ok(vec![]));
}

#[test]
fn a_second_put_renews_and_keeps_the_first_payer() {
    let mut book = Leases::new(terms());
    let (first, second) = (from([10, 0, 0, 1]), from([10, 0, 0, 2]));
    book.record(hash(1), 8192, Some(first), 0);
    book.record(hash(1), 8192, Some(second), 500);
    let lease = book.get(&hash(1)).unwrap();
    assert_eq!(lease.renewed_ms, 500);
    assert_eq!(lease.charge, Some(first));
    assert_eq!(book.used_by(&second.uploader), 0);
    assert_eq!(book.used_from(&first.source), 8192);
    // A renewal never moves a lease back in time.
    book.renew(&hash(1), 100);
    assert_eq!(book.get(&hash(1)).unwrap().renewed_ms, 500);
    assert!(!book.renew(&hash(2), 100), "unknown blocks are not renewed");
}

#[test]
fn the_book_survives_a_restart_and_follows_the_store() {
    let dir = crate::temp_dir::TempDir::new("leases");
    std::fs::create_dir_all(dir.path()).unwrap();
    let path = dir.path().join("leases.bin");
    let mut book = Leases::new(terms());
    let charged = from([10, 0, 0, 1]);
    let relayed = Charge {
        uploader: PeerId::random(),
        source: Source::Relayed,
    };
    book.record(hash(1), 5000, Some(charged), 7);
    book.record(hash(2), 6000, Some(relayed), 8);
    book.record(hash(3), 7000, None, 9);
    assert!(book.is_dirty());
    book.save(&path).unwrap();
    assert!(!book.is_dirty());

    let mut again = Leases::new(terms());
    again.load(&path).unwrap();
    for i in 1..=3 {
        assert_eq!(again.get(&hash(i)), book.get(&hash(i)));
    }
    assert_eq!(again.used_from(&Source::Relayed), 6000);
    // The store lost block 2 and holds block 4, which the book never saw.
    again.reconcile([(hash(1), 5000), (hash(3), 7000), (hash(4), 100)], 99);
    assert_eq!(again.len(), 3);
    assert_eq!(again.used_from(&Source::Relayed), 0);
    let adopted = again.get(&hash(4)).unwrap();
    assert_eq!((adopted.renewed_ms, adopted.charge), (99, None));
}

#[test]
fn a_damaged_book_is_an_error_naming_the_damage() {
    let dir = crate::temp_dir::TempDir::new("leases-bad");
    std::fs::create_dir_all(dir.path()).unwrap();
    let path = dir.path().join("leases.bin");
    let mut book = Leases::new(terms());
    book.record(hash(1), 5000, Some(from([10, 0, 0, 1])), 7);
    book.save(&path).unwrap();
    let good = std::fs::read(&path).unwrap();
    let cases: [(&[u8], &str); 4] = [
        (&good[..good.len() - 1], "ends in the middle"),
        (b"NOTLEASE\0\0\0\0\0\0\0\0", "wrong magic"),
        (
            &[&MAGIC_FOR_TESTS[..], &u64::MAX.to_le_bytes()].concat(),
            "leases announced",
        ),
        (&[&good[..], &[0u8][..]].concat(), "after the last lease"),
    ];
    for (bytes, why) in cases {
        std::fs::write(&path, bytes).unwrap();
        let err = Leases::new(terms()).load(&path).unwrap_err();
        assert!(err.contains(why), "{err} should say {why}");
    }
    // No file is an empty book.
    std::fs::remove_file(&path).unwrap();
    let mut empty = Leases::new(terms());
    empty.load(&path).unwrap();
    assert!(empty.is_empty());
}

const MAGIC_FOR_TESTS: &[u8; 8] = b"MNLEASE1";
