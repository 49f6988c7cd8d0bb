//! A bounded map that drops its least recently touched entry when full.
//!
//! Entries live densely in one `Vec` (so memory follows the number of keys, never more than
//! `cap`), linked most-recent-first by index; a `HashMap` from the key's 64-bit hash to the
//! slot finds them. Lookups take the hash and an equality test, so a borrowed form of the key
//! (`(IpAddr, &str)` for an `(IpAddr, Box<str>)` key) finds an entry without allocating.
//! Two keys with the same hash share a slot: the newer replaces the older, which at worst
//! forgets one key early (64-bit keyed hash: not in practice).
//!
//! Iteration and eviction follow the recency list, never the hash map, so the order of
//! everything the detectors do is deterministic.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

const NIL: u32 = u32::MAX;

/// The map's keys are already hash outputs: hashing them again would only cost time.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

struct Slot<K, V> {
    hash: u64,
    key: K,
    val: V,
    prev: u32,
    next: u32,
}

pub(crate) struct Lru<K, V> {
    index: HashMap<u64, u32, BuildHasherDefault<IdHasher>>,
    slots: Vec<Slot<K, V>>,
    /// Most recently touched.
    head: u32,
    /// Least recently touched: evicted first.
    tail: u32,
    cap: usize,
}

/// Hash of a key (or of its borrowed form: `(ip, "name")` hashes like `(ip, String)`).
/// aHash with keys drawn once per process: fast, and traffic cannot aim collisions at a key
/// it cannot compute. Nothing but slot lookup depends on the value (order follows the
/// recency list), so the random keys do not make findings differ between runs.
pub(crate) fn key_hash<Q: Hash + ?Sized>(q: &Q) -> u64 {
    static STATE: std::sync::OnceLock<ahash::RandomState> = std::sync::OnceLock::new();
    STATE.get_or_init(ahash::RandomState::new).hash_one(q)
}

impl<K, V> Lru<K, V> {
    /// `cap` >= 1 (the configuration is validated). Nothing is allocated up front.
    pub(crate) fn new(cap: usize) -> Self {
        Lru {
            index: HashMap::default(),
            slots: Vec::new(),
            head: NIL,
            tail: NIL,
            cap: cap.clamp(1, NIL as usize - 1),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    fn unlink(&mut self, i: u32) {
        let (prev, next) = {
            let s = &self.slots[i as usize];
            (s.prev, s.next)
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.slots[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.slots[next as usize].prev = prev;
        }
    }

    fn push_front(&mut self, i: u32) {
        let old = self.head;
        {
            let s = &mut self.slots[i as usize];
            s.prev = NIL;
            s.next = old;
        }
        if old == NIL {
            self.tail = i;
        } else {
            self.slots[old as usize].prev = i;
        }
        self.head = i;
    }

    /// The entry for `hash` if its key passes `eq`, made most recent.
    pub(crate) fn get_mut(&mut self, hash: u64, eq: impl Fn(&K) -> bool) -> Option<&mut V> {
        let i = *self.index.get(&hash)?;
        if !eq(&self.slots[i as usize].key) {
            return None;
        }
        if self.head != i {
            self.unlink(i);
            self.push_front(i);
        }
        Some(&mut self.slots[i as usize].val)
    }

    /// The entry for `hash` without touching its recency.
    pub(crate) fn peek(&self, hash: u64, eq: impl Fn(&K) -> bool) -> Option<&V> {
        let i = *self.index.get(&hash)?;
        let s = &self.slots[i as usize];
        eq(&s.key).then_some(&s.val)
    }

    /// Inserts as most recent. Returns what had to go: the least recent entry when full, or
    /// the entry that had the same hash.
    pub(crate) fn insert(&mut self, hash: u64, key: K, val: V) -> Option<(K, V)> {
        let mut gone = None;
        if let Some(&i) = self.index.get(&hash) {
            gone = self.remove_slot(i);
        } else if self.slots.len() >= self.cap {
            gone = self.pop_oldest();
        }
        if self.slots.len() == self.slots.capacity() {
            // Grow by doubling but never past `cap`, so the bound holds for the Vec too.
            let want = (self.slots.capacity() * 2).max(4).min(self.cap);
            self.slots
                .reserve_exact(want.saturating_sub(self.slots.len()));
        }
        let i = self.slots.len() as u32;
        self.slots.push(Slot {
            hash,
            key,
            val,
            prev: NIL,
            next: NIL,
        });
        self.push_front(i);
        self.index.insert(hash, i);
        gone
    }

    /// The entry for `hash`/`eq`, inserted from `make` if absent (most recent either way).
    /// The second value is what an insertion pushed out.
    pub(crate) fn get_or_insert_with(
        &mut self,
        hash: u64,
        eq: impl Fn(&K) -> bool,
        make: impl FnOnce() -> (K, V),
    ) -> (&mut V, Option<(K, V)>) {
        let mut gone = None;
        let found = match self.index.get(&hash) {
            Some(&i) if eq(&self.slots[i as usize].key) => Some(i),
            _ => None,
        };
        let i = match found {
            Some(i) => {
                if self.head != i {
                    self.unlink(i);
                    self.push_front(i);
                }
                i
            }
            None => {
                let (k, v) = make();
                gone = self.insert(hash, k, v);
                self.head
            }
        };
        (&mut self.slots[i as usize].val, gone)
    }

    pub(crate) fn remove(&mut self, hash: u64, eq: impl Fn(&K) -> bool) -> Option<(K, V)> {
        let i = *self.index.get(&hash)?;
        if !eq(&self.slots[i as usize].key) {
            return None;
        }
        self.remove_slot(i)
    }

    fn remove_slot(&mut self, i: u32) -> Option<(K, V)> {
        self.unlink(i);
        // Each hash maps to exactly one slot (an insert with a known hash replaces it).
        self.index.remove(&self.slots[i as usize].hash);
        let last = (self.slots.len() - 1) as u32;
        if i != last {
            // The last slot moves into `i`: repoint its neighbours and its index entry.
            let (prev, next, h) = {
                let s = &self.slots[last as usize];
                (s.prev, s.next, s.hash)
            };
            if prev == NIL {
                self.head = i;
            } else {
                self.slots[prev as usize].next = i;
            }
            if next == NIL {
                self.tail = i;
            } else {
                self.slots[next as usize].prev = i;
            }
            self.index.insert(h, i);
        }
        let s = self.slots.swap_remove(i as usize);
        Some((s.key, s.val))
    }

    pub(crate) fn oldest(&self) -> Option<(&K, &V)> {
        let s = self.slots.get(self.tail as usize)?;
        Some((&s.key, &s.val))
    }

    /// Drops entries from the least recent end while `stale` holds: how every detector
    /// forgets keys idle past their window.
    pub(crate) fn evict_oldest_while(&mut self, mut stale: impl FnMut(&V) -> bool) {
        while self.oldest().is_some_and(|(_, v)| stale(v)) {
            self.pop_oldest();
        }
    }

    pub(crate) fn pop_oldest(&mut self) -> Option<(K, V)> {
        if self.tail == NIL {
            return None;
        }
        self.remove_slot(self.tail)
    }

    /// Visits entries from least to most recent.
    pub(crate) fn for_each_oldest_first(&mut self, mut f: impl FnMut(&K, &mut V)) {
        let mut i = self.tail;
        while i != NIL {
            let s = &mut self.slots[i as usize];
            f(&s.key, &mut s.val);
            i = s.prev;
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.slots.iter().map(|s| (&s.key, &s.val))
    }

    /// Bytes of the table itself (slots and index), not of what keys and values own.
    pub(crate) fn table_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot<K, V>>()
            + index_bytes(self.index.capacity())
    }

    /// Worst case of [`Lru::table_bytes`] for a full table of `cap` entries.
    pub(crate) fn bound_table_bytes(cap: usize) -> usize {
        cap * std::mem::size_of::<Slot<K, V>>() + index_bytes(cap)
    }
}

/// hashbrown keeps buckets at a power of two at most 7/8 full, each a (u64, u32) plus one
/// control byte.
fn index_bytes(items: usize) -> usize {
    if items == 0 {
        return 0;
    }
    let buckets = (items.saturating_mul(8) / 7 + 1).next_power_of_two();
    buckets * (std::mem::size_of::<(u64, u32)>() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_links<K, V>(l: &Lru<K, V>) {
        let mut n = 0;
        let mut i = l.head;
        let mut prev = NIL;
        while i != NIL {
            let s = &l.slots[i as usize];
            assert_eq!(s.prev, prev);
            assert_eq!(l.index.get(&s.hash), Some(&i));
            prev = i;
            i = s.next;
            n += 1;
        }
        assert_eq!(l.tail, prev);
        assert_eq!(n, l.slots.len());
        assert_eq!(l.index.len(), l.slots.len());
    }

    #[test]
    fn evicts_least_recent_and_stays_consistent() {
        let mut l: Lru<u32, u32> = Lru::new(3);
        for k in 0..3u32 {
            assert!(l.insert(key_hash(&k), k, k * 10).is_none());
        }
        // Touch 0, so 1 is now the oldest.
        assert_eq!(l.get_mut(key_hash(&0u32), |k| *k == 0).copied(), Some(0));
        let gone = l.insert(key_hash(&3u32), 3, 30);
        assert_eq!(gone, Some((1, 10)));
        check_links(&l);
        assert_eq!(l.remove(key_hash(&0u32), |k| *k == 0), Some((0, 0)));
        check_links(&l);
        let mut order = Vec::new();
        l.for_each_oldest_first(|k, _| order.push(*k));
        assert_eq!(order, vec![2, 3]);
        assert_eq!(l.pop_oldest(), Some((2, 20)));
        check_links(&l);
        assert!(l.slots.capacity() <= 3);
    }

    #[test]
    fn random_operations_keep_links_and_bound() {
        let mut l: Lru<u64, u64> = Lru::new(50);
        let mut x = 7u64;
        for _ in 0..5000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let k = (x >> 33) % 120;
            match (x >> 20) % 4 {
                0 => {
                    l.remove(key_hash(&k), |q| *q == k);
                }
                1 => {
                    l.pop_oldest();
                }
                _ => {
                    let (v, _) = l.get_or_insert_with(key_hash(&k), |q| *q == k, || (k, 0));
                    *v += 1;
                }
            }
            assert!(l.len() <= 50);
        }
        check_links(&l);
        assert!(l.slots.capacity() <= 50);
    }
}
