//! [`WriteSet`]: what one mutation transaction changed, in the terms read sets are written
//! in (spec `sync-protocol.md` §5.1 "write log").
//!
//! For every written document it holds the index key of its old and of its new version in
//! every index of its table (insert: new keys; delete: old keys; patch/replace: both, even a
//! key that did not change, since the document under it did), the document point
//! (table id + internal id), and table-level facts: the table was written at all, its
//! membership changed (insert/delete, what `count` depends on), or everything about it may
//! have changed (`all`: table creation by a schema, index creation, backfill or removal).
//!
//! Invariants: a write set only ever grows while its transaction runs; rolling back to a
//! savepoint keeps what was recorded before (conservative: a read set may be invalidated by
//! a write that was undone, never missed). After [`WriteSet::finish`] its lists are sorted
//! and deduplicated, which [`crate::ReadSet::overlaps`] and the subscription index rely on.

use crate::catalog::TableInfo;

/// A table a transaction wrote, with what kind of change it made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableWrite {
    pub tid: i64,
    pub component: String,
    pub name: String,
    pub number: u32,
    /// A document was inserted or deleted (the table's count may have changed).
    pub membership_changed: bool,
    /// Anything about the table may have changed (schema, indexes, creation by a schema):
    /// every read of it is invalidated.
    pub all: bool,
}

/// The write set of one committed (or committing) mutation transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteSet {
    /// `(index_id, key)` of every old and new index entry of every written document.
    pub(crate) index_keys: Vec<(i64, Vec<u8>)>,
    /// `(tid, internal_id)` of every written document.
    pub(crate) documents: Vec<(i64, [u8; 16])>,
    /// Every table written; one entry per (tid, component, name).
    pub(crate) tables: Vec<TableWrite>,
}

impl WriteSet {
    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.index_keys.is_empty() && self.documents.is_empty() && self.tables.is_empty()
    }

    /// The tables `(component, table)` written, system tables included, sorted.
    pub fn tables(&self) -> Vec<(String, String)> {
        let mut v: Vec<_> = self.tables.iter().map(|t| (t.component.clone(), t.name.clone())).collect();
        v.sort();
        v.dedup();
        v
    }

    /// Approximate heap memory held, in bytes (for the commit log's memory budget).
    pub fn heap_bytes(&self) -> usize {
        let keys: usize = self.index_keys.iter().map(|(_, k)| k.capacity()).sum();
        let tables: usize = self.tables.iter().map(|t| t.component.capacity() + t.name.capacity()).sum();
        keys + tables
            + self.index_keys.capacity() * std::mem::size_of::<(i64, Vec<u8>)>()
            + self.documents.capacity() * std::mem::size_of::<(i64, [u8; 16])>()
            + self.tables.capacity() * std::mem::size_of::<TableWrite>()
    }

    /// The entry of `table`, created if missing.
    fn table_entry(&mut self, component: &str, table: &TableInfo) -> &mut TableWrite {
        let found =
            self.tables.iter().rposition(|t| t.tid == table.tid && t.name == table.name && t.component == component);
        let i = match found {
            Some(i) => i,
            None => {
                self.tables.push(TableWrite {
                    tid: table.tid,
                    component: component.to_string(),
                    name: table.name.clone(),
                    number: table.number,
                    membership_changed: false,
                    all: false,
                });
                self.tables.len() - 1
            }
        };
        &mut self.tables[i]
    }

    /// Records a write of document `internal_id` of `table`: its old and new index keys
    /// (one list per version, in the order of `table.indexes`; empty for a missing version)
    /// and whether the table's membership changed (insert or delete).
    pub(crate) fn record_document(
        &mut self,
        component: &str,
        table: &TableInfo,
        internal_id: [u8; 16],
        old_keys: &[Vec<u8>],
        new_keys: &[Vec<u8>],
        membership_changed: bool,
    ) {
        for keys in [old_keys, new_keys] {
            for (ix, key) in table.indexes.iter().zip(keys) {
                self.index_keys.push((ix.index_id, key.clone()));
            }
        }
        self.documents.push((table.tid, internal_id));
        let entry = self.table_entry(component, table);
        entry.membership_changed |= membership_changed;
    }

    /// Records that anything about `table` may have changed (schema application, index
    /// creation or backfill, table creation by a schema).
    pub(crate) fn record_table_changed(&mut self, component: &str, table: &TableInfo) {
        self.table_entry(component, table).all = true;
    }

    /// Sorts and deduplicates (before the write set is published or compared).
    pub(crate) fn finish(&mut self) {
        self.index_keys.sort_unstable();
        self.index_keys.dedup();
        self.documents.sort_unstable();
        self.documents.dedup();
        self.tables.sort_by_key(|t| t.tid);
        self.index_keys.shrink_to_fit();
        self.documents.shrink_to_fit();
        self.tables.shrink_to_fit();
    }

    /// The table facts of `tid` (finished write sets only).
    pub(crate) fn table(&self, tid: i64) -> impl Iterator<Item = &TableWrite> {
        let start = self.tables.partition_point(|t| t.tid < tid);
        self.tables[start..].iter().take_while(move |t| t.tid == tid)
    }

    /// Whether some written key of index `index_id` lies in `[lo, hi)` (`hi = None`:
    /// unbounded) (finished write sets only).
    pub(crate) fn has_key_in(&self, index_id: i64, lo: &[u8], hi: Option<&[u8]>) -> bool {
        let start = self.index_keys.partition_point(|(i, k)| (*i, k.as_slice()) < (index_id, lo));
        match self.index_keys.get(start) {
            Some((i, k)) if *i == index_id => hi.is_none_or(|h| k.as_slice() < h),
            _ => false,
        }
    }

    /// Whether document `(tid, internal_id)` was written (finished write sets only).
    pub(crate) fn has_document(&self, tid: i64, internal_id: &[u8; 16]) -> bool {
        self.documents.binary_search(&(tid, *internal_id)).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::IndexInfo;

    fn table() -> TableInfo {
        TableInfo {
            tid: 3,
            name: "t".into(),
            number: 10001,
            indexes: vec![
                IndexInfo::new(7, "by_id".into(), vec!["_id".into()]),
                IndexInfo::new(8, "by_creation_time".into(), vec!["_creationTime".into(), "_id".into()]),
            ],
            search_indexes: vec![],
        }
    }

    #[test]
    fn records_keys_points_and_table_facts() {
        let t = table();
        let mut w = WriteSet::default();
        assert!(w.is_empty());
        w.record_document("", &t, [1; 16], &[], &[vec![5], vec![6]], true);
        w.record_document("", &t, [1; 16], &[vec![5], vec![6]], &[vec![5], vec![9]], false);
        w.finish();
        assert_eq!(w.index_keys, vec![(7, vec![5]), (8, vec![6]), (8, vec![9])]);
        assert_eq!(w.documents, vec![(3, [1; 16])]);
        assert_eq!(w.tables.len(), 1);
        assert!(w.tables[0].membership_changed && !w.tables[0].all);
        assert!(w.has_key_in(8, &[6], Some(&[7])));
        assert!(w.has_key_in(8, &[7], None));
        assert!(!w.has_key_in(8, &[7], Some(&[9])));
        assert!(!w.has_key_in(9, &[], None));
        assert!(w.has_document(3, &[1; 16]) && !w.has_document(3, &[2; 16]));
        assert_eq!(w.table(3).count(), 1);
        assert_eq!(w.table(4).count(), 0);
        assert_eq!(w.tables(), vec![(String::new(), "t".to_string())]);
        assert!(w.heap_bytes() > 0);
    }
}
