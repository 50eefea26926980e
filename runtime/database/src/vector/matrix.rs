//! [`VectorMatrix`]: the vectors of one vector index in memory, normalised, one row per
//! indexed document, and the exact top-k search over them by cosine similarity.
//!
//! Invariants: `data` holds `rows() * dims` numbers, row `r` belonging to `ids[r]` with its
//! filter values in `filters[r]`; `row_of` maps every id to its row; each stored vector has
//! unit length (or is all zeros when the document's vector was all zeros), so a dot product
//! with a unit query vector is the cosine similarity.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use emvex_value::{Value, compare_maybe};

/// Rows scanned per thread below which a search stays on the calling thread.
const ROWS_PER_THREAD: usize = 4096;
/// Threads a large scan is split over (the search is bound by memory bandwidth, which one
/// core does not saturate).
const SCAN_THREADS: usize = 2;

/// One match: the document's internal id and its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoredId {
    pub internal_id: [u8; 16],
    pub score: f32,
}

/// A filter of a search: a document matches when, for any condition, the value of filter
/// field `field` (a position in the index's `filterFields`) equals `value` (`None` =
/// undefined). No condition matches everything.
#[derive(Debug, Clone, Default)]
pub struct RowFilter {
    pub conditions: Vec<(usize, Option<Value>)>,
}

impl RowFilter {
    fn matches(&self, values: &[Option<Value>]) -> bool {
        self.conditions.is_empty()
            || self.conditions.iter().any(|(field, value)| {
                compare_maybe(values.get(*field).and_then(Option::as_ref), value.as_ref()) == Ordering::Equal
            })
    }
}

/// The indexed vectors of one index.
pub struct VectorMatrix {
    dims: usize,
    ids: Vec<[u8; 16]>,
    data: Vec<f32>,
    filters: Vec<Box<[Option<Value>]>>,
    row_of: HashMap<[u8; 16], usize>,
}

/// Scales `v` to unit length in place (an all-zero vector stays zero).
pub fn normalize(v: &mut [f32]) {
    let norm = dot(v, v).sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Dot product, written over fixed-width lanes so the compiler vectorises it.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 16;
    let mut acc = [0f32; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = a_chunks.remainder().iter().zip(b_chunks.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// A heap entry ordered so that the heap's top is the worst kept match (lowest score, then
/// highest id): the one a better row replaces.
struct Kept(f32, [u8; 16]);

impl PartialEq for Kept {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Kept {}

impl Ord for Kept {
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0).then_with(|| self.1.cmp(&other.1))
    }
}

impl PartialOrd for Kept {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl VectorMatrix {
    pub fn new(dims: usize) -> VectorMatrix {
        VectorMatrix { dims, ids: Vec::new(), data: Vec::new(), filters: Vec::new(), row_of: HashMap::new() }
    }

    pub fn rows(&self) -> usize {
        self.ids.len()
    }

    /// Adds or replaces the row of `id`. `vector` must have `dims` numbers and unit length.
    pub fn upsert(&mut self, id: [u8; 16], vector: &[f32], filters: Box<[Option<Value>]>) {
        debug_assert_eq!(vector.len(), self.dims);
        match self.row_of.get(&id) {
            Some(&row) => {
                self.data[row * self.dims..(row + 1) * self.dims].copy_from_slice(vector);
                self.filters[row] = filters;
            }
            None => {
                self.row_of.insert(id, self.ids.len());
                self.ids.push(id);
                self.data.extend_from_slice(vector);
                self.filters.push(filters);
            }
        }
    }

    /// Removes the row of `id`, if any (the last row moves into its place).
    pub fn remove(&mut self, id: &[u8; 16]) {
        let Some(row) = self.row_of.remove(id) else { return };
        let last = self.ids.len() - 1;
        if row != last {
            let moved = self.ids[last];
            self.ids.swap(row, last);
            self.filters.swap(row, last);
            self.data.copy_within(last * self.dims..(last + 1) * self.dims, row * self.dims);
            self.row_of.insert(moved, row);
        }
        self.ids.pop();
        self.filters.pop();
        self.data.truncate(last * self.dims);
    }

    /// The `limit` rows most similar to the unit vector `query` among those `filter` accepts,
    /// best first (ties: lower id first).
    pub fn top_k(&self, query: &[f32], limit: usize, filter: &RowFilter) -> Vec<ScoredId> {
        debug_assert_eq!(query.len(), self.dims);
        let rows = self.rows();
        let threads = (rows / ROWS_PER_THREAD).clamp(1, SCAN_THREADS);
        let mut kept: Vec<Kept> = if threads == 1 {
            self.scan(query, limit, filter, 0..rows)
        } else {
            let per_thread = rows.div_ceil(threads);
            std::thread::scope(|scope| {
                let parts: Vec<_> = (0..threads)
                    .map(|t| {
                        let range = t * per_thread..((t + 1) * per_thread).min(rows);
                        scope.spawn(move || self.scan(query, limit, filter, range))
                    })
                    .collect();
                parts.into_iter().flat_map(|p| p.join().expect("a vector scan thread does not panic")).collect()
            })
        };
        kept.sort();
        kept.truncate(limit);
        kept.into_iter().map(|Kept(score, internal_id)| ScoredId { internal_id, score }).collect()
    }

    fn scan(&self, query: &[f32], limit: usize, filter: &RowFilter, rows: std::ops::Range<usize>) -> Vec<Kept> {
        let mut heap: BinaryHeap<Kept> = BinaryHeap::with_capacity(limit + 1);
        if limit == 0 {
            return Vec::new();
        }
        for row in rows {
            if !filter.matches(&self.filters[row]) {
                continue;
            }
            let score = dot(query, &self.data[row * self.dims..(row + 1) * self.dims]);
            let candidate = Kept(score, self.ids[row]);
            if heap.len() < limit {
                heap.push(candidate);
            } else if heap.peek().is_some_and(|worst| candidate < *worst) {
                heap.pop();
                heap.push(candidate);
            }
        }
        heap.into_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> [u8; 16] {
        [n; 16]
    }

    fn unit(v: &[f32]) -> Vec<f32> {
        let mut v = v.to_vec();
        normalize(&mut v);
        v
    }

    fn matrix(rows: &[(u8, [f32; 2], &str)]) -> VectorMatrix {
        let mut m = VectorMatrix::new(2);
        for (n, v, tag) in rows {
            m.upsert(id(*n), &unit(v), vec![Some(Value::String(tag.to_string()))].into_boxed_slice());
        }
        m
    }

    #[test]
    fn ranks_by_cosine_similarity_with_ties_by_id() {
        let m = matrix(&[(1, [1.0, 0.0], "a"), (2, [0.0, 1.0], "b"), (3, [2.0, 2.0], "a"), (4, [5.0, 0.0], "b")]);
        let found = m.top_k(&unit(&[1.0, 0.0]), 3, &RowFilter::default());
        let ids: Vec<u8> = found.iter().map(|s| s.internal_id[0]).collect();
        assert_eq!(ids, [1, 4, 3], "equal scores (1 and 4 point the same way) by id");
        assert!((found[0].score - 1.0).abs() < 1e-6);
        assert!((found[2].score - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        assert_eq!(m.top_k(&unit(&[1.0, 0.0]), 0, &RowFilter::default()), []);
    }

    #[test]
    fn filters_are_a_disjunction_of_equalities() {
        let m = matrix(&[(1, [1.0, 0.0], "a"), (2, [0.0, 1.0], "b"), (3, [2.0, 2.0], "c")]);
        let only = |tags: &[&str]| RowFilter {
            conditions: tags.iter().map(|t| (0, Some(Value::String(t.to_string())))).collect(),
        };
        let ids = |f: RowFilter| -> Vec<u8> {
            m.top_k(&unit(&[1.0, 0.0]), 10, &f).iter().map(|s| s.internal_id[0]).collect()
        };
        assert_eq!(ids(only(&["b"])), [2]);
        assert_eq!(ids(only(&["b", "c"])), [3, 2]);
        assert_eq!(ids(only(&["z"])), Vec::<u8>::new());
        assert_eq!(ids(RowFilter { conditions: vec![(0, None)] }), Vec::<u8>::new(), "undefined matches no tag");
    }

    #[test]
    fn upsert_and_remove_keep_rows_consistent() {
        let mut m = matrix(&[(1, [1.0, 0.0], "a"), (2, [0.0, 1.0], "b"), (3, [1.0, 1.0], "c")]);
        m.remove(&id(1));
        m.remove(&id(9));
        assert_eq!(m.rows(), 2);
        m.upsert(id(2), &unit(&[1.0, 0.0]), vec![None].into_boxed_slice());
        let found = m.top_k(&unit(&[1.0, 0.0]), 5, &RowFilter::default());
        assert_eq!(found.iter().map(|s| s.internal_id[0]).collect::<Vec<_>>(), [2, 3]);
        assert!((found[0].score - 1.0).abs() < 1e-6, "row 2 was replaced in place");
    }

    #[test]
    fn a_split_scan_finds_what_one_thread_finds() {
        let mut m = VectorMatrix::new(3);
        let mut seed = 7u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        let rows = ROWS_PER_THREAD * 3;
        for r in 0..rows {
            let mut key = [0u8; 16];
            key[..8].copy_from_slice(&(r as u64).to_be_bytes());
            m.upsert(key, &unit(&[next(), next(), next()]), vec![].into_boxed_slice());
        }
        let q = unit(&[0.3, -0.2, 0.9]);
        let split = m.top_k(&q, 20, &RowFilter::default());
        let single: Vec<ScoredId> = {
            let mut kept = m.scan(&q, 20, &RowFilter::default(), 0..rows);
            kept.sort();
            kept.into_iter().map(|Kept(score, internal_id)| ScoredId { internal_id, score }).collect()
        };
        assert_eq!(split, single);
        assert!(split.windows(2).all(|w| w[0].score >= w[1].score));
    }
}
