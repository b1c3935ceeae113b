//! One framed message of a libp2p WebRTC stream (libp2p/specs
//! `webrtc/README.md`, "Multiplexing"): a protobuf
//! `Message { optional Flag flag = 1; optional bytes message = 2; }`
//! prefixed with its length as an unsigned varint, at most [`MAX_MSG_LEN`]
//! bytes with the prefix.
//!
//! Hand-written because it is two fields (like [`crate::webrtc::signal`]).
//! Decoding is lenient where the spec asks it to be and strict elsewhere:
//! a flag this version does not know decodes as no flag and unknown fields
//! are skipped, so a newer peer cannot break the stream; a frame over the
//! limit or one that is not valid protobuf is refused.

use std::io;
use std::ops::Range;

/// Largest message with its length prefix: browsers deliver 16 KiB
/// reliably (RFC 8831 6.6 and the spec's "MUST NOT exceed 16kiB").
pub const MAX_MSG_LEN: usize = 16 * 1024;
/// Bytes of a full message that are not payload: the 2-byte length prefix,
/// the `message` field's tag and 2-byte length, and a 2-byte flag field.
const OVERHEAD: usize = 2 + 1 + 2 + 2;
/// Most payload one message carries.
pub const MAX_DATA_LEN: usize = MAX_MSG_LEN - OVERHEAD;

/// Longest length prefix we accept: 3 varint bytes hold 2^21 - 1, enough
/// for any allowed length.
const MAX_PREFIX_BYTES: u32 = 3;

/// What a message says about the stream besides its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// The sender will send nothing more.
    Fin = 0,
    /// The sender will read nothing more.
    StopSending = 1,
    /// The sender abandons the stream.
    Reset = 2,
    /// The sender received our `Fin` and everything before it.
    FinAck = 3,
}

impl Flag {
    fn from_wire(value: u64) -> Option<Self> {
        match value {
            0 => Some(Self::Fin),
            1 => Some(Self::StopSending),
            2 => Some(Self::Reset),
            3 => Some(Self::FinAck),
            _ => None,
        }
    }
}

/// Why a received message was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("stream message of {0} bytes exceeds the {MAX_MSG_LEN}-byte limit")]
    TooLarge(usize),
    #[error("malformed stream message: {0}")]
    Malformed(&'static str),
}

impl From<FrameError> for io::Error {
    fn from(e: FrameError) -> Self {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

/// Appends one length-prefixed message to `out`; `data` is at most
/// [`MAX_DATA_LEN`] bytes (debug builds assert it), so the message fits
/// [`MAX_MSG_LEN`].
pub fn encode(out: &mut Vec<u8>, flag: Option<Flag>, data: &[u8]) {
    debug_assert!(data.len() <= MAX_DATA_LEN);
    let mut body_len = 0;
    if flag.is_some() {
        body_len += 2;
    }
    if !data.is_empty() {
        body_len += 1 + varint_len(data.len()) + data.len();
    }
    put_varint(out, body_len);
    if let Some(flag) = flag {
        out.push(0x08); // field 1, varint
        out.push(flag as u8);
    }
    if !data.is_empty() {
        out.push(0x12); // field 2, length-delimited
        put_varint(out, data.len());
        out.extend_from_slice(data);
    }
}

/// A decoded message; the payload stays in place in the received body.
#[derive(Debug)]
pub struct Frame {
    /// `None` also for flags this version does not know.
    pub flag: Option<Flag>,
    body: Vec<u8>,
    data: Range<usize>,
}

impl Frame {
    /// Parses a protobuf body (the message without its length prefix).
    pub fn decode(body: Vec<u8>) -> Result<Self, FrameError> {
        let mut flag = None;
        let mut data = 0..0;
        let mut rest = &body[..];
        while !rest.is_empty() {
            let key = take_varint(&mut rest)?;
            match (key >> 3, key & 7) {
                (1, 0) => {
                    let value = take_varint(&mut rest)?;
                    flag = Flag::from_wire(value);
                    if flag.is_none() {
                        tracing::debug!("ignoring unknown stream flag {value}");
                    }
                }
                (2, 2) => {
                    let len = take_len(&mut rest)?;
                    let start = body.len() - rest.len();
                    data = start..start + len;
                    rest = &rest[len..];
                }
                (1 | 2, _) => return Err(FrameError::Malformed("field has the wrong wire type")),
                (_, 0) => {
                    take_varint(&mut rest)?;
                }
                (_, 1) => skip(&mut rest, 8)?,
                (_, 2) => {
                    let len = take_len(&mut rest)?;
                    rest = &rest[len..];
                }
                (_, 5) => skip(&mut rest, 4)?,
                _ => return Err(FrameError::Malformed("unsupported wire type")),
            }
        }
        Ok(Self { flag, body, data })
    }

    /// The payload not yet read.
    pub fn data(&self) -> &[u8] {
        &self.body[self.data.clone()]
    }

    /// Copies as much unread payload as fits into `buf`.
    pub fn read_into(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.data.len());
        buf[..n].copy_from_slice(&self.body[self.data.start..self.data.start + n]);
        self.data.start += n;
        n
    }
}

/// Accumulates a message's length prefix, one byte at a time, so that
/// nothing past the current message is ever read from the channel.
#[derive(Debug, Default)]
pub struct Prefix {
    value: usize,
    bytes: u32,
}

impl Prefix {
    /// Whether no byte of the prefix was seen yet.
    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }

    /// Feeds the next byte; the body length once the prefix is complete.
    pub fn push(&mut self, byte: u8) -> Result<Option<usize>, FrameError> {
        self.value |= usize::from(byte & 0x7f) << (7 * self.bytes);
        self.bytes += 1;
        if byte & 0x80 != 0 {
            if self.bytes == MAX_PREFIX_BYTES {
                return Err(FrameError::Malformed("length prefix too long"));
            }
            return Ok(None);
        }
        let total = self.value + self.bytes as usize;
        if total > MAX_MSG_LEN {
            return Err(FrameError::TooLarge(total));
        }
        Ok(Some(self.value))
    }
}

fn varint_len(value: usize) -> usize {
    match value {
        0..0x80 => 1,
        0x80..0x4000 => 2,
        _ => 3,
    }
}

fn put_varint(out: &mut Vec<u8>, value: usize) {
    crate::webrtc::varint::put(out, value as u64);
}

fn take_varint(rest: &mut &[u8]) -> Result<u64, FrameError> {
    crate::webrtc::varint::take(rest).map_err(FrameError::Malformed)
}

/// Reads a length-delimited field's length and checks that it fits.
fn take_len(rest: &mut &[u8]) -> Result<usize, FrameError> {
    let len = usize::try_from(take_varint(rest)?).unwrap_or(usize::MAX);
    if len > rest.len() {
        return Err(FrameError::Malformed("field longer than the message"));
    }
    Ok(len)
}

fn skip(rest: &mut &[u8], len: usize) -> Result<(), FrameError> {
    if len > rest.len() {
        return Err(FrameError::Malformed("field longer than the message"));
    }
    *rest = &rest[len..];
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Splits one encoded message into its prefix's length and its body.
    fn body(frame: &[u8]) -> Vec<u8> {
        let mut prefix = Prefix::default();
        for (i, &byte) in frame.iter().enumerate() {
            if let Some(len) = prefix.push(byte).unwrap() {
                assert_eq!(frame.len(), i + 1 + len, "one whole message");
                return frame[i + 1..].to_vec();
            }
        }
        panic!("length prefix cut short");
    }

    fn encoded(flag: Option<Flag>, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(&mut out, flag, data);
        out
    }

    #[test]
    fn matches_protobuf_encoding() {
        assert_eq!(encoded(Some(Flag::Fin), b""), [0x02, 0x08, 0x00]);
        assert_eq!(encoded(Some(Flag::FinAck), b""), [0x02, 0x08, 0x03]);
        assert_eq!(encoded(None, b"hi"), [0x04, 0x12, 0x02, b'h', b'i']);
        assert_eq!(encoded(None, b""), [0x00]);
    }

    #[test]
    fn largest_payload_fills_the_limit_exactly() {
        let full = encoded(None, &[7; MAX_DATA_LEN]);
        assert!(full.len() <= MAX_MSG_LEN);
        let flagged = encoded(Some(Flag::Fin), &[7; MAX_DATA_LEN]);
        assert_eq!(flagged.len(), MAX_MSG_LEN);
        let frame = Frame::decode(body(&flagged)).unwrap();
        assert_eq!(frame.flag, Some(Flag::Fin));
        assert_eq!(frame.data(), &[7; MAX_DATA_LEN][..]);
    }

    #[test]
    fn unknown_flags_and_fields_are_ignored() {
        // flag = 7, an unknown field 3 (varint) and 4 (bytes), then data.
        let body = vec![0x08, 0x07, 0x18, 0x01, 0x22, 0x01, 0xff, 0x12, 0x01, b'x'];
        let frame = Frame::decode(body).unwrap();
        assert_eq!(frame.flag, None);
        assert_eq!(frame.data(), b"x");
        // Fixed 64- and 32-bit unknown fields.
        let body = vec![0x29, 0, 0, 0, 0, 0, 0, 0, 0, 0x35, 0, 0, 0, 0, 0x08, 0x02];
        assert_eq!(Frame::decode(body).unwrap().flag, Some(Flag::Reset));
    }

    #[test]
    fn malformed_bodies_are_refused() {
        for body in [
            &[0x12, 0x05, b'a'][..],
            &[0x08],
            &[0x0b],
            &[0x0a, 0x00],
            &[0x10, 0x01],
            &[0x29, 0, 0],
            &[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ],
        ] {
            assert!(
                matches!(Frame::decode(body.to_vec()), Err(FrameError::Malformed(_))),
                "{body:x?}"
            );
        }
    }

    #[test]
    fn prefixes_over_the_limit_are_refused() {
        let mut p = Prefix::default();
        assert_eq!(p.push(0x80 | (16382 & 0x7f) as u8), Ok(None));
        assert_eq!(p.push((16382 >> 7) as u8), Ok(Some(16382)));
        let mut p = Prefix::default();
        p.push(0x80 | (16383 & 0x7f) as u8).unwrap();
        assert_eq!(p.push((16383 >> 7) as u8), Err(FrameError::TooLarge(16385)));
        let mut p = Prefix::default();
        p.push(0xff).unwrap();
        p.push(0xff).unwrap();
        assert!(matches!(p.push(0x80), Err(FrameError::Malformed(_))));
    }

    #[test]
    fn read_into_consumes_the_payload() {
        let mut frame = Frame::decode(body(&encoded(None, b"hello"))).unwrap();
        let mut buf = [0; 3];
        assert_eq!(frame.read_into(&mut buf), 3);
        assert_eq!(&buf, b"hel");
        assert_eq!(frame.read_into(&mut buf), 2);
        assert_eq!(&buf[..2], b"lo");
        assert!(frame.data().is_empty());
    }

    fn flag() -> impl Strategy<Value = Option<Flag>> {
        prop_oneof![
            Just(None),
            Just(Some(Flag::Fin)),
            Just(Some(Flag::StopSending)),
            Just(Some(Flag::Reset)),
            Just(Some(Flag::FinAck)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn round_trips(flag in flag(), data in prop::collection::vec(any::<u8>(), 0..=MAX_DATA_LEN)) {
            let wire = encoded(flag, &data);
            prop_assert!(wire.len() <= MAX_MSG_LEN);
            let frame = Frame::decode(body(&wire)).unwrap();
            prop_assert_eq!(frame.flag, flag);
            prop_assert_eq!(frame.data(), &data[..]);
        }

        #[test]
        fn arbitrary_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..64)) {
            let _ = Frame::decode(body);
        }
    }
}
