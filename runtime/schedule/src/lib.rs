//! emvex-schedule: the cron jobs of a Convex app, as schedules with next run times. Pure Rust, no
//! I/O.
//!
//! Owns: reading the JSON that `crons.ts`'s default export produces from `export()` (convex
//! `src/server/cron.ts`) into [`CronJob`]s, validating it the way the Convex backend does when
//! it analyzes `crons.js` at push time, and computing run times ([`Schedule::next_after`]).
//!
//! The export is an object keyed by cron identifier:
//! `{"<identifier>": {"name": "<udf path>", "args": [<Convex JSON object>], "schedule": <schedule>}}`
//! with `<schedule>` one of
//! `{"type":"interval","seconds"|"minutes"|"hours":n}`, `{"type":"hourly","minuteUTC"?}`,
//! `{"type":"daily","hourUTC","minuteUTC"?}`, `{"type":"weekly","dayOfWeek":"monday",…,"hourUTC","minuteUTC"?}`,
//! `{"type":"monthly","day","hourUTC","minuteUTC"?}`, `{"type":"cron","cron":"<expr>"}`.
//!
//! Invariants: every [`CronJob`] returned has a valid identifier (printable ASCII), a non-empty
//! function path, an args object, and a schedule whose numbers are in range and whose cron
//! expression can match; jobs come sorted by identifier, the order in which Convex applies them.
//! Errors carry the code `InvalidCron` (Convex's code for all of these) and Convex's text, led by
//! the job's identifier.

#![forbid(unsafe_code)]

pub mod cron_expr;
mod schedule;

use std::fmt;

use serde_json::{Map, Value};

pub use cron_expr::{CronExpr, CronExprError};
pub use schedule::{Minute, Schedule};

/// One cron job from the export.
#[derive(Debug, Clone, PartialEq)]
pub struct CronJob {
    /// The identifier given to `crons.interval(...)` etc.; unique within the export.
    pub identifier: String,
    /// The function path as exported, e.g. `"messages:send"` (not canonicalized).
    pub udf_path: String,
    /// The arguments: a Convex JSON object (the single element of the exported `args` array).
    pub args: Value,
    pub schedule: Schedule,
}

/// A rejected crons export. `code` is stable: `InvalidCron` for a bad job (as Convex reports it),
/// `InvalidCronsExport` when the export is not a JSON object at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleError {
    pub code: &'static str,
    pub message: String,
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ScheduleError {}

/// Parses the crons export; bad input is an error naming the job and what is wrong.
pub fn parse_crons(export_json: &str) -> Result<Vec<CronJob>, ScheduleError> {
    let export: Value = serde_json::from_str(export_json).map_err(|e| ScheduleError {
        code: "InvalidCronsExport",
        message: format!("The crons export is not valid JSON: {e}"),
    })?;
    let Value::Object(jobs) = export else {
        return Err(ScheduleError {
            code: "InvalidCronsExport",
            message: "The crons export must be a JSON object keyed by cron identifier".into(),
        });
    };
    let mut entries: Vec<(&String, &Value)> = jobs.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
        .into_iter()
        .map(|(identifier, job)| {
            parse_job(identifier, job).map_err(|message| ScheduleError {
                code: "InvalidCron",
                message: format!("Cron job {identifier:?}: {message}"),
            })
        })
        .collect()
}

fn parse_job(identifier: &str, job: &Value) -> Result<CronJob, String> {
    check_identifier(identifier)?;
    let invalid = |detail: &str| format!("Invalid JSON: {detail}");
    let fields = job.as_object().ok_or_else(|| invalid("a cron job must be an object"))?;
    let udf_path = match fields.get("name") {
        Some(Value::String(name)) => name.clone(),
        _ => return Err(invalid("`name` must be a string")),
    };
    let args = fields.get("args").ok_or_else(|| invalid("`args` is missing"))?;
    let schedule = match fields.get("schedule") {
        Some(Value::Object(schedule)) => schedule,
        _ => return Err(invalid("`schedule` must be an object")),
    };
    let schedule = parse_schedule(identifier, schedule, job)?;
    if udf_path.is_empty() {
        return Err("The function path `name` is empty".into());
    }
    let args = match args {
        Value::Array(items) => match &items[..] {
            [object @ Value::Object(_)] => object.clone(),
            _ => {
                return Err(format!("`args` must hold exactly one object, got {}", Value::Array(items.clone())));
            }
        },
        other => return Err(format!("`args` must be an array, got {other}")),
    };
    Ok(CronJob { identifier: identifier.to_owned(), udf_path, args, schedule })
}

/// Convex's identifier rule: ASCII, no control characters.
fn check_identifier(s: &str) -> Result<(), String> {
    match s.chars().find(|c| !c.is_ascii() || c.is_ascii_control()) {
        Some(c) => Err(format!(
            "CronIdentifier {s} has invalid character '{c}': CronIdentifiers can only contain \
             ASCII letters, numbers, spaces, underscores, dashes and apostrophes"
        )),
        None => Ok(()),
    }
}

const DAYS_OF_WEEK: [&str; 7] = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

fn parse_schedule(identifier: &str, schedule: &Map<String, Value>, job: &Value) -> Result<Schedule, String> {
    let invalid = |detail: String| format!("Invalid JSON: {detail}");
    // An integer field: absent or null is `None`; anything but an integer is invalid JSON.
    let int = |key: &str| -> Result<Option<i64>, String> {
        match schedule.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => {
                value.as_i64().map(Some).ok_or_else(|| invalid(format!("`schedule.{key}` must be an integer")))
            }
        }
    };
    let required =
        |key: &str| -> Result<i64, String> { int(key)?.ok_or_else(|| invalid(format!("`schedule.{key}` is missing"))) };
    let in_job = || serde_json::to_string_pretty(job).unwrap_or_default();
    let minute = || -> Result<Minute, String> {
        match int("minuteUTC")? {
            None => Ok(Minute::spread_for(identifier)),
            Some(m @ 0..=59) => Ok(Minute::At(m as u32)),
            Some(_) => Err(format!("minuteUTC must be 0-59 in {}", in_job())),
        }
    };
    let hour = || -> Result<u32, String> {
        match required("hourUTC")? {
            h @ 0..=23 => Ok(h as u32),
            _ => Err(format!("hourUTC must be 0-23 in {}", in_job())),
        }
    };
    let kind = match schedule.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        _ => return Err(invalid("`schedule.type` must be a string".into())),
    };
    match kind {
        "interval" => {
            let given: Vec<(i64, u64)> = [("seconds", 1), ("minutes", 60), ("hours", 3600)]
                .into_iter()
                .filter_map(|(key, unit)| int(key).map(|n| n.map(|n| (n, unit))).transpose())
                .collect::<Result<_, _>>()?;
            let [(n, unit)] = given[..] else {
                return Err("Exactly one of (seconds, minutes, hours) should be specified".into());
            };
            if n <= 0 {
                return Err("Interval must be an integer greater than 0".into());
            }
            let ms = (n as u64).checked_mul(unit * 1000).filter(|ms| *ms <= 1 << 53).ok_or("Interval is too long")?;
            Ok(Schedule::Interval { ms })
        }
        "hourly" => Ok(Schedule::Hourly { minute: minute()? }),
        "daily" => {
            let minute = minute()?;
            Ok(Schedule::Daily { hour: hour()?, minute })
        }
        "weekly" => {
            let day_of_week = match schedule.get("dayOfWeek") {
                Some(Value::String(day)) => DAYS_OF_WEEK.iter().position(|d| d == day),
                _ => None,
            }
            .ok_or_else(|| invalid("`schedule.dayOfWeek` must be one of \"sunday\" … \"saturday\"".into()))?;
            let minute = minute()?;
            Ok(Schedule::Weekly { day_of_week: day_of_week as u32, hour: hour()?, minute })
        }
        "monthly" => {
            let day = required("day")?;
            let minute = minute()?;
            let hour = hour()?;
            if !(1..=31).contains(&day) {
                return Err(format!("day of month must be 1-31 in {}", in_job()));
            }
            Ok(Schedule::Monthly { day: day as u32, hour, minute })
        }
        "cron" => match schedule.get("cron") {
            Some(Value::String(expr)) => expr.parse::<CronExpr>().map(Schedule::Cron).map_err(|e| e.message),
            _ => Err(invalid("`schedule.cron` must be a string".into())),
        },
        other => Err(invalid(format!(
            "`schedule.type` {other:?} is not one of interval, hourly, daily, weekly, monthly, cron"
        ))),
    }
}

#[cfg(test)]
mod tests;
