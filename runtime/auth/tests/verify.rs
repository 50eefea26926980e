//! `Authenticator::verify` on tokens signed in the test with keys made in the test (RSA with
//! `rsa`, P-256 with `ring`), key sets given as `data:` URIs and served over HTTP, time from a
//! manual clock.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use emvex_auth::Authenticator;
use emvex_clock::{Clock, ManualClock};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};

const NOW_S: u64 = 1_800_000_000;

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
        let point = pair.public_key().as_ref(); // 0x04 || x || y
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        });
        Key { kid: kid.into(), alg: Algorithm::ES256, encoding: EncodingKey::from_ec_der(pkcs8.as_ref()), jwk }
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("sign")
    }
}

fn data_uri(keys: &[&Key]) -> String {
    let set = json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() });
    format!("data:text/plain;charset=utf-8;base64,{}", STANDARD.encode(set.to_string()))
}

/// Serves `body` as `application/json` to every request; returns its URL.
fn serve_json(body: String) -> String {
    format!("{}/jwks.json", serve(move |_| body.clone()))
}

/// Serves `route(path)` as `application/json`; returns the base URL.
fn serve(route: impl Fn(&str) -> String + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]);
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            let body = route(&path);
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    base
}

struct Setup {
    auth: Arc<Authenticator>,
    clock: ManualClock,
    rs: Key,
    es: Key,
    other: Key,
}

fn setup() -> Setup {
    let rs = Key::rsa("rs-1");
    let es = Key::p256("es-1");
    // Same kid as `rs`, another key: a forged signature.
    let other = Key::rsa("rs-1");
    let es_url = serve_json(json!({ "keys": [es.jwk.clone()] }).to_string());
    let config = json!({ "providers": [
        { "type": "customJwt", "issuer": "https://rs.example.com", "jwks": data_uri(&[&rs]), "algorithm": "RS256",
          "applicationID": "emvex-tests" },
        { "type": "customJwt", "issuer": "http://127.0.0.1/es", "jwks": es_url, "algorithm": "ES256" },
    ]});
    let (clock, manual): (Clock, ManualClock) = Clock::manual(NOW_S * 1000);
    Setup { auth: Authenticator::new(Some(&config.to_string()), clock), clock: manual, rs, es, other }
}

fn rs_claims() -> Value {
    json!({ "iss": "https://rs.example.com", "sub": "alice", "aud": "emvex-tests", "iat": NOW_S - 10,
            "exp": NOW_S + 3600, "name": "Alice", "org": { "id": "o1" }, "roles": ["admin"] })
}

fn block<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

fn refused(s: &Setup, token: &str) -> emvex_auth::AuthError {
    block(s.auth.verify(token)).expect_err("the token must be refused")
}

#[test]
fn verifies_rs256_and_es256_tokens_into_convex_identities() {
    let s = setup();
    let user = block(s.auth.verify(&s.rs.sign(&rs_claims()))).expect("valid RS256 token");
    assert_eq!(
        Value::Object(user.identity),
        json!({ "tokenIdentifier": "https://rs.example.com|alice", "issuer": "https://rs.example.com",
                "subject": "alice", "name": "Alice", "org.id": "o1", "roles": ["admin"] })
    );
    assert_eq!(user.expires_at_ms, ((NOW_S + 3600) * 1000) as f64);

    let es = json!({ "iss": "http://127.0.0.1/es", "sub": "bob", "exp": NOW_S + 60, "iat": NOW_S });
    let user = block(s.auth.verify(&s.es.sign(&es))).expect("valid ES256 token (JWKS over HTTP)");
    assert_eq!(user.identity["tokenIdentifier"], "http://127.0.0.1/es|bob");
}

#[test]
fn bad_tokens_are_refused_with_convex_errors() {
    let s = setup();
    let forged = refused(&s, &s.other.sign(&rs_claims()));
    assert_eq!(forged.code, "InvalidAuthHeader");
    assert!(forged.message.contains("The JWT's 'kid' (key ID) header is 'rs-1'"), "{}", forged.message);
    assert_eq!(forged.http_status(), 401);

    let mut wrong_issuer = rs_claims();
    wrong_issuer["iss"] = json!("https://evil.example.com");
    let e = refused(&s, &s.rs.sign(&wrong_issuer));
    assert_eq!(e.code, "NoAuthProvider");
    assert!(e.message.contains("CustomJWT(issuer=https://rs.example.com, app_id=emvex-tests)"), "{}", e.message);

    let mut wrong_audience = rs_claims();
    wrong_audience["aud"] = json!("someone-else");
    assert_eq!(refused(&s, &s.rs.sign(&wrong_audience)).code, "NoAuthProvider");

    let malformed = refused(&s, "not-a-jwt");
    assert_eq!(malformed.code, "InvalidAuthHeader");
    assert!(malformed.message.starts_with("Could not parse JWT payload"), "{}", malformed.message);

    let mut no_exp = rs_claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_eq!(refused(&s, &s.rs.sign(&no_exp)).message, "Missing expiry");

    // An ES256 token presented to the RS256 provider.
    let mut es_for_rs = rs_claims();
    es_for_rs["sub"] = json!("mallory");
    let e = refused(&s, &s.es.sign(&es_for_rs));
    assert!(e.message.contains("signed with ES256"), "{}", e.message);
}

#[test]
fn expiry_allows_five_seconds_of_clock_skew() {
    let s = setup();
    let token = s.rs.sign(&rs_claims());
    s.clock.advance(Duration::from_secs(3600 + 4));
    block(s.auth.verify(&token)).expect("within the clock skew");
    s.clock.advance(Duration::from_secs(2));
    let e = refused(&s, &token);
    assert!(e.message.starts_with("Could not validate token: Token expired"), "{}", e.message);

    let mut future = rs_claims();
    future["iat"] = json!(NOW_S + 3600 * 3);
    future["exp"] = json!(NOW_S + 3600 * 4);
    assert!(refused(&s, &s.rs.sign(&future)).message.contains("issued in the future"));
}

#[test]
fn no_providers_means_every_token_is_refused() {
    let auth = Authenticator::new(None, Clock::real());
    let e =
        block(auth.verify(&Key::p256("k").sign(&json!({"iss": "https://x.dev", "sub": "s", "exp": 1})))).unwrap_err();
    assert_eq!(e.code, "NoAuthProvider");
    assert!(e.message.contains("no providers configured"), "{}", e.message);
}

#[test]
fn oidc_providers_are_discovered_and_map_standard_claims() {
    let key = Key::rsa("oidc-1");
    let jwks = json!({ "keys": [key.jwk.clone()] }).to_string();
    let base = Arc::new(std::sync::Mutex::new(String::new()));
    let base_in_server = base.clone();
    let url = serve(move |path| {
        let base = base_in_server.lock().unwrap().clone();
        match path {
            "/.well-known/openid-configuration" => {
                json!({ "issuer": base, "jwks_uri": format!("{base}/keys") }).to_string()
            }
            _ => jwks.clone(),
        }
    });
    *base.lock().unwrap() = url.clone();
    let config = json!({ "providers": [{ "domain": url, "applicationID": "convex" }] });
    let (clock, manual) = Clock::manual(NOW_S * 1000);
    let auth = Authenticator::new(Some(&config.to_string()), clock);
    let claims = json!({
        "iss": url, "sub": "user_1", "aud": "convex", "iat": NOW_S, "exp": NOW_S + 60, "azp": "web",
        "given_name": "Ada", "family_name": "Lovelace", "email_verified": true, "picture": "https://img/ada",
        "locale": "en", "zoneinfo": "Europe/London", "updated_at": 1_700_000_000, "org_role": "admin"
    });
    let user = block(auth.verify(&key.sign(&claims))).expect("a valid OIDC token");
    assert_eq!(
        Value::Object(user.identity),
        json!({
            "tokenIdentifier": format!("{url}|user_1"), "issuer": url, "subject": "user_1", "givenName": "Ada",
            "familyName": "Lovelace", "pictureUrl": "https://img/ada", "timezone": "Europe/London",
            "language": "en", "emailVerified": true, "updatedAt": "2023-11-14T22:13:20+00:00", "org_role": "admin"
        })
    );
    // Past the 60 s skew of OIDC tokens.
    manual.advance(Duration::from_secs(60 + 61));
    let e = block(auth.verify(&key.sign(&claims))).unwrap_err();
    assert_eq!(e.code, "Unauthenticated");
    assert!(e.message.starts_with("Could not verify OIDC token claim"), "{}", e.message);
}
