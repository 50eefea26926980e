//! The periodic `report` event (spec §4.13–§4.14): per pool instance, what completed since the
//! last report, printed at `logLevel` REPORT (the default) at most once a minute while the pool
//! is active, as `{"component":"workpool","event":"report",completed,succeeded,failed,retries,
//! canceled,lastReportTs,running,backlog,failureRate,permanentFailureRate}`.
//!
//! The counters live in memory (a restart starts them at zero), so counting never adds a write
//! to the pool's transactions; a count from a transaction that later rolls back may be kept.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{Value as Json, json};

/// A report is due this long after the previous one.
const PERIOD_MS: f64 = 60_000.0;
/// A report later than this past its period restarts the period from now.
const STALE_MS: f64 = 30_000.0;

#[derive(Clone, Debug, Default, PartialEq)]
struct Counters {
    completed: f64,
    succeeded: f64,
    failed: f64,
    retries: f64,
    canceled: f64,
    last_report_ts: f64,
}

/// The counters of every pool instance.
#[derive(Debug, Default)]
pub struct Reports {
    by_instance: Mutex<BTreeMap<String, Counters>>,
}

impl Reports {
    /// Counts one `completed` event of `instance` (`status`: success, failed, retrying,
    /// canceled).
    pub fn record(&self, instance: &str, status: &str) {
        let mut all = self.by_instance.lock().unwrap_or_else(|e| e.into_inner());
        let c = all.entry(instance.to_string()).or_default();
        match status {
            "success" => {
                c.completed += 1.0;
                c.succeeded += 1.0;
            }
            "failed" => {
                c.completed += 1.0;
                c.failed += 1.0;
            }
            "retrying" => {
                c.completed += 1.0;
                c.retries += 1.0;
            }
            _ => c.canceled += 1.0,
        }
    }

    /// The report of `instance` if one is due at `now_ms` (its counters then start again), with
    /// `running` and `backlog` filled in by the caller.
    pub fn take_due(&self, instance: &str, now_ms: f64, running: usize, backlog: usize) -> Option<Json> {
        let mut all = self.by_instance.lock().unwrap_or_else(|e| e.into_inner());
        let c = all.entry(instance.to_string()).or_default();
        if now_ms - c.last_report_ts < PERIOD_MS {
            return None;
        }
        let rate = |num: f64, den: f64| if den > 0.0 { (num / den * 10_000.0).round() / 10_000.0 } else { 0.0 };
        let report = json!({
            "completed": c.completed,
            "succeeded": c.succeeded,
            "failed": c.failed,
            "retries": c.retries,
            "canceled": c.canceled,
            "lastReportTs": c.last_report_ts,
            "running": running,
            "backlog": backlog,
            "failureRate": rate(c.failed + c.retries, c.completed),
            "permanentFailureRate": rate(c.failed, c.completed - c.retries),
        });
        let next = c.last_report_ts + PERIOD_MS;
        *c = Counters { last_report_ts: if now_ms - next > STALE_MS { now_ms } else { next }, ..Counters::default() };
        Some(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_once_a_minute_with_upstreams_rates() {
        let r = Reports::default();
        for status in ["success", "success", "failed", "retrying", "retrying", "canceled"] {
            r.record("p", status);
        }
        let first = r.take_due("p", 100_000.0, 2, 1).expect("the first report is due at once");
        assert_eq!(first["completed"], json!(5.0));
        assert_eq!(first["failureRate"], json!(0.6));
        assert_eq!(first["permanentFailureRate"], json!(0.3333));
        assert_eq!(first["canceled"], json!(1.0));
        assert_eq!((first["running"].clone(), first["backlog"].clone()), (json!(2), json!(1)));
        // Stale (100 s after 0): the next period starts now.
        assert!(r.take_due("p", 130_000.0, 0, 0).is_none());
        let second = r.take_due("p", 160_000.0, 0, 0).expect("a minute later");
        assert_eq!((second["completed"].clone(), second["lastReportTs"].clone()), (json!(0.0), json!(100_000.0)));
        assert!(r.take_due("other", 0.0, 0, 0).is_none(), "a new pool's first period starts at 0");
    }
}
