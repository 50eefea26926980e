//! The two reads that are not streams: `get` by id (a point read, §3.3 `1.0/get`) and
//! `count` (§3.3 `1.0/count`). Both count as one database query and go through
//! [`super::reads::Reads`].

use emvex_value::id::DocumentId;

use crate::document::{Document, document_size};
use crate::{DbError, Transaction};

impl Transaction {
    /// Reads a document by id in `component`'s namespace; `None` if the id's table is not a
    /// table of this component or the document does not exist (§3.3 `1.0/get`).
    pub fn get(&mut self, component: &str, id: &DocumentId) -> Result<Option<Document>, DbError> {
        self.metrics.count_query()?;
        let Some(table) = self.catalog.by_number(self.conn(), component, id.table_number)? else {
            self.reads.note_missing_table_number(component, id.table_number);
            return Ok(None);
        };
        self.reads.note_table(component, &table.name);
        let (conn, reads) = self.reader();
        let doc = reads.document(conn, &table, id)?;
        if let Some(d) = &doc {
            self.metrics.count_read(document_size(&d.body, id.encode().len()))?;
        }
        Ok(doc)
    }

    /// Number of documents in the table (0 if it does not exist), including this
    /// transaction's writes.
    pub fn count(&mut self, component: &str, table: &str) -> Result<u64, DbError> {
        self.metrics.count_query()?;
        self.reads.note_table(component, table);
        let Some(info) = self.catalog.load(self.conn(), component, table)? else {
            self.reads.note_missing_table(component, table);
            return Ok(0);
        };
        let (conn, reads) = self.reader();
        reads.document_count(conn, &info)
    }
}
