//! Round trips and errors of the content format (native; property tests).
#![cfg(not(target_arch = "wasm32"))]

use std::collections::HashMap;

use meganet::format::{
    encode_reader, Decoder, EncodedSegment, Encoder, FileKey, FormatError, Params, Reassembler,
};
use proptest::prelude::*;

type Shards = Vec<EncodedSegment>;

fn encode(data: &[u8], params: Params, chunk: usize) -> (Shards, meganet::format::Finished) {
    let mut enc = Encoder::new(
        FileKey::random(),
        params,
        "f.bin",
        "application/octet-stream",
    )
    .unwrap();
    let mut segments = vec![];
    for piece in data.chunks(chunk.max(1)) {
        segments.extend(enc.push(piece).unwrap());
    }
    let finished = enc.finish().unwrap();
    segments.extend(finished.segments.clone());
    (segments, finished)
}

/// Decodes `range` using only the shard indexes `pick(segment)` returns.
fn decode_range(
    segments: &Shards,
    decoder: &Decoder,
    range: std::ops::Range<u64>,
    pick: impl Fn(u64) -> Vec<usize>,
) -> Result<Vec<u8>, FormatError> {
    let mut r = Reassembler::new(decoder, range, 2)?;
    let mut out = vec![];
    loop {
        while let Some(chunk) = r.next_chunk()? {
            out.extend(chunk);
        }
        let wanted = r.wanted();
        let mut added = false;
        for (seg, shard, _) in wanted {
            if pick(seg).contains(&shard) {
                added |= r.add(
                    seg,
                    shard,
                    segments[seg as usize].shards[shard].bytes.clone(),
                )?;
            }
        }
        if !added {
            break;
        }
    }
    r.finish()?;
    Ok(out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_k_of_n_rebuilds_any_range(
        (k, extra) in (1u8..6, 0u8..5),
        seg in prop_oneof![Just(64u32), Just(100u32), Just(1000u32)],
        size_seed in any::<u64>(),
        chunk in 1usize..3000,
        seed in any::<u64>(),
        range_seed in (any::<u64>(), any::<u64>()),
    ) {
        let params = Params { segment_size: seg, k, n: k + extra };
        // The edge sizes (0, 1, segment-1, segment, segment+1) and random multi-segment sizes.
        let size = {
            let choices = [0, 1, u64::from(seg) - 1, u64::from(seg), u64::from(seg) + 1, size_seed % (u64::from(seg) * 6)];
            choices[(size_seed % 6) as usize]
        };
        let data: Vec<u8> = (0..size).map(|i| (i.wrapping_mul(2654435761) >> 7) as u8 ^ seed as u8).collect();
        let (segments, finished) = encode(&data, params, chunk);
        prop_assert_eq!(segments.len() as u64, params.segment_count(size));
        let decoder = Decoder::open(&finished.link, &finished.manifest_blob).unwrap();
        // A per-segment random choice of exactly k distinct shards.
        let pick = |s: u64| {
            let mut idx: Vec<usize> = (0..usize::from(params.n)).collect();
            let mut x = seed ^ s.wrapping_mul(0x9E3779B97F4A7C15);
            for i in (1..idx.len()).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                idx.swap(i, (x % (i as u64 + 1)) as usize);
            }
            idx.truncate(usize::from(k));
            idx
        };
        let whole = decode_range(&segments, &decoder, 0..size, pick).unwrap();
        prop_assert_eq!(&whole, &data);
        let (a, b) = (range_seed.0 % (size + 1), range_seed.1 % (size + 1));
        let range = a.min(b)..a.max(b);
        let part = decode_range(&segments, &decoder, range.clone(), pick).unwrap();
        prop_assert_eq!(&part[..], &data[range.start as usize..range.end as usize]);
    }
}

fn sample() -> (Vec<u8>, Shards, meganet::format::Finished) {
    let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
    let params = Params {
        segment_size: 256,
        k: 2,
        n: 4,
    };
    let (segments, finished) = encode(&data, params, 100);
    (data, segments, finished)
}

#[test]
fn wrong_key_is_reported() {
    let (_, _, finished) = sample();
    let mut link = finished.link.clone();
    link.key = FileKey::random();
    let err = Decoder::open(&link, &finished.manifest_blob).unwrap_err();
    assert_eq!(err, FormatError::WrongKey);
}

#[test]
fn tampered_manifest_is_reported() {
    let (_, _, finished) = sample();
    let mut blob = finished.manifest_blob.clone();
    blob[20] ^= 1;
    let err = Decoder::open(&finished.link, &blob).unwrap_err();
    assert!(matches!(err, FormatError::ManifestTampered { .. }), "{err}");
}

#[test]
fn truncated_manifest_is_reported() {
    let (_, _, finished) = sample();
    let mut link = finished.link.clone();
    let blob = &finished.manifest_blob[..10];
    link.manifest = meganet::hash::Hash::of(blob);
    let err = Decoder::open(&link, blob).unwrap_err();
    assert!(
        matches!(
            err,
            FormatError::Truncated {
                what: "manifest",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn newer_manifest_version_is_reported() {
    let (_, _, finished) = sample();
    let mut link = finished.link.clone();
    let mut blob = finished.manifest_blob.clone();
    blob[4] = 3;
    link.manifest = meganet::hash::Hash::of(&blob);
    let err = Decoder::open(&link, &blob).unwrap_err();
    assert_eq!(
        err,
        FormatError::UnsupportedVersion {
            found: 3,
            supported: 2
        }
    );
}

#[test]
fn tampered_shard_is_named() {
    let (_, segments, finished) = sample();
    let decoder = Decoder::open(&finished.link, &finished.manifest_blob).unwrap();
    let mut bad = segments[2].shards[3].bytes.clone();
    bad[0] ^= 0xff;
    let err = decoder
        .decode_segment(2, &[(0, &segments[2].shards[0].bytes), (3, &bad)])
        .unwrap_err();
    assert!(
        matches!(
            err,
            FormatError::ShardTampered {
                segment: 2,
                shard: 3,
                ..
            }
        ),
        "{err}"
    );
    // A shard sent for the wrong position is tampered too.
    let err = decoder
        .verify_shard(1, 0, &segments[2].shards[0].bytes)
        .unwrap_err();
    assert!(
        matches!(
            err,
            FormatError::ShardTampered {
                segment: 1,
                shard: 0,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn too_few_shards_names_segment_and_count() {
    let (_, segments, finished) = sample();
    let decoder = Decoder::open(&finished.link, &finished.manifest_blob).unwrap();
    let err = decode_range(&segments, &decoder, 0..1000, |s| {
        if s == 1 {
            vec![3]
        } else {
            vec![0, 1]
        }
    })
    .unwrap_err();
    assert_eq!(
        err,
        FormatError::TooFewShards {
            segment: 1,
            have: 1,
            need: 2,
            missing: 1
        }
    );
    assert_eq!(
        err.to_string(),
        "1 shards of segment 1 unavailable: it needs 2, only 1 could be fetched"
    );
}

#[test]
fn range_outside_file_is_rejected() {
    let (_, _, finished) = sample();
    let decoder = Decoder::open(&finished.link, &finished.manifest_blob).unwrap();
    assert!(decoder.segments_for(&(10..1001)).is_err());
    assert_eq!(decoder.segments_for(&(300..600)).unwrap(), 1..3);
}

#[test]
fn streams_a_multi_segment_file_through_async_io() {
    let data: Vec<u8> = (0..(3 << 20) + 12345u32).map(|i| (i % 251) as u8).collect();
    let enc = Encoder::new(FileKey::random(), Params::default(), "big.bin", "").unwrap();
    let mut store: HashMap<meganet::hash::Hash, Vec<u8>> = HashMap::new();
    let mut peak = 0usize;
    let finished = futures::executor::block_on(encode_reader::<_, _, _, FormatError>(
        futures::io::Cursor::new(&data),
        enc,
        |segment| {
            peak = peak.max(segment.shards.iter().map(|s| s.bytes.len()).sum());
            for shard in segment.shards {
                store.insert(shard.hash, shard.bytes);
            }
            async { Ok(()) }
        },
    ))
    .unwrap();
    assert_eq!(store.len(), 4 * 8);
    assert!(peak < 2_200_000, "one segment's shards at a time: {peak}");
    // Every segment opens from its parity shards alone (the getter over
    // holders is tested in crate::transfer).
    let decoder = Decoder::open(&finished.link, &finished.manifest_blob).unwrap();
    let mut out = Vec::new();
    for (segment, hashes) in finished.manifest.shards.iter().enumerate() {
        let parity: Vec<(usize, &[u8])> =
            (4..8).map(|i| (i, store[&hashes[i]].as_slice())).collect();
        out.extend(decoder.decode_segment(segment as u64, &parity).unwrap());
    }
    assert_eq!(out, data);
}

#[test]
fn the_window_grows_by_one_per_chunk_read_up_to_its_limit_and_a_range_is_clipped() {
    let params = Params {
        segment_size: 4096,
        k: 2,
        n: 3,
    };
    let data: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    let (segments, finished) = encode(&data, params, 5000);
    let decoder = Decoder::open(&finished.link, &finished.manifest_blob).unwrap();
    assert_eq!(decoder.clip_range(None).unwrap(), 0..40_000);
    assert_eq!(
        decoder.clip_range(Some((100, Some(1 << 40)))).unwrap(),
        100..40_000
    );
    assert_eq!(decoder.clip_range(Some((7, None))).unwrap(), 7..40_000);
    let past = decoder.clip_range(Some((40_001, None))).unwrap_err();
    assert!(past.to_string().contains("not within the file"), "{past}");

    let mut r = Reassembler::new(&decoder, 0..40_000, 1).unwrap();
    let mut windows = vec![];
    let mut out = vec![];
    while !r.is_done() {
        for (seg, shard, _) in r.plan(&Default::default()) {
            r.add(
                seg,
                shard,
                segments[seg as usize].shards[shard].bytes.clone(),
            )
            .unwrap();
        }
        while let Some(chunk) = r.next_chunk_growing(3).unwrap() {
            out.extend(chunk);
            windows.push(r.window());
        }
    }
    assert_eq!(out, data);
    assert_eq!(windows[..4], [2, 3, 3, 3]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Sealing on several threads changes nothing but the speed: the same
    /// key gives the same shards, in the same order, and the same link,
    /// whatever the workers and however the input is cut.
    #[test]
    fn workers_give_the_same_shards_and_link(
        len in 0usize..(5 << 20),
        workers in 2usize..5,
        chunk in 1usize..(3 << 20),
    ) {
        let data: Vec<u8> = (0..len).map(|i| (i * 13 + (i >> 9)) as u8).collect();
        let key = FileKey::random();
        let run = |workers: usize, chunk: usize| {
            let mut enc = Encoder::new(key.clone(), Params::default(), "f", "")
                .unwrap()
                .with_workers(workers);
            let mut segments = vec![];
            for piece in data.chunks(chunk) {
                segments.extend(enc.push(piece).unwrap());
            }
            let finished = enc.finish().unwrap();
            segments.extend(finished.segments);
            (segments, finished.link.to_string())
        };
        let (one, link_one) = run(1, 64 << 10);
        let (many, link_many) = run(workers, chunk);
        prop_assert_eq!(link_one, link_many);
        prop_assert!(one == many, "the segments differ");
        prop_assert!(many.iter().enumerate().all(|(i, s)| s.index == i as u64));
    }
}
