//! The block protocol's message bodies (`/meganet/block/1.0.0`,
//! `meganet::net::block`): arbitrary bytes read as a request and as a
//! response never panic; what decodes stays within the protocol's limits
//! and re-encodes to a body that decodes to the same value (a request's
//! encoding is canonical: it is the input itself); no allocation is larger
//! than the body can justify.
#![no_main]
mod common;

use libfuzzer_sys::fuzz_target;
use meganet::audit::MAX_PROOF;
use meganet::net::block::{BlockRequest, BlockResponse, MAX_BLOCK, MAX_ERROR_LEN, MAX_HAS};
use meganet::net::ticket::MAX_TICKET;

fuzz_target!(|data: &[u8]| {
    let ((request, response), largest) = common::largest_allocation(|| {
        let request = BlockRequest::decode(data);
        let response = BlockResponse::decode(data);
        if !matches!(request, BlockRequest::Invalid(_)) {
            assert_eq!(BlockRequest::decode(&request.encode()), request);
        }
        if let Ok(response) = &response {
            assert_eq!(
                &BlockResponse::decode(&response.encode()).unwrap(),
                response
            );
        }
        (request, response)
    });
    // Six bytes per body byte at most (a byte of invalid UTF-8 becomes a
    // three-byte U+FFFD, in a string whose growth may double it), plus a
    // HAS answer's flags or an error's text: never a size read off the wire.
    assert!(
        largest <= 6 * data.len() + MAX_HAS,
        "{largest} bytes allocated"
    );

    match &request {
        BlockRequest::Invalid(_) => {}
        valid => assert_eq!(valid.encode(), data, "one encoding per request"),
    }
    match request {
        BlockRequest::Put { block, ticket } => {
            assert!(block.len() <= MAX_BLOCK);
            assert!(ticket.is_none_or(|t| t.encode().len() <= MAX_TICKET));
        }
        BlockRequest::Has(hashes) => assert!(hashes.len() <= MAX_HAS),
        _ => {}
    }
    match response {
        Ok(BlockResponse::Block(block)) => assert!(block.len() <= MAX_BLOCK),
        Ok(BlockResponse::Have { flags, .. }) => assert!(flags.len() <= MAX_HAS),
        Ok(BlockResponse::Proof(proof)) => assert!(proof.len() <= MAX_PROOF),
        Ok(BlockResponse::Error { message, .. }) => assert!(message.len() <= MAX_ERROR_LEN),
        _ => {}
    }
});
