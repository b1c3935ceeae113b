//! Writes the committed seed corpus, `fuzz/corpus/<target>/seed-*`: a few
//! valid encodings made by the real encoders, so each target starts from
//! well-formed input rather than from nothing. Regenerate after a wire
//! format change:
//!
//! ```sh
//! cd fuzz && cargo run --example seeds
//! ```
//!
//! (Not a fuzz target: `cargo fuzz` builds only the `[[bin]]`s.)

use std::path::Path;

use futures::executor::block_on;
use meganet::audit::{self, ChunkRange};
use meganet::format::{Encoder, FileKey, LayoutKey, Params, RepairCap};
use meganet::hash::Hash;
use meganet::net::block::{BlockRequest, BlockResponse, ErrorCode};
use meganet::net::ticket::Ticket;
use meganet::webrtc::signal::{self, Kind, Message};
use meganet::webrtc::stream::message::{encode, Flag, MAX_DATA_LEN};

/// A short Chromium-style data-channel offer.
const SDP: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
a=group:BUNDLE 0\r\na=msid-semantic: WMS\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n\
a=ice-ufrag:mGaj\r\na=ice-pwd:zXNk0bWAoQ1RzOPcSZhPjxzR\r\na=ice-options:trickle\r\n\
a=fingerprint:sha-256 8F:2B:6A:0C:7E:51:43:9D:AA:10:C4:66:02:93:F1:3B:5E:48:D7:21:C9:0E:84:77:B2:3A:61:5F:1D:E8:90:4C\r\n\
a=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n";
const CANDIDATE: &str = r#"{"candidate":"candidate:1 1 udp 2113937151 192.168.1.7 51234 typ host generation 0","sdpMid":"0","sdpMLineIndex":0}"#;

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
}

fn block(dir: &Path) {
    let shard: Vec<u8> = (0..9000u32).map(|i| (i * 7) as u8).collect();
    let hash = Hash::of(&shard);
    let range = ChunkRange { first: 3, count: 2 };
    let cap = RepairCap {
        manifest: Hash([8; 32]),
        key: LayoutKey([9; 32]),
    };
    // A ticket's codec does not check the signature: any bytes will do.
    let ticket = Ticket {
        shard: Hash::of(&shard[..64]),
        size: 64,
        expires_s: 1_800_000_000,
        signer: vec![0, 36, 8, 1, 18, 32],
        signature: vec![5; 64],
    };
    let requests = [
        ("put", BlockRequest::put(shard[..64].to_vec())),
        (
            "put-ticketed",
            BlockRequest::Put {
                block: shard[..64].to_vec(),
                ticket: Some(ticket.clone()),
            },
        ),
        (
            "ticket",
            BlockRequest::Ticket {
                shard: hash,
                size: 64,
            },
        ),
        ("get", BlockRequest::Get(hash)),
        (
            "has",
            BlockRequest::Has(vec![hash, Hash([1; 32]), Hash([2; 32])]),
        ),
        ("provide", BlockRequest::Provide(Hash([7; 32]))),
        ("audit", BlockRequest::Audit { hash, range }),
        ("keep", BlockRequest::Keep(cap)),
    ];
    for (name, request) in requests {
        write(dir, &format!("request-{name}"), &request.encode());
    }
    let flags = vec![true, false, true, true, false, false, false, false, true];
    let responses = [
        ("stored", BlockResponse::Stored(hash)),
        ("block", BlockResponse::Block(shard[..64].to_vec())),
        ("have", BlockResponse::have(flags.clone())),
        (
            "have-evictable",
            BlockResponse::Have {
                flags,
                storage: meganet::store::Storage::Evictable,
            },
        ),
        ("not-found", BlockResponse::NotFound(hash)),
        ("ticket", BlockResponse::Ticket(ticket)),
        (
            "proof",
            BlockResponse::Proof(audit::prove(&shard, range).unwrap()),
        ),
        (
            "error",
            BlockResponse::error(ErrorCode::Full, "quota exceeded: 3 MiB over"),
        ),
    ];
    for (name, response) in responses {
        write(dir, &format!("response-{name}"), &response.encode());
    }
}

fn signal(dir: &Path) {
    let offer = Message::new(Kind::Offer, SDP);
    let answer = Message::new(Kind::Answer, SDP.replace("actpass", "active"));
    let candidate = Message::new(Kind::Candidate, CANDIDATE);
    let end = Message::new(Kind::Candidate, "null");
    write(dir, "body-offer", &offer.encode());
    write(dir, "body-candidate", &candidate.encode());
    let frames = |messages: &[&Message]| {
        let mut wire = Vec::new();
        for m in messages {
            block_on(signal::write(&mut wire, m)).unwrap();
        }
        wire
    };
    write(dir, "frames-dialer", &frames(&[&offer, &candidate, &end]));
    write(
        dir,
        "frames-listener",
        &frames(&[&answer, &candidate, &end]),
    );
}

fn stream(dir: &Path) {
    let message = |flag, data: &[u8]| {
        let mut wire = Vec::new();
        encode(&mut wire, flag, data);
        wire
    };
    let long: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    let mut data = message(None, b"hello");
    data.extend(message(None, &long));
    write(dir, "frames-data", &data);
    let mut close = message(None, b"last words");
    close.extend(message(Some(Flag::Fin), b""));
    close.extend(message(Some(Flag::FinAck), b""));
    write(dir, "frames-close", &close);
    let mut abort = message(Some(Flag::StopSending), b"");
    abort.extend(message(Some(Flag::Reset), b""));
    write(dir, "frames-abort", &abort);
    write(
        dir,
        "frames-full",
        &message(Some(Flag::Fin), &[0x5a; MAX_DATA_LEN]),
    );
    // A body alone (the target also decodes its whole input as one).
    write(dir, "body-data-fin", &message(Some(Flag::Fin), b"bye")[1..]);
}

/// The format targets: a real file's link, sealed manifest and shards (the
/// parameters and keys the targets use).
fn format(corpus: &Path) {
    let params = Params {
        segment_size: 64,
        k: 2,
        n: 4,
    };
    let file = |key| {
        let mut enc = Encoder::new(FileKey(key), params, "f", "").unwrap();
        let mut segments = enc.push(&[7u8; 200]).unwrap();
        let done = enc.finish().unwrap();
        segments.extend(done.segments.clone());
        (segments, done)
    };
    let (_, done) = file([0; 32]);
    write(
        &corpus.join("link"),
        "link",
        done.link.to_string().as_bytes(),
    );
    write(&corpus.join("manifest"), "blob", &done.manifest_blob);
    let (segments, _) = file([1; 32]);
    // The first byte picks segment `b % 5` and shard `b / 5 % 5`.
    for (segment, shard) in [(0u8, 0u8), (1, 3)] {
        let bytes = &segments[usize::from(segment)].shards[usize::from(shard)].bytes;
        let pick = segment + 5 * shard;
        write(
            &corpus.join("shard"),
            &format!("segment{segment}-shard{shard}"),
            &[&[pick][..], bytes].concat(),
        );
    }
}

fn main() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    block(&corpus.join("block"));
    signal(&corpus.join("signal"));
    stream(&corpus.join("stream"));
    format(&corpus);
    println!("seeds written under {}", corpus.display());
}
