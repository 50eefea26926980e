//! Engine-only cost of one invocation: the fixture's `logs:silent` query and `messages:send`
//! mutation invoked directly on an `Isolate` with a host that answers every syscall at once (no
//! database). Run: `cargo run --release -p emvex-engine --example invoke_cost`.

use emvex_engine::*;
use std::time::Instant;
struct H;
impl Host for H {
    fn syscall(&mut self, _op: &str, _a: &str) -> Result<String, HostError> {
        Ok("null".into())
    }
    fn async_syscall(&mut self, op: &str, _a: &str) -> Result<String, HostError> {
        Ok(match op {
            "1.0/insert" => r#"{"_id":"j57000820c20a1g7104gm2rc1m70ynr8"}"#.into(),
            _ => "null".into(),
        })
    }
}
fn main() {
    let app_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/basic");
    let app = App::load(EngineOptions::new(&app_dir)).unwrap();
    let mut iso = Isolate::new(app).unwrap();
    let n = 20000;
    for (kind, module, name, args) in [
        (FunctionKind::Query, "logs", "silent", "[{}]"),
        (FunctionKind::Mutation, "messages", "send", r#"[{"author":"a","body":"b","channel":"c"}]"#),
    ] {
        let inv = Invocation {
            kind,
            module: module.into(),
            name: name.into(),
            args_json: args.into(),
            rng_seed: [1; 32],
            now_ms: 1.0,
            timeout: None,
        };
        let t = Instant::now();
        for _ in 0..n {
            let o = iso.invoke(&inv, &mut H);
            o.result.unwrap();
        }
        println!("{module}:{name}: {:.1} us", t.elapsed().as_secs_f64() * 1e6 / n as f64);
    }
}
