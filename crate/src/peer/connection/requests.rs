//! Block requests this peer sends (`Command::Block`), each waiting by its
//! request id for the answer or the failure.

use std::collections::HashMap;

use futures::channel::oneshot;
use libp2p::request_response::{self, OutboundRequestId};
use libp2p::{PeerId, Swarm};

use crate::net::block::{BlockRequest, BlockResponse};
use crate::peer::swarm::Behaviour;
use crate::transfer::TransferError;

/// Where a block request's answer goes.
pub type Reply = oneshot::Sender<Result<BlockResponse, TransferError>>;

/// The block requests sent and not answered yet.
#[derive(Default)]
pub struct Requests {
    pending: HashMap<OutboundRequestId, Reply>,
}

impl Requests {
    /// Sends a block request to `to` (default: the `node`), or fails it
    /// at once when that peer is not connected.
    pub fn send(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        node: Option<PeerId>,
        to: Option<PeerId>,
        request: BlockRequest,
        reply: Reply,
    ) {
        if let Some(peer) = to {
            if !swarm.is_connected(&peer) {
                let _ = reply.send(Err(TransferError::Unreachable {
                    holder: peer.to_string(),
                    message: "not connected".into(),
                }));
                return;
            }
            let id = swarm.behaviour_mut().block.send_request(&peer, request);
            self.pending.insert(id, reply);
            return;
        }
        match node {
            Some(peer) if swarm.is_connected(&peer) => {
                self.send(swarm, node, Some(peer), request, reply);
            }
            _ => {
                let _ = reply.send(Err(TransferError::NotConnected(
                    "retrying in the background".into(),
                )));
            }
        }
    }

    /// An answer to one of our requests, or its failure.
    pub fn on_event(&mut self, event: request_response::Event<BlockRequest, BlockResponse>) {
        match event {
            request_response::Event::Message {
                message:
                    request_response::Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                if let Some(reply) = self.pending.remove(&request_id) {
                    let _ = reply.send(Ok(response));
                }
            }
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                if let Some(reply) = self.pending.remove(&request_id) {
                    let _ = reply.send(Err(TransferError::Unreachable {
                        holder: peer.to_string(),
                        message: format!("block request failed: {error}"),
                    }));
                }
            }
            _ => {}
        }
    }
}
