//! Tests of the crons export parser and of next run times for every schedule kind.

use chrono::{Datelike, TimeZone, Timelike, Utc};
use proptest::prelude::*;
use serde_json::json;

use super::*;

fn ms(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> f64 {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap().timestamp_millis() as f64
}

fn job(schedule: Value) -> String {
    json!({"job": {"name": "messages:send", "args": [{}], "schedule": schedule}}).to_string()
}

fn parse_one(schedule: Value) -> Schedule {
    let mut jobs = parse_crons(&job(schedule)).unwrap();
    assert_eq!(jobs.len(), 1);
    jobs.remove(0).schedule
}

fn parse_err(schedule: Value) -> ScheduleError {
    parse_crons(&job(schedule)).unwrap_err()
}

#[test]
fn parses_every_kind_as_exported_by_the_convex_package() {
    // The shape `cronJobs().export()` produces in convex 1.49.
    let export = r#"{
        "clear presence": {"name":"presence:clear","args":[{}],"schedule":{"seconds":30,"type":"interval"}},
        "hourly job": {"name":"jobs:hourly","args":[{"n":{"$integer":"AQAAAAAAAAA="}}],"schedule":{"minuteUTC":5,"type":"hourly"}},
        "spread": {"name":"jobs:hourly","args":[{}],"schedule":{"type":"hourly"}},
        "daily": {"name":"jobs/daily:run","args":[{"a":"b"}],"schedule":{"hourUTC":17,"minuteUTC":30,"type":"daily"}},
        "weekly": {"name":"emails:send","args":[{}],"schedule":{"dayOfWeek":"tuesday","hourUTC":9,"minuteUTC":0,"type":"weekly"}},
        "monthly": {"name":"billing:bill","args":[{}],"schedule":{"day":31,"hourUTC":0,"minuteUTC":0,"type":"monthly"}},
        "cron": {"name":"jobs:cron","args":[{}],"schedule":{"cron":"15 7 * * *","type":"cron"}},
        "by hours": {"name":"a:b","args":[{}],"schedule":{"hours":2,"type":"interval"}},
        "by minutes": {"name":"a:b","args":[{}],"schedule":{"minutes":5,"type":"interval"}}
    }"#;
    let jobs = parse_crons(export).unwrap();
    let ids: Vec<&str> = jobs.iter().map(|j| j.identifier.as_str()).collect();
    assert_eq!(
        ids,
        ["by hours", "by minutes", "clear presence", "cron", "daily", "hourly job", "monthly", "spread", "weekly"]
    );
    let get = |id: &str| jobs.iter().find(|j| j.identifier == id).unwrap();
    assert_eq!(get("clear presence").schedule, Schedule::Interval { ms: 30_000 });
    assert_eq!(get("by minutes").schedule, Schedule::Interval { ms: 300_000 });
    assert_eq!(get("by hours").schedule, Schedule::Interval { ms: 7_200_000 });
    assert_eq!(get("hourly job").schedule, Schedule::Hourly { minute: Minute::At(5) });
    assert_eq!(get("hourly job").args, json!({"n": {"$integer": "AQAAAAAAAAA="}}));
    assert_eq!(get("hourly job").udf_path, "jobs:hourly");
    assert_eq!(get("spread").schedule, Schedule::Hourly { minute: Minute::spread_for("spread") });
    assert_eq!(get("daily").schedule, Schedule::Daily { hour: 17, minute: Minute::At(30) });
    assert_eq!(get("daily").udf_path, "jobs/daily:run");
    assert_eq!(get("weekly").schedule, Schedule::Weekly { day_of_week: 2, hour: 9, minute: Minute::At(0) });
    assert_eq!(get("monthly").schedule, Schedule::Monthly { day: 31, hour: 0, minute: Minute::At(0) });
    match &get("cron").schedule {
        Schedule::Cron(expr) => assert_eq!(expr.as_str(), "15 7 * * *"),
        other => panic!("{other:?}"),
    }
    assert_eq!(parse_crons("{}").unwrap(), vec![]);
}

#[test]
fn spread_offsets_are_stable_and_within_the_hour() {
    assert_eq!(Minute::spread_for("a"), Minute::spread_for("a"));
    assert_ne!(Minute::spread_for("a"), Minute::spread_for("b"));
    for id in ["", "a", "clear presence", "x'y-z_1"] {
        let Minute::Spread { offset_secs } = Minute::spread_for(id) else { unreachable!() };
        assert!(offset_secs < 3600);
        assert_eq!(Minute::spread_for(id).minute_utc(), None);
    }
    assert_eq!(Minute::At(7).minute_utc(), Some(7));
}

#[test]
fn bad_input_texts_follow_convex() {
    let message = |schedule: Value| parse_err(schedule).message;
    assert_eq!(parse_err(json!({"type": "interval"})).code, "InvalidCron");
    assert_eq!(
        message(json!({"type": "interval"})),
        "Cron job \"job\": Exactly one of (seconds, minutes, hours) should be specified"
    );
    assert_eq!(
        message(json!({"type": "interval", "seconds": 1, "minutes": 1})),
        "Cron job \"job\": Exactly one of (seconds, minutes, hours) should be specified"
    );
    assert_eq!(
        message(json!({"type": "interval", "hours": 0})),
        "Cron job \"job\": Interval must be an integer greater than 0"
    );
    assert_eq!(
        message(json!({"type": "interval", "seconds": -5})),
        "Cron job \"job\": Interval must be an integer greater than 0"
    );
    assert!(message(json!({"type": "interval", "seconds": 1.5})).starts_with("Cron job \"job\": Invalid JSON"));
    assert!(
        message(json!({"type": "hourly", "minuteUTC": 60}))
            .starts_with("Cron job \"job\": minuteUTC must be 0-59 in {")
    );
    assert!(message(json!({"type": "daily", "hourUTC": 24, "minuteUTC": 0})).contains("hourUTC must be 0-23 in {"));
    assert!(message(json!({"type": "daily", "hourUTC": -1})).contains("hourUTC must be 0-23"));
    assert!(message(json!({"type": "daily"})).contains("Invalid JSON: `schedule.hourUTC` is missing"));
    assert!(message(json!({"type": "monthly", "day": 0, "hourUTC": 0})).contains("day of month must be 1-31 in {"));
    assert!(message(json!({"type": "monthly", "day": 32, "hourUTC": 0})).contains("day of month must be 1-31"));
    assert!(message(json!({"type": "weekly", "dayOfWeek": "Monday", "hourUTC": 0})).contains("Invalid JSON"));
    assert!(message(json!({"type": "weekly", "dayOfWeek": 1, "hourUTC": 0})).contains("Invalid JSON"));
    assert!(message(json!({"type": "yearly"})).contains("Invalid JSON"));
    assert!(message(json!({"cron": "* * * * *"})).contains("Invalid JSON"));
    assert!(message(json!({"type": "cron", "cron": "* * * *"})).contains("Failed to parse cron expression"));
    assert_eq!(
        message(json!({"type": "cron", "cron": "0 0 31 2 *"})),
        "Cron job \"job\": The cron spec \"0 0 31 2 *\" will never match any time"
    );
}

#[test]
fn bad_jobs_and_exports() {
    let err = |text: &str| parse_crons(text).unwrap_err();
    assert_eq!(err("[]").code, "InvalidCronsExport");
    assert_eq!(err("not json").code, "InvalidCronsExport");
    let e = err(r#"{"bad\u0007": {"name":"a:b","args":[{}],"schedule":{"type":"hourly"}}}"#);
    assert_eq!(e.code, "InvalidCron");
    assert!(e.message.contains("CronIdentifier bad\u{7} has invalid character"), "{}", e.message);
    assert!(
        err(r#"{"é": {"name":"a:b","args":[{}],"schedule":{"type":"hourly"}}}"#)
            .message
            .contains("invalid character 'é'")
    );
    assert!(err(r#"{"j": {"args":[{}],"schedule":{"type":"hourly"}}}"#).message.contains("`name` must be a string"));
    assert!(err(r#"{"j": {"name":"","args":[{}],"schedule":{"type":"hourly"}}}"#).message.contains("empty"));
    assert!(err(r#"{"j": {"name":"a:b","schedule":{"type":"hourly"}}}"#).message.contains("`args` is missing"));
    assert!(
        err(r#"{"j": {"name":"a:b","args":{},"schedule":{"type":"hourly"}}}"#).message.contains("must be an array")
    );
    assert!(
        err(r#"{"j": {"name":"a:b","args":[],"schedule":{"type":"hourly"}}}"#).message.contains("exactly one object")
    );
    assert!(
        err(r#"{"j": {"name":"a:b","args":[1],"schedule":{"type":"hourly"}}}"#).message.contains("exactly one object")
    );
    assert!(err(r#"{"j": {"name":"a:b","args":[{}]}}"#).message.contains("`schedule` must be an object"));
    assert!(err(r#"{"j": 5}"#).message.starts_with("Cron job \"j\": Invalid JSON"));
    // The first bad job in identifier order is reported.
    let e = err(
        r#"{"b": {"name":"a:b","args":[{}],"schedule":{"type":"x"}}, "a": {"name":"a:b","args":[{}],"schedule":{"type":"y"}}}"#,
    );
    assert!(e.message.starts_with("Cron job \"a\""), "{}", e.message);
    // Printable ASCII identifiers are fine, including punctuation.
    assert!(parse_crons(r#"{"a ~!'-_": {"name":"a:b","args":[{}],"schedule":{"type":"hourly"}}}"#).is_ok());
}

#[test]
fn intervals_run_from_the_anchor() {
    let s = Schedule::Interval { ms: 30_000 };
    let anchor = ms(2024, 12, 31, 23, 59) + 45_000.0;
    // The anchor itself is the first run.
    assert_eq!(s.next_after(anchor - 1.0, anchor), anchor);
    assert_eq!(s.next_after(0.0, anchor), anchor);
    assert_eq!(s.next_after(anchor, anchor), anchor + 30_000.0);
    assert_eq!(s.next_after(anchor + 29_999.0, anchor), anchor + 30_000.0);
    // Across the year boundary, still on the anchor's grid.
    assert_eq!(s.next_after(ms(2025, 1, 1, 0, 0), anchor), anchor + 30_000.0);
    assert_eq!(s.next_after(anchor + 3_600_000.0 + 1.0, anchor), anchor + 3_630_000.0);
    // Fractional anchors and times.
    assert_eq!(s.next_after(10.25, 0.5), 30_000.5);
}

#[test]
fn hourly_crosses_day_and_year_boundaries() {
    let s = Schedule::Hourly { minute: Minute::At(15) };
    assert_eq!(s.next_after(ms(2024, 12, 31, 23, 15), 0.0), ms(2025, 1, 1, 0, 15));
    assert_eq!(s.next_after(ms(2024, 12, 31, 23, 14), 0.0), ms(2024, 12, 31, 23, 15));
    let s = Schedule::Hourly { minute: Minute::At(0) };
    assert_eq!(s.next_after(ms(2024, 2, 28, 23, 30), 0.0), ms(2024, 2, 29, 0, 0));
}

#[test]
fn spread_schedules_run_at_their_offset() {
    let s = Schedule::Hourly { minute: Minute::Spread { offset_secs: 1234 } };
    assert_eq!(s.next_after(ms(2024, 1, 1, 10, 0), 0.0), ms(2024, 1, 1, 10, 0) + 1_234_000.0);
    assert_eq!(s.next_after(ms(2024, 1, 1, 10, 30), 0.0), ms(2024, 1, 1, 11, 0) + 1_234_000.0);
    let s = Schedule::Daily { hour: 23, minute: Minute::Spread { offset_secs: 3599 } };
    assert_eq!(s.next_after(ms(2024, 12, 31, 23, 59), 0.0), ms(2024, 12, 31, 23, 59) + 59_000.0);
    assert_eq!(s.next_after(ms(2024, 12, 31, 23, 59) + 59_000.0, 0.0), ms(2025, 1, 1, 23, 59) + 59_000.0);
}

#[test]
fn daily_crosses_month_year_and_leap_day() {
    let s = Schedule::Daily { hour: 17, minute: Minute::At(30) };
    assert_eq!(s.next_after(ms(2024, 1, 31, 18, 0), 0.0), ms(2024, 2, 1, 17, 30));
    assert_eq!(s.next_after(ms(2024, 2, 28, 17, 30), 0.0), ms(2024, 2, 29, 17, 30));
    assert_eq!(s.next_after(ms(2023, 2, 28, 17, 30), 0.0), ms(2023, 3, 1, 17, 30));
    assert_eq!(s.next_after(ms(2024, 12, 31, 17, 30), 0.0), ms(2025, 1, 1, 17, 30));
    assert_eq!(s.next_after(ms(2024, 12, 31, 17, 29), 0.0), ms(2024, 12, 31, 17, 30));
    // Before the epoch too.
    assert_eq!(s.next_after(ms(1969, 12, 31, 18, 0), 0.0), ms(1970, 1, 1, 17, 30));
}

#[test]
fn weekly_lands_on_the_day_of_week() {
    // 2024-12-31 is a Tuesday.
    let tuesday = Schedule::Weekly { day_of_week: 2, hour: 9, minute: Minute::At(0) };
    assert_eq!(tuesday.next_after(ms(2024, 12, 31, 8, 0), 0.0), ms(2024, 12, 31, 9, 0));
    assert_eq!(tuesday.next_after(ms(2024, 12, 31, 9, 0), 0.0), ms(2025, 1, 7, 9, 0));
    for day in 0..7u32 {
        let s = Schedule::Weekly { day_of_week: day, hour: 0, minute: Minute::At(0) };
        let t = s.next_after(ms(2024, 2, 26, 12, 0), 0.0);
        let date = Utc.timestamp_millis_opt(t as i64).unwrap();
        assert_eq!(date.weekday().num_days_from_sunday(), day);
        assert!(t - ms(2024, 2, 26, 12, 0) <= 7.0 * 86_400_000.0);
    }
    // Sunday across a leap day: 2024-02-25 and 2024-03-03 are Sundays.
    let sunday = Schedule::Weekly { day_of_week: 0, hour: 23, minute: Minute::At(59) };
    assert_eq!(sunday.next_after(ms(2024, 2, 26, 0, 0), 0.0), ms(2024, 3, 3, 23, 59));
}

#[test]
fn monthly_skips_months_without_the_day() {
    let cases = [
        // Day 31: Jan → Mar (no Feb 31) → May (no Apr 31) → across the year.
        (31, (2024, 1, 31, 12, 0), (2024, 3, 31, 12, 0)),
        (31, (2024, 3, 31, 12, 0), (2024, 5, 31, 12, 0)),
        (31, (2024, 12, 31, 12, 0), (2025, 1, 31, 12, 0)),
        // Day 30 never in February.
        (30, (2024, 1, 30, 12, 0), (2024, 3, 30, 12, 0)),
        // Day 29 in February only in leap years (2100 is not one, 2000 was).
        (29, (2024, 1, 29, 12, 0), (2024, 2, 29, 12, 0)),
        (29, (2023, 1, 29, 12, 0), (2023, 3, 29, 12, 0)),
        (29, (2100, 1, 29, 12, 0), (2100, 3, 29, 12, 0)),
        (29, (2000, 1, 29, 12, 0), (2000, 2, 29, 12, 0)),
        // Same day, before and at the time.
        (1, (2024, 12, 1, 11, 59), (2024, 12, 1, 12, 0)),
        (1, (2024, 12, 1, 12, 0), (2025, 1, 1, 12, 0)),
    ];
    for (day, (y, mo, d, h, mi), (ey, emo, ed, eh, emi)) in cases {
        let schedule = Schedule::Monthly { day, hour: 12, minute: Minute::At(0) };
        assert_eq!(
            schedule.next_after(ms(y, mo, d, h, mi), 0.0),
            ms(ey, emo, ed, eh, emi),
            "day {day} after {y}-{mo}-{d} {h}:{mi}"
        );
    }
}

#[test]
fn cron_schedules_use_the_expression() {
    let s = parse_one(json!({"type": "cron", "cron": "*/20 9-17 * * MON-FRI"}));
    // Friday 2024-03-01 17:40 → Monday 09:00.
    assert_eq!(s.next_after(ms(2024, 3, 1, 17, 40), 0.0), ms(2024, 3, 4, 9, 0));
    assert_eq!(s.next_after(ms(2024, 3, 4, 9, 0), 0.0), ms(2024, 3, 4, 9, 20));
    let s = parse_one(json!({"type": "cron", "cron": "0 0 1 1 *"}));
    assert_eq!(s.next_after(ms(2024, 6, 1, 0, 0), 0.0), ms(2025, 1, 1, 0, 0));
    let s = parse_one(json!({"type": "cron", "cron": "30 6 1,15 * *"}));
    assert_eq!(s.next_after(ms(2024, 2, 15, 6, 30), 0.0), ms(2024, 3, 1, 6, 30));
}

fn schedule_strategy() -> impl Strategy<Value = Schedule> {
    let minute = prop_oneof![
        (0u32..60).prop_map(Minute::At),
        (0u32..3600).prop_map(|offset_secs| Minute::Spread { offset_secs }),
    ];
    const CRONS: [&str; 15] = [
        "* * * * *",
        "*/7 * * * *",
        "0 22-2 * * *",
        "15 7 * * *",
        "0 0 29 2 *",
        "0 12 L * *",
        "0 9 * * 1-5",
        "0 0 1 * 1",
        "5,35 */6 * * *",
        "0 0 LW * *",
        "0 8 15W * *",
        "0 0 * * 5L",
        "0 0 * * 1#2",
        "0 0 31 * *",
        "45 23 * DEC SUN",
    ];
    prop_oneof![
        (1u64..200_000_000).prop_map(|ms| Schedule::Interval { ms }),
        minute.clone().prop_map(|minute| Schedule::Hourly { minute }),
        (0u32..24, minute.clone()).prop_map(|(hour, minute)| Schedule::Daily { hour, minute }),
        (0u32..7, 0u32..24, minute.clone())
            .prop_map(|(day_of_week, hour, minute)| { Schedule::Weekly { day_of_week, hour, minute } }),
        (1u32..32, 0u32..24, minute).prop_map(|(day, hour, minute)| Schedule::Monthly { day, hour, minute }),
        proptest::sample::select(&CRONS[..]).prop_map(|expr| Schedule::Cron(expr.parse().unwrap())),
    ]
}

/// Whether `t` is a run time of a clock schedule, checked field by field on the calendar.
fn on_calendar(schedule: &Schedule, t: f64) -> bool {
    let date = Utc.timestamp_millis_opt(t as i64).unwrap();
    let offset_in_hour = |minute: &Minute| match *minute {
        Minute::At(m) => f64::from(m) * 60_000.0,
        Minute::Spread { offset_secs } => f64::from(offset_secs) * 1000.0,
    };
    let hour_start = |hour: u32| {
        Utc.with_ymd_and_hms(date.year(), date.month(), date.day(), hour, 0, 0).unwrap().timestamp_millis() as f64
    };
    match schedule {
        Schedule::Hourly { minute } => t == hour_start(date.hour()) + offset_in_hour(minute),
        Schedule::Daily { hour, minute } => t == hour_start(*hour) + offset_in_hour(minute),
        Schedule::Weekly { day_of_week, hour, minute } => {
            date.weekday().num_days_from_sunday() == *day_of_week && t == hour_start(*hour) + offset_in_hour(minute)
        }
        Schedule::Monthly { day, hour, minute } => {
            date.day() == *day && t == hour_start(*hour) + offset_in_hour(minute)
        }
        Schedule::Cron(_) => date.second() == 0 && t % 60_000.0 == 0.0,
        Schedule::Interval { .. } => true,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn next_after_is_strictly_increasing_and_a_fixpoint(
        schedule in schedule_strategy(),
        // 1960 to 2100, with sub-millisecond parts.
        after in -315_619_200_000.0f64..4_102_444_800_000.0,
        anchor in 0.0f64..4_000_000_000_000.0,
    ) {
        let anchor = anchor.floor();
        let first = schedule.next_after(after, anchor);
        prop_assert!(first.is_finite());
        prop_assert!(first > after);
        // A fixpoint: just before a run, that run is next; and it is on the schedule.
        prop_assert_eq!(schedule.next_after(first - 0.5, anchor), first);
        prop_assert!(on_calendar(&schedule, first));
        if let Schedule::Interval { ms } = schedule {
            prop_assert_eq!((first - anchor) % ms as f64, 0.0);
            prop_assert!(first >= anchor);
        }
        // Nothing is skipped between `after` and `first`.
        let midpoint = after + (first - after) / 2.0;
        prop_assert_eq!(schedule.next_after(midpoint.min(first - 0.5).max(after), anchor), first);
        // The following runs keep increasing and stay fixpoints.
        let mut previous = first;
        for _ in 0..5 {
            let next = schedule.next_after(previous, anchor);
            prop_assert!(next > previous);
            prop_assert_eq!(schedule.next_after(next - 0.5, anchor), next);
            prop_assert!(on_calendar(&schedule, next));
            previous = next;
        }
    }

    #[test]
    fn next_after_is_monotone(
        schedule in schedule_strategy(),
        a in 0.0f64..4_102_444_800_000.0,
        gap in 0.0f64..10_000_000_000.0,
    ) {
        prop_assert!(schedule.next_after(a, 0.0) <= schedule.next_after(a + gap, 0.0));
    }
}
