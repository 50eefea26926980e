//! A small document printer with prettier 3's line-breaking rules, for the parts of generated
//! files whose layout depends on their length (the `FunctionReference<…>` types of a
//! component's `component.ts`).
//!
//! Owns: [`Doc`] and [`print`]. The algorithm is prettier's `printDocToString`, reduced to the
//! commands these files need: a group is printed flat when it fits in the rest of the line
//! (up to the next possible break of an enclosing broken group), else broken; a group marked
//! `broken`, or holding a hard line, always breaks, and so do the groups around it.
//!
//! Invariants: widths count `char`s (the generated text is ASCII but for user-chosen literal
//! strings); the indentation unit is two spaces; no line ends with spaces.

/// A document: text and the places where it may break.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Doc {
    Text(String),
    Concat(Vec<Doc>),
    /// Printed flat if it fits, else broken; `broken` forces the break.
    Group {
        contents: Box<Doc>,
        broken: bool,
    },
    /// Lines inside break to one more indentation level.
    Indent(Box<Doc>),
    /// A space when flat, a line break when broken.
    Line,
    /// Nothing when flat, a line break when broken.
    SoftLine,
    /// Always a line break (and it breaks the groups around it).
    HardLine,
    /// `broken` when the enclosing group is broken, else `flat`.
    IfBreak {
        broken: Box<Doc>,
        flat: Box<Doc>,
    },
}

/// Shorthands for building documents.
pub fn text(s: impl Into<String>) -> Doc {
    Doc::Text(s.into())
}

pub fn concat(parts: Vec<Doc>) -> Doc {
    Doc::Concat(parts)
}

pub fn group(contents: Doc) -> Doc {
    Doc::Group { contents: Box::new(contents), broken: false }
}

pub fn broken_group(contents: Doc) -> Doc {
    Doc::Group { contents: Box::new(contents), broken: true }
}

pub fn indent(contents: Doc) -> Doc {
    Doc::Indent(Box::new(contents))
}

pub fn if_break(broken: Doc, flat: Doc) -> Doc {
    Doc::IfBreak { broken: Box::new(broken), flat: Box::new(flat) }
}

/// `parts` with `separator` between each two.
pub fn join(separator: &Doc, parts: Vec<Doc>) -> Doc {
    let mut out = Vec::with_capacity(parts.len() * 2);
    for (i, part) in parts.into_iter().enumerate() {
        if i > 0 {
            out.push(separator.clone());
        }
        out.push(part);
    }
    Doc::Concat(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Flat,
    Break,
}

/// `doc` printed in `width` columns, starting at column 0.
pub fn print(doc: &Doc, width: usize) -> String {
    let mut out = String::new();
    let mut pos = 0usize;
    // A stack of (indentation, mode, doc), processed from the end.
    let mut cmds: Vec<(usize, Mode, &Doc)> = vec![(0, Mode::Break, doc)];
    while let Some((ind, mode, doc)) = cmds.pop() {
        match doc {
            Doc::Text(s) => {
                out.push_str(s);
                pos += s.chars().count();
            }
            Doc::Concat(parts) => cmds.extend(parts.iter().rev().map(|p| (ind, mode, p))),
            Doc::Indent(contents) => cmds.push((ind + 2, mode, contents)),
            Doc::Group { contents, .. } => {
                let must_break = breaks(doc);
                let flat_fits = || fits(&[(ind, Mode::Flat, contents.as_ref())], &cmds, width.saturating_sub(pos));
                // Inside a flat group a group stays flat unless it must break; in a broken one
                // it is flat only if it fits.
                let flat = !must_break && (mode == Mode::Flat || flat_fits());
                let mode = if flat { Mode::Flat } else { Mode::Break };
                cmds.push((ind, mode, contents));
            }
            Doc::IfBreak { broken, flat } => cmds.push((ind, mode, if mode == Mode::Break { broken } else { flat })),
            Doc::Line | Doc::SoftLine if mode == Mode::Flat => {
                if *doc == Doc::Line {
                    out.push(' ');
                    pos += 1;
                }
            }
            Doc::Line | Doc::SoftLine | Doc::HardLine => {
                let trimmed = out.trim_end_matches([' ', '\t']).len();
                out.truncate(trimmed);
                out.push('\n');
                out.push_str(&" ".repeat(ind));
                pos = ind;
            }
        }
    }
    out
}

/// `doc` on one line (every group flat).
pub fn flat(doc: &Doc) -> String {
    print(doc, usize::MAX)
}

/// Whether a group must break: it is marked so or holds a hard line (prettier's
/// `propagateBreaks`).
fn breaks(doc: &Doc) -> bool {
    match doc {
        Doc::HardLine => true,
        Doc::Group { contents, broken } => *broken || breaks(contents),
        Doc::Concat(parts) => parts.iter().any(breaks),
        Doc::Indent(contents) => breaks(contents),
        Doc::IfBreak { broken, .. } => breaks(broken),
        Doc::Text(_) | Doc::Line | Doc::SoftLine => false,
    }
}

/// Prettier's `fits`: whether `next` and then the rest of the commands, up to their first line
/// break in break mode, take at most `width` columns.
fn fits(next: &[(usize, Mode, &Doc)], rest: &[(usize, Mode, &Doc)], width: usize) -> bool {
    let mut remaining = width.min(isize::MAX as usize) as isize;
    let mut stack: Vec<(Mode, &Doc)> = next.iter().map(|(_, m, d)| (*m, *d)).collect();
    let mut rest_index = rest.len();
    loop {
        let (mode, doc) = match stack.pop() {
            Some(cmd) => cmd,
            None if rest_index > 0 => {
                rest_index -= 1;
                (rest[rest_index].1, rest[rest_index].2)
            }
            None => return true,
        };
        match doc {
            Doc::Text(s) => {
                remaining -= s.chars().count() as isize;
                if remaining < 0 {
                    return false;
                }
            }
            Doc::Concat(parts) => stack.extend(parts.iter().rev().map(|p| (mode, p))),
            Doc::Indent(contents) => stack.push((mode, contents)),
            Doc::Group { contents, .. } => {
                stack.push((if breaks(doc) { Mode::Break } else { mode }, contents));
            }
            Doc::IfBreak { broken, flat } => stack.push((mode, if mode == Mode::Break { broken } else { flat })),
            Doc::Line | Doc::SoftLine if mode == Mode::Flat => {
                if *doc == Doc::Line {
                    remaining -= 1;
                    if remaining < 0 {
                        return false;
                    }
                }
            }
            Doc::Line | Doc::SoftLine | Doc::HardLine => return true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(items: &[&str]) -> Doc {
        let items = items.iter().map(|s| text(*s)).collect();
        group(concat(vec![
            text("F<"),
            indent(concat(vec![Doc::SoftLine, join(&concat(vec![text(","), Doc::Line]), items)])),
            Doc::SoftLine,
            text(">"),
        ]))
    }

    #[test]
    fn a_group_that_fits_stays_flat() {
        assert_eq!(print(&args(&["a", "b"]), 80), "F<a, b>");
    }

    #[test]
    fn a_group_that_does_not_fit_breaks_and_indents() {
        assert_eq!(print(&args(&["aaaa", "bbbb"]), 10), "F<\n  aaaa,\n  bbbb\n>");
    }

    #[test]
    fn the_rest_of_the_line_counts_when_measuring() {
        // "F<a, b>" is 7 columns; with the ";" after it, 8 do not fit in 7.
        let doc = concat(vec![args(&["a", "b"]), text(";")]);
        assert_eq!(print(&doc, 8), "F<a, b>;");
        assert_eq!(print(&doc, 7), "F<\n  a,\n  b\n>;");
    }

    #[test]
    fn hard_lines_break_their_groups_and_if_break_follows_the_mode() {
        let doc = group(concat(vec![
            text("{"),
            indent(concat(vec![Doc::HardLine, text("a")])),
            if_break(text(";"), text("")),
            Doc::Line,
            text("}"),
        ]));
        assert_eq!(print(&doc, 80), "{\n  a;\n}");
        assert_eq!(flat(&args(&["a", "b"])), "F<a, b>");
    }
}
