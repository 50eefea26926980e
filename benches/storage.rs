//! File storage throughput (issue 10, item 3): a 100 MiB file uploaded through an upload URL
//! (`POST /api/storage/upload`) and downloaded from its `getUrl` URL, against `emvex dev
//! fixtures/files --data <temp dir>` over real HTTP on 127.0.0.1, compared in the same run with
//! the raw disk baseline: writing the same bytes to a file in the same directory in 1 MiB chunks
//! and fsyncing it (what an upload must do at least), and reading that file back. Target: each
//! at least 50% of its baseline. Three rounds; the best of each is reported, with all rounds.
//!
//! Run: `cargo bench --bench storage`.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::{DevServer, call, temp_dir};
use serde_json::json;

const SIZE: usize = 100 << 20;
const CHUNK: usize = 1 << 20;
const ROUNDS: usize = 3;

fn mib_per_s(d: Duration) -> f64 {
    (SIZE as f64 / (1 << 20) as f64) / d.as_secs_f64()
}

fn disk_write(path: &std::path::Path, bytes: &[u8]) -> Duration {
    let t = Instant::now();
    let mut f = std::fs::File::create(path).expect("create");
    for chunk in bytes.chunks(CHUNK) {
        f.write_all(chunk).expect("write");
    }
    f.sync_all().expect("fsync");
    t.elapsed()
}

fn disk_read(path: &std::path::Path) -> Duration {
    let t = Instant::now();
    let mut f = std::fs::File::open(path).expect("open");
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0;
    loop {
        let n = f.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        total += n;
    }
    assert_eq!(total, SIZE);
    t.elapsed()
}

/// The transport's own ceiling: 100 MiB sent over a plain TCP connection on 127.0.0.1, read in
/// 1 MiB buffers (no HTTP, no disk).
fn loopback() -> Duration {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let sender = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().expect("accept");
        let buf = vec![1u8; CHUNK];
        for _ in 0..SIZE / CHUNK {
            socket.write_all(&buf).expect("send");
        }
    });
    let t = Instant::now();
    let mut socket = std::net::TcpStream::connect(addr).expect("connect");
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0;
    while total < SIZE {
        let n = socket.read(&mut buf).expect("recv");
        assert!(n > 0, "connection closed early");
        total += n;
    }
    let elapsed = t.elapsed();
    sender.join().expect("sender");
    elapsed
}

fn main() {
    let data = temp_dir("storage");
    let data_arg = data.to_str().expect("utf-8 temp dir").to_string();
    let (server, _) = DevServer::start("files", &["--data", &data_arg]);
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(600)).build().expect("client");
    let bytes: Vec<u8> = (0..SIZE as u64).map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8).collect();
    let raw = data.join("raw-baseline.bin");

    let (mut up, mut down, mut w, mut r, mut tcp) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        tcp.push(loopback());
        w.push(disk_write(&raw, &bytes));
        r.push(disk_read(&raw));

        let url = call(&client, &server.url, "mutation", "files:generateUploadUrl", json!({}));
        let url = url.as_str().expect("upload url").to_string();
        let t = Instant::now();
        let response: serde_json::Value = client
            .post(&url)
            .header("Content-Type", "application/octet-stream")
            .body(bytes.clone())
            .send()
            .expect("upload")
            .json()
            .expect("upload answer");
        up.push(t.elapsed());
        let id = response["storageId"].as_str().expect("storageId").to_string();

        let file_url = call(&client, &server.url, "query", "files:getUrl", json!({ "storageId": id }));
        let file_url = file_url.as_str().expect("file url").to_string();
        let t = Instant::now();
        let mut resp = client.get(&file_url).send().expect("download");
        let mut buf = vec![0u8; CHUNK];
        let mut total = 0;
        loop {
            let n = resp.read(&mut buf).expect("read body");
            if n == 0 {
                break;
            }
            total += n;
        }
        down.push(t.elapsed());
        assert_eq!(total, SIZE, "round {round}: downloaded {total} bytes");
        call(&client, &server.url, "mutation", "files:deleteFile", json!({ "storageId": id }));
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&data);

    let best = |v: &[Duration]| mib_per_s(*v.iter().min().expect("rounds"));
    let all = |v: &[Duration]| v.iter().map(|d| format!("{:.0}", mib_per_s(*d))).collect::<Vec<_>>().join(", ");
    println!("100 MiB file, best of {ROUNDS} rounds (MiB/s; every round in brackets)");
    println!("| operation | emvex | raw disk (baseline) | ratio | target |");
    println!("|---|---|---|---|---|");
    let row = |name: &str, ours: &[Duration], base: &[Duration]| {
        let ratio = best(ours) / best(base);
        let verdict = if ratio >= 0.5 { "≥ 50% — met" } else { "≥ 50% — not met" };
        println!(
            "| {name} | {:.0} [{}] | {:.0} [{}] | {:.2} | {verdict} |",
            best(ours),
            all(ours),
            best(base),
            all(base),
            ratio
        );
    };
    row("upload (POST to an upload URL; write + fsync)", &up, &w);
    row("download (GET of the getUrl URL; read)", &down, &r);
    println!();
    println!(
        "For scale: a plain TCP transfer of 100 MiB on 127.0.0.1 (no HTTP, no disk) ran at {:.0} MiB/s [{}]; the upload",
        best(&tcp),
        all(&tcp)
    );
    println!("is at {:.2} of it, the download at {:.2}.", best(&up) / best(&tcp), best(&down) / best(&tcp));
}
