//! The driver's side of contributing: answering other peers' block requests
//! from the contributed store (bounded concurrency, paced by the policy).

use futures::SinkExt;
use libp2p::request_response::ResponseChannel;
use libp2p::PeerId;

use super::Driver;
use crate::net::block::{self, BlockRequest, BlockResponse, ErrorCode};
use crate::peer::gate::pace;
use crate::store::Class;

/// Most block requests served at once; more are refused as busy.
pub const MAX_SERVING: usize = 8;
/// Longest a shard waits for the bandwidth cap before the request is
/// answered as busy (the fetcher then tries another holder).
const PACE_LIMIT_MS: u64 = 10_000;
impl Driver {
    /// Answers one block request from another peer.
    pub(super) fn serve(
        &mut self,
        peer: PeerId,
        request: BlockRequest,
        channel: ResponseChannel<BlockResponse>,
    ) {
        let refuse = |why: &str| BlockResponse::error(ErrorCode::Refused, why);
        let store = self.contribution.borrow().clone();
        let Some(store) = store else {
            self.respond(channel, refuse("not storing for others"));
            return;
        };
        let gate = self.gate.clone();
        let admitted = gate.borrow().admit_request().and_then(|()| match request {
            BlockRequest::Put(_) => gate.borrow().admit_new_shard(),
            _ => Ok(()),
        });
        if let Err(why) = admitted {
            self.respond(channel, refuse(&why));
            return;
        }
        if let BlockRequest::Provide(key) = request {
            let response = match self.provide(key) {
                Ok(()) => BlockResponse::Stored(key),
                Err(why) => refuse(why),
            };
            self.respond(channel, response);
            return;
        }
        if self.serving >= MAX_SERVING {
            self.respond(channel, refuse("busy; try another holder"));
            return;
        }
        self.serving += 1;
        let mut done = self.served_tx.clone();
        crate::platform::spawn(async move {
            let mut response = block::serve(&store, Class::Contributed, request).await;
            // Shard bytes leave at the policy's bandwidth cap.
            if let BlockResponse::Block(bytes) = &response {
                if let Err(why) = pace(&gate, bytes.len(), PACE_LIMIT_MS).await {
                    response = BlockResponse::error(ErrorCode::Refused, why);
                }
            }
            tracing::debug!(%peer, "served a block request");
            let _ = done.send((channel, response)).await;
        });
    }

    fn respond(&mut self, channel: ResponseChannel<BlockResponse>, response: BlockResponse) {
        let _ = self
            .swarm
            .behaviour_mut()
            .block
            .send_response(channel, response);
    }

    /// A served request finished: send its answer.
    pub(super) fn on_served(
        &mut self,
        channel: ResponseChannel<BlockResponse>,
        response: BlockResponse,
    ) {
        self.serving = self.serving.saturating_sub(1);
        self.respond(channel, response);
    }
}
