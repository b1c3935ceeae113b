use super::*;
use crate::code::ErrorCode;
use crate::format::FileKey;
use crate::hash::Hash;

/// The test vector, exactly as docs/FORMAT.md prints it: the first
/// ```json block of the section "Sites: the directory document".
fn vector() -> &'static str {
    let doc = include_str!("../../../../docs/FORMAT.md");
    let section = doc
        .split_once("## Sites: the directory document")
        .expect("FORMAT.md has the Sites section")
        .1;
    let block = section.split_once("```json\n").expect("a json block").1;
    block.split_once("```").expect("the block ends").0
}

fn link(n: u8) -> Link {
    Link {
        version: 2,
        manifest: Hash([n; 32]),
        key: FileKey([n.wrapping_add(100); 32]),
    }
}

fn entry(path: &str, n: u8) -> SiteEntry {
    SiteEntry {
        path: path.into(),
        link: link(n),
        size: u64::from(n) * 10,
        mime: "text/html; charset=utf-8".into(),
    }
}

fn site(paths: &[&str]) -> Result<Site, FormatError> {
    let entries = paths
        .iter()
        .enumerate()
        .map(|(i, p)| entry(p, i as u8))
        .collect();
    Site::new(paths[0].to_owned(), entries)
}

/// The reason of a refusal.
fn reason(result: Result<Site, FormatError>) -> String {
    match result {
        Err(FormatError::BadSite { reason }) => reason,
        other => panic!("expected BadSite, got {other:?}"),
    }
}

/// A document of `entries` (JSON values) with index `index.html`.
fn doc(entries: &str) -> String {
    format!(r#"{{"meganet_site":1,"index":"index.html","entries":[{entries}]}}"#)
}

/// An entry's JSON with the path `path` and a valid link.
fn raw(path: &str) -> String {
    format!(
        r#"{{"path":"{path}","link":"{}","size":1,"type":"text/plain"}}"#,
        link(1).fragment()
    )
}

#[test]
fn the_vector_in_format_md_parses_and_is_written_back_byte_for_byte() {
    let text = vector();
    let site = parse_site(text.as_bytes()).unwrap();
    assert_eq!(site.index(), "index.html");
    let paths: Vec<&str> = site.entries().iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        ["about/index.html", "img/cat.png", "index.html", "style.css"]
    );
    let cat = site.entry("img/cat.png").unwrap();
    assert_eq!(cat.mime, "image/png");
    assert_eq!(cat.link.version, 2);
    let index = site.entry("index.html").unwrap();
    assert_eq!(index.mime, "text/html; charset=utf-8");
    assert!(site.entry("img").is_none());
    assert!(site.entry("/index.html").is_none());
    assert_eq!(String::from_utf8(site.to_json()).unwrap(), text);
}

#[test]
fn a_built_site_round_trips() {
    let mut entries = vec![entry("index.html", 1), entry("a b/é ü.txt", 2)];
    entries.push(SiteEntry {
        path: "data/\"quoted\".bin".into(),
        link: link(3),
        size: u64::MAX,
        mime: String::new(),
    });
    let site = Site::new("index.html".into(), entries).unwrap();
    let json = site.to_json();
    assert_eq!(parse_site(&json).unwrap(), site);
    let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(value["meganet_site"], 1);
    assert_eq!(value["entries"][2]["size"], u64::MAX);
    assert_eq!(value["entries"][2]["type"], "");
    assert_eq!(site.entry("data/\"quoted\".bin").unwrap().link, link(3));
}

#[test]
fn paths_must_be_relative_clean_and_short() {
    let refused = [
        ("", "empty"),
        ("/index.html", "starts with /"),
        ("a\\b", "backslash"),
        ("a//b", "empty segment"),
        ("a/", "empty segment"),
        ("./a", "\".\" segment"),
        ("a/../b", "\"..\" segment"),
        ("..", "\"..\" segment"),
        ("a\0b", "control character"),
        ("a\nb", "control character"),
        ("a\u{7f}", "control character"),
        ("a\u{85}", "control character"),
    ];
    for (path, why) in refused {
        let err = check_site_path(path).unwrap_err().to_string();
        assert!(err.contains(why), "{path:?}: {err}");
        let err = reason(site(&["index.html", path]));
        assert!(err.contains(why), "{path:?}: {err}");
    }
    for path in [
        "index.html",
        ".well-known/x",
        "a..b/...",
        "späce d/日本.html",
        "a/b/c/d",
    ] {
        check_site_path(path).unwrap();
    }
}

#[test]
fn path_caps_are_exact() {
    let seg = "s".repeat(MAX_SITE_SEGMENT);
    check_site_path(&seg).unwrap();
    let err = check_site_path(&format!("{seg}s")).unwrap_err().to_string();
    assert!(err.contains("segment of 256 bytes"), "{err}");

    let deep = vec!["d"; MAX_SITE_DEPTH].join("/");
    check_site_path(&deep).unwrap();
    let err = check_site_path(&format!("{deep}/d"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("33 levels deep"), "{err}");

    let long = format!("{seg}/{seg}/{seg}/{}/{}", "x".repeat(127), "x".repeat(128));
    assert_eq!(long.len(), MAX_SITE_PATH);
    check_site_path(&long).unwrap();
    let err = check_site_path(&format!("{long}x"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("1025 bytes long"), "{err}");
    let huge = "h".repeat(1 << 20);
    let err = check_site_path(&huge).unwrap_err().to_string();
    assert!(err.contains(&format!("{:?}…", &huge[..100])), "{err}");
    assert!(err.len() < 300, "{err}");
}

#[test]
fn duplicates_and_files_that_are_folders_are_named() {
    let err = reason(site(&["index.html", "a/b", "a/b"]));
    assert!(err.contains("\"a/b\" is listed twice"), "{err}");
    let err = reason(site(&["index.html", "a", "a/b"]));
    assert!(err.contains("\"a\" is both a file and a folder"), "{err}");
    assert!(err.contains("\"a/b\""), "{err}");
    let err = reason(site(&["index.html", "x/y/z", "x/y"]));
    assert!(err.contains("\"x/y\" is both a file and a folder"), "{err}");
    // A name that merely starts like a folder is fine.
    site(&["index.html", "a", "ab/c", "a.d/e"]).unwrap();
}

#[test]
fn the_index_must_be_an_entry() {
    let err = reason(Site::new("home.html".into(), vec![entry("index.html", 1)]));
    assert!(
        err.contains("\"home.html\" is not one of the entries"),
        "{err}"
    );
    let err = reason(Site::new("index.html".into(), vec![]));
    assert!(err.contains("not one of the entries"), "{err}");
    let err = reason(parse_site(doc(&raw("other.html")).as_bytes()));
    assert!(
        err.contains("\"index.html\" is not one of the entries"),
        "{err}"
    );
}

#[test]
fn types_are_short_printable_ascii() {
    let with = |mime: &str| {
        let mut e = entry("index.html", 1);
        e.mime = mime.into();
        Site::new("index.html".into(), vec![e])
    };
    with("").unwrap();
    with(&"t".repeat(MAX_SITE_TYPE)).unwrap();
    assert!(reason(with(&"t".repeat(256))).contains("256 bytes long"));
    assert!(reason(with("text/plain\n")).contains("not printable ASCII"));
    assert!(reason(with("text/é")).contains("not printable ASCII"));
}

#[test]
fn entry_and_document_caps() {
    let many = |n: usize| -> Vec<SiteEntry> {
        (0..n)
            .map(|i| {
                let mut e = entry(&format!("{i}.html"), 1);
                if i == 0 {
                    e.path = "index.html".into();
                }
                e
            })
            .collect()
    };
    let site = Site::new("index.html".into(), many(MAX_SITE_ENTRIES)).unwrap();
    assert_eq!(parse_site(&site.to_json()).unwrap().entries().len(), 10_000);
    let err = reason(Site::new("index.html".into(), many(MAX_SITE_ENTRIES + 1)));
    assert!(err.contains("10001 entries; the limit is 10000"), "{err}");

    // 10,000 entries of 600-byte paths: over 4 MiB of document.
    let mut big = many(MAX_SITE_ENTRIES);
    let long = "p".repeat(250);
    for e in big.iter_mut().skip(1) {
        e.path = format!("{long}/{long}/{}", e.path);
    }
    let err = reason(Site::new("index.html".into(), big));
    assert!(err.contains("the limit is 4194304"), "{err}");
    let oversized = vec![b' '; MAX_SITE_DOCUMENT + 1];
    let err = reason(parse_site(&oversized));
    assert!(err.contains("4194305 bytes; the limit is 4194304"), "{err}");
}

#[test]
fn every_malformed_document_is_refused_with_its_reason() {
    let good = raw("index.html");
    let link = link(1).fragment();
    let cases: Vec<(String, &str)> = vec![
        ("".into(), "not valid"),
        ("not json".into(), "not valid"),
        ("[1,2]".into(), "not valid"),
        ("null".into(), "not valid"),
        (
            r#"{"index":"index.html","entries":[]}"#.into(),
            "no \"meganet_site\"",
        ),
        (
            doc(&good).replace(":1,", ":2,"),
            "version 2; this build reads version 1",
        ),
        (doc(&good).replace(":1,", ":\"1\","), "version \"1\""),
        (doc(&good).replace(":1,", ":1.0,"), "version 1.0"),
        (
            format!(r#"{{"meganet_site":1,"entries":[{good}]}}"#),
            "missing field `index`",
        ),
        (
            r#"{"meganet_site":1,"index":"index.html"}"#.into(),
            "missing field `entries`",
        ),
        (
            doc(&good).replace(r#""path":"index.html","#, ""),
            "missing field `path`",
        ),
        (
            doc(&good).replace(&format!(r#""link":"{link}","#), ""),
            "missing field `link`",
        ),
        (
            doc(&good).replace(r#""size":1,"#, ""),
            "missing field `size`",
        ),
        (
            doc(&good).replace(r#","type":"text/plain""#, ""),
            "missing field `type`",
        ),
        (
            doc(&good).replace(r#""size":1"#, r#""size":"1""#),
            "invalid type",
        ),
        (
            doc(&good).replace(r#""size":1"#, r#""size":-1"#),
            "invalid value",
        ),
        (
            doc(&good).replace(r#""size":1"#, r#""size":1.5"#),
            "invalid type",
        ),
        (
            doc(&good).replace(r#""size":1"#, r#""size":1e40"#),
            "invalid type",
        ),
        (
            doc(&good).replace(r#""path":"index.html""#, r#""path":7"#),
            "invalid type",
        ),
        (
            doc(&good).replace(r#""type":"text/plain""#, r#""type":null"#),
            "invalid type",
        ),
        (
            r#"{"meganet_site":1,"index":"index.html","entries":{}}"#.into(),
            "invalid type",
        ),
        (
            r#"{"meganet_site":1,"index":["index.html"],"entries":[]}"#.into(),
            "invalid type",
        ),
        (
            doc(&good).replace(
                r#""index":"index.html""#,
                r#""index":"a","index":"index.html""#,
            ),
            "duplicate field `index`",
        ),
        (format!("{} x", doc(&good)), "trailing characters"),
        (doc(&good).replace(&link, "2.abc.def"), "is not a file link"),
        (doc(&good).replace(&link, ""), "is not a file link"),
        (
            doc(&good).replace(&link, &link.replacen("2.", "9.", 1)),
            "unsupported format version 9",
        ),
        (
            doc(&good).replace(&link, &format!("meganet:{link}")),
            "must be the bare form",
        ),
        (
            doc(&good).replace(&link, &format!("http://h/#{link}")),
            "must be the bare form",
        ),
        (
            doc(&good).replace(&link, &format!(" {link}")),
            "must be the bare form",
        ),
        (doc(&format!("{good},{good}")), "listed twice"),
        ("[1,\"index.html\",[]]".into(), "expected a JSON object"),
        (
            doc(&format!(r#"["index.html","{link}",1,"text/plain"]"#)),
            "expected a JSON object",
        ),
        (
            doc(&good).replace(r#""size":1"#, r#""size":1,"size":2"#),
            "duplicate field `size`",
        ),
    ];
    for (text, why) in cases {
        let err = parse_site(text.as_bytes()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::ManifestMalformed);
        let err = err.to_string();
        assert!(!err.contains(&link[50..]), "a key in a message: {err}");
        assert!(err.starts_with("not a valid site: "), "{text}: {err}");
        assert!(err.contains(why), "{text}: expected {why:?} in {err:?}");
    }
    // Fields not in the format are ignored (a later minor addition).
    let extra = doc(&good).replace(r#""size":1"#, r#""size":1,"note":{"x":[]}"#);
    parse_site(extra.replace(":1,\"index", ":1,\"x\":0,\"index").as_bytes()).unwrap();
}

#[test]
fn no_input_panics() {
    let text = vector().as_bytes();
    for end in 0..text.len() {
        let _ = parse_site(&text[..end]);
    }
    for at in 0..text.len() {
        for with in [
            b'"', b'/', b'\\', b'.', b'0', b'9', b'-', b'}', b'[', 0, 0xff,
        ] {
            let mut bad = text.to_vec();
            bad[at] = with;
            let _ = parse_site(&bad);
        }
    }
    let deep = "[".repeat(100_000);
    assert!(parse_site(deep.as_bytes()).is_err());
    let deep = format!(
        r#"{{"meganet_site":1,"index":{}"#,
        "{\"a\":".repeat(100_000)
    );
    assert!(parse_site(deep.as_bytes()).is_err());
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_site(&bytes);
        }

        /// Whatever paths are accepted, the written document reads back
        /// as the same site.
        #[test]
        fn accepted_sites_round_trip(
            paths in proptest::collection::vec("[a-c./\\\\ é\u{1}]{1,12}", 1..12),
        ) {
            let mut paths = paths;
            paths.insert(0, "index.html".into());
            let entries = paths.iter().enumerate().map(|(i, p)| entry(p, i as u8)).collect();
            if let Ok(site) = Site::new("index.html".into(), entries) {
                prop_assert_eq!(parse_site(&site.to_json()).unwrap(), site);
            }
        }
    }
}
