//! Audits: proof that a holder still has a shard, without sending it.
//!
//! The verifier picks a random range of a shard ([`ChunkRange`], at most
//! [`MAX_AUDIT_CHUNKS`] BLAKE3 chunks, chosen at audit time, never stored in
//! advance); the holder answers with those bytes and the chaining values of
//! every BLAKE3 subtree outside them ([`proof::prove`]), and the verifier
//! rebuilds the shard's root hash from them ([`proof::verify`]). BLAKE3 is
//! already a tree, so the shard's own address is what the proof is checked
//! against: nothing is precomputed, nothing new is stored. What a history
//! of audits says about a holder is [`reputation`].

pub mod proof;
pub mod reputation;

pub use proof::{prove, verify, AuditError, ChunkRange, MAX_AUDIT_CHUNKS, MAX_PROOF};
pub use reputation::Reputation;

/// A fresh random number from the operating system (or
/// `crypto.getRandomValues` in a browser), for choosing what to audit.
pub fn os_random() -> u64 {
    use chacha20poly1305::aead::rand_core::RngCore;
    chacha20poly1305::aead::OsRng.next_u64()
}
