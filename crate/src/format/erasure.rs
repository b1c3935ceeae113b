//! Reed-Solomon over a sealed segment: `k` data shards (the sealed bytes,
//! zero-padded) and `n - k` parity shards; any `k` rebuild the segment.
//! `reed-solomon-simd` (Leopard-style, O(n log n)) was measured against
//! `reed-solomon-erasure`; see docs/FORMAT.md.

use super::error::{FormatError, Result};
use super::params::Params;

/// Splits `sealed` into `n` shards of `shard_len` bytes each.
pub fn encode(params: &Params, sealed: &[u8], shard_len: usize) -> Vec<Vec<u8>> {
    let k = usize::from(params.k);
    let mut shards: Vec<Vec<u8>> = (0..k)
        .map(|i| {
            let start = (i * shard_len).min(sealed.len());
            let end = ((i + 1) * shard_len).min(sealed.len());
            let mut shard = sealed[start..end].to_vec();
            shard.resize(shard_len, 0);
            shard
        })
        .collect();
    let parity = usize::from(params.n - params.k);
    if parity > 0 {
        let recovery = reed_solomon_simd::encode(k, parity, &shards)
            .expect("parameters and shard sizes are validated before encoding");
        shards.extend(recovery);
    }
    shards
}

/// Rebuilds the sealed segment (`sealed_len` bytes) from at least `k`
/// verified shards (`(index, bytes)`, distinct indexes, each `shard_len`).
pub fn decode(
    params: &Params,
    segment: u64,
    shards: &[(usize, &[u8])],
    shard_len: usize,
    sealed_len: usize,
) -> Result<Vec<u8>> {
    let k = usize::from(params.k);
    if shards.len() < k {
        return Err(FormatError::TooFewShards {
            segment,
            have: shards.len(),
            need: k,
            missing: k - shards.len(),
        });
    }
    let mut data: Vec<Option<&[u8]>> = vec![None; k];
    for &(i, bytes) in shards {
        if i < k {
            data[i] = Some(bytes);
        }
    }
    let mut out = Vec::with_capacity(k * shard_len);
    if data.iter().all(Option::is_some) {
        for bytes in data.iter().flatten() {
            out.extend_from_slice(bytes);
        }
    } else {
        let parity = usize::from(params.n - params.k);
        let originals = shards.iter().filter(|(i, _)| *i < k).map(|&(i, b)| (i, b));
        let recovery = shards
            .iter()
            .filter(|(i, _)| *i >= k)
            .map(|&(i, b)| (i - k, b));
        let restored = reed_solomon_simd::decode(k, parity, originals, recovery).map_err(|e| {
            FormatError::Invalid {
                what: "shards",
                reason: format!("segment {segment}: {e}"),
            }
        })?;
        for (i, slot) in data.iter().enumerate() {
            match slot {
                Some(bytes) => out.extend_from_slice(bytes),
                None => {
                    out.extend_from_slice(restored.get(&i).ok_or(FormatError::TooFewShards {
                        segment,
                        have: shards.len(),
                        need: k,
                        missing: 1,
                    })?)
                }
            }
        }
    }
    out.truncate(sealed_len);
    Ok(out)
}
