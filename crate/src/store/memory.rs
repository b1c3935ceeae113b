//! The memory backend, for tests: a map behind a lock, with an optional
//! capacity that makes it behave like a full device.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use super::index::Meta;
use super::StoreError;
use crate::hash::Hash;

pub(crate) struct Memory {
    map: Mutex<HashMap<Hash, (Meta, Vec<u8>)>>,
    capacity: Option<u64>,
}

impl Memory {
    pub fn new(capacity: Option<u64>) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    fn map(&self) -> MutexGuard<'_, HashMap<Hash, (Meta, Vec<u8>)>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn held(map: &HashMap<Hash, (Meta, Vec<u8>)>) -> u64 {
        map.values().map(|(_, b)| b.len() as u64).sum()
    }

    pub fn put_batch(&self, items: Vec<(Hash, Meta, Vec<u8>)>) -> Result<(), StoreError> {
        let mut map = self.map();
        if let Some(capacity) = self.capacity {
            let needed: u64 = items.iter().map(|(_, _, b)| b.len() as u64).sum();
            let available = capacity.saturating_sub(Self::held(&map));
            if needed > available {
                return Err(StoreError::QuotaExceeded { needed, available });
            }
        }
        for (hash, meta, bytes) in items {
            map.insert(hash, (meta, bytes));
        }
        Ok(())
    }

    pub fn get(&self, hash: Hash) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.map().get(&hash).map(|(_, b)| b.clone()))
    }

    pub fn delete_batch(&self, items: Vec<(Hash, Meta)>) -> Result<(), StoreError> {
        let mut map = self.map();
        for (hash, _) in items {
            map.remove(&hash);
        }
        Ok(())
    }

    pub fn set_meta(&self, hash: Hash, meta: Meta) -> Result<(), StoreError> {
        if let Some(entry) = self.map().get_mut(&hash) {
            entry.0 = meta;
        }
        Ok(())
    }

    pub fn headroom(&self) -> Option<u64> {
        let capacity = self.capacity?;
        Some(capacity.saturating_sub(Self::held(&self.map())))
    }

    pub fn tamper(&self, hash: Hash) -> Result<(), StoreError> {
        match self.map().get_mut(&hash) {
            Some((_, bytes)) => {
                match bytes.first_mut() {
                    Some(b) => *b ^= 1,
                    None => bytes.push(0),
                }
                Ok(())
            }
            None => Err(StoreError::NotFound(hash)),
        }
    }
}
