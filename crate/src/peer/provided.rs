//! The files this peer holds shards of for others, by provider key: what it
//! announces in the DHT so fetchers of those files find it. Kept in
//! `localStorage` so a reload announces them again; bounded, oldest first
//! out (a file dropped from the list is still found through its manifest's
//! placement hints). Where `localStorage` is unavailable (some embedded or
//! private contexts) the list lives for the page only.

use std::collections::VecDeque;

use crate::hash::Hash;

/// Most files announced (the browser's DHT store holds 1024 provided keys,
/// the contributors key among them).
pub const MAX_PROVIDED: usize = 1000;
const STORAGE_KEY: &str = "meganet.provided.v1";

/// The provider keys this peer announces.
#[derive(Debug, Default)]
pub struct Provided {
    keys: VecDeque<Hash>,
}

impl Provided {
    /// The list saved by an earlier page, if any.
    pub fn load() -> Self {
        let saved = storage().and_then(|s| s.get_item(STORAGE_KEY).ok().flatten());
        Self::parse(saved.as_deref().unwrap_or(""))
    }

    fn parse(text: &str) -> Self {
        let keys = text
            .split(',')
            .filter_map(|hex| hex.parse::<Hash>().ok())
            .take(MAX_PROVIDED)
            .collect();
        Self { keys }
    }

    fn serialize(&self) -> String {
        let hexes: Vec<String> = self.keys.iter().map(Hash::to_hex).collect();
        hexes.join(",")
    }

    /// Adds `key`; `false` when it was there already. The oldest key goes
    /// when the list is full.
    pub fn add(&mut self, key: Hash) -> bool {
        if self.keys.contains(&key) {
            return false;
        }
        if self.keys.len() == MAX_PROVIDED {
            self.keys.pop_front();
        }
        self.keys.push_back(key);
        self.save();
        true
    }

    /// Every key, oldest first.
    pub fn keys(&self) -> impl Iterator<Item = &Hash> {
        self.keys.iter()
    }

    /// Forgets every key (the contributed data was deleted).
    pub fn clear(&mut self) {
        self.keys.clear();
        self.save();
    }

    fn save(&self) {
        if let Some(storage) = storage() {
            if let Err(e) = storage.set_item(STORAGE_KEY, &self.serialize()) {
                tracing::warn!(error = ?e, "cannot save the announced files");
            }
        }
    }
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}
