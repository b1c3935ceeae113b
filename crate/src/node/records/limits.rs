//! The disk record store's caps ([`Limits`]): every size a peer can
//! influence is bounded, so no peer can grow the store without bound.

/// The store's caps. The defaults suit a node serving a few thousand
/// browsers; the `records` module doc says why each exists.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Keys with at least one provider record.
    pub max_provider_keys: usize,
    /// Provider records kept per key (Kademlia's K); later ones are ignored.
    pub max_providers_per_key: usize,
    /// Provider records one remote peer id may hold.
    pub max_records_per_provider: usize,
    /// Addresses kept per provider record; extras are dropped.
    pub max_addresses: usize,
    /// Bytes per address; longer addresses are dropped.
    pub max_address_bytes: usize,
    /// Bytes per key; longer keys are refused.
    pub max_key_bytes: usize,
    /// Bytes of the provider log; new provider records are refused past it.
    pub max_file_bytes: u64,
    /// Value records (memory only): name records. Past the cap a new key
    /// is refused; held keys can still be updated.
    pub max_records: usize,
    /// Bytes per value record's value; larger ones are refused.
    pub max_value_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_provider_keys: 65_536,
            max_providers_per_key: libp2p::kad::K_VALUE.get(),
            max_records_per_provider: 4_096,
            max_addresses: 8,
            max_address_bytes: 256,
            max_key_bytes: 128,
            max_file_bytes: 64 << 20,
            // Value records are name records (`node/names.rs`).
            max_records: super::super::names::MAX_NAME_RECORDS,
            max_value_bytes: crate::format::MAX_NAME_RECORD,
        }
    }
}

impl Limits {
    /// Within what the log format can hold (u16 lengths, u8 counts).
    pub(super) fn clamped(mut self) -> Self {
        self.max_key_bytes = self.max_key_bytes.min(usize::from(u16::MAX));
        self.max_address_bytes = self.max_address_bytes.min(usize::from(u16::MAX));
        self.max_addresses = self.max_addresses.min(usize::from(u8::MAX));
        self
    }
}
