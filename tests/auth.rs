//! Auth over HTTP on `fixtures/auth` (two `customJwt` providers: RS256 with a `data:` JWKS and
//! an audience, ES256 with a JWKS served by the test): `Bearer` tokens signed here with keys
//! made here give Convex identities to queries, mutations and actions; bad tokens are refused
//! with 401 and Convex's codes; admins act as an identity with `Convex <key>:<base64 JSON>`;
//! identity stays in the app (not in components, not in scheduled functions).

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};

const RS_ISSUER: &str = "https://auth.emvex.test";
const AUDIENCE: &str = "emvex-tests";

struct Key {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    jwk: Value,
}

impl Key {
    fn rsa(kid: &str) -> Key {
        let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("RSA key");
        let der = private.to_pkcs1_der().expect("PKCS#1 DER");
        let jwk = json!({
            "kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
            "n": URL_SAFE_NO_PAD.encode(private.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(private.e().to_bytes_be()),
        });
        Key { kid: kid.into(), alg: Algorithm::RS256, encoding: EncodingKey::from_rsa_der(der.as_bytes()), jwk }
    }

    fn p256(kid: &str) -> Key {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("P-256 key");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).expect("key");
        let point = pair.public_key().as_ref();
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        });
        Key { kid: kid.into(), alg: Algorithm::ES256, encoding: EncodingKey::from_ec_der(pkcs8.as_ref()), jwk }
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("sign")
    }
}

/// Serves `body` as JSON on every request; returns the server's base URL.
fn serve_json(body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    base
}

fn now_s() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

struct App {
    server: Server,
    /// Base URL of the HTTP actions.
    site: String,
    rs: Key,
    es: Key,
    es_issuer: String,
}

fn start() -> App {
    let rs = Key::rsa("rs-1");
    let es = Key::p256("es-1");
    let es_base = serve_json(json!({ "keys": [es.jwk.clone()] }).to_string());
    let rs_jwks =
        format!("data:text/plain;charset=utf-8;base64,{}", STANDARD.encode(json!({"keys": [rs.jwk]}).to_string()));
    let env = [
        format!("AUTH_RS_ISSUER={RS_ISSUER}"),
        format!("AUTH_RS_JWKS={rs_jwks}"),
        format!("AUTH_ES_ISSUER={es_base}"),
        format!("AUTH_ES_JWKS={es_base}/jwks.json"),
    ];
    let mut args = vec!["--in-memory".to_string()];
    for e in env {
        args.push("--env".into());
        args.push(e);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start_app("fixtures/auth", &args);
    let site = server.site_url();
    App { server, site, rs, es, es_issuer: es_base }
}

fn alice_claims() -> Value {
    json!({ "iss": RS_ISSUER, "sub": "alice", "aud": AUDIENCE, "iat": now_s(), "exp": now_s() + 600,
            "name": "Alice", "email": "alice@example.com", "org": {"id": "o1"} })
}

fn call(app: &App, route: &str, path: &str, auth: Option<&str>) -> Resp {
    let body = call_body(path, json!({})).to_string();
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(auth) = auth {
        headers.push(("Authorization", auth));
    }
    app.server.post_raw(route, &body, &headers)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[test]
fn bearer_tokens_give_functions_convex_identities() {
    let app = start();
    let token = app.rs.sign(&alice_claims());
    let identity = call(&app, "/api/query", "identity:whoami", Some(&bearer(&token))).ok_value("whoami");
    assert_json_eq(
        &identity,
        &json!({ "tokenIdentifier": format!("{RS_ISSUER}|alice"), "issuer": RS_ISSUER, "subject": "alice",
                 "email": "alice@example.com", "name": "Alice", "org.id": "o1" }),
    );
    let anonymous = call(&app, "/api/query", "identity:whoami", None).ok_value("anonymous whoami");
    assert_eq!(anonymous, Value::Null);

    // ES256 with a JWKS fetched over HTTP, and no audience required.
    let es_token = app.es.sign(&json!({ "iss": app.es_issuer, "sub": "bob", "iat": now_s(), "exp": now_s() + 60 }));
    let bob = call(&app, "/api/mutation", "identity:whoamiMutation", Some(&bearer(&es_token))).ok_value("mutation");
    assert_eq!(bob["tokenIdentifier"], format!("{}|bob", app.es_issuer));

    // The app's nested calls see the caller; a component does not.
    let nested = call(&app, "/api/mutation", "identity:nested", Some(&bearer(&token))).ok_value("nested");
    assert_eq!(nested["own"]["subject"], "alice");
    assert_eq!(nested["viaQuery"]["subject"], "alice");
    assert_eq!(nested["viaMutation"]["subject"], "alice");
    assert_eq!(nested["inComponent"], Value::Null);

    let action = call(&app, "/api/action", "identity:whoamiAction", Some(&bearer(&token))).ok_value("action");
    assert_eq!(action["own"]["subject"], "alice");
    assert_eq!(action["viaQuery"]["subject"], "alice");
    assert_eq!(action["viaMutation"]["subject"], "alice");
    assert_eq!(action["inComponent"], Value::Null);
    assert_eq!(action["inComponentAction"], Value::Null);
}

#[test]
fn scheduled_functions_run_without_identity() {
    let app = start();
    let token = bearer(&app.rs.sign(&alice_claims()));
    let body = call_body("identity:scheduleRecord", json!({"tag": "t1"})).to_string();
    app.server
        .post_raw("/api/mutation", &body, &[("Content-Type", "application/json"), ("Authorization", &token)])
        .ok_value("scheduleRecord");
    let seen = poll("the scheduled mutation", Duration::from_secs(10), || {
        let seen = app.server.query_ok("identity:seen", json!({"tag": "t1"}));
        if seen["ran"] == json!(true) { Ok(seen) } else { Err(seen.to_string()) }
    });
    assert!(seen.get("identity").is_none_or(Value::is_null), "{seen}");
}

#[test]
fn bad_tokens_are_refused_not_anonymous() {
    let app = start();
    let refused = |auth: &str, code: &str, needle: &str| {
        let r = call(&app, "/api/query", "identity:whoami", Some(auth));
        assert_eq!(r.status, 401, "{auth}: {}", r.text);
        assert_eq!(r.json["code"], code, "{}", r.text);
        assert!(r.json["message"].as_str().unwrap().contains(needle), "{}", r.text);
    };
    // Bad signature: another key under the same kid.
    let forger = Key::rsa("rs-1");
    refused(&bearer(&forger.sign(&alice_claims())), "InvalidAuthHeader", "'kid' (key ID) header is 'rs-1'");
    let mut claims = alice_claims();
    claims["iss"] = json!("https://evil.example.com");
    refused(&bearer(&app.rs.sign(&claims)), "NoAuthProvider", "No auth provider found matching the given token");
    let mut claims = alice_claims();
    claims["aud"] = json!("another-app");
    refused(&bearer(&app.rs.sign(&claims)), "NoAuthProvider", "app_id=emvex-tests");
    let mut claims = alice_claims();
    claims["iat"] = json!(now_s() - 3600);
    claims["exp"] = json!(now_s() - 60);
    refused(&bearer(&app.rs.sign(&claims)), "InvalidAuthHeader", "Could not validate token: Token expired");
    refused("Bearer not.a.jwt", "InvalidAuthHeader", "Could not parse JWT payload");
    refused("Basic YWxpY2U6cHc=", "InvalidAuthHeader", "Header must begin with `bearer `");
    // Mutations and actions are refused the same way, before running.
    let r = call(&app, "/api/mutation", "identity:whoamiMutation", Some("Bearer x.y.z"));
    assert_eq!(r.status, 401, "{}", r.text);
}

#[test]
fn admins_can_act_as_an_identity() {
    let app = start();
    let acting =
        STANDARD.encode(json!({"subject": "carol", "issuer": "https://ids.test", "name": "Carol"}).to_string());
    let auth = format!("Convex {ADMIN_KEY}:{acting}");
    let identity = call(&app, "/api/query", "identity:whoami", Some(&auth)).ok_value("acting whoami");
    assert_json_eq(
        &identity,
        &json!({"tokenIdentifier": "https://ids.test|carol", "subject": "carol", "issuer": "https://ids.test",
                "name": "Carol"}),
    );
    // As `npx convex run --identity` does it: `/api/function`.
    let run = call(&app, "/api/function", "identity:whoamiAction", Some(&auth)).ok_value("function");
    assert_eq!(run["own"]["tokenIdentifier"], "https://ids.test|carol");
    // The admin key alone is no identity.
    let plain = call(&app, "/api/query", "identity:whoami", Some(&format!("Convex {ADMIN_KEY}"))).ok_value("admin");
    assert_eq!(plain, Value::Null);
    let bad = call(&app, "/api/query", "identity:whoami", Some(&format!("Convex {ADMIN_KEY}:e30=")));
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert!(
        bad.text.contains("Either \\\"tokenIdentifier\\\" or \\\"issuer\\\" and \\\"subject\\\" must be set"),
        "{}",
        bad.text
    );
}

#[test]
fn http_actions_see_the_bearer_identity_or_throw_its_error() {
    let app = start();
    let get = |auth: Option<&str>| {
        let mut req = app.server.client().get(format!("{}/whoami", app.site));
        if let Some(auth) = auth {
            req = req.header("Authorization", auth);
        }
        let resp = req.send().expect("GET /whoami");
        (resp.status().as_u16(), resp.json::<Value>().expect("JSON"))
    };
    let (status, body) = get(Some(&bearer(&app.rs.sign(&alice_claims()))));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["identity"]["tokenIdentifier"], format!("{RS_ISSUER}|alice"));
    assert_eq!(get(None), (200, json!({"identity": null})));
    // The request still runs with a bad header; getUserIdentity throws why it was refused.
    let (status, body) = get(Some("Bearer not.a.jwt"));
    assert_eq!(status, 401);
    assert!(body["error"].as_str().unwrap().contains("Could not parse JWT payload"), "{body}");
}

#[test]
fn emvex_run_identity_runs_as_that_user() {
    let identity = r#"{"subject":"erin","issuer":"https://ids.test","email":"erin@example.com"}"#;
    let out = run_cli(
        &["run", "fixtures/auth", "identity:whoami", "--in-memory", "--identity", identity],
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stdout {stdout} stderr {}", String::from_utf8_lossy(&out.stderr));
    let value: Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    assert_eq!(value["tokenIdentifier"], "https://ids.test|erin");
    assert_eq!(value["email"], "erin@example.com");
    let bad = run_cli(
        &["run", "fixtures/auth", "identity:whoami", "--in-memory", "--identity", "{}"],
        Duration::from_secs(60),
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("\"tokenIdentifier\" or \"issuer\" and \"subject\""));
}
