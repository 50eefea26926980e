//! File storage throughput (issue 10, item 3): a 100 MiB file uploaded through an upload URL
//! (`POST /api/storage/upload`) and downloaded from its `getUrl` URL, against `emvex dev
//! fixtures/files --data <temp dir>` over real HTTP on 127.0.0.1, compared in the same run with
//! the raw disk baseline: writing the same bytes to a file in the same directory in 1 MiB chunks
//! and fsyncing it (what an upload must do at least), and reading that file back from the disk
//! (both files are evicted from the page cache first, `posix_fadvise(DONTNEED)`). Target: each
//! at least 50% of its baseline. For scale, the download again with the file in the page cache
//! against reading the baseline file from the page cache, and a plain loopback TCP transfer.
//! Three rounds; the best of each is reported, with all rounds.
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

/// Drops the pages of `path` from the page cache, so that its next read comes from the disk.
fn evict(path: &std::path::Path) {
    let file = std::fs::File::open(path).expect("open to evict");
    rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).expect("posix_fadvise");
}

/// Every stored file of the server (the bench stores one at a time).
fn stored_files(data: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(dir) = std::fs::read_dir(data.join("files").join("app")) else { return Vec::new() };
    dir.map(|entry| entry.expect("stored file").path()).collect()
}

/// Reads `source` to its end in [`CHUNK`] buffers (as a client would) and checks its length.
fn read_through(mut source: impl Read) {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0;
    loop {
        let n = source.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        total += n;
    }
    assert_eq!(total, SIZE, "read {total} bytes");
}

fn disk_read(path: &std::path::Path) -> Duration {
    let t = Instant::now();
    read_through(std::fs::File::open(path).expect("open"));
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
    // Shared, so that each upload sends the same bytes without copying 100 MiB in the timed part.
    let body = bytes::Bytes::from(bytes.clone());
    let raw = data.join("raw-baseline.bin");
    let download = |url: &str| {
        let t = Instant::now();
        read_through(client.get(url).send().expect("download"));
        t.elapsed()
    };

    let mut rounds = Rounds::default();
    for _ in 0..ROUNDS {
        rounds.tcp.push(loopback());
        rounds.write.push(disk_write(&raw, &bytes));
        evict(&raw);
        rounds.read_cold.push(disk_read(&raw));
        rounds.read_warm.push(disk_read(&raw));

        let url = call(&client, &server.url, "mutation", "files:generateUploadUrl", json!({}));
        let url = url.as_str().expect("upload url").to_string();
        let t = Instant::now();
        let response: serde_json::Value = client
            .post(&url)
            .header("Content-Type", "application/octet-stream")
            .body(body.clone())
            .send()
            .expect("upload")
            .json()
            .expect("upload answer");
        rounds.upload.push(t.elapsed());
        let id = response["storageId"].as_str().expect("storageId").to_string();

        let file_url = call(&client, &server.url, "query", "files:getUrl", json!({ "storageId": id }));
        let file_url = file_url.as_str().expect("file url").to_string();
        let stored = stored_files(&data);
        assert_eq!(stored.len(), 1, "one stored file at a time: {stored:?}");
        evict(&stored[0]);
        rounds.download_cold.push(download(&file_url));
        rounds.download_warm.push(download(&file_url));
        call(&client, &server.url, "mutation", "files:deleteFile", json!({ "storageId": id }));
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&data);
    rounds.report();
}

/// Every round's time of each measurement.
#[derive(Default)]
struct Rounds {
    upload: Vec<Duration>,
    download_cold: Vec<Duration>,
    download_warm: Vec<Duration>,
    write: Vec<Duration>,
    read_cold: Vec<Duration>,
    read_warm: Vec<Duration>,
    tcp: Vec<Duration>,
}

fn best(v: &[Duration]) -> f64 {
    mib_per_s(*v.iter().min().expect("rounds"))
}

fn all(v: &[Duration]) -> String {
    v.iter().map(|d| format!("{:.0}", mib_per_s(*d))).collect::<Vec<_>>().join(", ")
}

impl Rounds {
    fn report(&self) {
        println!("100 MiB file, best of {ROUNDS} rounds (MiB/s; every round in brackets)");
        println!("| operation | emvex | baseline | ratio | target |");
        println!("|---|---|---|---|---|");
        let row = |name: &str, ours: &[Duration], base: &[Duration], target: bool| {
            let ratio = best(ours) / best(base);
            let verdict = match (target, ratio >= 0.5) {
                (false, _) => "(for scale)",
                (true, true) => "≥ 50% — met",
                (true, false) => "≥ 50% — not met",
            };
            println!(
                "| {name} | {:.0} [{}] | {:.0} [{}] | {ratio:.2} | {verdict} |",
                best(ours),
                all(ours),
                best(base),
                all(base)
            );
        };
        row("upload (POST to an upload URL) vs write + fsync", &self.upload, &self.write, true);
        row("download (GET of the getUrl URL) vs read, both from the disk", &self.download_cold, &self.read_cold, true);
        row("download vs read, both from the page cache", &self.download_warm, &self.read_warm, false);
        row("download from the page cache vs plain loopback TCP", &self.download_warm, &self.tcp, false);
        row("upload vs plain loopback TCP", &self.upload, &self.tcp, false);
    }
}
