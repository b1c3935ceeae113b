//! The `/webrtc-signaling/0.0.1` wire format (libp2p/specs `webrtc/webrtc.md`):
//! a protobuf `Message { optional Type type = 1; optional string data = 2; }`
//! prefixed with its length as an unsigned varint.
//!
//! Hand-written because it is two fields: decoding rejects anything the spec
//! does not allow (unknown wire types, a missing type, oversized frames)
//! with a specific error, and skips unknown fields as protobuf requires.

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The protocol id.
pub const PROTOCOL: &str = "/webrtc-signaling/0.0.1";

/// Largest frame accepted or sent. A browser SDP is 1 to 4 KiB and one ICE
/// candidate well under 1 KiB; 64 KiB leaves room and bounds memory.
pub const MAX_FRAME: usize = 64 * 1024;

/// What a signaling message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `RTCSessionDescription.sdp` of an offer.
    Offer,
    /// `RTCSessionDescription.sdp` of an answer.
    Answer,
    /// `JSON.stringify(RTCIceCandidate.toJSON())`; `"null"` ends gathering.
    Candidate,
}

/// One signaling message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub kind: Kind,
    pub data: String,
}

/// Why a frame was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignalError {
    #[error("signaling frame of {0} bytes exceeds the {MAX_FRAME}-byte limit")]
    TooLarge(usize),
    #[error("malformed signaling message: {0}")]
    Malformed(&'static str),
    #[error("signaling message of unknown type {0}")]
    UnknownType(u64),
    #[error("signaling stream ended")]
    Closed,
    #[error("signaling stream failed: {0}")]
    Io(String),
}

impl Message {
    pub fn new(kind: Kind, data: impl Into<String>) -> Self {
        Self {
            kind,
            data: data.into(),
        }
    }

    /// Protobuf body, without the length prefix.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 12);
        out.push(0x08); // field 1, varint
        put_varint(&mut out, self.kind as u64);
        out.push(0x12); // field 2, length-delimited
        put_varint(&mut out, self.data.len() as u64);
        out.extend_from_slice(self.data.as_bytes());
        out
    }

    /// Parses a protobuf body.
    pub fn decode(mut body: &[u8]) -> Result<Self, SignalError> {
        let mut kind = None;
        let mut data = String::new();
        while !body.is_empty() {
            let key = take_varint(&mut body)?;
            match (key >> 3, key & 7) {
                (1, 0) => kind = Some(take_varint(&mut body)?),
                (2, 2) => {
                    let bytes = take_bytes(&mut body)?;
                    data = String::from_utf8(bytes.to_vec())
                        .map_err(|_| SignalError::Malformed("data is not UTF-8"))?;
                }
                (_, 0) => {
                    take_varint(&mut body)?;
                }
                (_, 2) => {
                    take_bytes(&mut body)?;
                }
                (_, 1) => skip(&mut body, 8)?,
                (_, 5) => skip(&mut body, 4)?,
                _ => return Err(SignalError::Malformed("unsupported wire type")),
            }
        }
        let kind = match kind {
            // proto3: an absent enum is its zero value.
            None | Some(0) => Kind::Offer,
            Some(1) => Kind::Answer,
            Some(2) => Kind::Candidate,
            Some(other) => return Err(SignalError::UnknownType(other)),
        };
        Ok(Self { kind, data })
    }
}

/// Writes one length-prefixed message.
pub async fn write<W: AsyncWrite + Unpin>(
    io: &mut W,
    message: &Message,
) -> Result<(), SignalError> {
    let body = message.encode();
    if body.len() > MAX_FRAME {
        return Err(SignalError::TooLarge(body.len()));
    }
    let mut frame = Vec::with_capacity(body.len() + 3);
    put_varint(&mut frame, body.len() as u64);
    frame.extend_from_slice(&body);
    io.write_all(&frame).await.map_err(io_error)?;
    io.flush().await.map_err(io_error)
}

/// Reads one length-prefixed message; [`SignalError::Closed`] at a clean end.
pub async fn read<R: AsyncRead + Unpin>(io: &mut R) -> Result<Message, SignalError> {
    let mut len: u64 = 0;
    for i in 0..10 {
        let mut byte = [0u8; 1];
        match io.read(&mut byte).await.map_err(io_error)? {
            0 if i == 0 => return Err(SignalError::Closed),
            0 => return Err(SignalError::Malformed("frame length cut short")),
            _ => {}
        }
        len |= u64::from(byte[0] & 0x7f) << (7 * i);
        if byte[0] & 0x80 == 0 {
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            if len > MAX_FRAME {
                return Err(SignalError::TooLarge(len));
            }
            let mut body = vec![0u8; len];
            io.read_exact(&mut body).await.map_err(io_error)?;
            return Message::decode(&body);
        }
    }
    Err(SignalError::Malformed("frame length varint too long"))
}

fn io_error(e: std::io::Error) -> SignalError {
    SignalError::Io(e.to_string())
}

fn put_varint(out: &mut Vec<u8>, value: u64) {
    super::varint::put(out, value);
}

fn take_varint(body: &mut &[u8]) -> Result<u64, SignalError> {
    super::varint::take(body).map_err(SignalError::Malformed)
}

fn take_bytes<'a>(body: &mut &'a [u8]) -> Result<&'a [u8], SignalError> {
    let len = usize::try_from(take_varint(body)?).unwrap_or(usize::MAX);
    if len > body.len() {
        return Err(SignalError::Malformed("field longer than the message"));
    }
    let (bytes, rest) = body.split_at(len);
    *body = rest;
    Ok(bytes)
}

fn skip(body: &mut &[u8], len: usize) -> Result<(), SignalError> {
    if len > body.len() {
        return Err(SignalError::Malformed("field longer than the message"));
    }
    *body = &body[len..];
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_each_kind() {
        for kind in [Kind::Offer, Kind::Answer, Kind::Candidate] {
            let m = Message::new(kind, "v=0\r\nsdp ünïcode");
            assert_eq!(Message::decode(&m.encode()).unwrap(), m);
        }
    }

    #[test]
    fn matches_protobuf_encoding() {
        // protoc --encode: type: SDP_ANSWER, data: "hi"
        let m = Message::new(Kind::Answer, "hi");
        assert_eq!(m.encode(), [0x08, 0x01, 0x12, 0x02, b'h', b'i']);
        // Absent type is SDP_OFFER; unknown fields are skipped.
        let body = [0x18, 0x05, 0x12, 0x01, b'x'];
        assert_eq!(
            Message::decode(&body).unwrap(),
            Message::new(Kind::Offer, "x")
        );
    }

    #[test]
    fn rejects_malformed_bodies() {
        assert_eq!(
            Message::decode(&[0x08, 0x07]),
            Err(SignalError::UnknownType(7))
        );
        assert!(matches!(
            Message::decode(&[0x12, 0x05, b'a']),
            Err(SignalError::Malformed(_))
        ));
        assert!(matches!(
            Message::decode(&[0x12, 0x01, 0xff]),
            Err(SignalError::Malformed(_))
        ));
        assert!(matches!(
            Message::decode(&[0x0b]),
            Err(SignalError::Malformed(_))
        ));
        assert!(matches!(
            Message::decode(&[0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            Err(SignalError::Malformed(_))
        ));
    }

    #[test]
    fn frames_round_trip_and_are_capped() {
        futures::executor::block_on(async {
            let mut wire = Vec::new();
            let a = Message::new(Kind::Offer, "o");
            let b = Message::new(Kind::Candidate, "null");
            write(&mut wire, &a).await.unwrap();
            write(&mut wire, &b).await.unwrap();
            let mut r = futures::io::Cursor::new(wire);
            assert_eq!(read(&mut r).await.unwrap(), a);
            assert_eq!(read(&mut r).await.unwrap(), b);
            assert_eq!(read(&mut r).await, Err(SignalError::Closed));

            let mut huge = Vec::new();
            put_varint(&mut huge, (MAX_FRAME + 1) as u64);
            let mut r = futures::io::Cursor::new(huge);
            assert_eq!(
                read(&mut r).await,
                Err(SignalError::TooLarge(MAX_FRAME + 1))
            );

            let too_big = Message::new(Kind::Offer, "x".repeat(MAX_FRAME));
            assert!(matches!(
                write(&mut Vec::new(), &too_big).await,
                Err(SignalError::TooLarge(_))
            ));
        });
    }
}
