//! Source-mapping of QuickJS stack traces.
//!
//! Owns: rewriting `file:line:col` positions in QuickJS `Error.stack` text (generated code) to
//! positions in the original `.ts` files. Invariants: frames of the engine's own prelude and
//! native frames are dropped; files are shown by their display name (`app::display_name`:
//! outside the app dir, from their last `node_modules/` component on, so no absolute paths
//! leak); other lines are kept; the output has one frame per line, each starting with four
//! spaces and `at `.

use crate::App;
use crate::app::display_name;

/// Rewrites every frame of `stack` through the app's source maps.
pub(crate) fn map_stack(app: &App, stack: &str) -> String {
    let mut out = Vec::new();
    for line in stack.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty()
            || trimmed.ends_with("(native)")
            || trimmed.contains(concat!("(", "emvex:prelude", ":"))
            || trimmed.contains(concat!("(", "emvex:commonjs", ":"))
        {
            continue;
        }
        out.push(map_frame(app, line));
    }
    out.join("\n")
}

fn map_frame(app: &App, line: &str) -> String {
    // Frames look like `    at name (file:12:9)` or `    at file:12:9`.
    let (prefix, loc, suffix) = match (line.rfind('('), line.ends_with(')')) {
        (Some(open), true) => (&line[..=open], &line[open + 1..line.len() - 1], ")"),
        _ => match line.find("at ") {
            Some(at) => (&line[..at + 3], &line[at + 3..], ""),
            None => return line.to_string(),
        },
    };
    let Some((file, line_no, col)) = split_location(loc) else {
        return line.to_string();
    };
    let shown = display_name(file);
    match app.map_position(file, line_no, col) {
        Some((l, c)) => format!("{prefix}{shown}:{l}:{c}{suffix}"),
        None => format!("{prefix}{shown}:{line_no}:{col}{suffix}"),
    }
}

/// Splits `file:line:col` (the file may itself contain `:`).
/// `file:line:col` of one stack frame line (`    at f (file:1:2)` or `    at file:1:2`).
pub(crate) fn frame_location(line: &str) -> Option<String> {
    let loc = match (line.rfind('('), line.ends_with(')')) {
        (Some(open), true) => &line[open + 1..line.len() - 1],
        _ => &line[line.find("at ")? + 3..],
    };
    let (file, l, c) = split_location(loc.trim())?;
    Some(format!("{file}:{l}:{c}"))
}

pub(crate) fn split_location(loc: &str) -> Option<(&str, u32, u32)> {
    let (rest, col) = loc.rsplit_once(':')?;
    let (file, line) = rest.rsplit_once(':')?;
    Some((file, line.parse().ok()?, col.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_locations() {
        assert_eq!(split_location("convex/a.ts:12:9"), Some(("convex/a.ts", 12, 9)));
        assert_eq!(split_location("C:/x/a.js:1:2"), Some(("C:/x/a.js", 1, 2)));
        assert_eq!(split_location("native"), None);
    }
}
