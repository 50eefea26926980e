//! [`ReadSet`]: what a transaction read, as dependencies that a commit's
//! [`WriteSet`] can hit (spec `sync-protocol.md` §5.1–§5.2).
//!
//! Recorded by [`crate::query::reads::Reads`], the one door every read goes through:
//! - index range scans: per index, the key intervals actually consumed (a full table scan is
//!   a range of `by_creation_time`);
//! - `get` by id: a point on the document (table id + internal id), also when it is missing;
//! - `count`: the table's membership (inserts and deletes);
//! - full-table passes: the whole table;
//! - reads of tables (or indexes) that do not exist: the table by component and name, or by
//!   component and table number for a `get` of an id of an unknown table.
//!
//! Invariant (G1/G4 of the spec): if a commit can change what the reads of a transaction
//! returned, then the transaction's read set [`overlaps`](ReadSet::overlaps) the commit's
//! write set. Over-approximation is allowed (intervals are recorded per batch read, reads
//! under a rolled-back savepoint are kept), missing a dependency is not.

use crate::query::index_range::KeyInterval;
use crate::write_set::WriteSet;

/// A range of one index that was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IndexRangeRead {
    pub index_id: i64,
    /// The table of the index (for table-wide invalidation).
    pub tid: i64,
    pub interval: KeyInterval,
}

/// The read set of one transaction. Cheap to clone for a small query; `merge` combines
/// the read sets of several executions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadSet {
    /// Key intervals read, per index. Sorted by `(index_id, lo)` and merged by `normalize`.
    pub(crate) ranges: Vec<IndexRangeRead>,
    /// Documents read by id: `(tid, internal_id)`.
    pub(crate) documents: Vec<(i64, [u8; 16])>,
    /// Tables whose document count was read (tid).
    pub(crate) counts: Vec<i64>,
    /// Tables read whole (tid).
    pub(crate) whole_tables: Vec<i64>,
    /// Tables (or indexes of tables) read while they did not exist: `(component, name)`.
    pub(crate) table_names: Vec<(String, String)>,
    /// Ids read whose table number had no table: `(component, table number)`.
    pub(crate) table_numbers: Vec<(String, u32)>,
}

impl ReadSet {
    /// Whether nothing was read.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
            && self.documents.is_empty()
            && self.counts.is_empty()
            && self.whole_tables.is_empty()
            && self.table_names.is_empty()
            && self.table_numbers.is_empty()
    }

    /// Adds everything `other` read.
    pub fn merge(&mut self, other: &ReadSet) {
        self.ranges.extend(other.ranges.iter().cloned());
        self.documents.extend_from_slice(&other.documents);
        self.counts.extend_from_slice(&other.counts);
        self.whole_tables.extend_from_slice(&other.whole_tables);
        self.table_names.extend(other.table_names.iter().cloned());
        self.table_numbers.extend(other.table_numbers.iter().cloned());
        self.normalize();
    }

    /// Approximate heap memory held, in bytes.
    pub fn heap_bytes(&self) -> usize {
        let keys: usize = self
            .ranges
            .iter()
            .map(|r| r.interval.lo.capacity() + r.interval.hi.as_ref().map_or(0, Vec::capacity))
            .sum();
        let names: usize = self.table_names.iter().map(|(c, t)| c.capacity() + t.capacity()).sum();
        let numbers: usize = self.table_numbers.iter().map(|(c, _)| c.capacity()).sum();
        keys + names
            + numbers
            + self.ranges.capacity() * std::mem::size_of::<IndexRangeRead>()
            + self.documents.capacity() * std::mem::size_of::<(i64, [u8; 16])>()
            + (self.counts.capacity() + self.whole_tables.capacity()) * std::mem::size_of::<i64>()
            + self.table_names.capacity() * std::mem::size_of::<(String, String)>()
            + self.table_numbers.capacity() * std::mem::size_of::<(String, u32)>()
    }

    /// Whether a commit that wrote `writes` can change what these reads returned.
    pub fn overlaps(&self, writes: &WriteSet) -> bool {
        let all = |tid: i64| writes.table(tid).any(|t| t.all);
        self.ranges
            .iter()
            .any(|r| writes.has_key_in(r.index_id, &r.interval.lo, r.interval.hi.as_deref()) || all(r.tid))
            || self.documents.iter().any(|(tid, id)| writes.has_document(*tid, id) || all(*tid))
            || self.counts.iter().any(|tid| writes.table(*tid).any(|t| t.membership_changed || t.all))
            || self.whole_tables.iter().any(|tid| writes.table(*tid).next().is_some())
            || self.table_names.iter().any(|(c, n)| writes.tables.iter().any(|t| t.component == *c && t.name == *n))
            || self.table_numbers.iter().any(|(c, n)| writes.tables.iter().any(|t| t.component == *c && t.number == *n))
    }

    // ----- recording (by `Reads`) -----------------------------------------------------------

    pub(crate) fn record_range(&mut self, index_id: i64, tid: i64, interval: KeyInterval) {
        // Consecutive batches of one scan are adjacent: extend the last interval in place.
        if let Some(last) = self.ranges.last_mut()
            && last.index_id == index_id
            && last.interval.hi.as_ref() == Some(&interval.lo)
        {
            last.interval.hi = interval.hi;
            return;
        }
        if let Some(last) = self.ranges.last_mut()
            && last.index_id == index_id
            && interval.hi.as_ref() == Some(&last.interval.lo)
        {
            last.interval.lo = interval.lo;
            return;
        }
        self.ranges.push(IndexRangeRead { index_id, tid, interval });
    }

    pub(crate) fn record_document(&mut self, tid: i64, internal_id: [u8; 16]) {
        self.documents.push((tid, internal_id));
    }

    pub(crate) fn record_count(&mut self, tid: i64) {
        if !self.counts.contains(&tid) {
            self.counts.push(tid);
        }
    }

    pub(crate) fn record_whole_table(&mut self, tid: i64) {
        if !self.whole_tables.contains(&tid) {
            self.whole_tables.push(tid);
        }
    }

    pub(crate) fn record_table_name(&mut self, component: &str, table: &str) {
        if !self.table_names.iter().any(|(c, t)| c == component && t == table) {
            self.table_names.push((component.to_string(), table.to_string()));
        }
    }

    pub(crate) fn record_table_number(&mut self, component: &str, number: u32) {
        if !self.table_numbers.iter().any(|(c, n)| c == component && *n == number) {
            self.table_numbers.push((component.to_string(), number));
        }
    }

    /// Sorts, merges overlapping or touching intervals of each index, and deduplicates.
    pub(crate) fn normalize(&mut self) {
        self.ranges.sort_by(|a, b| (a.index_id, &a.interval.lo).cmp(&(b.index_id, &b.interval.lo)));
        let mut merged: Vec<IndexRangeRead> = Vec::with_capacity(self.ranges.len());
        for r in self.ranges.drain(..) {
            if let Some(last) = merged.last_mut()
                && last.index_id == r.index_id
                && last.interval.hi.as_ref().is_none_or(|h| *h >= r.interval.lo)
            {
                last.interval.hi = match (last.interval.hi.take(), r.interval.hi) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    _ => None,
                };
                continue;
            }
            merged.push(r);
        }
        self.ranges = merged;
        self.documents.sort_unstable();
        self.documents.dedup();
        for v in [&mut self.counts, &mut self.whole_tables] {
            v.sort_unstable();
            v.dedup();
        }
        self.table_names.sort();
        self.table_names.dedup();
        self.table_numbers.sort();
        self.table_numbers.dedup();
    }

    /// A normalized copy with no spare capacity.
    pub(crate) fn snapshot(&self) -> ReadSet {
        let mut r = self.clone();
        r.normalize();
        r.ranges.shrink_to_fit();
        r.documents.shrink_to_fit();
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{IndexInfo, TableInfo};

    fn iv(lo: &[u8], hi: Option<&[u8]>) -> KeyInterval {
        KeyInterval { lo: lo.to_vec(), hi: hi.map(<[u8]>::to_vec) }
    }

    fn table(tid: i64, name: &str) -> TableInfo {
        TableInfo {
            tid,
            name: name.into(),
            number: 10000 + tid as u32,
            indexes: vec![IndexInfo::new(tid * 10, "by_x".into(), vec!["x".into()])],
            search_indexes: vec![],
        }
    }

    fn writes(f: impl FnOnce(&mut WriteSet)) -> WriteSet {
        let mut w = WriteSet::default();
        f(&mut w);
        w.finish();
        w
    }

    #[test]
    fn adjacent_batches_merge_and_normalize_merges_overlaps() {
        let mut r = ReadSet::default();
        r.record_range(1, 1, iv(&[1], Some(&[3])));
        r.record_range(1, 1, iv(&[3], Some(&[5])));
        assert_eq!(r.ranges.len(), 1);
        r.record_range(2, 1, iv(&[0], None));
        r.record_range(1, 1, iv(&[4], Some(&[8])));
        r.record_range(1, 1, iv(&[9], Some(&[10])));
        r.normalize();
        let got: Vec<_> = r.ranges.iter().map(|x| (x.index_id, x.interval.clone())).collect();
        assert_eq!(got, vec![(1, iv(&[1], Some(&[8]))), (1, iv(&[9], Some(&[10]))), (2, iv(&[0], None))]);
    }

    #[test]
    fn overlaps_each_kind_of_dependency() {
        let t = table(1, "t");
        let insert = writes(|w| w.record_document("", &t, [1; 16], &[], &[vec![5]], true));
        let patch = writes(|w| w.record_document("", &t, [1; 16], &[vec![5]], &[vec![6]], false));
        let schema = writes(|w| w.record_table_changed("", &t));

        let mut range = ReadSet::default();
        range.record_range(10, 1, iv(&[4], Some(&[5])));
        assert!(!range.overlaps(&insert));
        range.record_range(10, 1, iv(&[6], None));
        assert!(range.overlaps(&patch) && !range.overlaps(&insert));
        assert!(range.overlaps(&schema));

        let mut point = ReadSet::default();
        point.record_document(1, [1; 16]);
        assert!(point.overlaps(&patch));
        point = ReadSet::default();
        point.record_document(1, [2; 16]);
        assert!(!point.overlaps(&patch) && point.overlaps(&schema));

        let mut count = ReadSet::default();
        count.record_count(1);
        assert!(count.overlaps(&insert) && !count.overlaps(&patch) && count.overlaps(&schema));

        let mut whole = ReadSet::default();
        whole.record_whole_table(1);
        assert!(whole.overlaps(&patch));

        let mut missing = ReadSet::default();
        missing.record_table_name("", "t");
        assert!(missing.overlaps(&insert));
        missing = ReadSet::default();
        missing.record_table_name("other", "t");
        assert!(!missing.overlaps(&insert));
        missing.record_table_number("", 10001);
        assert!(missing.overlaps(&insert));
        assert!(!ReadSet::default().overlaps(&insert));
    }

    #[test]
    fn merge_is_empty_and_small_heap() {
        let mut a = ReadSet::default();
        assert!(a.is_empty());
        let mut b = ReadSet::default();
        b.record_range(10, 1, iv(&[1; 30], Some(&[2; 30])));
        b.record_table_name("", "t");
        a.merge(&b);
        assert!(!a.is_empty());
        assert_eq!(a, b.snapshot());
        let small = b.snapshot();
        assert!(small.heap_bytes() < 400, "{}", small.heap_bytes());
    }
}
