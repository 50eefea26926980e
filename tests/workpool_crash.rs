//! Crash safety of the native workpool (issue 4 item 4), against `fixtures/workpool-ts`
//! (`convex/bench.ts`): `kill -9` while a pool is busy, then start again on the same data.
//! Every item reaches exactly one final result: mutations run exactly once (a counter
//! incremented by 1,000 enqueued mutations ends at 1,000, and 1,000 `onComplete`s committed); an
//! action attempt lost with the process is recorded as failed, as upstream's recovery does, and
//! no `onComplete` commits twice (the completions of 300 actions add up to exactly 300).

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

fn start(data: &str) -> Server {
    Server::start_app("fixtures/workpool-ts", &["--data", data, "--workers", "2"])
}

fn count(s: &Server, key: &str) -> f64 {
    s.query_ok("bench:count", json!({ "key": key })).as_f64().unwrap_or(0.0)
}

#[test]
fn kill_9_with_mutations_in_flight_runs_each_exactly_once() {
    let dir = TempDir::new("workpool-kill9-mutations");
    let data = dir.path.to_str().unwrap().to_string();
    {
        let s = start(&data);
        s.mutation_ok("bench:enqueueIncrements", json!({ "run": "m", "n": 1000.0 }));
        std::thread::sleep(Duration::from_millis(40));
        let before = count(&s, "m:success");
        s.kill9();
        assert!(before < 1000.0, "the kill must come while the pool is busy ({before} done)");
    }
    let s = start(&data);
    poll("1000 completions after the restart", Duration::from_secs(60), || {
        let done = count(&s, "m:success");
        if done >= 1000.0 { Ok(()) } else { Err(format!("{done} so far")) }
    });
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(count(&s, "m:success"), 1000.0, "no onComplete committed twice");
    assert_eq!(count(&s, "m:counter"), 1000.0, "each mutation ran exactly once");
    assert_eq!(count(&s, "m:failed"), 0.0);
}

#[test]
fn kill_9_with_actions_in_flight_gives_each_exactly_one_result() {
    let dir = TempDir::new("workpool-kill9-actions");
    let data = dir.path.to_str().unwrap().to_string();
    {
        let s = start(&data);
        s.mutation_ok("bench:enqueueTrivialBatch", json!({ "run": "a", "n": 300.0 }));
        std::thread::sleep(Duration::from_millis(60));
        let before = count(&s, "a:success");
        s.kill9();
        assert!(before < 300.0, "the kill must come while the pool is busy ({before} done)");
    }
    let s = start(&data);
    poll("300 final results after the restart", Duration::from_secs(60), || {
        let done = count(&s, "a:success") + count(&s, "a:failed");
        if done >= 300.0 { Ok(()) } else { Err(format!("{done} so far")) }
    });
    std::thread::sleep(Duration::from_millis(200));
    let (success, failed) = (count(&s, "a:success"), count(&s, "a:failed"));
    assert_eq!(success + failed, 300.0, "exactly one final result each: {success} succeeded, {failed} failed");
    // At most the attempts in flight at the kill (maxParallelism 10) were lost.
    assert!(failed <= 10.0, "{failed} lost attempts, more than could be running");
}
