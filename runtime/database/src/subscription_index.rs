//! [`SubscriptionIndex`]: the read sets of live subscriptions, indexed so that a commit finds
//! the subscriptions it may affect by lookup, never by scanning them all (spec
//! `sync-protocol.md` §5.1 "subscription manager").
//!
//! Structure: per index id an [`IntervalTree`] of the key intervals read (a written key
//! finds the intervals containing it in O(log n + k)); hash maps from document points,
//! tables (by table id, for counts, whole-table reads and whole-table invalidation) and
//! missing tables (by component and name or number) to the subscriptions depending on them.
//!
//! Invariant: `affected(w)` returns exactly the registered keys whose read set
//! [`overlaps`](ReadSet::overlaps) `w`, each once, sorted.

mod interval_tree;

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use interval_tree::IntervalTree;

use crate::{ReadSet, WriteSet};

/// Registered read sets by subscription key `K`.
#[derive(Debug)]
pub struct SubscriptionIndex<K> {
    read_sets: HashMap<K, ReadSet>,
    ranges: HashMap<i64, IntervalTree<K>>,
    documents: HashMap<(i64, [u8; 16]), HashSet<K>>,
    /// Every subscription reading anything of a table (invalidated by a whole-table change).
    by_table: HashMap<i64, HashSet<K>>,
    counts: HashMap<i64, HashSet<K>>,
    whole_tables: HashMap<i64, HashSet<K>>,
    table_names: HashMap<(String, String), HashSet<K>>,
    table_numbers: HashMap<(String, u32), HashSet<K>>,
}

impl<K> Default for SubscriptionIndex<K> {
    fn default() -> Self {
        SubscriptionIndex {
            read_sets: HashMap::new(),
            ranges: HashMap::new(),
            documents: HashMap::new(),
            by_table: HashMap::new(),
            counts: HashMap::new(),
            whole_tables: HashMap::new(),
            table_names: HashMap::new(),
            table_numbers: HashMap::new(),
        }
    }
}

fn add<Q: Eq + Hash, K: Copy + Eq + Hash>(map: &mut HashMap<Q, HashSet<K>>, q: Q, key: K) {
    map.entry(q).or_default().insert(key);
}

fn take<Q: Eq + Hash, K: Eq + Hash>(map: &mut HashMap<Q, HashSet<K>>, q: &Q, key: &K) {
    if let Some(set) = map.get_mut(q) {
        set.remove(key);
        if set.is_empty() {
            map.remove(q);
        }
    }
}

fn extend<Q: Eq + Hash, K: Copy>(out: &mut Vec<K>, map: &HashMap<Q, HashSet<K>>, q: &Q) {
    if let Some(set) = map.get(q) {
        out.extend(set.iter().copied());
    }
}

impl<K: Copy + Eq + Hash + Ord> SubscriptionIndex<K> {
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of subscriptions registered.
    pub fn len(&self) -> usize {
        self.read_sets.len()
    }

    /// Whether no subscription is registered.
    pub fn is_empty(&self) -> bool {
        self.read_sets.is_empty()
    }

    /// Registers (or replaces) the read set of `key`.
    pub fn insert(&mut self, key: K, read_set: &ReadSet) {
        self.remove(key);
        let rs = read_set.snapshot();
        for r in &rs.ranges {
            self.ranges.entry(r.index_id).or_default().insert(r.interval.lo.clone(), r.interval.hi.clone(), key);
            add(&mut self.by_table, r.tid, key);
        }
        for d in &rs.documents {
            add(&mut self.documents, *d, key);
            add(&mut self.by_table, d.0, key);
        }
        for t in &rs.counts {
            add(&mut self.counts, *t, key);
            add(&mut self.by_table, *t, key);
        }
        for t in &rs.whole_tables {
            add(&mut self.whole_tables, *t, key);
        }
        for n in &rs.table_names {
            add(&mut self.table_names, n.clone(), key);
        }
        for n in &rs.table_numbers {
            add(&mut self.table_numbers, n.clone(), key);
        }
        self.read_sets.insert(key, rs);
    }

    /// Unregisters `key`; returns whether it was registered.
    pub fn remove(&mut self, key: K) -> bool {
        let Some(rs) = self.read_sets.remove(&key) else {
            return false;
        };
        for r in &rs.ranges {
            if let Some(tree) = self.ranges.get_mut(&r.index_id) {
                tree.remove(&r.interval.lo, &key);
                if tree.is_empty() {
                    self.ranges.remove(&r.index_id);
                }
            }
            take(&mut self.by_table, &r.tid, &key);
        }
        for d in &rs.documents {
            take(&mut self.documents, d, &key);
            take(&mut self.by_table, &d.0, &key);
        }
        for t in &rs.counts {
            take(&mut self.counts, t, &key);
            take(&mut self.by_table, t, &key);
        }
        for t in &rs.whole_tables {
            take(&mut self.whole_tables, t, &key);
        }
        for n in &rs.table_names {
            take(&mut self.table_names, n, &key);
        }
        for n in &rs.table_numbers {
            take(&mut self.table_numbers, n, &key);
        }
        true
    }

    /// The subscriptions whose read set overlaps `writes`, deduplicated and sorted.
    pub fn affected(&self, writes: &WriteSet) -> Vec<K> {
        let mut out = Vec::new();
        for (index_id, key) in &writes.index_keys {
            if let Some(tree) = self.ranges.get(index_id) {
                tree.stab(key, |k| out.push(*k));
            }
        }
        for d in &writes.documents {
            extend(&mut out, &self.documents, d);
        }
        for t in &writes.tables {
            if t.all {
                extend(&mut out, &self.by_table, &t.tid);
            }
            if t.membership_changed {
                extend(&mut out, &self.counts, &t.tid);
            }
            extend(&mut out, &self.whole_tables, &t.tid);
            // Lookups by name and number allocate only where such reads exist.
            if !self.table_names.is_empty() {
                extend(&mut out, &self.table_names, &(t.component.clone(), t.name.clone()));
            }
            if !self.table_numbers.is_empty() {
                extend(&mut out, &self.table_numbers, &(t.component.clone(), t.number));
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{IndexInfo, TableInfo};
    use crate::query::index_range::KeyInterval;

    fn table() -> TableInfo {
        TableInfo {
            tid: 1,
            name: "t".into(),
            number: 10001,
            indexes: vec![IndexInfo::new(5, "by_x".into(), vec![])],
            search_indexes: vec![],
        }
    }

    fn key(n: u32) -> Vec<u8> {
        n.to_be_bytes().to_vec()
    }

    fn insert_at(n: u32) -> WriteSet {
        let mut w = WriteSet::default();
        w.record_document("", &table(), [0xee; 16], &[], &[key(n)], true);
        w.finish();
        w
    }

    /// 10,000 idle subscriptions, each with a distinct point or range read: a commit costs
    /// a lookup, and finds exactly the subscriptions it hits.
    #[test]
    fn ten_thousand_subscriptions_are_found_by_lookup() {
        let mut index = SubscriptionIndex::new();
        let mut read_sets = Vec::new();
        for s in 0..10_000u32 {
            let mut rs = ReadSet::default();
            if s % 2 == 0 {
                // a range [10 s, 10 s + 5)
                rs.record_range(5, 1, KeyInterval { lo: key(s * 10), hi: Some(key(s * 10 + 5)) });
            } else {
                let mut id = [0u8; 16];
                id[..4].copy_from_slice(&s.to_be_bytes());
                rs.record_document(1, id);
            }
            index.insert(s, &rs);
            read_sets.push(rs);
        }
        assert_eq!(index.len(), 10_000);
        // A key inside subscription 4242's range, and a document of subscription 4243.
        let mut w = WriteSet::default();
        let mut id = [0u8; 16];
        id[..4].copy_from_slice(&4243u32.to_be_bytes());
        w.record_document("", &table(), id, &[key(42_422)], &[key(42_427)], false);
        w.finish();
        let start = std::time::Instant::now();
        let mut hits = Vec::new();
        for _ in 0..1000 {
            hits = index.affected(&w);
        }
        let per_commit = start.elapsed() / 1000;
        assert_eq!(hits, vec![4242, 4243]);
        let expected: Vec<u32> = (0..10_000).filter(|s| read_sets[*s as usize].overlaps(&w)).collect();
        assert_eq!(hits, expected);
        eprintln!("affected() over 10,000 subscriptions: {per_commit:?} per commit");
        let visited = index.ranges[&5].stab(&key(42_422), |_| {});
        assert!(visited < 200, "visited {visited} of 5,000 intervals");
        // Removal leaves nothing behind.
        for s in 0..10_000u32 {
            assert!(index.remove(s));
        }
        assert!(index.is_empty() && index.ranges.is_empty() && index.documents.is_empty());
        assert!(index.by_table.is_empty());
        assert!(index.affected(&w).is_empty());
    }

    #[test]
    fn table_level_dependencies() {
        let mut index = SubscriptionIndex::new();
        let mut count = ReadSet::default();
        count.record_count(1);
        let mut missing = ReadSet::default();
        missing.record_table_name("", "t");
        let mut number = ReadSet::default();
        number.record_table_number("", 10001);
        let mut whole = ReadSet::default();
        whole.record_whole_table(1);
        let mut range = ReadSet::default();
        range.record_range(5, 1, KeyInterval { lo: key(100), hi: None });
        for (k, rs) in [(1, &count), (2, &missing), (3, &number), (4, &whole), (5, &range)] {
            index.insert(k, rs);
        }
        assert_eq!(index.affected(&insert_at(1)), vec![1, 2, 3, 4]);
        assert_eq!(index.affected(&insert_at(100)), vec![1, 2, 3, 4, 5]);
        let mut schema = WriteSet::default();
        schema.record_table_changed("", &table());
        schema.finish();
        assert_eq!(index.affected(&schema), vec![1, 2, 3, 4, 5]);
        // Re-registering replaces the read set.
        index.insert(5, &count);
        assert_eq!(index.affected(&insert_at(1)), vec![1, 2, 3, 4, 5]);
        assert!(index.ranges.is_empty());
    }
}
