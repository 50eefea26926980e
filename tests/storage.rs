//! File storage against `fixtures/files` over real HTTP: upload URLs from mutations and actions
//! (streamed bodies larger than the function API's limit, a URL used twice, as Convex allows),
//! `getUrl` URLs served with content type, length, digest and one `Range` (206/416),
//! `getMetadata` (hex SHA-256) and the `_storage` documents through `ctx.db.system` (base64),
//! `store`/`get` in actions and mutations (with a `sha256` check), HTTP-action uploads and the
//! 20 MiB HTTP-action body limit, deletes that commit, roll back and roll back in a caught nested
//! mutation, a component's own storage, Convex's errors for malformed, tampered and expired
//! upload tokens, unknown ids, persistence across restarts and the sweep of files no document
//! names at start.

mod common;

use common::*;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const FILES_FIXTURE: &str = "fixtures/files";

fn start(extra: &[&str]) -> (Server, String) {
    let server = Server::start_app(FILES_FIXTURE, extra);
    let site = server.site_url();
    (server, site)
}

fn upload(s: &Server, url: &str, body: Vec<u8>, content_type: Option<&str>) -> Resp {
    let mut req = s.client().post(url).body(body);
    if let Some(ct) = content_type {
        req = req.header("Content-Type", ct);
    }
    Resp::from(req.send().expect("upload failed"))
}

fn upload_ok(s: &Server, url: &str, body: &[u8], content_type: Option<&str>) -> String {
    let r = upload(s, url, body.to_vec(), content_type);
    assert_eq!(r.status, 200, "upload: {}", r.text);
    r.json["storageId"].as_str().expect("storageId").to_string()
}

fn get(s: &Server, url: &str, range: Option<&str>) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = s.client().get(url);
    if let Some(r) = range {
        req = req.header("Range", r);
    }
    let resp = req.send().expect("GET failed");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.bytes().expect("body").to_vec())
}

fn header<'h>(h: &'h reqwest::header::HeaderMap, name: &str) -> Option<&'h str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn url_of(s: &Server, id: &str) -> Value {
    s.query_ok("files:getUrl", json!({ "storageId": id }))
}

fn b64_sha256(bytes: &[u8]) -> String {
    b64(&Sha256::digest(bytes))
}

#[test]
fn upload_url_round_trip_with_metadata_and_ranges() {
    let (s, _) = start(&["--in-memory"]);
    let upload_url = s.mutation_ok("files:generateUploadUrl", json!({}));
    let upload_url = upload_url.as_str().unwrap();
    assert!(upload_url.starts_with(&format!("{}/api/storage/upload?token=", s.url)), "{upload_url}");
    let body = b"hello world, this is a stored file".to_vec();
    let id = upload_ok(&s, upload_url, &body, Some("text/plain"));
    assert!(decode_id(&id).is_some(), "a storage id is a real document id: {id}");

    // The `_storage` document, through ctx.db.system (get and query); no hidden fields.
    let sys = s.query_ok("files:systemDoc", json!({ "storageId": id }));
    let doc = &sys["byGet"];
    assert_eq!(doc["_id"], json!(id));
    assert_eq!(doc["sha256"], json!(b64_sha256(&body)));
    assert_eq!(doc["size"].as_f64(), Some(body.len() as f64));
    assert_eq!(doc["contentType"], json!("text/plain"));
    assert!(doc["_creationTime"].as_f64().unwrap() > 0.0);
    assert_eq!(keys(doc), vec!["_creationTime", "_id", "contentType", "sha256", "size"]);
    assert_eq!((sys["count"].as_f64(), &sys["listed"]), (Some(1.0), &json!(true)));

    // getMetadata: hex SHA-256.
    let meta = s.query_ok("files:getMetadata", json!({ "storageId": id }));
    let hex: String = Sha256::digest(&body).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(meta, json!({"storageId": id, "sha256": hex, "size": body.len() as f64, "contentType": "text/plain"}));

    // getUrl serves the file with its type, length and digest.
    let url = url_of(&s, &id);
    let url = url.as_str().unwrap();
    assert!(url.starts_with(&format!("{}/api/storage/", s.url)), "{url}");
    let (status, h, bytes) = get(&s, url, None);
    assert_eq!((status, bytes.as_slice()), (200, body.as_slice()));
    assert_eq!(header(&h, "content-type"), Some("text/plain"));
    assert_eq!(header(&h, "content-length"), Some(body.len().to_string().as_str()));
    assert_eq!(header(&h, "accept-ranges"), Some("bytes"));
    assert_eq!(header(&h, "digest"), Some(format!("sha-256={}", b64_sha256(&body)).as_str()));
    // The storage id serves too.
    assert_eq!(get(&s, &format!("{}/api/storage/{id}", s.url), None).2, body);

    // Ranges: a slice, an open end, a suffix; unsatisfiable and multiple ranges are 416.
    let (status, h, bytes) = get(&s, url, Some("bytes=6-10"));
    assert_eq!((status, bytes.as_slice()), (206, &b"world"[..]));
    assert_eq!(header(&h, "content-range"), Some(format!("bytes 6-10/{}", body.len()).as_str()));
    assert_eq!(header(&h, "content-length"), Some("5"));
    assert_eq!(get(&s, url, Some("bytes=30-")).2, b"file");
    assert_eq!(get(&s, url, Some("bytes=-4")).2, b"file");
    let (status, h, _) = get(&s, url, Some("bytes=1000-"));
    assert_eq!(status, 416);
    assert_eq!(header(&h, "content-range"), Some(format!("bytes */{}", body.len()).as_str()));
    assert_eq!(get(&s, url, Some("bytes=0-1,3-4")).0, 416);

    // The same upload URL may be used again (as on Convex: valid for an hour): a new file.
    let second = upload_ok(&s, upload_url, b"second", None);
    assert_ne!(second, id);
    let doc = &s.query_ok("files:systemDoc", json!({ "storageId": second }))["byGet"];
    assert_eq!(doc["contentType"], Value::Null, "no Content-Type: null, as Convex writes it: {doc}");
    assert_eq!(s.query_ok("files:getMetadata", json!({ "storageId": second }))["contentType"], Value::Null);
}

#[test]
fn large_uploads_stream_past_the_function_api_limit() {
    let (s, _) = start(&["--in-memory"]);
    let url = s.mutation_ok("files:generateUploadUrl", json!({})).as_str().unwrap().to_string();
    // 24 MiB: larger than the 17 MiB the function API reads and the 20 MiB of HTTP actions.
    let body: Vec<u8> = (0..24u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let id = upload_ok(&s, &url, &body, Some("application/octet-stream"));
    let meta = s.query_ok("files:getMetadata", json!({ "storageId": id }));
    assert_eq!(meta["size"].as_f64(), Some(body.len() as f64));
    let (status, _, bytes) = get(&s, url_of(&s, &id).as_str().unwrap(), None);
    assert_eq!(status, 200);
    assert!(bytes == body, "the downloaded bytes differ from the uploaded ones");
    // A wrong `Digest` header is refused and stores nothing.
    let r = Resp::from(
        s.client().post(&url).header("Digest", format!("sha-256={}", b64_sha256(b"other"))).body("x").send().unwrap(),
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(s.query_ok("files:listFiles", json!({})).as_array().unwrap().len(), 1);
}

#[test]
fn bad_upload_tokens_get_convex_errors() {
    let data = TempDir::new("storage-tokens");
    let (s, _) = start(&["--data", data.str()]);
    let url = s.mutation_ok("files:generateUploadUrl", json!({})).as_str().unwrap().to_string();
    let token = url.split("token=").nth(1).unwrap().to_string();
    let base = format!("{}/api/storage/upload", s.url);

    let invalid = |r: Resp| {
        assert_eq!(r.status, 401, "{}", r.text);
        assert_eq!(r.json["code"], json!("StorageTokenInvalid"), "{}", r.text);
        assert_eq!(r.json["message"], json!("Couldn't decode the StoreFileAuthorization token"));
    };
    invalid(upload(&s, &format!("{base}?token=not-a-token"), b"x".to_vec(), None));
    invalid(upload(&s, &format!("{base}?token="), b"x".to_vec(), None));
    // Tampered: another issue time under the same signature.
    let (issued, rest) = token.split_once('.').unwrap();
    let tampered = format!("{}.{rest}", issued.parse::<u64>().unwrap() + 3_600_000);
    invalid(upload(&s, &format!("{base}?token={tampered}"), b"x".to_vec(), None));
    let missing = upload(&s, &base, b"x".to_vec(), None);
    assert_eq!(missing.status, 400, "{}", missing.text);

    // Expired: a token this deployment signed an hour and a second ago.
    let secret = std::fs::read(data.path.join("files/upload-secret")).expect("the deployment's upload secret");
    let issued = (now_ms() as u64) - 3_601_000;
    let payload = format!("{issued}.");
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
    mac.update(payload.as_bytes());
    let tag: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let r = upload(&s, &format!("{base}?token={payload}.{tag}"), b"x".to_vec(), None);
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.json, json!({"code": "StorageTokenExpired", "message": "Store File Authorization expired"}));
    // The same signing, issued now, is accepted: the expiry is what was refused.
    let fresh = format!("{}.", now_ms() as u64);
    let mut mac = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
    mac.update(fresh.as_bytes());
    let tag: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    upload_ok(&s, &format!("{base}?token={fresh}.{tag}"), b"fresh", None);
    // Nothing was stored by the refused uploads.
    assert_eq!(s.query_ok("files:listFiles", json!({})).as_array().unwrap().len(), 1);
}

#[test]
fn unknown_ids_read_as_null_and_404() {
    let (s, _) = start(&["--in-memory"]);
    let id = s.action("files:storeText", json!({"text": "x"})).ok_value("storeText");
    let id = id.as_str().unwrap();
    let url = url_of(&s, id).as_str().unwrap().to_string();
    s.mutation_ok("files:deleteFile", json!({ "storageId": id }));
    assert_eq!(url_of(&s, id), Value::Null);
    assert_eq!(s.query_ok("files:getMetadata", json!({ "storageId": id })), Value::Null);
    assert_eq!(s.action("files:readText", json!({ "storageId": id })).ok_value("readText"), Value::Null);
    assert_eq!(s.mutation_ok("files:getInMutation", json!({ "storageId": id })), Value::Null);
    let (status, _, body) = get(&s, &url, None);
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
    let (status, _, body) = get(&s, &format!("{}/api/storage/{}", s.url, "00000000-0000-4000-8000-000000000000"), None);
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
    let (status, _, body) = get(&s, &format!("{}/api/storage/not_a_storage_id!", s.url), None);
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("Invalid storage path"), "{}", String::from_utf8_lossy(&body));
    // Deleting it again names it, as Convex does.
    s.mutation_err("files:deleteFile", json!({ "storageId": id }))
        .assert_contains(&format!("storage id {id} not found"));
    // A string that is no storage id at all, and an id of another table, are refused in Convex's words.
    s.query_err("files:getUrl", json!({ "storageId": "nope" })).assert_contains(
        "Invalid storage ID: \"nope\". Storage ID should be an Id of '_storage' table, or a UUID string.",
    );
    let upload = s.mutation_ok("files:generateUploadUrl", json!({}));
    let file = upload_ok(&s, upload.as_str().unwrap(), b"y", None);
    let row = s.mutation_ok("files:save", json!({ "storageId": file, "name": "y" }));
    s.query_err("files:getUrl", json!({ "storageId": row }))
        .assert_contains("Invalid storage ID. Storage ID cannot be an ID on any table other than '_storage'.");
    // A legacy UUID storage id that names nothing reads as null.
    assert_eq!(url_of(&s, "00000000-0000-4000-8000-000000000000"), Value::Null);
}

#[test]
fn deletes_commit_or_roll_back_with_their_mutation() {
    let data = TempDir::new("storage-delete");
    let (s, _) = start(&["--data", data.str()]);
    let id = s.action("files:storeText", json!({"text": "keep me"})).ok_value("storeText");
    let id = id.as_str().unwrap();
    let files_dir = data.path.join("files/app");
    let count = || std::fs::read_dir(&files_dir).unwrap().count();
    assert_eq!(count(), 1);

    s.mutation_err("files:deleteThenThrow", json!({ "storageId": id })).assert_contains("changed my mind");
    assert_eq!(count(), 1, "a mutation that throws keeps the file");
    let doc = s.mutation_ok("files:deleteInCaughtNested", json!({ "storageId": id }));
    assert_eq!(doc["_id"], json!(id), "a rolled-back nested delete keeps the document");
    assert_eq!(count(), 1, "and the file");
    let url = url_of(&s, id);
    assert_eq!(get(&s, url.as_str().unwrap(), None).2, b"keep me");

    // A committed delete: the mutation sees its own delete; document and file are gone.
    assert_eq!(s.mutation_ok("files:deleteFile", json!({ "storageId": id })), Value::Null);
    assert_eq!(count(), 0);
    assert_eq!(get(&s, url.as_str().unwrap(), None).0, 404);

    // From an action.
    let id = s.action("files:storeText", json!({"text": "bye"})).ok_value("storeText");
    assert_eq!(count(), 1);
    assert_eq!(s.action("files:deleteInAction", json!({ "storageId": id })).ok_value("deleteInAction"), Value::Null);
    assert_eq!(count(), 0);
}

#[test]
fn actions_and_mutations_store_and_get_blobs() {
    let (s, _) = start(&["--in-memory"]);
    let id = s.action("files:storeText", json!({"text": "from an action", "type": "text/markdown"})).ok_value("store");
    let read = s.action("files:readText", json!({ "storageId": id })).ok_value("readText");
    assert_eq!(read["text"], json!("from an action"));
    assert_eq!(read["type"], json!("text/markdown"));
    assert_eq!(read["metadata"]["size"].as_f64(), Some(14.0));
    let (_, h, body) = get(&s, read["url"].as_str().unwrap(), None);
    assert_eq!((header(&h, "content-type"), body.as_slice()), (Some("text/markdown"), &b"from an action"[..]));

    // `sha256` must match the bytes.
    let good = b64_sha256(b"checked");
    s.action("files:storeText", json!({"text": "checked", "sha256": good})).ok_value("sha256 ok");
    let bad = s.action("files:storeText", json!({"text": "checked", "sha256": b64_sha256(b"other")}));
    bad.fn_error("sha256 mismatch").assert_contains("Hash mismatch");

    // Mutations store and get (convex 1.49).
    let stored = s.mutation_ok("files:storeInMutation", json!({"text": "in a mutation", "type": "text/x-m"}));
    assert_eq!(stored["size"].as_f64(), Some(13.0));
    assert_eq!(stored["contentType"], json!("text/x-m"));
    let got = s.mutation_ok("files:getInMutation", json!({ "storageId": stored["id"] }));
    assert_eq!(got, json!({"text": "in a mutation", "type": "text/x-m"}));
    assert_eq!(s.query_ok("files:listFiles", json!({})).as_array().unwrap().len(), 3);
}

#[test]
fn http_actions_upload_and_serve_files() {
    let (s, site) = start(&["--in-memory"]);
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let r = Resp::from(
        s.client()
            .post(format!("{site}/upload?name=pic"))
            .header("Content-Type", "image/png")
            .body(body.clone())
            .send()
            .unwrap(),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.json["storageId"].as_str().unwrap();
    let (status, h, bytes) = get(&s, r.json["url"].as_str().unwrap(), None);
    assert_eq!((status, header(&h, "content-type")), (200, Some("image/png")));
    assert!(bytes == body);
    let (status, h, bytes) = get(&s, &format!("{site}/file?id={id}"), None);
    assert_eq!((status, header(&h, "content-type")), (200, Some("image/png")));
    assert!(bytes == body);
    let (status, _, bytes) = get(&s, &format!("{site}/file?id={}", "00000000-0000-4000-8000-000000000000"), None);
    assert_eq!((status, bytes.as_slice()), (404, &b"Image not found"[..]));

    // A body of 19 MiB goes through `request.blob()` and `ctx.storage.store` (bytes, not base64
    // text, and no copies: it fits in the action's 64 MiB of JS memory), and back through
    // `ctx.storage.get` and `new Response(blob)`.
    let body: Vec<u8> = (0..19u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    let r = Resp::from(s.client().post(format!("{site}/upload?name=big")).body(body.clone()).send().unwrap());
    assert_eq!(r.status, 200, "{}", r.text);
    let (status, _, bytes) = get(&s, &format!("{site}/file?id={}", r.json["storageId"].as_str().unwrap()), None);
    assert_eq!(status, 200);
    assert!(bytes == body, "the 19 MiB file came back different");

    // HTTP action bodies are limited to 20 MiB; an upload URL takes the same body.
    let big = vec![7u8; (20 << 20) + 1];
    let r = Resp::from(s.client().post(format!("{site}/upload")).body(big.clone()).send().unwrap());
    assert_eq!(r.status, 413, "{}", r.text);
    let url = s.mutation_ok("files:generateUploadUrl", json!({}));
    upload_ok(&s, url.as_str().unwrap(), &big, None);
}

#[test]
fn components_have_their_own_storage() {
    let data = TempDir::new("storage-components");
    let (s, _) = start(&["--data", data.str()]);
    let vault_id = s.action("files:vaultStore", json!({"text": "vaulted"})).ok_value("vaultStore");
    let vault_id = vault_id.as_str().unwrap();
    // The app's storage does not know the vault's file; the vault's does.
    assert_eq!(s.query_ok("files:listFiles", json!({})), json!([]));
    assert_eq!(url_of(&s, vault_id), Value::Null);
    let vault_count = |s: &Server| {
        let r = s.post(
            "/api/function",
            &json!({"path": "lib:count", "args": {}, "componentPath": "vault", "format": "json"}),
            true,
        );
        r.ok_value("vault count").as_f64().unwrap()
    };
    assert_eq!(vault_count(&s), 1.0);
    let url = s.post(
        "/api/function",
        &json!({"path": "lib:getUrl", "args": {"storageId": vault_id}, "componentPath": "vault", "format": "json"}),
        true,
    );
    let url = url.ok_value("vault getUrl");
    let url = url.as_str().unwrap();
    assert!(url.ends_with("?component=vault"), "{url}");
    assert_eq!(get(&s, url, None).2, b"vaulted");
    // Without the component the key names no file of the app.
    assert_eq!(get(&s, url.split('?').next().unwrap(), None).0, 404);
    // An upload URL made in the vault stores into the vault.
    let upload_url = s.mutation_ok("files:vaultUploadUrl", json!({}));
    upload_ok(&s, upload_url.as_str().unwrap(), b"uploaded to the vault", None);
    assert_eq!(vault_count(&s), 2.0);
    assert_eq!(s.query_ok("files:listFiles", json!({})), json!([]));
    let folders: Vec<String> = std::fs::read_dir(data.path.join("files"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("c-"))
        .collect();
    assert_eq!(folders, vec![format!("c-{}", "vault".bytes().map(|b| format!("{b:02x}")).collect::<String>())]);
}

#[test]
fn files_persist_and_unnamed_files_are_swept_at_start() {
    let data = TempDir::new("storage-restart");
    let (s, _) = start(&["--data", data.str()]);
    let upload_url = s.mutation_ok("files:generateUploadUrl", json!({}));
    let id = upload_ok(&s, upload_url.as_str().unwrap(), b"durable", Some("text/plain"));
    s.stop();

    // What a crash can leave: a finished file no document names, and an unfinished upload.
    let app = data.path.join("files/app");
    let orphan = app.join("11111111-2222-4333-8444-555555555555");
    std::fs::write(&orphan, b"orphan").unwrap();
    let partial = data.path.join("files/tmp/66666666-7777-4888-8999-aaaaaaaaaaaa");
    std::fs::write(&partial, b"partial").unwrap();

    let (s, _) = start(&["--data", data.str()]);
    assert!(!orphan.exists(), "a file no document names is removed at start");
    assert!(!partial.exists(), "an unfinished upload is removed at start");
    let url = url_of(&s, &id);
    let (status, h, body) = get(&s, url.as_str().unwrap(), None);
    assert_eq!((status, header(&h, "content-type"), body.as_slice()), (200, Some("text/plain"), &b"durable"[..]));
    // An upload URL issued before the restart is still valid (the secret is kept; the new
    // server listens on another port).
    let token = upload_url.as_str().unwrap().split("token=").nth(1).unwrap();
    upload_ok(&s, &format!("{}/api/storage/upload?token={token}", s.url), b"after restart", None);
    assert_eq!(std::fs::read_dir(&app).unwrap().count(), 2);
}

/// Resident-memory high-water mark of process `pid`, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn uploads_are_streamed_not_held_in_memory() {
    let data = TempDir::new("storage-memory");
    let (s, _) = start(&["--data", data.str()]);
    let url = s.mutation_ok("files:generateUploadUrl", json!({}));
    let before = peak_rss_kib(s.pid());
    // 160 MiB, sent in 1 MiB chunks by a streaming body (the client holds one chunk at a time).
    let chunks = (0..160u32).map(|i| Ok::<_, std::io::Error>(vec![(i % 251) as u8; 1 << 20]));
    let body = reqwest::blocking::Body::new(StreamReader { chunks: Box::new(chunks), current: Vec::new(), at: 0 });
    let r = Resp::from(s.client().post(url.as_str().unwrap()).body(body).send().unwrap());
    assert_eq!(r.status, 200, "{}", r.text);
    let after = peak_rss_kib(s.pid());
    assert!(
        after < before + 64 * 1024,
        "the server's peak memory grew from {before} KiB to {after} KiB for a 160 MiB upload"
    );
    let meta = s.query_ok("files:getMetadata", json!({ "storageId": r.json["storageId"] }));
    assert_eq!(meta["size"].as_f64(), Some((160u64 << 20) as f64));
}

/// A `Read` over chunks produced one at a time.
struct StreamReader {
    chunks: Box<dyn Iterator<Item = std::io::Result<Vec<u8>>> + Send>,
    current: Vec<u8>,
    at: usize,
}

impl std::io::Read for StreamReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.current.len() {
            match self.chunks.next() {
                Some(chunk) => {
                    self.current = chunk?;
                    self.at = 0;
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[test]
fn a_crash_during_an_upload_leaves_nothing_behind() {
    use std::io::Write;
    let data = TempDir::new("storage-crash");
    let (s, _) = start(&["--data", data.str()]);
    let kept = s.action("files:storeText", json!({"text": "kept"})).ok_value("storeText");
    let url = s.mutation_ok("files:generateUploadUrl", json!({}));
    let path = url.as_str().unwrap().strip_prefix(&s.url).unwrap().to_string();
    // Half of a 64 MiB upload, then the server is killed.
    let addr = s.url.strip_prefix("http://").unwrap().to_string();
    let mut socket = std::net::TcpStream::connect(&addr).unwrap();
    write!(socket, "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n", 64u64 << 20).unwrap();
    socket.write_all(&vec![3u8; 32 << 20]).unwrap();
    let tmp = data.path.join("files/tmp");
    poll("the upload's temporary file", std::time::Duration::from_secs(20), || {
        let size: u64 =
            std::fs::read_dir(&tmp).map_err(|e| e.to_string())?.map(|e| e.unwrap().metadata().unwrap().len()).sum();
        if size > 0 { Ok(()) } else { Err("no bytes written yet".into()) }
    });
    s.kill9();
    drop(socket);

    let (s, _) = start(&["--data", data.str()]);
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "the unfinished upload is removed at start");
    let files = s.query_ok("files:listFiles", json!({}));
    assert_eq!(files.as_array().unwrap().len(), 1, "{files}");
    assert_eq!(files[0]["_id"], kept);
    assert_eq!(get(&s, files[0]["url"].as_str().unwrap(), None).2, b"kept");
    assert_eq!(std::fs::read_dir(data.path.join("files/app")).unwrap().count(), 1);
}
