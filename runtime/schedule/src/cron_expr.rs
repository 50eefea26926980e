//! Cron expressions in the dialect Convex accepts, evaluated with the `croner` crate.
//!
//! Owns: parsing a `crons.cron("…")` string exactly as the Convex backend does (its cron parser is
//! a fork of Cloudflare's `saffron` with Sunday = 0), rejecting what Convex rejects, and turning
//! the result into a canonical `croner` pattern that `croner` evaluates.
//!
//! The dialect (all times UTC), five fields separated by one or more spaces or tabs, with no
//! leading or trailing whitespace:
//!
//! | field | values | extras |
//! |---|---|---|
//! | minute | 0-59 | |
//! | hour | 0-23 | |
//! | day of month | 1-31 | `L` last day, `LW` last weekday, `nW` weekday nearest day n |
//! | month | 1-12, `JAN`-`DEC` (any case) | |
//! | day of week | 0-6 (0 = Sunday), `SUN`-`SAT` (any case) | `L` alone = Saturday, `dL` last weekday d of the month, `d#k` k-th (1-5) weekday d |
//!
//! Every field also takes `*`, lists `a,b`, ranges `a-b`, steps `*/s`, `a/s` (a to the maximum)
//! and `a-b/s`. A range or step whose start is above its end wraps around (`22-2` is 22,23,0,1,2).
//! Steps run from 1 to (maximum - minimum): `*/60` in the minute field is an error. `7` is not
//! Sunday, `?` and `@daily`-style nicknames are not accepted, there is no seconds field.
//! When both day of month and day of week are restricted, a day matches if either matches.
//!
//! Invariants: a [`CronExpr`] always holds a pattern that `croner` parsed, and it matches at
//! least one time (an expression that can never match, such as `0 0 30 2 *`, is rejected with
//! Convex's text "The cron spec ... will never match any time").
//!
//! Known gap: Convex also accepts `L-n` and `L-nW` (n days before the last day of the month);
//! `croner` cannot express them, so they are rejected with an error that says so.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// Why a cron string was rejected. `message` starts with Convex's own text where it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronExprError {
    pub message: String,
}

impl fmt::Display for CronExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CronExprError {}

/// Convex's (saffron's) text for any syntax error.
const PARSE_FAILED: &str = "Failed to parse cron expression";

/// A parsed cron expression: the original text and the `croner` schedule built from it.
#[derive(Clone)]
pub struct CronExpr {
    source: String,
    cron: Box<Cron>,
}

impl fmt::Debug for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CronExpr").field(&self.source).finish()
    }
}

impl PartialEq for CronExpr {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for CronExpr {}

impl FromStr for CronExpr {
    type Err = CronExprError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fields =
            Fields::parse(s).map_err(|detail| CronExprError { message: format!("{PARSE_FAILED} {s:?}: {detail}") })?;
        if !fields.can_match() {
            return Err(CronExprError { message: format!("The cron spec {s:?} will never match any time") });
        }
        let pattern = fields.croner_pattern().map_err(|detail| CronExprError {
            message: format!("Cron spec {s:?} is not supported by emvex: {detail}"),
        })?;
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .dom_and_dow(false)
            .build()
            .parse(&pattern)
            .map_err(|e| CronExprError { message: format!("{PARSE_FAILED} {s:?}: {e}") })?;
        Ok(CronExpr { source: s.to_owned(), cron: Box::new(cron) })
    }
}

impl CronExpr {
    /// The expression as written by the developer.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The first matching minute strictly after `after_ms` (ms since the epoch), in ms, or
    /// `None` if there is none before the year 5000.
    pub fn next_after_ms(&self, after_ms: f64) -> Option<f64> {
        // Matches fall on whole minutes, so searching from the whole millisecond at or below
        // `after_ms` and keeping only results above `after_ms` loses nothing.
        let floor_ms = after_ms.floor();
        if !floor_ms.is_finite() || floor_ms.abs() > 8.0e15 {
            return None;
        }
        let start: DateTime<Utc> = Utc.timestamp_millis_opt(floor_ms as i64).single()?;
        let mut next = self.cron.find_next_occurrence(&start, false).ok()?;
        loop {
            let ms = next.timestamp_millis() as f64;
            if ms > after_ms {
                return Some(ms);
            }
            next = self.cron.find_next_occurrence(&next, false).ok()?;
        }
    }
}

/// A field's value range and the names it accepts.
struct FieldKind {
    name: &'static str,
    min: u8,
    max: u8,
    names: &'static [&'static str],
}

const MINUTE: FieldKind = FieldKind { name: "minute", min: 0, max: 59, names: &[] };
const HOUR: FieldKind = FieldKind { name: "hour", min: 0, max: 23, names: &[] };
const DAY_OF_MONTH: FieldKind = FieldKind { name: "day of month", min: 1, max: 31, names: &[] };
const MONTH: FieldKind = FieldKind {
    name: "month",
    min: 1,
    max: 12,
    names: &["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
};
const DAY_OF_WEEK: FieldKind =
    FieldKind { name: "day of week", min: 0, max: 6, names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"] };

impl FieldKind {
    /// Parses one value: digits or (case-insensitive) a three-letter name.
    fn value(&self, text: &str) -> Result<u8, String> {
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            let n: u32 = text.parse().map_err(|_| format!("{} value {text:?} is too large", self.name))?;
            if n < u32::from(self.min) || n > u32::from(self.max) {
                return Err(format!("{} value {n} is outside {}-{}", self.name, self.min, self.max));
            }
            return Ok(n as u8);
        }
        if let Some(i) = self.names.iter().position(|name| name.eq_ignore_ascii_case(text)) {
            return Ok(self.min + i as u8);
        }
        Err(format!("{} value {text:?} is not valid", self.name))
    }

    /// Parses a step: 1 up to (max - min).
    fn step(&self, text: &str) -> Result<u8, String> {
        let limit = self.max - self.min;
        match text.parse::<u8>() {
            Ok(s) if text.bytes().all(|b| b.is_ascii_digit()) && (1..=limit).contains(&s) => Ok(s),
            _ => Err(format!("{} step {text:?} must be a number from 1 to {limit}", self.name)),
        }
    }

    /// Parses a value where `*` stands for the minimum.
    fn value_or_star(&self, text: &str) -> Result<u8, String> {
        if text == "*" { Ok(self.min) } else { self.value(text) }
    }

    /// Parses a comma list of values, ranges and steps into a bit set (bit i = value i).
    fn list(&self, text: &str) -> Result<u64, String> {
        let mut set = 0u64;
        for (i, item) in text.split(',').enumerate() {
            // A leading `*` is the whole range, alone or stepped (`*,5` is an error); later in a
            // list `*` is just the minimum value (`5,*` is 5 and the minimum), as in Convex.
            if i == 0 && item.starts_with('*') && item != "*" && !item.starts_with("*/") {
                return Err(format!("{} item {item:?} is not valid", self.name));
            }
            if i == 0 && item == "*" && text != "*" {
                return Err(format!("{} field {text:?} is not valid", self.name));
            }
            set |= self.item(item, i == 0)?;
        }
        Ok(set)
    }

    /// One list item: `*`, `*/s`, `a`, `a/s`, `a-b`, `a-b/s`.
    fn item(&self, item: &str, first: bool) -> Result<u64, String> {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(self.step(step)?)),
            None => (item, None),
        };
        let (start, end) = match range.split_once('-') {
            Some((start, end)) => (self.value_or_star(start)?, self.value(end)?),
            None if range == "*" && (first || step.is_some()) => (self.min, self.max),
            None => {
                let start = self.value_or_star(range)?;
                // `a/s` runs from a to the maximum; a lone value is just itself.
                (start, if step.is_some() { self.max } else { start })
            }
        };
        Ok(self.walk(start, end, step.unwrap_or(1)))
    }

    /// The values from `start` to `end` by `step`, wrapping past the maximum to the minimum.
    fn walk(&self, start: u8, end: u8, step: u8) -> u64 {
        let mut set = 0u64;
        let span = if start <= end { end - start } else { (self.max - start) + 1 + (end - self.min) };
        let width = self.max - self.min + 1;
        let mut offset = 0u8;
        while offset <= span {
            let value = self.min + (start - self.min + offset) % width;
            set |= 1 << value;
            offset = offset.saturating_add(step);
        }
        set
    }
}

/// The day-of-month field.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Dom {
    Any,
    Days(u64),
    /// `L` (offset 0) or `L-n`.
    Last {
        offset: u8,
    },
    /// `LW` (offset 0) or `L-nW`.
    LastWeekday {
        offset: u8,
    },
    /// `nW`.
    NearestWeekday(u8),
}

/// The day-of-week field.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Dow {
    Any,
    Days(u64),
    /// `dL`: the last weekday d of the month.
    Last(u8),
    /// `d#k`: the k-th weekday d of the month.
    Nth(u8, u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Fields {
    minutes: u64,
    hours: u64,
    dom: Dom,
    months: u64,
    dow: Dow,
}

impl Fields {
    fn parse(s: &str) -> Result<Fields, String> {
        if s.starts_with([' ', '\t']) || s.ends_with([' ', '\t']) {
            return Err("leading or trailing whitespace".into());
        }
        if let Some(c) = s.chars().find(|c| c.is_whitespace() && *c != ' ' && *c != '\t') {
            return Err(format!("unexpected whitespace {c:?}"));
        }
        let fields: Vec<&str> = s.split([' ', '\t']).filter(|f| !f.is_empty()).collect();
        let [minute, hour, dom, month, dow] = fields[..] else {
            return Err(format!(
                "expected 5 fields (minute hour day-of-month month day-of-week), found {}",
                fields.len()
            ));
        };
        Ok(Fields {
            minutes: MINUTE.list(minute)?,
            hours: HOUR.list(hour)?,
            dom: parse_dom(dom)?,
            months: MONTH.list(month)?,
            dow: parse_dow(dow)?,
        })
    }

    /// Whether some date can match: with the day of week unrestricted, the earliest day of month
    /// asked for must exist in one of the months asked for (Convex's check).
    fn can_match(&self) -> bool {
        if self.dow != Dow::Any {
            return true;
        }
        let first_day = match self.dom {
            Dom::Any => return true,
            Dom::Last { offset } | Dom::LastWeekday { offset } => offset + 1,
            Dom::NearestWeekday(day) => day,
            Dom::Days(set) => set.trailing_zeros() as u8,
        };
        const MONTHS_WITH_31: u64 = bits(&[1, 3, 5, 7, 8, 10, 12]);
        const MONTHS_WITH_30: u64 = bits(&[4, 6, 9, 11]);
        let longest = if self.months & MONTHS_WITH_31 != 0 {
            31
        } else if self.months & MONTHS_WITH_30 != 0 {
            30
        } else {
            29
        };
        first_day <= longest
    }

    /// The same schedule as a pattern for `croner` (5 fields, explicit value lists).
    fn croner_pattern(&self) -> Result<String, String> {
        let dom = match self.dom {
            Dom::Any => "*".to_owned(),
            Dom::Days(set) => list(set),
            Dom::Last { offset: 0 } => "L".to_owned(),
            Dom::LastWeekday { offset: 0 } => "LW".to_owned(),
            Dom::Last { offset } | Dom::LastWeekday { offset } => {
                return Err(format!("day-of-month offset from the last day (L-{offset})"));
            }
            Dom::NearestWeekday(day) => format!("{day}W"),
        };
        let dow = match self.dow {
            Dow::Any => "*".to_owned(),
            Dow::Days(set) => list(set),
            Dow::Last(day) => format!("{day}L"),
            Dow::Nth(day, nth) => format!("{day}#{nth}"),
        };
        Ok(format!("{} {} {dom} {} {dow}", list(self.minutes), list(self.hours), list(self.months)))
    }
}

const fn bits(values: &[u8]) -> u64 {
    let mut set = 0u64;
    let mut i = 0;
    while i < values.len() {
        set |= 1 << values[i];
        i += 1;
    }
    set
}

/// Renders a bit set as `a,b,c`.
fn list(set: u64) -> String {
    (0..64).filter(|i| set & (1 << i) != 0).map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}

fn parse_dom(field: &str) -> Result<Dom, String> {
    if field == "*" {
        return Ok(Dom::Any);
    }
    if let Some(rest) = field.strip_prefix('L') {
        let offset = |text: &str| match text.parse::<u8>() {
            Ok(n) if text.bytes().all(|b| b.is_ascii_digit()) && (1..=30).contains(&n) => Ok(n),
            _ => Err(format!("day of month offset {text:?} must be 1-30")),
        };
        return match rest {
            "" => Ok(Dom::Last { offset: 0 }),
            "W" => Ok(Dom::LastWeekday { offset: 0 }),
            _ => match rest.strip_prefix('-') {
                Some(n) => match n.strip_suffix('W') {
                    Some(n) => Ok(Dom::LastWeekday { offset: offset(n)? }),
                    None => Ok(Dom::Last { offset: offset(n)? }),
                },
                None => Err(format!("day of month {field:?} is not valid")),
            },
        };
    }
    if let Some(day) = field.strip_suffix('W')
        && !day.is_empty()
        && day.bytes().all(|b| b.is_ascii_digit())
    {
        return Ok(Dom::NearestWeekday(DAY_OF_MONTH.value(day)?));
    }
    Ok(Dom::Days(DAY_OF_MONTH.list(field)?))
}

fn parse_dow(field: &str) -> Result<Dow, String> {
    match field {
        "*" => return Ok(Dow::Any),
        // A lone `L` is the last day of the week: Saturday.
        "L" => return Ok(Dow::Days(1 << 6)),
        _ => {}
    }
    if let Some(day) = field.strip_suffix('L')
        && !day.contains([',', '-', '/', '#'])
    {
        return Ok(Dow::Last(DAY_OF_WEEK.value(day)?));
    }
    if let Some((day, nth)) = field.split_once('#') {
        let nth = match nth.parse::<u8>() {
            Ok(n) if nth.bytes().all(|b| b.is_ascii_digit()) && (1..=5).contains(&n) => n,
            _ => return Err(format!("day of week occurrence {nth:?} must be 1-5")),
        };
        return Ok(Dow::Nth(DAY_OF_WEEK.value(day)?, nth));
    }
    Ok(Dow::Days(DAY_OF_WEEK.list(field)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> f64 {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap().timestamp_millis() as f64
    }

    fn next(expr: &str, after: f64) -> f64 {
        expr.parse::<CronExpr>().unwrap().next_after_ms(after).unwrap()
    }

    fn err(expr: &str) -> String {
        expr.parse::<CronExpr>().unwrap_err().message
    }

    fn pattern(expr: &str) -> String {
        Fields::parse(expr).unwrap().croner_pattern().unwrap()
    }

    #[test]
    fn lists_ranges_and_steps_expand() {
        assert_eq!(
            pattern("1,5,7 * * * *"),
            "1,5,7 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23 * 1,2,3,4,5,6,7,8,9,10,11,12 *"
        );
        assert_eq!(pattern("10-20/3 0 * * *").split(' ').next().unwrap(), "10,13,16,19");
        assert_eq!(pattern("*/15 0 * * *").split(' ').next().unwrap(), "0,15,30,45");
        assert_eq!(pattern("50/5 0 * * *").split(' ').next().unwrap(), "50,55");
        // Wrapping ranges and steps.
        assert_eq!(pattern("0 22-2 * * *").split(' ').nth(1).unwrap(), "0,1,2,22,23");
        assert_eq!(pattern("0 22-3/2 * * *").split(' ').nth(1).unwrap(), "0,2,22");
        assert_eq!(pattern("0 0 * NOV-FEB *").split(' ').nth(3).unwrap(), "1,2,11,12");
        assert_eq!(pattern("0 0 * * FRI-SUN").split(' ').nth(4).unwrap(), "0,5,6");
        assert_eq!(pattern("0 0 * * 1-5").split(' ').nth(4).unwrap(), "1,2,3,4,5");
        assert_eq!(pattern("0 0 * * mon,Wed").split(' ').nth(4).unwrap(), "1,3");
        assert_eq!(pattern("0 0 * jan *").split(' ').nth(3).unwrap(), "1");
        assert_eq!(pattern("0 0 */10 * *").split(' ').nth(2).unwrap(), "1,11,21,31");
        assert_eq!(pattern("5,* 0 * * *").split(' ').next().unwrap(), "0,5");
        assert_eq!(pattern("5,*-2 0 * * *").split(' ').next().unwrap(), "0,1,2,5");
        assert_eq!(pattern("0 0 L * *").split(' ').nth(2).unwrap(), "L");
        assert_eq!(pattern("0 0 LW * *").split(' ').nth(2).unwrap(), "LW");
        assert_eq!(pattern("0 0 15W * *").split(' ').nth(2).unwrap(), "15W");
        assert_eq!(pattern("0 0 * * L").split(' ').nth(4).unwrap(), "6");
        assert_eq!(pattern("0 0 * * 5L").split(' ').nth(4).unwrap(), "5L");
        assert_eq!(pattern("0 0 * * 1#2").split(' ').nth(4).unwrap(), "1#2");
    }

    #[test]
    fn rejects_what_convex_rejects() {
        for bad in [
            "",
            "* * * *",
            "* * * * * *",
            " * * * * *",
            "* * * * * ",
            "*\n* * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * 32 * *",
            "* * * 0 *",
            "* * * 13 *",
            "* * * * 7",
            "* * * * 8",
            "*/0 * * * *",
            "*/60 * * * *",
            "* */24 * * *",
            "* * */31 * *",
            "* * * */12 *",
            "* * * * */7",
            "? * * * *",
            "* * ? * *",
            "@daily",
            "a * * * *",
            "1- * * * *",
            "-1 * * * *",
            "1,,2 * * * *",
            "* * * * 1#6",
            "* * * * 1#0",
            "* * L-31 * *",
            "* * * * MONDAY",
            "*,5 * * * *",
            "*-5 * * * *",
            "* * *,1 * *",
            "* * * JANUARY *",
            "* * 1W,2 * *",
            "* * * * 8L",
        ] {
            let message = err(bad);
            assert!(message.starts_with("Failed to parse cron expression"), "{bad:?}: {message}");
        }
    }

    #[test]
    fn never_matching_specs_are_rejected_with_convex_text() {
        assert_eq!(err("0 0 30 2 *"), "The cron spec \"0 0 30 2 *\" will never match any time");
        assert!(err("0 0 31 4,6,9,11 *").contains("will never match any time"));
        // Feb 29 exists in leap years; a day-of-week restriction makes anything possible.
        assert!("0 0 29 2 *".parse::<CronExpr>().is_ok());
        assert!("0 0 31 2 1".parse::<CronExpr>().is_ok());
    }

    #[test]
    fn offset_from_last_day_is_a_declared_gap() {
        let message = err("0 0 L-3 * *");
        assert!(message.contains("not supported by emvex"), "{message}");
    }

    #[test]
    fn whitespace_between_fields_may_repeat() {
        assert_eq!(next("0\t12  * * *", ms(2024, 1, 1, 0, 0)), ms(2024, 1, 1, 12, 0));
    }

    type Minute = (i32, u32, u32, u32, u32);

    /// Each case: expression, search start, expected next run.
    fn check(cases: &[(&str, Minute, Minute)]) {
        for &(expr, (y, mo, d, h, mi), (ey, emo, ed, eh, emi)) in cases {
            assert_eq!(
                next(expr, ms(y, mo, d, h, mi)),
                ms(ey, emo, ed, eh, emi),
                "{expr:?} after {y}-{mo}-{d} {h}:{mi}"
            );
        }
    }

    #[test]
    fn steps_ranges_lists_evaluate() {
        check(&[
            ("*/15 * * * *", (2024, 12, 31, 23, 50), (2025, 1, 1, 0, 0)),
            ("5,35 */6 * * *", (2024, 12, 31, 23, 50), (2025, 1, 1, 0, 5)),
            ("0 22-2 * * *", (2024, 3, 1, 2, 0), (2024, 3, 1, 22, 0)),
            // Friday → Monday.
            ("0 9 * * 1-5", (2024, 3, 1, 9, 0), (2024, 3, 4, 9, 0)),
            ("0 0 1 */3 *", (2024, 2, 15, 0, 0), (2024, 4, 1, 0, 0)),
            ("0 0 * NOV-FEB *", (2024, 3, 1, 0, 0), (2024, 11, 1, 0, 0)),
        ]);
    }

    #[test]
    fn day_of_month_and_day_of_week_combine_with_or() {
        check(&[
            // 2024-02-01 is a Thursday: the 1st matches before the next Monday,
            ("0 0 1 * 1", (2024, 1, 31, 0, 0), (2024, 2, 1, 0, 0)),
            // and a Monday matches before the next 1st.
            ("0 0 1 * 1", (2024, 2, 1, 0, 0), (2024, 2, 5, 0, 0)),
        ]);
    }

    #[test]
    fn special_days() {
        check(&[
            // Last day of February in a leap year and in a common year.
            ("0 0 L * *", (2024, 2, 1, 0, 0), (2024, 2, 29, 0, 0)),
            ("0 0 L * *", (2023, 2, 1, 0, 0), (2023, 2, 28, 0, 0)),
            // 2024-03-31 is a Sunday: the last weekday is Friday the 29th.
            ("0 0 LW * *", (2024, 3, 1, 0, 0), (2024, 3, 29, 0, 0)),
            // 2024-06-01 is a Saturday: the nearest weekday to the 1st is Monday the 3rd.
            ("0 0 1W * *", (2024, 5, 31, 0, 0), (2024, 6, 3, 0, 0)),
            // 2024-06-15 is a Saturday: the nearest weekday is Friday the 14th.
            ("0 0 15W * *", (2024, 6, 1, 0, 0), (2024, 6, 14, 0, 0)),
            // `nW` skips months without day n (2024-05-31 is a Friday), as Convex does.
            ("0 0 31W * *", (2024, 4, 1, 0, 0), (2024, 5, 31, 0, 0)),
            ("0 0 30W * *", (2024, 2, 1, 0, 0), (2024, 3, 29, 0, 0)),
            // Last Friday of March 2024 is the 29th; its second Monday the 11th.
            ("0 0 * * 5L", (2024, 3, 1, 0, 0), (2024, 3, 29, 0, 0)),
            ("0 0 * * 1#2", (2024, 3, 1, 0, 0), (2024, 3, 11, 0, 0)),
            // A lone L is Saturday. 2024-03-02 is a Saturday.
            ("0 0 * * L", (2024, 3, 1, 0, 0), (2024, 3, 2, 0, 0)),
            // Feb 29 only in leap years.
            ("0 0 29 2 *", (2024, 3, 1, 0, 0), (2028, 2, 29, 0, 0)),
        ]);
    }

    #[test]
    fn next_is_strictly_after_even_inside_a_matching_minute() {
        let at = ms(2024, 1, 1, 0, 0);
        assert_eq!(next("* * * * *", at), at + 60_000.0);
        assert_eq!(next("* * * * *", at + 0.5), at + 60_000.0);
        assert_eq!(next("* * * * *", at - 0.5), at);
        assert_eq!(next("* * * * *", at - 1.0), at);
    }
}
