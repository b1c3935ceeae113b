//! Uploads this peer is still placing: a put with the link first
//! ([`crate::transfer::Early`]) encodes the whole file into this store
//! (IndexedDB database `<identity database>-uploads`) and places the
//! shards from it. Until each is placed and removed, the driver serves it
//! to any peer that asks, contributing or not: the link works from the
//! moment it is shown.

use std::cell::RefCell;
use std::rc::Rc;

use crate::net::block::BlockRequest;
use crate::store::{Config, Store, StoreError};

/// The store, once the first early put has opened it.
pub type Shared = Rc<RefCell<Option<Store>>>;

/// The database that holds the uploads of the peer whose identity is in
/// `identity_db`.
pub fn db_name(identity_db: &str) -> String {
    format!("{identity_db}-uploads")
}

/// The store, opened on first use.
pub async fn open(shared: &Shared, identity_db: &str) -> Result<Store, StoreError> {
    if let Some(store) = shared.borrow().clone() {
        return Ok(store);
    }
    let store = Store::open_idb(&db_name(identity_db), Config::default()).await?;
    // Two puts may have opened it at once: keep the first.
    Ok(shared.borrow_mut().get_or_insert(store).clone())
}

/// Whether `request` asks about a shard `store` holds: then this peer
/// answers it from the store, whether or not it contributes.
pub fn answers(store: &Store, request: &BlockRequest) -> bool {
    let holds = |hashes: &[crate::hash::Hash]| {
        store
            .has(hashes)
            .is_ok_and(|flags| flags.into_iter().any(|f| f))
    };
    match request {
        BlockRequest::Get(hash) | BlockRequest::Audit { hash, .. } => holds(&[*hash]),
        BlockRequest::Has(hashes) => holds(hashes),
        _ => false,
    }
}
