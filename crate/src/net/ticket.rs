//! Placement tickets: a node's signed permission for one shard to be
//! stored on a contributing browser. A contributor stores a shard from a
//! peer only with a ticket (or within a small per-peer allowance), so the
//! bytes a browser keeps for others are bytes the network placed, each
//! counted against its uploader's budget on the node that signed it.
//!
//! A ticket names the shard's hash, its size and an expiry (Unix seconds),
//! and carries the signing node's peer id and its Ed25519 signature over
//! `DOMAIN || hash || size || expiry`. The contributor checks the shard
//! against the ticket, the expiry against its clock, and that the signer is
//! a node of its network. A ticket is good for that one shard only, so
//! passing it on lets another peer store exactly the bytes the node
//! allowed, and nothing else.
//!
//! Encoding: `hash(32) || u32 size || u64 expiry || u8 n || signer(n) ||
//! u8 m || signature(m)`, little-endian, at most [`MAX_TICKET`] bytes. The
//! codec is pure (the `block` fuzz target decodes it); signing and checking
//! need `net`.

use crate::hash::Hash;

/// Longest encoded ticket.
pub const MAX_TICKET: usize = 32 + 4 + 8 + 1 + MAX_SIGNER + 1 + MAX_SIGNATURE;
/// Longest signer (a peer id's bytes).
const MAX_SIGNER: usize = 64;
/// Longest signature (Ed25519's is 64 bytes).
const MAX_SIGNATURE: usize = 128;
/// How long a ticket a node issues stays good: a placement uses it at once.
pub const LIFETIME_SECS: u64 = 600;
/// Clock difference between node and contributor tolerated either way.
pub const SKEW_SECS: u64 = 300;

/// A node's permission to store one shard on a contributor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub shard: Hash,
    pub size: u32,
    /// Unix seconds after which it is no longer good.
    pub expires_s: u64,
    /// The signing node's peer id, as bytes.
    pub signer: Vec<u8>,
    pub signature: Vec<u8>,
}

/// Why a ticket is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    #[error("malformed placement ticket: {0}")]
    Malformed(&'static str),
    #[error("the placement ticket is for another shard")]
    OtherShard,
    #[error("the placement ticket is for {ticket} bytes, the shard has {shard}")]
    OtherSize { ticket: u32, shard: usize },
    #[error("the placement ticket expired {0} s ago")]
    Expired(u64),
    #[error("the placement ticket runs for too long ({0} s from now)")]
    TooLong(u64),
    #[error("the placement ticket is not signed by a node of this network")]
    UnknownSigner,
    #[error("the placement ticket's signature does not verify")]
    BadSignature,
}

impl Ticket {
    /// Serializes it.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MAX_TICKET);
        out.extend_from_slice(&self.shard.0);
        out.extend_from_slice(&self.size.to_le_bytes());
        out.extend_from_slice(&self.expires_s.to_le_bytes());
        out.push(self.signer.len() as u8);
        out.extend_from_slice(&self.signer);
        out.push(self.signature.len() as u8);
        out.extend_from_slice(&self.signature);
        out
    }

    /// Parses a whole ticket (nothing may follow it).
    pub fn decode(bytes: &[u8]) -> Result<Self, TicketError> {
        let short = TicketError::Malformed("too short");
        if bytes.len() > MAX_TICKET {
            return Err(TicketError::Malformed("too long"));
        }
        let (shard, rest) = bytes.split_at_checked(32).ok_or(short.clone())?;
        let (size, rest) = rest.split_at_checked(4).ok_or(short.clone())?;
        let (expires, rest) = rest.split_at_checked(8).ok_or(short.clone())?;
        let (signer, rest) = take_counted(rest, MAX_SIGNER, "signer too long")?;
        let (signature, rest) = take_counted(rest, MAX_SIGNATURE, "signature too long")?;
        if !rest.is_empty() {
            return Err(TicketError::Malformed("bytes after the signature"));
        }
        Ok(Self {
            shard: Hash(shard.try_into().expect("32 bytes")),
            size: u32::from_le_bytes(size.try_into().expect("4 bytes")),
            expires_s: u64::from_le_bytes(expires.try_into().expect("8 bytes")),
            signer: signer.to_vec(),
            signature: signature.to_vec(),
        })
    }

    /// Whether it lets `block` (whose hash is `hash`) be stored at
    /// `now_s`: the shard, its size and the time only (the signature is
    /// [`Ticket::verify`]'s).
    pub fn covers(&self, hash: &Hash, len: usize, now_s: u64) -> Result<(), TicketError> {
        if self.shard != *hash {
            return Err(TicketError::OtherShard);
        }
        if self.size as usize != len {
            return Err(TicketError::OtherSize {
                ticket: self.size,
                shard: len,
            });
        }
        if now_s > self.expires_s + SKEW_SECS {
            return Err(TicketError::Expired(now_s - self.expires_s));
        }
        let left = self.expires_s.saturating_sub(now_s);
        if left > LIFETIME_SECS + SKEW_SECS {
            return Err(TicketError::TooLong(left));
        }
        Ok(())
    }
}

/// A `u8` count, then that many bytes (at most `max`, else `too_long`).
fn take_counted<'a>(
    bytes: &'a [u8],
    max: usize,
    too_long: &'static str,
) -> Result<(&'a [u8], &'a [u8]), TicketError> {
    let (&n, rest) = bytes
        .split_first()
        .ok_or(TicketError::Malformed("too short"))?;
    let n = usize::from(n);
    if n > max {
        return Err(TicketError::Malformed(too_long));
    }
    rest.split_at_checked(n)
        .ok_or(TicketError::Malformed("too short"))
}

#[cfg(feature = "net")]
mod signed {
    use libp2p::identity::{Keypair, PublicKey};
    use libp2p::PeerId;

    use super::{Ticket, TicketError, LIFETIME_SECS};
    use crate::hash::Hash;

    /// What is signed comes after this, so a ticket's signature can be
    /// taken for nothing else the node signs.
    const DOMAIN: &[u8] = b"meganet placement ticket v1\0";

    /// What the signer signs.
    fn signed_bytes(shard: &Hash, size: u32, expires_s: u64) -> Vec<u8> {
        [
            DOMAIN,
            &shard.0,
            &size.to_le_bytes(),
            &expires_s.to_le_bytes(),
        ]
        .concat()
    }

    impl Ticket {
        /// A ticket for `shard` of `size` bytes, good for
        /// [`LIFETIME_SECS`] from `now_s`, signed with `key`.
        pub fn issue(
            key: &Keypair,
            shard: Hash,
            size: u32,
            now_s: u64,
        ) -> Result<Self, libp2p::identity::SigningError> {
            let expires_s = now_s + LIFETIME_SECS;
            let signature = key.sign(&signed_bytes(&shard, size, expires_s))?;
            Ok(Self {
                shard,
                size,
                expires_s,
                signer: key.public().to_peer_id().to_bytes(),
                signature,
            })
        }

        /// Checks that `is_node` knows the signer and that its signature
        /// holds; the signer's key is the one its peer id embeds.
        pub fn verify(&self, is_node: impl Fn(&PeerId) -> bool) -> Result<(), TicketError> {
            let signer =
                PeerId::from_bytes(&self.signer).map_err(|_| TicketError::UnknownSigner)?;
            if !is_node(&signer) {
                return Err(TicketError::UnknownSigner);
            }
            let key = public_key(&signer).ok_or(TicketError::UnknownSigner)?;
            let signed = signed_bytes(&self.shard, self.size, self.expires_s);
            match key.verify(&signed, &self.signature) {
                true => Ok(()),
                false => Err(TicketError::BadSignature),
            }
        }
    }

    /// The public key a peer id embeds (Ed25519 ids do: identity hash).
    fn public_key(peer: &PeerId) -> Option<PublicKey> {
        let hash: &libp2p::multihash::Multihash<64> = peer.as_ref();
        (hash.code() == 0)
            .then(|| PublicKey::try_decode_protobuf(hash.digest()).ok())
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Ticket {
        Ticket {
            shard: Hash::of(b"shard"),
            size: 5,
            expires_s: 1_000_600,
            signer: vec![7; 38],
            signature: vec![9; 64],
        }
    }

    #[test]
    fn a_ticket_round_trips_and_nothing_malformed_parses() {
        let ticket = sample();
        let bytes = ticket.encode();
        assert!(bytes.len() <= MAX_TICKET);
        assert_eq!(Ticket::decode(&bytes), Ok(ticket));
        for cut in 0..bytes.len() {
            assert!(Ticket::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            Ticket::decode(&longer),
            Err(TicketError::Malformed("bytes after the signature"))
        );
        let mut huge_signer = bytes[..44].to_vec();
        huge_signer.push(200);
        assert_eq!(
            Ticket::decode(&huge_signer),
            Err(TicketError::Malformed("signer too long"))
        );
    }

    #[test]
    fn a_ticket_covers_its_shard_its_size_and_its_time_only() {
        let ticket = sample();
        let now = ticket.expires_s - 60;
        assert_eq!(ticket.covers(&Hash::of(b"shard"), 5, now), Ok(()));
        assert_eq!(
            ticket.covers(&Hash::of(b"other"), 5, now),
            Err(TicketError::OtherShard)
        );
        assert_eq!(
            ticket.covers(&Hash::of(b"shard"), 6, now),
            Err(TicketError::OtherSize {
                ticket: 5,
                shard: 6
            })
        );
        let late = ticket.expires_s + SKEW_SECS + 1;
        assert!(matches!(
            ticket.covers(&Hash::of(b"shard"), 5, late),
            Err(TicketError::Expired(_))
        ));
        let early = ticket.expires_s - LIFETIME_SECS - SKEW_SECS - 1;
        assert!(matches!(
            ticket.covers(&Hash::of(b"shard"), 5, early),
            Err(TicketError::TooLong(_))
        ));
    }

    #[cfg(feature = "net")]
    #[test]
    fn only_a_known_node_s_signature_verifies() {
        use libp2p::identity::Keypair;
        let node = Keypair::generate_ed25519();
        let node_id = node.public().to_peer_id();
        let stranger = Keypair::generate_ed25519();
        let ticket = Ticket::issue(&node, Hash::of(b"shard"), 5, 1_000_000).unwrap();
        assert_eq!(ticket.verify(|p| *p == node_id), Ok(()));
        assert_eq!(ticket.verify(|_| false), Err(TicketError::UnknownSigner));
        let forged = Ticket::issue(&stranger, Hash::of(b"shard"), 5, 1_000_000).unwrap();
        assert_eq!(
            forged.verify(|p| *p == node_id),
            Err(TicketError::UnknownSigner),
            "signed by a key that is not a node's"
        );
        let mut claimed = forged.clone();
        claimed.signer = node_id.to_bytes();
        assert_eq!(
            claimed.verify(|p| *p == node_id),
            Err(TicketError::BadSignature),
            "names the node, signed by another key"
        );
        let mut bigger = ticket.clone();
        bigger.size = 6;
        assert_eq!(
            bigger.verify(|p| *p == node_id),
            Err(TicketError::BadSignature),
            "altered after signing"
        );
    }
}
