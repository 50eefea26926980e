//! The one clock of emvex: every read of time — `_creationTime` and commit timestamps, the
//! frozen `Date.now()` of a query or mutation, an action's real `Date.now()`, timers, the
//! scheduler's and crons' due times, the workpool's `runAt`, and every time limit — goes through
//! a [`Clock`], so a test (and later a user's test suite) can swap the real one for a
//! [`ManualClock`] it moves by hand.
//!
//! A clock has two readings:
//! - *wall time* ([`Clock::now_ns`], [`Clock::now_ms`]): nanoseconds since the Unix epoch, what
//!   documents and schedules store. The real clock reads the system clock, which may step
//!   (NTP, a laptop waking up); code that needs order across readings (commit timestamps) keeps
//!   its own high-water mark;
//! - *elapsed time* ([`Clock::elapsed`], [`Deadline`]): a monotonic duration since the clock was
//!   made, for time limits and timers, which a step of the wall clock must not shorten.
//!
//! Invariants: elapsed time never goes backwards; a [`ManualClock`] moves wall and elapsed time
//! together and only when told to; clones of a [`Clock`] share one source.

#![forbid(unsafe_code)]

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Where a [`Clock`] reads time from.
pub trait TimeSource: Send + Sync {
    /// Nanoseconds since the Unix epoch.
    fn wall_ns(&self) -> u64;
    /// Monotonic time since the source was made.
    fn elapsed(&self) -> Duration;
    /// How long to sleep in real time before looking at this source again, when `wait` of its
    /// time is to pass: `wait` itself for a clock that follows real time.
    fn recheck_after(&self, wait: Duration) -> Duration {
        wait
    }
}

/// A cheap, cloneable handle on one time source.
#[derive(Clone)]
pub struct Clock(Arc<dyn TimeSource>);

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Clock").field("wall_ns", &self.now_ns()).finish()
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::real()
    }
}

impl Clock {
    /// The system's clock.
    pub fn real() -> Clock {
        Clock(Arc::new(SystemSource { start: Instant::now() }))
    }

    /// A clock that stands still at `start_ms` (ms since the epoch) until its [`ManualClock`]
    /// moves it.
    pub fn manual(start_ms: u64) -> (Clock, ManualClock) {
        let source = Arc::new(ManualSource { wall_ns: AtomicU64::new(start_ms * 1_000_000), elapsed_ns: 0.into() });
        (Clock(source.clone()), ManualClock(source))
    }

    /// A clock over any source.
    pub fn from_source(source: Arc<dyn TimeSource>) -> Clock {
        Clock(source)
    }

    /// Wall time: nanoseconds since the Unix epoch.
    pub fn now_ns(&self) -> u64 {
        self.0.wall_ns()
    }

    /// Wall time: milliseconds since the Unix epoch, with the fraction.
    pub fn now_ms(&self) -> f64 {
        let ns = self.now_ns();
        // Whole milliseconds and the fraction apart: nanoseconds since the epoch are past
        // 2^53, where an f64 would round them.
        (ns / 1_000_000) as f64 + (ns % 1_000_000) as f64 / 1e6
    }

    /// Wall time in whole milliseconds since the Unix epoch, as JavaScript's `Date.now()`.
    pub fn now_whole_ms(&self) -> f64 {
        (self.now_ns() / 1_000_000) as f64
    }

    /// Monotonic time since the clock's source was made.
    pub fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }

    /// How long a sleeper waiting for `wait` of this clock's time should sleep in real time
    /// before it looks again: `wait` on the real clock; at most a millisecond on a manual one,
    /// which may be moved forward at any moment.
    pub fn recheck_after(&self, wait: Duration) -> Duration {
        self.0.recheck_after(wait)
    }

    /// The moment `after` from now, on the monotonic reading.
    pub fn deadline(&self, after: Duration) -> Deadline {
        Deadline { clock: self.clone(), at: self.elapsed().saturating_add(after) }
    }
}

/// A moment on a clock's monotonic reading, for time limits and timers.
#[derive(Clone, Debug)]
pub struct Deadline {
    clock: Clock,
    at: Duration,
}

impl Deadline {
    /// Whether the moment has come.
    pub fn passed(&self) -> bool {
        self.clock.elapsed() >= self.at
    }

    /// How long until the moment (zero once it passed).
    pub fn remaining(&self) -> Duration {
        self.at.saturating_sub(self.clock.elapsed())
    }
}

struct SystemSource {
    start: Instant,
}

impl TimeSource for SystemSource {
    fn wall_ns(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
    }

    fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

struct ManualSource {
    wall_ns: AtomicU64,
    elapsed_ns: AtomicU64,
}

impl TimeSource for ManualSource {
    fn wall_ns(&self) -> u64 {
        self.wall_ns.load(Ordering::SeqCst)
    }

    fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.elapsed_ns.load(Ordering::SeqCst))
    }

    fn recheck_after(&self, wait: Duration) -> Duration {
        wait.min(Duration::from_millis(1))
    }
}

/// The hand that moves a manual [`Clock`].
#[derive(Clone)]
pub struct ManualClock(Arc<ManualSource>);

impl ManualClock {
    /// Moves wall and elapsed time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let ns = by.as_nanos() as u64;
        self.0.wall_ns.fetch_add(ns, Ordering::SeqCst);
        self.0.elapsed_ns.fetch_add(ns, Ordering::SeqCst);
    }

    /// Moves the clock to the start of the next whole millisecond of wall time, the edge a
    /// whole-millisecond `Date.now()` sees change.
    pub fn next_millisecond(&self) {
        let now = self.0.wall_ns();
        self.advance(Duration::from_nanos(1_000_000 - now % 1_000_000));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_clock_reads_the_system_time() {
        let clock = Clock::real();
        let system = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as f64;
        assert!((clock.now_ms() - system).abs() < 1000.0);
        assert_eq!(clock.now_whole_ms().fract(), 0.0);
        assert_eq!(clock.recheck_after(Duration::from_secs(3)), Duration::from_secs(3));
        let a = clock.elapsed();
        assert!(clock.elapsed() >= a);
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let (clock, hand) = Clock::manual(1_700_000_000_000);
        assert_eq!(clock.now_ms(), 1_700_000_000_000.0);
        assert_eq!(clock.elapsed(), Duration::ZERO);
        hand.advance(Duration::from_micros(1500));
        assert_eq!(clock.now_ms(), 1_700_000_000_001.5);
        assert_eq!(clock.now_whole_ms(), 1_700_000_000_001.0);
        hand.next_millisecond();
        assert_eq!(clock.now_ms(), 1_700_000_000_002.0);
        assert_eq!(clock.elapsed(), Duration::from_millis(2));
    }

    #[test]
    fn deadlines_follow_the_monotonic_reading() {
        let (clock, hand) = Clock::manual(0);
        let deadline = clock.deadline(Duration::from_millis(10));
        assert!(!deadline.passed());
        assert_eq!(deadline.remaining(), Duration::from_millis(10));
        assert_eq!(clock.recheck_after(Duration::from_secs(60)), Duration::from_millis(1));
        hand.advance(Duration::from_millis(10));
        assert!(deadline.passed());
        assert_eq!(deadline.remaining(), Duration::ZERO);
    }

    #[test]
    fn clones_share_one_source() {
        let (clock, hand) = Clock::manual(5);
        let other = clock.clone();
        hand.advance(Duration::from_millis(1));
        assert_eq!(other.now_ms(), 6.0);
    }
}
