//! Schedules of cron jobs and their next run times.
//!
//! Owns: [`Schedule`] (one per job, built from the `crons.ts` export) and [`Schedule::next_after`].
//! All times are UTC, in milliseconds since the Unix epoch, as `f64` like JavaScript times.
//!
//! Semantics follow the Convex backend, which turns every clock schedule into a cron expression
//! (`hourly` = `m * * * *`, `daily` = `m h * * *`, `weekly` = `m h * * d`, `monthly` = `m h D * *`):
//!
//! * A monthly schedule on a day a month lacks skips that month: day 31 runs only in the seven
//!   31-day months, day 30 never in February, day 29 in February only in leap years. (The
//!   `convex` package documents it: "a function scheduled to run on the 30th will not run in
//!   February".)
//! * When `minuteUTC` is omitted (allowed since convex 1.49), Convex runs the job at minute 0
//!   plus a random delay in [0, 3600) seconds that it keeps for every later run of the job. emvex
//!   keeps the same shape with a delay derived from the job's identifier
//!   ([`Minute::spread_for`]), so it is stable across restarts and deploys.
//! * Convex also delays runs of a pinned minute (and cron expressions) by a random 0-59 seconds
//!   (`CRON_SPLAY_SECONDS`); emvex runs them at second 0 of the minute.
//!
//! Invariant: [`Schedule::next_after`] returns a time strictly after its argument, and it is a
//! fixpoint of the schedule: `next_after(t - ε) == t` for every run time `t`.

use chrono::{Datelike, NaiveDate};

use crate::cron_expr::CronExpr;

const MINUTE_MS: f64 = 60_000.0;
const HOUR_MS: f64 = 3_600_000.0;
const DAY_MS: f64 = 86_400_000.0;
const WEEK_MS: f64 = 7.0 * DAY_MS;

/// The minute of the hour a clock schedule runs at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Minute {
    /// `minuteUTC` was given: run at second 0 of this minute (0-59).
    At(u32),
    /// `minuteUTC` was omitted: run this many seconds (0-3599) after the top of the hour.
    Spread { offset_secs: u32 },
}

impl Minute {
    /// The spread for a job whose `minuteUTC` was omitted: a number of seconds in [0, 3600)
    /// taken from a 64-bit FNV-1a hash of the job's identifier.
    pub fn spread_for(identifier: &str) -> Minute {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in identifier.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        Minute::Spread { offset_secs: (hash % 3600) as u32 }
    }

    /// The minute as exported by Convex: `Some(minuteUTC)` or `None` when it was omitted.
    pub fn minute_utc(self) -> Option<u32> {
        match self {
            Minute::At(minute) => Some(minute),
            Minute::Spread { .. } => None,
        }
    }

    /// Milliseconds after the top of the hour.
    fn offset_ms(self) -> f64 {
        match self {
            Minute::At(minute) => f64::from(minute) * MINUTE_MS,
            Minute::Spread { offset_secs } => f64::from(offset_secs) * 1000.0,
        }
    }
}

/// When a cron job runs. Hours, minutes, days are UTC; `day_of_week` is 0 = Sunday … 6 = Saturday;
/// `day` is the day of the month, 1-31.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    Interval { ms: u64 },
    Hourly { minute: Minute },
    Daily { hour: u32, minute: Minute },
    Weekly { day_of_week: u32, hour: u32, minute: Minute },
    Monthly { day: u32, hour: u32, minute: Minute },
    Cron(CronExpr),
}

impl Schedule {
    /// The first run time strictly after `after_ms` (ms since the epoch, UTC).
    ///
    /// `Interval` runs are `anchor_ms + k * ms` for k = 0, 1, 2, …, so the first run is the anchor
    /// itself. Convex's anchor is the moment the job was created: the push that first contained it,
    /// or the push that changed its schedule (Convex then restarts it). Convex runs a new interval
    /// job at once and then every `ms` after the previous *scheduled* time, skipping runs that are
    /// already in the past; that is this function called with `after_ms` = now. Other schedules
    /// ignore `anchor_ms`.
    ///
    /// Returns `f64::INFINITY` when there is no later run: for a cron expression with no match
    /// before the year 5000, or a time beyond what dates can represent.
    pub fn next_after(&self, after_ms: f64, anchor_ms: f64) -> f64 {
        if after_ms.is_nan() {
            return f64::INFINITY;
        }
        match self {
            // Runs start at the anchor: nothing runs before it.
            Schedule::Interval { .. } if after_ms < anchor_ms => anchor_ms,
            Schedule::Interval { ms } => periodic_next(after_ms, anchor_ms, *ms as f64),
            Schedule::Hourly { minute } => periodic_next(after_ms, minute.offset_ms(), HOUR_MS),
            Schedule::Daily { hour, minute } => periodic_next(after_ms, time_of_day_ms(*hour, *minute), DAY_MS),
            Schedule::Weekly { day_of_week, hour, minute } => {
                // 1970-01-01 was a Thursday (day 4).
                let days_from_epoch_weekday = f64::from((day_of_week + 7 - 4) % 7);
                let offset = days_from_epoch_weekday * DAY_MS + time_of_day_ms(*hour, *minute);
                periodic_next(after_ms, offset, WEEK_MS)
            }
            Schedule::Monthly { day, hour, minute } => monthly_next(after_ms, *day, time_of_day_ms(*hour, *minute)),
            Schedule::Cron(expr) => expr.next_after_ms(after_ms).unwrap_or(f64::INFINITY),
        }
    }
}

fn time_of_day_ms(hour: u32, minute: Minute) -> f64 {
    f64::from(hour) * HOUR_MS + minute.offset_ms()
}

/// The smallest `offset + k * period` (k any integer) strictly above `after`.
fn periodic_next(after: f64, offset: f64, period: f64) -> f64 {
    if !after.is_finite() || !offset.is_finite() || period <= 0.0 {
        return f64::INFINITY;
    }
    let k = ((after - offset) / period).floor() + 1.0;
    let next = offset + k * period;
    if next > after {
        return next;
    }
    // Rounding at very large magnitudes; give up where a period no longer changes the value.
    let bumped = next + period;
    if bumped > after { bumped } else { f64::INFINITY }
}

/// The first `day` of a month at `time_ms` into that day, strictly after `after`.
fn monthly_next(after: f64, day: u32, time_ms: f64) -> f64 {
    let Some(start) = date_of(after) else {
        return f64::INFINITY;
    };
    let (mut year, mut month) = (start.year(), start.month());
    // A day 1-31 exists in at least 7 of any 12 consecutive months; 14 months always suffice.
    for _ in 0..14 {
        if let Some(date) = NaiveDate::from_ymd_opt(year, month, day) {
            let candidate = days_since_epoch(date) * DAY_MS + time_ms;
            if candidate > after {
                return candidate;
            }
        }
        (year, month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    }
    f64::INFINITY
}

fn date_of(ms: f64) -> Option<NaiveDate> {
    if !ms.is_finite() {
        return None;
    }
    let days = (ms / DAY_MS).floor();
    if days.abs() > 1.0e8 {
        return None;
    }
    NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_signed(chrono::Duration::days(days as i64))
}

fn days_since_epoch(date: NaiveDate) -> f64 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("1970-01-01 is a date");
    (date - epoch).num_days() as f64
}
