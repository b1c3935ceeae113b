//! The WebRTC stream frames (`meganet::webrtc::stream::message`): arbitrary
//! bytes read as one message body and as a run of length-prefixed messages,
//! the way a stream reads its data channel, never panic; what decodes
//! re-encodes to a message within `MAX_MSG_LEN` that decodes to the same
//! flag and payload; no buffer is larger than the input or the message
//! limit, whatever length a prefix announces.
#![no_main]
mod common;

use libfuzzer_sys::fuzz_target;
use meganet::webrtc::stream::message::{
    encode, Frame, FrameError, Prefix, MAX_DATA_LEN, MAX_MSG_LEN,
};

/// Reads the next message off `wire` as the stream's `Framed` reads its
/// channel: the length prefix a byte at a time, then a buffer of the
/// announced length, allocated before the body arrives. `None` at the end
/// of `wire` or inside a message.
fn next(wire: &mut &[u8]) -> Option<Result<Frame, FrameError>> {
    let mut prefix = Prefix::default();
    let len = loop {
        let (&byte, rest) = wire.split_first()?;
        *wire = rest;
        match prefix.push(byte) {
            Ok(Some(len)) => break len,
            Ok(None) => {}
            Err(e) => return Some(Err(e)),
        }
    };
    let mut body = vec![0; len];
    body.copy_from_slice(wire.get(..len)?);
    *wire = &wire[len..];
    Some(Frame::decode(body))
}

/// Re-encodes `frame` and reads it back.
fn round_trip(frame: &Frame) {
    // Without a flag a peer's message has room for two more payload bytes
    // than `encode`, which always leaves room for one, takes.
    if frame.data().len() > MAX_DATA_LEN {
        return;
    }
    let mut wire = Vec::new();
    encode(&mut wire, frame.flag, frame.data());
    assert!(wire.len() <= MAX_MSG_LEN);
    let mut rest = &wire[..];
    let again = next(&mut rest).expect("one whole message").unwrap();
    assert!(rest.is_empty(), "nothing after the message");
    assert_eq!(again.flag, frame.flag);
    assert_eq!(again.data(), frame.data());
}

fuzz_target!(|data: &[u8]| {
    let ((), largest) = common::largest_allocation(|| {
        if let Ok(frame) = Frame::decode(data.to_vec()) {
            round_trip(&frame);
        }
        let mut wire = data;
        // A malformed or oversized message breaks the stream: stop there.
        while let Some(Ok(frame)) = next(&mut wire) {
            round_trip(&frame);
        }
    });
    assert!(
        largest <= data.len().max(MAX_MSG_LEN),
        "{largest} bytes allocated"
    );
});
