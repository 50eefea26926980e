//! Text search indexes (`searchIndex` in `schema.ts`) over SQLite FTS5: Convex's tokenizer,
//! the per-index FTS5 table and its upkeep on every write, the parsed search part of a
//! query, and the FTS5 match expression it compiles to.
//!
//! Layout (beside the one in [`crate::storage`]):
//! - `emvex_search_indexes(index_id, tid, name, search_field, filter_fields)`: one row per
//!   search index (`filter_fields` is a JSON array of field paths);
//! - `emvex_search_fts_<index_id>`: an FTS5 table (`tokenize='ascii'`) with the column
//!   `text` = the document's search field as Convex's tokenizer cuts it, tokens joined by
//!   spaces (so FTS5 only splits on spaces and BM25 sees exactly Convex's terms), the
//!   document's internal id `iid` and one column `f<i>` per filter field holding
//!   `sort_key::encode_tuple` of its value (missing = undefined), all `UNINDEXED`;
//! - `emvex_search_rows(index_id, internal_id, row)`: the FTS5 rowid of each indexed document.
//!
//! Invariants: a document is in a search index iff its search field is a string with at
//! least one token (a document without terms can never match a search); the FTS5 row of a
//! document always reflects its current body (kept in the same SQLite transaction as the
//! document, so a transaction's searches see its own writes); a new index is backfilled and a
//! removed one dropped by schema application.
//!
//! A query matches documents with any of its terms (at most [`MAX_QUERY_TERMS`]): the last
//! one whole or as a prefix of at most [`MAX_PREFIX_MATCHES_PER_QUERY_TERM`] indexed terms
//! (the first in lexicographic order, found through an `fts5vocab` table
//! `emvex_search_vocab_<index_id>`). FTS5 picks the 1024 best candidates by its own BM25;
//! they are then scored as Convex scores them (tantivy's BM25, whose IDF differs from
//! FTS5's) from the index's statistics: `emvex_meta` keys `search_docs:<index_id>` and
//! `search_tokens:<index_id>` (documents and tokens in the index, kept by every insert and
//! removal) and the document frequencies of the `fts5vocab` table.
//!
//! Tokenizer (Convex's `convex_en`: tantivy's `SimpleTokenizer`, `RemoveLongFilter(32)`,
//! `LowerCaser`): a token is a maximal run of `char::is_alphanumeric` characters; a token of
//! 32 bytes or more is dropped; tokens are lowercased. No stemming, no diacritic folding.

use emvex_value::id::DocumentId;
use emvex_value::{Object, Value, sort_key};
use rusqlite::{Connection, OptionalExtension, params};

use crate::DbError;
use crate::document::{DocEnv, split_path};

/// Most terms of a search query; later terms are ignored (Convex's `MAX_QUERY_TERMS`).
pub const MAX_QUERY_TERMS: usize = 16;
/// A token of this many bytes or more is dropped (Convex's `MAX_TEXT_TERM_LENGTH`).
pub const MAX_TEXT_TERM_LENGTH: usize = 32;
/// Most filter conditions (`eq`) of a search query (Convex's `MAX_FILTER_CONDITIONS`).
pub const MAX_FILTER_CONDITIONS: usize = 8;
/// Most documents a search query can read (Convex's `MAX_CANDIDATE_REVISIONS`).
pub const MAX_CANDIDATE_REVISIONS: usize = 1024;
/// Most indexed terms the last (prefix) term of a query expands to (Convex's
/// `MAX_PREFIX_MATCHES_PER_QUERY_TERM`).
pub const MAX_PREFIX_MATCHES_PER_QUERY_TERM: usize = 16;
/// Most filter fields of one search index (Convex's limit).
pub const MAX_FILTER_FIELDS: usize = 16;

/// Convex's text tokenizer (see the module docs).
pub fn tokenize(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty() && t.len() < MAX_TEXT_TERM_LENGTH)
        .map(str::to_lowercase)
        .collect()
}

/// A search index of a table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SearchIndexInfo {
    pub index_id: i64,
    pub name: String,
    pub search_field: String,
    pub filter_fields: Vec<String>,
    search_path: Vec<String>,
    filter_paths: Vec<Vec<String>>,
}

/// What a document contributes to a search index: its tokens (space-joined) and the keys
/// of its filter field values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SearchEntry {
    pub text: String,
    pub filters: Vec<Vec<u8>>,
}

impl SearchEntry {
    fn token_count(&self) -> i64 {
        self.text.split(' ').count() as i64
    }
}

fn fts_table(index_id: i64) -> String {
    format!("emvex_search_fts_{index_id}")
}

/// The `fts5vocab` table over an index's FTS5 table (its terms, for prefix expansion).
fn vocab_table(index_id: i64) -> String {
    format!("emvex_search_vocab_{index_id}")
}

impl SearchIndexInfo {
    pub fn new(index_id: i64, name: String, search_field: String, filter_fields: Vec<String>) -> SearchIndexInfo {
        let search_path = split_path(&search_field);
        let filter_paths = filter_fields.iter().map(|f| split_path(f)).collect();
        SearchIndexInfo { index_id, name, search_field, filter_fields, search_path, filter_paths }
    }

    /// The entry of a document, `None` when it has no terms (not indexed).
    pub fn entry(&self, env: &DocEnv<'_>) -> Option<SearchEntry> {
        let Some(Value::String(s)) = env.get(&self.search_path) else {
            return None;
        };
        let tokens = tokenize(s);
        if tokens.is_empty() {
            return None;
        }
        let filters = self.filter_paths.iter().map(|p| sort_key::encode_tuple(&[env.get(p)])).collect();
        Some(SearchEntry { text: tokens.join(" "), filters })
    }

    /// The FTS5 table of this index.
    pub fn fts_table(&self) -> String {
        fts_table(self.index_id)
    }

    /// Creates the catalog row and the FTS5 table of a new search index of table `tid`.
    pub fn create(
        conn: &Connection,
        tid: i64,
        name: &str,
        search_field: &str,
        filter_fields: &[String],
    ) -> Result<SearchIndexInfo, DbError> {
        conn.prepare_cached(
            "INSERT INTO emvex_search_indexes (tid, name, search_field, filter_fields) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![tid, name, search_field, serde_json::to_string(filter_fields).expect("json")])?;
        let info = SearchIndexInfo::new(
            conn.last_insert_rowid(),
            name.to_string(),
            search_field.to_string(),
            filter_fields.to_vec(),
        );
        let mut columns = vec!["text".to_string(), "iid UNINDEXED".to_string()];
        columns.extend((0..filter_fields.len()).map(|i| format!("f{i} UNINDEXED")));
        conn.execute_batch(&format!(
            "CREATE VIRTUAL TABLE {} USING fts5({}, tokenize = 'ascii')",
            info.fts_table(),
            columns.join(", ")
        ))?;
        conn.execute_batch(&format!(
            "CREATE VIRTUAL TABLE {} USING fts5vocab({}, 'row')",
            vocab_table(info.index_id),
            info.fts_table()
        ))?;
        Ok(info)
    }

    /// Drops the index, its FTS5 table and its rows.
    pub fn drop_index(&self, conn: &Connection) -> Result<(), DbError> {
        conn.execute_batch(&format!(
            "DROP TABLE IF EXISTS {}; DROP TABLE IF EXISTS {}",
            vocab_table(self.index_id),
            self.fts_table()
        ))?;
        conn.prepare_cached("DELETE FROM emvex_search_rows WHERE index_id = ?1")?.execute(params![self.index_id])?;
        conn.prepare_cached("DELETE FROM emvex_search_indexes WHERE index_id = ?1")?.execute(params![self.index_id])?;
        conn.prepare_cached("DELETE FROM emvex_meta WHERE key IN ('search_docs:' || ?1, 'search_tokens:' || ?1)")?
            .execute(params![self.index_id])?;
        Ok(())
    }

    /// Adds to the index's BM25 statistics (documents, tokens), kept in `emvex_meta`.
    fn add_stats(&self, conn: &Connection, docs: i64, tokens: i64) -> Result<(), DbError> {
        let mut stmt = conn.prepare_cached(
            "INSERT INTO emvex_meta (key, value) VALUES (?1 || ?2, ?3) \
             ON CONFLICT (key) DO UPDATE SET value = value + ?3",
        )?;
        stmt.execute(params!["search_docs:", self.index_id, docs])?;
        stmt.execute(params!["search_tokens:", self.index_id, tokens])?;
        Ok(())
    }

    /// The index's BM25 statistics: (documents, tokens).
    pub fn stats(&self, conn: &Connection) -> Result<(u64, u64), DbError> {
        let mut stmt = conn.prepare_cached("SELECT value FROM emvex_meta WHERE key = ?1 || ?2")?;
        let mut get = |prefix: &str| -> Result<u64, DbError> {
            let v: Option<i64> = stmt.query_row(params![prefix, self.index_id], |r| r.get(0)).optional()?;
            Ok(v.unwrap_or(0).max(0) as u64)
        };
        Ok((get("search_docs:")?, get("search_tokens:")?))
    }

    /// The number of indexed documents containing `term`.
    pub fn doc_freq(&self, conn: &Connection, term: &str) -> Result<u64, DbError> {
        let n: Option<i64> = conn
            .prepare_cached(&format!("SELECT doc FROM {} WHERE term = ?1", vocab_table(self.index_id)))?
            .query_row(params![term], |r| r.get(0))
            .optional()?;
        Ok(n.unwrap_or(0).max(0) as u64)
    }

    /// Adds document `internal_id` with `entry` to the index.
    pub fn insert(&self, conn: &Connection, internal_id: &[u8; 16], entry: &SearchEntry) -> Result<(), DbError> {
        let placeholders: String = (0..self.filter_fields.len()).map(|i| format!(", ?{}", i + 3)).collect();
        let sql = format!(
            "INSERT INTO {} (text, iid{}) VALUES (?1, ?2{placeholders})",
            self.fts_table(),
            (0..self.filter_fields.len()).map(|i| format!(", f{i}")).collect::<String>()
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let iid: &[u8] = &internal_id[..];
        let mut values: Vec<&dyn rusqlite::ToSql> = vec![&entry.text, &iid];
        for f in &entry.filters {
            values.push(f);
        }
        stmt.execute(values.as_slice())?;
        let row = conn.last_insert_rowid();
        conn.prepare_cached("INSERT INTO emvex_search_rows (index_id, internal_id, row) VALUES (?1, ?2, ?3)")?
            .execute(params![self.index_id, &internal_id[..], row])?;
        self.add_stats(conn, 1, entry.token_count())
    }

    /// Removes document `internal_id`, indexed as `entry`, from the index.
    pub fn remove(&self, conn: &Connection, internal_id: &[u8; 16], entry: &SearchEntry) -> Result<(), DbError> {
        let row: Option<i64> = conn
            .prepare_cached("SELECT row FROM emvex_search_rows WHERE index_id = ?1 AND internal_id = ?2")?
            .query_row(params![self.index_id, &internal_id[..]], |r| r.get(0))
            .optional()?;
        if let Some(row) = row {
            conn.prepare_cached(&format!("DELETE FROM {} WHERE rowid = ?1", self.fts_table()))?
                .execute(params![row])?;
            conn.prepare_cached("DELETE FROM emvex_search_rows WHERE index_id = ?1 AND internal_id = ?2")?
                .execute(params![self.index_id, &internal_id[..]])?;
            self.add_stats(conn, -1, -entry.token_count())?;
        }
        Ok(())
    }

    /// Keeps the index in step with a write of document `internal_id` whose entry goes from
    /// `old` to `new` (`None` = not indexed, e.g. an insert's old or a delete's new).
    pub fn update(
        &self,
        conn: &Connection,
        internal_id: &[u8; 16],
        old: Option<&SearchEntry>,
        new: Option<&SearchEntry>,
    ) -> Result<(), DbError> {
        if old == new {
            return Ok(());
        }
        if let Some(old) = old {
            self.remove(conn, internal_id, old)?;
        }
        if let Some(new) = new {
            self.insert(conn, internal_id, new)?;
        }
        Ok(())
    }
}

/// The entries of a document in each of `indexes` (same order).
pub(crate) fn document_entries(
    indexes: &[SearchIndexInfo],
    id: &DocumentId,
    creation_time: f64,
    body: &Object,
) -> Vec<Option<SearchEntry>> {
    if indexes.is_empty() {
        return Vec::new();
    }
    let id_value = Value::String(id.encode());
    let ct_value = Value::Float64(creation_time);
    let env = DocEnv { body, id: &id_value, creation_time: &ct_value };
    indexes.iter().map(|ix| ix.entry(&env)).collect()
}

/// Keeps every search index of a table in step with a write of document `id` (entries as
/// returned by [`document_entries`]; an empty list = no version).
pub(crate) fn update_all(
    conn: &Connection,
    indexes: &[SearchIndexInfo],
    id: &DocumentId,
    old: &[Option<SearchEntry>],
    new: &[Option<SearchEntry>],
) -> Result<(), DbError> {
    for (i, ix) in indexes.iter().enumerate() {
        let old = old.get(i).and_then(Option::as_ref);
        let new = new.get(i).and_then(Option::as_ref);
        ix.update(conn, &id.internal_id, old, new)?;
    }
    Ok(())
}

/// The search part of a query (`withSearchIndex(name, q => q.search(field, text).eq(..))`),
/// as sent by the `convex` package, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum SearchFilter {
    /// `q.search(field, text)`.
    Search(String, String),
    /// `.eq(field, value)` (`None` = undefined).
    Eq(String, Option<Value>),
}

/// A search query checked against its index: the FTS5 match expression and the filter
/// conditions `(column index, value key)`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CompiledSearch {
    /// The query's terms but the last, matched whole.
    pub terms: Vec<String>,
    /// The last term, matched whole or as a prefix (`None` when the text has no terms).
    pub prefix: Option<String>,
    pub filters: Vec<(usize, Vec<u8>)>,
}

fn search_error(code: &'static str, message: String) -> DbError {
    DbError::new(code, message)
}

/// Checks `filters` against `index` (Convex's rules and errors) and compiles them.
pub(crate) fn compile(
    printable_index: &str,
    index: &SearchIndexInfo,
    filters: &[SearchFilter],
) -> Result<CompiledSearch, DbError> {
    let mut text: Option<&str> = None;
    let mut conditions = Vec::new();
    for f in filters {
        match f {
            SearchFilter::Search(field, t) => {
                if *field != index.search_field {
                    return Err(search_error(
                        "IncorrectSearchField",
                        format!(
                            "Search query against {printable_index} contains a search filter against \"{field}\", \
                             which doesn't match the indexed `searchField` \"{}\".",
                            index.search_field
                        ),
                    ));
                }
                if text.is_some() {
                    return Err(search_error(
                        "DuplicateSearchFiltersError",
                        format!(
                            "Search query against {printable_index} contains multiple search filters against \
                             \"{field}\". Only one is allowed."
                        ),
                    ));
                }
                text = Some(t);
            }
            SearchFilter::Eq(field, value) => {
                let Some(column) = index.filter_fields.iter().position(|f| f == field) else {
                    return Err(search_error(
                        "IncorrectFilterFieldError",
                        format!(
                            "Search query against {printable_index} contains an equality filter on \"{field}\" but \
                             that field isn't indexed for filtering in `filterFields`."
                        ),
                    ));
                };
                conditions.push((column, sort_key::encode_tuple(&[value.as_ref()])));
            }
        }
    }
    let Some(text) = text else {
        return Err(search_error(
            "MissingSearchFilterError",
            format!(
                "Search query against {printable_index} does not contain any search filters. You must include a \
                 search filter like `q.search(\"{}\", searchText)`.",
                index.search_field
            ),
        ));
    };
    if conditions.len() > MAX_FILTER_CONDITIONS {
        return Err(search_error(
            "TooManyFilterConditionsInSearchQueryError",
            format!(
                "Search query against {printable_index} has too many filter conditions. Max: \
                 {MAX_FILTER_CONDITIONS} Actual: {}",
                conditions.len()
            ),
        ));
    }
    let (terms, prefix) = query_terms(text);
    Ok(CompiledSearch { terms, prefix, filters: conditions })
}

/// The terms of a search text: its first [`MAX_QUERY_TERMS`] tokens, split into the ones
/// matched whole and the last one (also matched as a prefix).
pub(crate) fn query_terms(text: &str) -> (Vec<String>, Option<String>) {
    let mut tokens = tokenize(text);
    tokens.truncate(MAX_QUERY_TERMS);
    let prefix = tokens.pop();
    (tokens, prefix)
}

/// The FTS5 match expression that matches any of `terms` whole. `None` when there are none.
pub(crate) fn match_expression(terms: &[String]) -> Option<String> {
    let mut unique: Vec<&String> = Vec::new();
    for t in terms {
        if !unique.contains(&t) {
            unique.push(t);
        }
    }
    // Tokens are runs of alphanumeric characters: quoting them needs no escaping.
    let quoted: Vec<String> = unique.iter().map(|t| format!("\"{t}\"")).collect();
    (!quoted.is_empty()).then(|| quoted.join(" OR "))
}

impl SearchIndexInfo {
    /// The indexed terms that start with `prefix` (the term itself included), at most
    /// [`MAX_PREFIX_MATCHES_PER_QUERY_TERM`], in lexicographic order, as Convex expands the
    /// last term of a query.
    pub fn expand_prefix(&self, conn: &Connection, prefix: &str) -> Result<Vec<String>, DbError> {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT term FROM {} WHERE term >= ?1 ORDER BY term",
            vocab_table(self.index_id)
        ))?;
        let mut rows = stmt.query(params![prefix])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let term: String = r.get(0)?;
            if !term.starts_with(prefix) || out.len() == MAX_PREFIX_MATCHES_PER_QUERY_TERM {
                break;
            }
            out.push(term);
        }
        Ok(out)
    }
}

/// A candidate of a search, as read from storage (see [`crate::query::reads::Reads`]).
pub(crate) struct SearchCandidate {
    /// Its indexed tokens, space-separated.
    pub text: String,
    /// Its BM25 score (higher is better), set by [`score_candidates`].
    pub score: f32,
    pub internal_id: Vec<u8>,
    pub creation_time: f64,
    pub body: String,
}

/// The SQL of a search over `index` with `filters` conditions: `?1` the match expression,
/// `?2` the table id, `?3..` the filter keys; the [`MAX_CANDIDATE_REVISIONS`] best candidates
/// by score (documents are joined only to those).
pub(crate) fn candidates_sql(index: &SearchIndexInfo, filters: &[(usize, Vec<u8>)]) -> String {
    // FTS5's auxiliary functions need the table's own name (not an alias).
    let t = index.fts_table();
    let conditions: String =
        filters.iter().enumerate().map(|(i, (col, _))| format!(" AND {t}.f{col} = ?{}", i + 3)).collect();
    format!(
        "SELECT c.text, c.iid, d.creation_time, d.body FROM \
         (SELECT {t}.text AS text, {t}.iid AS iid FROM {t} WHERE {t}.text MATCH ?1{conditions} \
          ORDER BY bm25({t}) ASC LIMIT {MAX_CANDIDATE_REVISIONS}) c \
         CROSS JOIN emvex_documents d WHERE d.tid = ?2 AND d.internal_id = c.iid"
    )
}

/// BM25's `k1` and `b` (tantivy's, which Convex uses).
const BM25_K1: f32 = 1.2;
const BM25_B: f32 = 0.75;

/// Scores `candidates` for `terms` (the query's terms, the prefix expanded) as Convex does
/// (tantivy's BM25 over the index's statistics): the sum over the terms a document contains
/// of `idf · tf·(k1+1) / (tf + k1·(1 − b + b·len/avglen))`, `idf = ln(1 + (N − n + 0.5)/(n + 0.5))`.
pub(crate) fn score_candidates(
    conn: &Connection,
    index: &SearchIndexInfo,
    terms: &[String],
    candidates: &mut [SearchCandidate],
) -> Result<(), DbError> {
    if candidates.is_empty() {
        return Ok(());
    }
    let (docs, tokens) = index.stats(conn)?;
    let n_docs = docs.max(1) as f32;
    let avg_len = if docs == 0 { 1.0 } else { tokens as f32 / docs as f32 };
    let mut weights: Vec<(&str, f32)> = Vec::new();
    for t in terms {
        if weights.iter().any(|(w, _)| *w == t.as_str()) {
            continue;
        }
        let n = index.doc_freq(conn, t)? as f32;
        weights.push((t, (1.0 + (n_docs - n + 0.5) / (n + 0.5)).ln()));
    }
    for c in candidates.iter_mut() {
        let tokens: Vec<&str> = c.text.split(' ').collect();
        let len = tokens.len() as f32;
        let norm = BM25_K1 * (1.0 - BM25_B + BM25_B * len / avg_len);
        c.score = weights
            .iter()
            .map(|(term, idf)| {
                let tf = tokens.iter().filter(|t| *t == term).count() as f32;
                if tf == 0.0 { 0.0 } else { idf * tf * (BM25_K1 + 1.0) / (tf + norm) }
            })
            .sum();
    }
    Ok(())
}

/// Sorts candidates the way Convex orders search results: by score (an `f32`, so nearly
/// equal scores tie), then newest first, then by id; and returns each with its position key
/// (the cursor key of a search query: `(-score, -creation time, id)`).
pub(crate) fn order_candidates(mut candidates: Vec<SearchCandidate>) -> Vec<(Vec<u8>, SearchCandidate)> {
    let score = |c: &SearchCandidate| c.score;
    candidates.sort_by(|a, b| {
        score(b)
            .total_cmp(&score(a))
            .then(b.creation_time.total_cmp(&a.creation_time))
            .then(a.internal_id.cmp(&b.internal_id))
    });
    candidates
        .into_iter()
        .map(|c| {
            let key = sort_key::encode_tuple(&[
                Some(&Value::Float64(-(score(&c) as f64))),
                Some(&Value::Float64(-c.creation_time)),
                Some(&Value::Bytes(c.internal_id.clone())),
            ]);
            (key, c)
        })
        .collect()
}

/// Loads the search indexes of table `tid`.
pub(crate) fn load_indexes(conn: &Connection, tid: i64) -> Result<Vec<SearchIndexInfo>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT index_id, name, search_field, filter_fields FROM emvex_search_indexes WHERE tid = ?1 ORDER BY index_id",
    )?;
    let rows = stmt.query_map(params![tid], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, name, field, filters) = row?;
        let filters: Vec<String> = serde_json::from_str(&filters)
            .map_err(|e| DbError::storage(format!("corrupt search index filter fields in storage: {e}")))?;
        out.push(SearchIndexInfo::new(id, name, field, filters));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
