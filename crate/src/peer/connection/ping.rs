//! Failed pings, counted per connection: a connection whose pings failed
//! [`PING_FAILURES_TO_CLOSE`] times in a row is closed, as its peer stopped
//! answering.

use std::collections::HashMap;

use libp2p::swarm::ConnectionId;
use libp2p::{ping, Swarm};

use crate::peer::swarm::Behaviour;

/// Failed pings in a row that close a connection. One is not enough: a
/// single stream can fail to open on a working connection, and closing
/// it would cut every transfer on it. A remote that closed its side or
/// vanished is noticed sooner by the WebRTC transport itself.
const PING_FAILURES_TO_CLOSE: u8 = 2;

/// Failed pings in a row, by connection.
#[derive(Default)]
pub struct Pings {
    failures: HashMap<ConnectionId, u8>,
}

impl Pings {
    /// A ping ended: a success clears the count, a failure is logged and,
    /// the [`PING_FAILURES_TO_CLOSE`]th in a row, closes the connection.
    pub fn on_event(&mut self, swarm: &mut Swarm<Behaviour>, event: ping::Event) {
        let ping::Event {
            peer,
            connection,
            result,
        } = event;
        let Err(error) = result else {
            self.forget(connection);
            return;
        };
        let failures = self.failed(connection);
        if failures < PING_FAILURES_TO_CLOSE {
            tracing::warn!(%peer, %error, "ping failed");
            return;
        }
        tracing::warn!(%peer, %error, failures, "pings failed; closing the connection");
        swarm.close_connection(connection);
    }

    /// Counts a failed ping on `connection`; returns the failures in a row.
    fn failed(&mut self, connection: ConnectionId) -> u8 {
        let failures = self.failures.entry(connection).or_default();
        *failures += 1;
        *failures
    }

    /// Clears `connection`'s count: a ping succeeded, or it closed.
    pub fn forget(&mut self, connection: ConnectionId) {
        self.failures.remove(&connection);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn failures_in_a_row_count_per_connection() {
        let (a, b) = (
            ConnectionId::new_unchecked(1),
            ConnectionId::new_unchecked(2),
        );
        let mut pings = Pings::default();
        assert_eq!(pings.failed(a), 1);
        assert_eq!(pings.failed(b), 1);
        assert_eq!(pings.failed(a), PING_FAILURES_TO_CLOSE);
        pings.forget(a);
        assert_eq!(pings.failed(a), 1);
        assert_eq!(pings.failed(b), PING_FAILURES_TO_CLOSE);
    }
}
