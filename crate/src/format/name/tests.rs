use super::*;
use crate::code::ErrorCode;
use crate::format::FileKey;

const NOW: u64 = 1_796_601_600_000;

fn site(n: u8) -> Link {
    Link {
        version: 2,
        manifest: Hash([n; 32]),
        key: FileKey([n.wrapping_add(100); 32]),
    }
}

fn key(n: u8) -> NameKey {
    NameKey::from_parts([n; 32], ReadKey([n.wrapping_add(1); 32]))
}

fn reason(err: FormatError) -> NameError {
    match err {
        FormatError::BadName { reason } => reason,
        other => panic!("expected a name error, got {other:?}"),
    }
}

/// The test vector, exactly as docs/FORMAT.md prints it: the first
/// ```text block of the section "Names".
fn vector() -> std::collections::HashMap<&'static str, &'static str> {
    let doc = include_str!("../../../../docs/FORMAT.md");
    let section = doc
        .split_once("## Names")
        .expect("FORMAT.md has the Names section")
        .1;
    let block = section.split_once("```text\n").expect("a text block").1;
    let block = block.split_once("```").expect("the block ends").0;
    block
        .lines()
        .map(|line| {
            let (k, v) = line.split_once(':').expect("key: value");
            (k.trim(), v.trim())
        })
        .collect()
}

#[test]
fn the_format_md_vector_is_what_this_code_writes() {
    let v = vector();
    let secret = decode32(v["publisher secret"], "secret").unwrap();
    let read = ReadKey(decode32(v["read key"], "read key").unwrap());
    let key = NameKey::from_parts(secret, read);
    assert_eq!(key.link().fragment(), v["name link"]);
    assert_eq!(key.publisher().dht_key().to_string(), v["dht key"]);
    let link: Link = v["site link"].parse().unwrap();
    let sequence: u64 = v["sequence"].parse().unwrap();
    let signed_at: u64 = v["signed at"].parse().unwrap();
    let nonce: [u8; 12] = hex::decode(v["nonce"]).unwrap().try_into().unwrap();
    let record = key.sign_with_nonce(sequence, signed_at, &link, nonce);
    assert_eq!(hex::encode(&record), v["record"]);
    let name: NameLink = v["name link"].parse().unwrap();
    let (opened, got) = NameRecord::resolve(&name, &record, signed_at).unwrap();
    assert_eq!(got, link);
    assert_eq!(opened.sequence, sequence);
    assert_eq!(opened.signed_at_ms, signed_at);
}

#[test]
fn a_record_round_trips() {
    let key = key(1);
    let record = key.sign(5, NOW, &site(9));
    assert!(record.len() <= MAX_NAME_RECORD);
    let (opened, link) = NameRecord::resolve(&key.link(), &record, NOW).unwrap();
    assert_eq!(link, site(9));
    assert_eq!(opened.sequence, 5);
    assert_eq!(opened.signed_at_ms, NOW);
    assert_eq!(opened.publisher, key.publisher());
    assert_eq!(opened.dht_key(), key.publisher().dht_key());
    // Random nonces: the same content seals differently each time.
    assert_ne!(record, key.sign(5, NOW, &site(9)));
}

#[test]
fn a_forged_signature_is_refused() {
    let key = key(1);
    let mut record = key.sign(1, NOW, &site(1));
    let last = record.len() - 1;
    record[last] ^= 1;
    assert_eq!(
        reason(NameRecord::verify(&record, NOW).unwrap_err()),
        NameError::BadSignature
    );
    // A record signed by another key, with the first key's public key put
    // in its place.
    let mut forged = self::key(2).sign(1, NOW, &site(1));
    forged[5..37].copy_from_slice(&key.publisher().0);
    let err = NameRecord::verify(&forged, NOW).unwrap_err();
    assert_eq!(err.code(), ErrorCode::ManifestTampered);
    assert_eq!(reason(err), NameError::BadSignature);
    // Any altered field fails the signature.
    let good = key.sign(1, NOW, &site(1));
    for at in [37, 45, 53, 70] {
        let mut bad = good.clone();
        bad[at] ^= 0x80;
        assert_eq!(
            reason(NameRecord::verify(&bad, NOW).unwrap_err()),
            NameError::BadSignature,
            "byte {at}"
        );
    }
}

#[test]
fn another_publishers_record_does_not_resolve_a_name() {
    let record = key(2).sign(1, NOW, &site(1));
    assert_eq!(
        reason(NameRecord::resolve(&key(1).link(), &record, NOW).unwrap_err()),
        NameError::OtherPublisher
    );
}

#[test]
fn wrong_sizes_are_refused() {
    for size in [
        0,
        10,
        HEADER_LEN + TAG_LEN + SIGNATURE_LEN - 1,
        MAX_NAME_RECORD + 1,
    ] {
        let err = reason(NameRecord::verify(&vec![0; size], NOW).unwrap_err());
        assert!(matches!(err, NameError::WrongSize { .. }), "{size}: {err}");
    }
    let mut record = key(1).sign(1, NOW, &site(1));
    record.push(0);
    assert!(matches!(
        reason(NameRecord::verify(&record, NOW).unwrap_err()),
        NameError::Malformed(_)
    ));
    record[0] = b'X';
    assert!(matches!(
        reason(NameRecord::verify(&record, NOW).unwrap_err()),
        NameError::Malformed(_)
    ));
}

#[test]
fn an_unknown_version_is_refused() {
    let mut record = key(1).sign(1, NOW, &site(1));
    record[4] = 2;
    let err = NameRecord::verify(&record, NOW).unwrap_err();
    assert_eq!(err.code(), ErrorCode::LinkVersion);
    assert_eq!(reason(err), NameError::UnknownVersion(2));
}

#[test]
fn a_record_signed_in_the_future_is_refused() {
    let key = key(1);
    let ahead = key.sign(1, NOW + MAX_NAME_CLOCK_SKEW_MS + 1, &site(1));
    let err = NameRecord::verify(&ahead, NOW).unwrap_err();
    assert!(err.to_string().contains("signed in the future"), "{err}");
    assert!(matches!(reason(err), NameError::FutureTime { .. }));
    // Within the allowed skew, and in the past: accepted.
    let skewed = key.sign(1, NOW + MAX_NAME_CLOCK_SKEW_MS, &site(1));
    NameRecord::verify(&skewed, NOW).unwrap();
    NameRecord::verify(&key.sign(1, 0, &site(1)), NOW).unwrap();
    NameRecord::verify(&key.sign(1, u64::MAX, &site(1)), u64::MAX).unwrap();
}

#[test]
fn a_sealed_link_that_does_not_open_is_refused() {
    let key = key(1);
    let record = NameRecord::verify(&key.sign(1, NOW, &site(1)), NOW).unwrap();
    let err = record.open(&ReadKey([0; 32])).unwrap_err();
    assert_eq!(err.code(), ErrorCode::WrongKey);
    assert_eq!(reason(err), NameError::SealedLink);
    assert_eq!(record.open(&key.read).unwrap(), site(1));
}

#[test]
fn name_links_parse_in_every_form() {
    let name = key(1).link();
    let f = name.fragment();
    assert!(f.starts_with("n1.") && f.len() == 3 + 43 + 1 + 43, "{f}");
    for text in [
        name.to_url("https://meganet.example/"),
        name.to_string(),
        f.clone(),
        format!("#{f}"),
        format!("  {}\n", name.to_url("http://127.0.0.1:8080/?x=1")),
    ] {
        assert_eq!(text.parse::<NameLink>().unwrap(), name, "{text}");
        assert!(NameLink::is_name_link(&text), "{text}");
    }
    assert!(!NameLink::is_name_link(&site(1).to_url("http://x/")));
    assert!(!NameLink::is_name_link("http://x/"));
}

#[test]
fn malformed_name_links_say_why() {
    let f = key(1).link().fragment();
    let err = |s: &str| s.parse::<NameLink>().unwrap_err().to_string();
    assert!(err("").contains("empty"));
    assert!(err("https://x.example/").contains("no #fragment"));
    assert!(err(&site(1).fragment()).contains("not a name link"));
    assert!(err("nx.a.b").contains("not a number"));
    assert!(err(&f.replacen("n1.", "n2.", 1)).contains("version 2 is not supported"));
    assert!(err("n1.abc").contains("3 dot-separated parts"));
    assert!(err(&format!("{f}x")).contains("read key must be 43"));
    let (_, rest) = f.split_once('.').unwrap();
    let (_, read) = rest.split_once('.').unwrap();
    assert!(err(&format!("n1.{}.{read}", "*".repeat(43)))
        .contains("publisher key is not valid base64url"));
    // 32 bytes that are not a point on the curve.
    let not_a_point = encode32(&[
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x7f,
    ]);
    let bad_point = format!("n1.{not_a_point}.{read}");
    if VerifyingKey::from_bytes(&decode32(&not_a_point, "k").unwrap()).is_err() {
        assert!(err(&bad_point).contains("not a valid Ed25519 key"));
    }
    assert!(err(&"#".repeat(5000)).contains("limit"));
}

#[test]
fn key_files_round_trip_and_bad_ones_are_refused() {
    let key = key(3);
    let text = key.to_text();
    assert!(text.starts_with("meganet name key 1\nsecret "));
    let back = NameKey::from_text(&text).unwrap();
    assert_eq!(back.publisher(), key.publisher());
    assert_eq!(back.read, key.read);
    let err = |s: &str| NameKey::from_text(s).unwrap_err().to_string();
    assert!(err("").contains("does not start"));
    assert!(err("meganet name key 1\n").contains("secret line is missing"));
    assert!(err(&text.replace("secret ", "secrets ")).contains("expected the secret line"));
    assert!(err(&text.replace("read ", "read x")).contains("read is not 43"));
    assert!(err(&format!("{text}more\n")).contains("lines after"));
    let a = NameKey::random();
    let b = NameKey::random();
    assert_ne!(a.publisher(), b.publisher());
    assert_ne!(a.read, b.read);
}

#[test]
fn mutated_records_never_panic_and_never_verify() {
    let key = key(1);
    let good = key.sign(7, NOW, &site(4));
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..3000 {
        let mut bad = good.clone();
        match next() % 4 {
            0 => {
                let at = (next() as usize) % bad.len();
                bad[at] ^= 1 << (next() % 8);
            }
            1 => bad.truncate((next() as usize) % bad.len()),
            2 => bad.extend((0..next() % 64).map(|_| next() as u8)),
            _ => {
                let at = (next() as usize) % bad.len();
                bad.insert(at, next() as u8);
            }
        }
        if bad != good {
            assert!(NameRecord::verify(&bad, NOW).is_err());
        }
    }
}

mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1200), now in any::<u64>()) {
            let _ = NameRecord::verify(&bytes, now);
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,200}") {
            let _ = text.parse::<NameLink>();
            let _ = NameKey::from_text(&text);
            let _ = NameLink::is_name_link(&text);
        }
    }
}

#[test]
fn a_publish_is_confirmed_only_by_its_own_record() {
    let k = key(7);
    let ours = k.sign(3, NOW, &site(1));
    let theirs = k.sign(3, NOW, &site(2));
    let held = |bytes: &[u8]| {
        NameRecord::verify(bytes, NOW)
            .map(|r| (r, bytes.to_vec()))
            .ok()
    };
    assert_eq!(
        NameRecord::check_published(held(&ours).as_ref(), &ours, 3),
        Ok(())
    );
    // Another publish with the same key took version 3 first.
    let raced = NameRecord::check_published(held(&theirs).as_ref(), &ours, 3).unwrap_err();
    assert!(
        raced.contains("version 3 of the name was published meanwhile"),
        "{raced}"
    );
    // The nodes kept an older version.
    let older = k.sign(2, NOW, &site(1));
    let kept = NameRecord::check_published(held(&older).as_ref(), &ours, 3).unwrap_err();
    assert!(
        kept.contains("did not keep version 3") && kept.contains("version 2"),
        "{kept}"
    );
    let none = NameRecord::check_published(None, &ours, 3).unwrap_err();
    assert!(none.contains("no node kept"), "{none}");
}
