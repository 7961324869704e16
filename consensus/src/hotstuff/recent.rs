//! Committed proposals kept to answer peers' block retrieval: the newest ones, bounded by count
//! and by encoded bytes (the newest is kept whatever its size), so that a validator a little
//! behind fetches them from memory; one further behind syncs from a peer's store.

use std::collections::VecDeque;

/// The kept items, oldest first, each with its id and size.
pub(super) struct Recent<T> {
    items: VecDeque<([u8; 32], T, usize)>,
    bytes: usize,
}

impl<T> Default for Recent<T> {
    fn default() -> Self {
        Self {
            items: VecDeque::new(),
            bytes: 0,
        }
    }
}

impl<T> Recent<T> {
    /// Keeps `item` (of `size` bytes) as the newest, then drops the oldest while more than
    /// `count` are kept or they take more than `max_bytes`; returns the ids dropped.
    pub(super) fn push(
        &mut self,
        id: [u8; 32],
        item: T,
        size: usize,
        count: usize,
        max_bytes: usize,
    ) -> Vec<[u8; 32]> {
        self.items.push_back((id, item, size));
        self.bytes += size;
        let mut dropped = Vec::new();
        while self.items.len() > 1 && (self.items.len() > count.max(1) || self.bytes > max_bytes) {
            let Some((old, _, old_size)) = self.items.pop_front() else {
                break;
            };
            self.bytes -= old_size;
            dropped.push(old);
        }
        dropped
    }

    /// The kept item with `id`.
    pub(super) fn get(&self, id: &[u8; 32]) -> Option<&T> {
        self.items
            .iter()
            .find(|(i, _, _)| i == id)
            .map(|(_, t, _)| t)
    }

    /// How many are kept, and their bytes.
    #[cfg(test)]
    fn held(&self) -> (usize, usize) {
        (self.items.len(), self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(i: u8) -> [u8; 32] {
        [i; 32]
    }

    #[test]
    fn the_newest_are_kept_within_the_count_and_the_bytes() {
        let mut r = Recent::default();
        for i in 0..5 {
            assert!(r.push(id(i), i, 10, 3, 1_000).len() <= 1);
        }
        assert_eq!(r.held(), (3, 30), "bounded by count");
        assert!(r.get(&id(1)).is_none() && r.get(&id(2)) == Some(&2));
        // Bytes: a 25-byte item pushes out the oldest two of the three 10-byte ones.
        assert_eq!(r.push(id(5), 5, 25, 3, 40), vec![id(2), id(3)]);
        assert_eq!(r.held(), (2, 35));
        // The newest stays even alone over the bound.
        assert_eq!(r.push(id(6), 6, 500, 3, 40), vec![id(4), id(5)]);
        assert_eq!(r.held(), (1, 500));
        assert_eq!(r.get(&id(6)), Some(&6));
    }
}
