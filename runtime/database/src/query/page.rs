//! Pagination (§3.8): one page of a query, with cursors that stay valid across writes.
//!
//! Invariants: a page starts strictly after its start cursor's key and, with an end cursor,
//! ends exactly at it (so a page replays exactly with `endCursor`); a page stops early with
//! `SplitRequired` when its scan budget (`maximumRowsRead` / `maximumBytesRead`) is used up;
//! rows come through the same stream pipeline as `queryStream` (so through
//! [`super::reads::Reads`]).
//!
//! Journals (`sync-protocol.md` §6.2–6.3): the journal of an execution is the continue
//! cursor of its page. Given one (`Transaction::set_journal`), the execution's page without
//! `endCursor` uses the journal as its end cursor, so a re-run page keeps its range; a
//! journal is validated exactly like a cursor (`InvalidCursor` when it cannot be decoded or
//! belongs to another query). Only one page per execution: the executor rejects a second
//! `paginate()` with Convex's error.

use super::cursor::{self, Position};
use super::definition::{Order, Query};
use super::stream::{Budget, Pull};
use crate::limits::{MAX_BYTES_READ, MAX_DOCUMENTS_READ};
use crate::{DbError, Document, Transaction};

/// Maximum `pageSize` of one `paginate()` call.
pub const MAX_PAGE_SIZE: f64 = 32_000.0;

/// Arguments of `1.0/queryPage` (§3.8).
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub query: Query,
    pub cursor: Option<String>,
    pub end_cursor: Option<String>,
    pub page_size: f64,
    pub maximum_rows_read: Option<f64>,
    pub maximum_bytes_read: Option<f64>,
}

impl PageRequest {
    /// A request for `page_size` rows after `cursor`, with no end cursor and no read limits.
    pub fn new(query: Query, cursor: Option<String>, page_size: f64) -> PageRequest {
        PageRequest { query, cursor, end_cursor: None, page_size, maximum_rows_read: None, maximum_bytes_read: None }
    }
}

/// Result of `1.0/queryPage` (§3.8).
#[derive(Debug, Clone)]
pub struct PageResult {
    pub page: Vec<Document>,
    pub is_done: bool,
    pub continue_cursor: String,
    pub split_cursor: Option<String>,
    pub page_status: Option<String>,
}

impl Transaction {
    /// One page of a paginated query (§3.8).
    pub fn query_page(&mut self, component: &str, request: &PageRequest) -> Result<PageResult, DbError> {
        let bad = |m: String| DbError::new("InvalidPaginationArgument", m);
        let page_size = request.page_size;
        if request.end_cursor.is_none() {
            if page_size.is_nan() || page_size < 1.0 {
                return Err(bad("Must request at least 1 document while paginating".into()));
            }
            if page_size > MAX_PAGE_SIZE {
                return Err(bad(format!(
                    "Requested too many items ({page_size}) in a single page; the maximum is {MAX_PAGE_SIZE}."
                )));
            }
        }
        let limit_arg = |name: &str, v: Option<f64>| -> Result<u64, DbError> {
            match v {
                None => Ok(u64::MAX),
                Some(n) if n.is_nan() || n < 1.0 => Err(bad(format!("{name} must be at least 1, got {n}"))),
                Some(n) => Ok(n as u64),
            }
        };
        let max_rows = limit_arg("maximumRowsRead", request.maximum_rows_read)?;
        let max_bytes = limit_arg("maximumBytesRead", request.maximum_bytes_read)?;
        let mut st = self.compile(component, &request.query)?;
        let fp = cursor::fingerprint(&request.query, &st.index_fields);
        let start = match &request.cursor {
            None => None,
            Some(c) => Some(cursor::decode_cursor(c, &fp)?),
        };
        let journal_end = self.take_journal_end();
        let end = match request.end_cursor.as_ref().or(journal_end.as_ref()) {
            None => None,
            Some(c) => Some(cursor::decode_cursor(c, &fp)?),
        };
        match start {
            Some(Position::End) => {
                let continue_cursor = cursor::encode_cursor(&fp, &Position::End);
                self.set_journal_out(&continue_cursor);
                return Ok(PageResult {
                    page: Vec::new(),
                    is_done: true,
                    continue_cursor,
                    split_cursor: None,
                    page_status: None,
                });
            }
            Some(Position::After(k)) => st.last_key = Some(k),
            None => {}
        }
        if let Some(Position::After(k)) = &end {
            match st.scan.order {
                Order::Asc => {
                    let mut after = k.clone();
                    after.push(0);
                    if st.scan.interval.hi.as_ref().is_none_or(|h| after < *h) {
                        st.scan.interval.hi = Some(after);
                    }
                }
                Order::Desc => {
                    if *k > st.scan.interval.lo {
                        st.scan.interval.lo = k.clone();
                    }
                }
            }
        }
        let budget = if end.is_some() { None } else { Some(Budget { rows: max_rows, bytes: max_bytes }) };
        let mut page = Vec::new();
        let mut keys: Vec<Vec<u8>> = Vec::new();
        let mut page_status = None;
        let continue_pos = loop {
            if end.is_none() && page.len() as f64 >= page_size.floor() {
                break Position::After(keys.last().cloned().unwrap_or_default());
            }
            match self.pull(&mut st, budget)? {
                Pull::Row(k, doc) => {
                    keys.push(k);
                    page.push(doc);
                }
                Pull::Done => break end.clone().unwrap_or(Position::End),
                Pull::Budget => {
                    page_status = Some("SplitRequired".to_string());
                    break match &st.last_key {
                        Some(k) => Position::After(k.clone()),
                        None => start_position(&request.cursor, &fp)?,
                    };
                }
            }
        };
        if page_status.is_none()
            && (page.len() > 6144
                || st.scanned_rows > MAX_DOCUMENTS_READ * 3 / 4
                || st.scanned_bytes > MAX_BYTES_READ * 3 / 4)
        {
            page_status = Some("SplitRecommended".to_string());
        }
        let split_cursor = if page_status.is_some() && keys.len() >= 2 {
            Some(cursor::encode_cursor(&fp, &Position::After(keys[keys.len() / 2 - 1].clone())))
        } else {
            None
        };
        let continue_cursor = cursor::encode_cursor(&fp, &continue_pos);
        self.set_journal_out(&continue_cursor);
        Ok(PageResult { page, is_done: continue_pos == Position::End, continue_cursor, split_cursor, page_status })
    }
}

fn start_position(cursor: &Option<String>, fp: &[u8; 32]) -> Result<Position, DbError> {
    match cursor {
        Some(c) => cursor::decode_cursor(c, fp),
        None => Ok(Position::After(Vec::new())),
    }
}
