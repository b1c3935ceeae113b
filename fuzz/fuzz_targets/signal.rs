//! The WebRTC signaling messages (`/webrtc-signaling/0.0.1`,
//! `meganet::webrtc::signal`): arbitrary bytes read as one message body and
//! as a run of length-prefixed frames never panic; what decodes re-encodes
//! to a body (and a frame) that decodes to the same message; no allocation
//! is larger than the body or, reading frames, the frame limit
//! (`MAX_FRAME`), whatever length a prefix announces.
#![no_main]
mod common;

use futures::executor::block_on;
use futures::io::Cursor;
use libfuzzer_sys::fuzz_target;
use meganet::webrtc::signal::{self, Message, MAX_FRAME};

fuzz_target!(|data: &[u8]| {
    let (decoded, largest) = common::largest_allocation(|| Message::decode(data));
    assert!(largest <= data.len(), "{largest} bytes allocated");
    if let Ok(message) = decoded {
        assert_eq!(Message::decode(&message.encode()), Ok(message));
    }

    let ((), largest) = common::largest_allocation(|| {
        block_on(async {
            let mut io = Cursor::new(data);
            // Each message read takes at least its prefix: this ends.
            while let Ok(message) = signal::read(&mut io).await {
                let mut wire = Vec::new();
                // `write` refuses what would not fit MAX_FRAME.
                if signal::write(&mut wire, &message).await.is_ok() {
                    let again = signal::read(&mut Cursor::new(wire)).await;
                    assert_eq!(again, Ok(message));
                }
            }
        })
    });
    // The frame, or a message's encoding with its tags and prefix.
    assert!(largest <= MAX_FRAME + 16, "{largest} bytes allocated");
});
