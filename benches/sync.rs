//! `cargo bench --bench sync`: reactive queries over the WebSocket sync protocol, against an
//! `emvex dev` child process serving `fixtures/chat-web` (issue 9, item 12).
//!
//! (a) One HTTP mutation → the changed result delivered to 1, 100 and 1,000 sockets subscribed to
//!     the same query: p50/p99 from sending the mutation to the last socket's receipt, beside the
//!     HTTP mutation round trip measured in the same run (the baseline).
//! (b) 10,000 distinct idle subscriptions: the server's RSS per subscription, and the rate of
//!     HTTP mutations that touch none of them against the same server before they existed.
//! (c) W1 of the workpool benchmark watched by one socket subscribed to `statusBatch` of all
//!     1,000 items, against the same watcher polling over HTTP every 10 ms.
//!
//! `cargo bench --bench sync -- a c` runs only the named parts.
//!
//! The clients speak the raw protocol (`Connect`, `ModifyQuerySet`) with tokio-tungstenite.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{DevServer, cpu_time, rss_kib};
use emvex_sync::decode_ts;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const ROUNDS: usize = 100;
const IDLE_SUBSCRIPTIONS: usize = 10_000;
const IDLE_SOCKETS: usize = 10;
const TOUCHES: usize = 300;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Opens a socket and subscribes it to `queries` (`[udfPath, args]`), waiting for their first
/// results.
async fn subscribe(url: &str, queries: &[(String, Value)]) -> Socket {
    subscribe_with_results(url, queries).await.0
}

/// [`subscribe`], also returning the first results (their values).
async fn subscribe_with_results(url: &str, queries: &[(String, Value)]) -> (Socket, Vec<Value>) {
    let ws_url = format!("{}/api/1.49.0/sync", url.replacen("http", "ws", 1));
    // A small read buffer: tungstenite zero-fills all of it (128 KiB by default) for reads.
    let config = WebSocketConfig::default().read_buffer_size(8 << 10);
    let (mut socket, _) =
        tokio_tungstenite::connect_async_with_config(ws_url, Some(config), true).await.expect("connect");
    let connect = json!({"type": "Connect", "sessionId": format!("bench-{}", rand_id()), "connectionCount": 0,
        "lastCloseReason": "InitialConnect", "clientTs": 0});
    let modifications: Vec<Value> = queries
        .iter()
        .enumerate()
        .map(|(i, (path, args))| json!({"type": "Add", "queryId": i, "udfPath": path, "args": [args]}))
        .collect();
    let add = json!({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": modifications});
    socket.send(Message::text(connect.to_string())).await.expect("send");
    socket.send(Message::text(add.to_string())).await.expect("send");
    let mut results = Vec::new();
    while results.len() < queries.len() {
        let message = next_json(&mut socket).await;
        if message["type"] == "Transition" {
            results.extend(message["modifications"].as_array().into_iter().flatten().map(|m| m["value"].clone()));
        }
    }
    (socket, results)
}

/// A session id per socket.
fn rand_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

async fn next_json(socket: &mut Socket) -> Value {
    loop {
        match socket.next().await.expect("socket open").expect("frame") {
            Message::Text(text) => return serde_json::from_str(&text).expect("json"),
            _ => continue,
        }
    }
}

/// A number a Transition carried to one socket.
struct Received {
    value: f64,
    at: Instant,
    /// From the commit to the receipt: the Transition's end ts is the commit's, nanoseconds of
    /// wall time taken on this same machine.
    since_commit: Duration,
}

/// Reports every number a Transition on `socket` carries. Only the fields it needs are parsed:
/// the clients share this machine's two cores with the server.
async fn report_values(mut socket: Socket, to: tokio::sync::mpsc::UnboundedSender<Received>) {
    #[derive(serde::Deserialize)]
    struct Transition {
        #[serde(rename = "endVersion")]
        end_version: Version,
        modifications: Vec<Modification>,
    }
    #[derive(serde::Deserialize)]
    struct Version {
        ts: String,
    }
    #[derive(serde::Deserialize)]
    struct Modification {
        value: Option<f64>,
    }
    while let Some(Ok(message)) = socket.next().await {
        let Message::Text(text) = message else { continue };
        let at = Instant::now();
        let wall_ns = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_nanos() as u64;
        if !text.starts_with(r#"{"type":"Transition""#) {
            continue;
        }
        let transition: Transition = serde_json::from_str(&text).expect("a Transition");
        let commit_ns = decode_ts(&transition.end_version.ts).expect("an EncodedTs");
        let since_commit = Duration::from_nanos(wall_ns.saturating_sub(commit_ns));
        for value in transition.modifications.into_iter().filter_map(|m| m.value) {
            let _ = to.send(Received { value, at, since_commit });
        }
    }
}

fn post_mutation(http: &reqwest::Client, url: &str, path: &str, args: Value) -> impl Future<Output = Value> {
    let request = http.post(format!("{url}/api/mutation")).json(&json!({"path": path, "args": [args]}));
    async move {
        let body: Value = request.send().await.expect("mutation").json().await.expect("json");
        assert_eq!(body["status"], "success", "{body}");
        body["value"].clone()
    }
}

/// What (a) measured for one number of subscribers.
struct Delivery {
    /// From the commit to the last socket's receipt.
    p50: Duration,
    p99: Duration,
    /// From sending the HTTP mutation to the last socket's receipt.
    sent_p50: Duration,
    /// The HTTP mutation round trip, p50.
    baseline: Duration,
    /// CPU time per round of the server and of the clients (this process).
    server_cpu: Duration,
    client_cpu: Duration,
}

/// (a): delivery to `subscribers` sockets of the server `server_pid`.
async fn delivery(url: &str, http: &reqwest::Client, server_pid: u32, subscribers: usize) -> Delivery {
    let name = format!("fanout-{subscribers}");
    let query = vec![("counter:get".to_string(), json!({"name": name}))];
    let mut sockets = Vec::new();
    for _ in 0..subscribers {
        sockets.push(subscribe(url, &query).await);
    }
    // One reader per socket for the whole run, reporting each counter value it receives.
    let (received_tx, mut received) = tokio::sync::mpsc::unbounded_channel::<Received>();
    let readers: Vec<_> =
        sockets.into_iter().map(|socket| tokio::spawn(report_values(socket, received_tx.clone()))).collect();
    let mut deliveries = Vec::new();
    let mut from_commits = Vec::new();
    let mut round_trips = Vec::new();
    let (server_before, client_before) = (cpu_time(server_pid), cpu_time(std::process::id()));
    for round in 1..=ROUNDS {
        let expected = round as f64;
        let started = Instant::now();
        let value = post_mutation(http, url, "counter:increment", json!({"name": name})).await;
        round_trips.push(started.elapsed());
        assert_eq!(value, json!(expected));
        let mut last = started;
        let mut from_commit = Duration::ZERO;
        let mut delivered = 0;
        while delivered < subscribers {
            let r = received.recv().await.expect("a reader");
            if r.value == expected {
                delivered += 1;
                last = last.max(r.at);
                from_commit = from_commit.max(r.since_commit);
            }
        }
        deliveries.push(last - started);
        from_commits.push(from_commit);
    }
    let server_cpu = (cpu_time(server_pid) - server_before) / ROUNDS as u32;
    let client_cpu = (cpu_time(std::process::id()) - client_before) / ROUNDS as u32;
    for reader in readers {
        reader.abort();
    }
    deliveries.sort();
    from_commits.sort();
    round_trips.sort();
    Delivery {
        p50: percentile(&from_commits, 0.5),
        p99: percentile(&from_commits, 0.99),
        sent_p50: percentile(&deliveries, 0.5),
        baseline: percentile(&round_trips, 0.5),
        server_cpu,
        client_cpu,
    }
}

async fn touch_rate(url: &str, http: &reqwest::Client) -> f64 {
    let started = Instant::now();
    for _ in 0..TOUCHES {
        post_mutation(http, url, "other:touch", json!({})).await;
    }
    TOUCHES as f64 / started.elapsed().as_secs_f64()
}

#[derive(Clone, Copy)]
enum Watch {
    Polling,
    Subscription,
}

fn all_finished(statuses: &Value) -> bool {
    statuses.as_array().is_some_and(|all| all.iter().all(|s| s["state"] == "finished"))
}

/// W1 on `fixtures/workpool-ts` (native workpool), watched until every item is `finished`.
async fn watched_w1(http: &reqwest::Client, watch: Watch) -> Duration {
    let (server, _) = DevServer::start("workpool-ts", &["--in-memory"]);
    let url = server.url.clone();
    let query = |ids: &Value| {
        http.post(format!("{url}/api/query")).json(&json!({"path": "bench:statusBatch", "args": [{"ids": ids}]}))
    };
    let poll_until_finished = |ids: Value| async move {
        loop {
            let body: Value = query(&ids).send().await.expect("query").json().await.expect("json");
            if all_finished(&body["value"]) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    // Warm-up: load every realm and the pool's first rows.
    poll_until_finished(
        post_mutation(http, &url, "bench:enqueueTrivialBatchIds", json!({"run": "warm", "n": 1.0})).await,
    )
    .await;
    let started = Instant::now();
    let ids = post_mutation(http, &url, "bench:enqueueTrivialBatchIds", json!({"run": "w1", "n": 1000.0})).await;
    match watch {
        Watch::Polling => poll_until_finished(ids).await,
        Watch::Subscription => {
            let (mut socket, first) =
                subscribe_with_results(&url, &[("bench:statusBatch".to_string(), json!({"ids": ids}))]).await;
            let mut done = all_finished(&first[0]);
            while !done {
                let message = next_json(&mut socket).await;
                done = message["type"] == "Transition"
                    && message["modifications"].as_array().is_some_and(|m| m.iter().any(|m| all_finished(&m["value"])));
            }
        }
    }
    started.elapsed()
}

/// Whether part `name` runs: all do unless some are named on the command line.
fn wanted(name: &str) -> bool {
    let named: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    named.is_empty() || named.iter().any(|n| n == name)
}

#[tokio::main]
async fn main() {
    let http = reqwest::Client::new();
    if wanted("a") {
        fan_out(&http).await;
    }
    if wanted("b") {
        idle_subscriptions(&http).await;
    }
    if wanted("c") {
        watched_workload(&http).await;
    }
}

async fn fan_out(http: &reqwest::Client) {
    let (server, _) = DevServer::start("chat-web", &["--in-memory"]);
    let url = server.url.clone();
    if let Ok(wait) = std::env::var("EMVEX_BENCH_PAUSE") {
        // For profiling: time to attach `perf record -p <pid>` to the server.
        println!("server pid {}", server.child.id());
        std::thread::sleep(Duration::from_secs(wait.parse().unwrap_or(10)));
    }
    println!("## (a) one mutation → its result on every subscribed socket\n");
    println!(
        "| subscribers | commit → last receipt p50 | p99 | mutation sent → last receipt p50 \
         | HTTP mutation round trip p50 (baseline) | p50 / baseline | server CPU per round | clients' CPU per round |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for subscribers in [1, 100, 1000] {
        let d = delivery(&url, http, server.child.id(), subscribers).await;
        println!(
            "| {subscribers} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} | {:.1} ms | {:.1} ms |",
            ms(d.p50),
            ms(d.p99),
            ms(d.sent_p50),
            ms(d.baseline),
            ms(d.p50) / ms(d.baseline),
            ms(d.server_cpu),
            ms(d.client_cpu),
        );
    }
}

async fn idle_subscriptions(http: &reqwest::Client) {
    println!("\n## (b) {IDLE_SUBSCRIPTIONS} distinct idle subscriptions\n");
    let (server_b, _) = DevServer::start("chat-web", &["--in-memory"]);
    let url_b = server_b.url.clone();
    touch_rate(&url_b, http).await;
    let before_rate = touch_rate(&url_b, http).await;
    let rss_before = rss_kib(server_b.child.id());
    let mut idle = Vec::new();
    for socket in 0..IDLE_SOCKETS {
        let queries: Vec<_> = (0..IDLE_SUBSCRIPTIONS / IDLE_SOCKETS)
            .map(|i| ("counter:get".to_string(), json!({"name": format!("idle-{socket}-{i}")})))
            .collect();
        idle.push(subscribe(&url_b, &queries).await);
    }
    let rss_after = rss_kib(server_b.child.id());
    let after_rate = touch_rate(&url_b, http).await;
    println!("| measure | without subscriptions | with {IDLE_SUBSCRIPTIONS} | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| HTTP mutations/s touching none of them | {before_rate:.0} | {after_rate:.0} | {:.3} |",
        after_rate / before_rate
    );
    println!(
        "| server RSS | {} MiB | {} MiB | {:.1} KiB per subscription |",
        rss_before / 1024,
        rss_after / 1024,
        (rss_after.saturating_sub(rss_before)) as f64 / IDLE_SUBSCRIPTIONS as f64
    );
    drop(idle);
}

async fn watched_workload(http: &reqwest::Client) {
    println!("\n## (c) W1 (1,000 trivial actions, one batch, maxParallelism 10) watched\n");
    println!("| watcher | W1 until the watcher saw all 1,000 finished | ratio to polling |");
    println!("|---|---|---|");
    let polled = watched_w1(http, Watch::Polling).await;
    let subscribed = watched_w1(http, Watch::Subscription).await;
    println!("| HTTP `statusBatch` every 10 ms (baseline) | {:.3} s | 1.00 |", polled.as_secs_f64());
    println!(
        "| one subscription to `statusBatch` of all 1,000 | {:.3} s | {:.2} |",
        subscribed.as_secs_f64(),
        subscribed.as_secs_f64() / polled.as_secs_f64()
    );
}
