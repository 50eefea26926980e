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
//! The clients speak the raw protocol (`Connect`, `ModifyQuerySet`) with tokio-tungstenite.

mod common;

use std::time::{Duration, Instant};

use common::{DevServer, rss_kib};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const ROUNDS: usize = 40;
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

/// Waits until `socket` receives a Transition whose first modification has value `value`.
async fn wait_value(socket: &mut Socket, value: &Value) {
    loop {
        let message = next_json(socket).await;
        if message["type"] == "Transition"
            && message["modifications"].as_array().is_some_and(|m| m.iter().any(|m| &m["value"] == value))
        {
            return;
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

/// (a): delivery to `subscribers` sockets; returns (delivery p50, p99, HTTP round trip p50).
async fn delivery(url: &str, http: &reqwest::Client, subscribers: usize) -> (Duration, Duration, Duration) {
    let name = format!("fanout-{subscribers}");
    let query = vec![("counter:get".to_string(), json!({"name": name}))];
    let mut sockets = Vec::new();
    for _ in 0..subscribers {
        sockets.push(subscribe(url, &query).await);
    }
    let mut deliveries = Vec::new();
    let mut round_trips = Vec::new();
    for round in 1..=ROUNDS {
        let expected = json!(round as f64);
        let started = Instant::now();
        let waits: Vec<_> = sockets
            .drain(..)
            .map(|mut socket| {
                let expected = expected.clone();
                tokio::spawn(async move {
                    wait_value(&mut socket, &expected).await;
                    (socket, Instant::now())
                })
            })
            .collect();
        let value = post_mutation(http, url, "counter:increment", json!({"name": name})).await;
        round_trips.push(started.elapsed());
        assert_eq!(value, expected);
        let mut last = started;
        for wait in waits {
            let (socket, at) = wait.await.expect("socket task");
            last = last.max(at);
            sockets.push(socket);
        }
        deliveries.push(last - started);
    }
    deliveries.sort();
    round_trips.sort();
    (percentile(&deliveries, 0.5), percentile(&deliveries, 0.99), percentile(&round_trips, 0.5))
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
    let (mut server, _) = DevServer::start("workpool-ts", &["--in-memory"]);
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
    let elapsed = started.elapsed();
    let _ = server.child.kill();
    let _ = server.child.wait();
    elapsed
}

#[tokio::main]
async fn main() {
    let (server, _) = DevServer::start("chat-web", &["--in-memory"]);
    let url = server.url.clone();
    let http = reqwest::Client::new();

    println!("## (a) one mutation → its result on every subscribed socket\n");
    println!(
        "| subscribers | delivery p50 | delivery p99 | HTTP mutation round trip p50 (baseline) | p50 / baseline |"
    );
    println!("|---|---|---|---|---|");
    for subscribers in [1, 100, 1000] {
        let (p50, p99, baseline) = delivery(&url, &http, subscribers).await;
        println!(
            "| {subscribers} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} |",
            ms(p50),
            ms(p99),
            ms(baseline),
            ms(p50) / ms(baseline)
        );
    }

    println!("\n## (b) {IDLE_SUBSCRIPTIONS} distinct idle subscriptions\n");
    let (server_b, _) = DevServer::start("chat-web", &["--in-memory"]);
    let url_b = server_b.url.clone();
    touch_rate(&url_b, &http).await;
    let before_rate = touch_rate(&url_b, &http).await;
    let rss_before = rss_kib(server_b.child.id());
    let mut idle = Vec::new();
    for socket in 0..IDLE_SOCKETS {
        let queries: Vec<_> = (0..IDLE_SUBSCRIPTIONS / IDLE_SOCKETS)
            .map(|i| ("counter:get".to_string(), json!({"name": format!("idle-{socket}-{i}")})))
            .collect();
        idle.push(subscribe(&url_b, &queries).await);
    }
    let rss_after = rss_kib(server_b.child.id());
    let after_rate = touch_rate(&url_b, &http).await;
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

    println!("\n## (c) W1 (1,000 trivial actions, one batch, maxParallelism 10) watched\n");
    println!("| watcher | W1 until the watcher saw all 1,000 finished | ratio to polling |");
    println!("|---|---|---|");
    let polled = watched_w1(&http, Watch::Polling).await;
    let subscribed = watched_w1(&http, Watch::Subscription).await;
    println!("| HTTP `statusBatch` every 10 ms (baseline) | {:.3} s | 1.00 |", polled.as_secs_f64());
    println!(
        "| one subscription to `statusBatch` of all 1,000 | {:.3} s | {:.2} |",
        subscribed.as_secs_f64(),
        subscribed.as_secs_f64() / polled.as_secs_f64()
    );
    for mut s in [server, server_b] {
        let _ = s.child.kill();
        let _ = s.child.wait();
    }
}
