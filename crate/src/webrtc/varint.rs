//! Unsigned LEB128 varints, as protobuf and libp2p framing use them; shared
//! by the signaling messages ([`super::signal`]) and the stream frames
//! ([`super::stream`]).

/// Appends `value`.
pub fn put(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Takes one varint off the front of `rest`; at most 10 bytes.
pub fn take(rest: &mut &[u8]) -> Result<u64, &'static str> {
    let mut value: u64 = 0;
    for i in 0..10 {
        let (&byte, tail) = rest.split_first().ok_or("varint cut short")?;
        *rest = tail;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("varint too long")
}
