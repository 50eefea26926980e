//! [`IntervalTree`]: half-open byte-string intervals `[lo, hi)` (`hi = None`: unbounded),
//! each owned by a key `K`, with insertion, removal and stabbing queries ("which intervals
//! contain this point") in O(log n + k) expected time.
//!
//! A treap ordered by `(lo, owner)` (so one owner has at most one interval starting at a
//! given `lo`), each node augmented with the largest `hi` of its subtree; a stabbing query
//! skips every subtree whose largest `hi` is at or below the point and every right subtree
//! of a node starting after it. Priorities come from a private xorshift generator, so the
//! expected depth is O(log n) whatever the order of insertions. Safe Rust only (boxed
//! nodes; split and merge by value).

use std::cmp::Ordering;
use std::sync::Arc;

/// An interval end: a key, or unbounded (greater than every key).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Upper {
    Key(Arc<[u8]>),
    Unbounded,
}

impl Upper {
    /// Whether `point < self`.
    fn is_above(&self, point: &[u8]) -> bool {
        match self {
            Upper::Key(k) => point < &k[..],
            Upper::Unbounded => true,
        }
    }
}

#[derive(Debug)]
struct Node<K> {
    lo: Vec<u8>,
    owner: K,
    hi: Upper,
    priority: u64,
    /// The largest `hi` in this subtree.
    max_hi: Upper,
    left: Link<K>,
    right: Link<K>,
}

type Link<K> = Option<Box<Node<K>>>;

impl<K: Ord> Node<K> {
    fn cmp_key(&self, lo: &[u8], owner: &K) -> Ordering {
        (self.lo.as_slice(), &self.owner).cmp(&(lo, owner))
    }

    fn update(&mut self) {
        let mut max = self.hi.clone();
        for child in [&self.left, &self.right].into_iter().flatten() {
            if child.max_hi > max {
                max = child.max_hi.clone();
            }
        }
        self.max_hi = max;
    }
}

/// Splits `link` into the nodes ordered before `(lo, owner)` and the others.
fn split<K: Ord>(link: Link<K>, lo: &[u8], owner: &K) -> (Link<K>, Link<K>) {
    match link {
        None => (None, None),
        Some(mut n) => {
            if n.cmp_key(lo, owner) == Ordering::Less {
                let (a, b) = split(n.right.take(), lo, owner);
                n.right = a;
                n.update();
                (Some(n), b)
            } else {
                let (a, b) = split(n.left.take(), lo, owner);
                n.left = b;
                n.update();
                (a, Some(n))
            }
        }
    }
}

/// Joins two treaps, every node of `a` ordered before every node of `b`.
fn merge<K: Ord>(a: Link<K>, b: Link<K>) -> Link<K> {
    match (a, b) {
        (None, b) => b,
        (a, None) => a,
        (Some(mut a), Some(mut b)) => {
            if a.priority > b.priority {
                a.right = merge(a.right.take(), Some(b));
                a.update();
                Some(a)
            } else {
                b.left = merge(Some(a), b.left.take());
                b.update();
                Some(b)
            }
        }
    }
}

fn remove<K: Ord>(link: &mut Link<K>, lo: &[u8], owner: &K) -> bool {
    let Some(n) = link else {
        return false;
    };
    let removed = match n.cmp_key(lo, owner) {
        Ordering::Greater => remove(&mut n.left, lo, owner),
        Ordering::Less => remove(&mut n.right, lo, owner),
        Ordering::Equal => {
            let mut n = link.take().expect("checked above");
            *link = merge(n.left.take(), n.right.take());
            return true;
        }
    };
    if removed {
        n.update();
    }
    removed
}

fn stab<'a, K>(link: &'a Link<K>, point: &[u8], visited: &mut usize, out: &mut impl FnMut(&'a K)) {
    let Some(n) = link else {
        return;
    };
    *visited += 1;
    if !n.max_hi.is_above(point) {
        return;
    }
    stab(&n.left, point, visited, out);
    if n.lo.as_slice() <= point {
        if n.hi.is_above(point) {
            out(&n.owner);
        }
        stab(&n.right, point, visited, out);
    }
}

/// A set of intervals, each with its owner.
#[derive(Debug)]
pub(crate) struct IntervalTree<K> {
    root: Link<K>,
    len: usize,
    rng: u64,
}

impl<K> Default for IntervalTree<K> {
    fn default() -> Self {
        IntervalTree { root: None, len: 0, rng: 0x9E37_79B9_7F4A_7C15 }
    }
}

impl<K: Ord> IntervalTree<K> {
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn next_priority(&mut self) -> u64 {
        // xorshift64
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    /// Adds `[lo, hi)` owned by `owner`. An owner has at most one interval per `lo`: adding
    /// another replaces it.
    pub fn insert(&mut self, lo: Vec<u8>, hi: Option<Vec<u8>>, owner: K) {
        self.remove(&lo, &owner);
        let hi = match hi {
            Some(h) => Upper::Key(h.into()),
            None => Upper::Unbounded,
        };
        let node = Box::new(Node {
            priority: self.next_priority(),
            max_hi: hi.clone(),
            hi,
            lo,
            owner,
            left: None,
            right: None,
        });
        let (a, b) = split(self.root.take(), &node.lo, &node.owner);
        self.root = merge(merge(a, Some(node)), b);
        self.len += 1;
    }

    /// Removes the interval of `owner` starting at `lo`; returns whether there was one.
    pub fn remove(&mut self, lo: &[u8], owner: &K) -> bool {
        let removed = remove(&mut self.root, lo, owner);
        if removed {
            self.len -= 1;
        }
        removed
    }

    /// Calls `out` with the owner of every interval containing `point`; returns the number
    /// of nodes visited.
    pub fn stab<'a>(&'a self, point: &[u8], mut out: impl FnMut(&'a K)) -> usize {
        let mut visited = 0;
        stab(&self.root, point, &mut visited, &mut out);
        visited
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An interval `[lo, hi)` and its owner.
    type Owned = (Vec<u8>, Option<Vec<u8>>, u32);

    fn brute(intervals: &[Owned], p: &[u8]) -> Vec<u32> {
        let mut v: Vec<u32> = intervals
            .iter()
            .filter(|(lo, hi, _)| lo.as_slice() <= p && hi.as_ref().is_none_or(|h| p < h.as_slice()))
            .map(|(_, _, k)| *k)
            .collect();
        v.sort();
        v
    }

    #[test]
    fn stabbing_matches_brute_force_with_removals() {
        let mut rng = 12345u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut tree = IntervalTree::default();
        let mut all = Vec::new();
        for k in 0..500u32 {
            let a = (next() % 200) as u8;
            let b = a.saturating_add((next() % 30) as u8);
            let hi = if next() % 10 == 0 { None } else { Some(vec![b]) };
            tree.insert(vec![a], hi.clone(), k);
            all.push((vec![a], hi, k));
        }
        for i in (0..all.len()).step_by(3) {
            assert!(tree.remove(&all[i].0, &all[i].2));
        }
        let kept: Vec<_> = all.iter().enumerate().filter(|(i, _)| i % 3 != 0).map(|(_, x)| x.clone()).collect();
        assert_eq!(tree.len(), kept.len());
        assert!(!tree.remove(&all[0].0, &all[0].2));
        for p in 0..=255u8 {
            let mut got = Vec::new();
            tree.stab(&[p], |k| got.push(*k));
            got.sort();
            assert_eq!(got, brute(&kept, &[p]), "point {p}");
        }
        // Empty and longer points compare byte-wise like keys.
        let mut got = Vec::new();
        tree.stab(&[], |k| got.push(*k));
        assert_eq!(got.len(), brute(&kept, &[]).len());
    }

    #[test]
    fn disjoint_points_visit_few_nodes() {
        let mut tree = IntervalTree::default();
        for k in 0..10_000u32 {
            let lo = k.to_be_bytes().to_vec();
            let mut hi = lo.clone();
            hi.push(0);
            tree.insert(lo, Some(hi), k);
        }
        let mut got = Vec::new();
        let visited = tree.stab(&5000u32.to_be_bytes(), |k| got.push(*k));
        assert_eq!(got, vec![5000]);
        assert!(visited < 200, "visited {visited} nodes");
        assert!(!tree.is_empty());
    }
}
