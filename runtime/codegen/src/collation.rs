//! The order the CLI sorts a component's exported names in: its `compareStrings`, an
//! `Intl.Collator("en-US", { numeric: true, sensitivity: "case" })`.
//!
//! Owns: [`compare_strings`], that collation for the names codegen sorts (module path
//! components and function names: ASCII letters, digits, `_`, `$`, `-`). Rules, as ICU's root
//! collation has them for ASCII: punctuation and symbols sort before digits, digits before
//! letters; a run of digits compares by its numeric value; letters compare without case first,
//! then lower case before upper case at the first position where case differs. Strings equal
//! under these rules compare `Equal` (the CLI's sort then keeps their given order). Characters
//! beyond ASCII sort after every ASCII letter, by code point (an approximation).

use std::cmp::Ordering;

/// ASCII punctuation and symbols in ICU root order; all sort before digits.
const PUNCTUATION: &str = "_-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$";

/// One unit of a string's primary weight.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Unit {
    /// Whitespace and control characters (before everything else).
    Space(char),
    Punctuation(usize),
    /// A digit run by value: (number of significant digits, the digits).
    Number(usize, String),
    Letter(char),
    Other(char),
}

/// `Intl.Collator` order of `a` and `b` (see the module docs).
pub fn compare_strings(a: &str, b: &str) -> Ordering {
    units(a).cmp(&units(b)).then_with(|| case_flags(a).cmp(&case_flags(b)))
}

fn units(s: &str) -> Vec<Unit> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(if c.is_ascii_digit() {
            let mut digits = String::from(c);
            while let Some(d) = chars.next_if(char::is_ascii_digit) {
                digits.push(d);
            }
            let significant = digits.trim_start_matches('0').to_string();
            Unit::Number(significant.len(), significant)
        } else if c.is_ascii_alphabetic() {
            Unit::Letter(c.to_ascii_lowercase())
        } else if let Some(rank) = PUNCTUATION.find(c) {
            Unit::Punctuation(rank)
        } else if c.is_ascii() {
            Unit::Space(c)
        } else {
            Unit::Other(c)
        });
    }
    out
}

/// Case of each letter, lower case first.
fn case_flags(s: &str) -> Vec<bool> {
    s.chars().filter(char::is_ascii_alphabetic).map(|c| c.is_ascii_uppercase()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_like_the_cli_collator() {
        // Node: `[...].sort(new Intl.Collator("en-US", {numeric: true, sensitivity: "case"}).compare)`.
        let mut words = [
            "a10", "a9", "a", "A", "b", "B", "_a", "a_b", "ab", "aB", "Ab", "a-b", "a$", "$a", "get", "getAll", "get2",
            "get10", "x", "X1", "x1",
        ];
        words.sort_by(|a, b| compare_strings(a, b));
        assert_eq!(words.join(" "), "_a $a a A a_b a-b a$ a9 a10 ab aB Ab b B get get2 get10 getAll x x1 X1");
    }

    #[test]
    fn equal_numbers_compare_equal() {
        assert_eq!(compare_strings("a01", "a1"), Ordering::Equal);
        assert_eq!(compare_strings("lib", "lib"), Ordering::Equal);
        assert_eq!(compare_strings("aB", "ab"), Ordering::Greater);
    }
}
