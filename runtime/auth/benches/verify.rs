//! What verifying a user token costs: `Authenticator::verify` on RS256 and ES256 tokens (keys
//! cached, JWKS from a `data:` URI) against a baseline measured in the same run, decoding the
//! same RS256 token's header and payload without any check.
//!
//! `cargo bench -p emvex-auth --bench verify` (`EMVEX_BENCH_N` sets the tokens per row, default
//! 2,000).

use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use emvex_auth::Authenticator;
use emvex_clock::Clock;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};

fn main() {
    let n: usize = std::env::var("EMVEX_BENCH_N").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let rsa_key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("RSA key");
    let rs_jwk = json!({"kty": "RSA", "kid": "rs", "alg": "RS256",
        "n": URL_SAFE_NO_PAD.encode(rsa_key.n().to_bytes_be()), "e": URL_SAFE_NO_PAD.encode(rsa_key.e().to_bytes_be())});
    let rs_encoding = EncodingKey::from_rsa_der(rsa_key.to_pkcs1_der().unwrap().as_bytes());
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let point = pair.public_key().as_ref();
    let es_jwk = json!({"kty": "EC", "crv": "P-256", "kid": "es", "alg": "ES256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])});
    let es_encoding = EncodingKey::from_ec_der(pkcs8.as_ref());
    let data = |jwk: &Value| format!("data:text/plain;base64,{}", STANDARD.encode(json!({"keys": [jwk]}).to_string()));
    let config = json!({"providers": [
        {"type": "customJwt", "issuer": "https://rs.bench", "jwks": data(&rs_jwk), "algorithm": "RS256", "applicationID": "app"},
        {"type": "customJwt", "issuer": "https://es.bench", "jwks": data(&es_jwk), "algorithm": "ES256"},
    ]});
    let auth = Authenticator::new(Some(&config.to_string()), Clock::real());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let sign = |alg: Algorithm, kid: &str, key: &EncodingKey, iss: &str| {
        let mut header = Header::new(alg);
        header.kid = Some(kid.into());
        let claims = json!({"iss": iss, "sub": "user_1", "aud": "app", "iat": now, "exp": now + 3600,
            "name": "Bench", "email": "bench@example.com"});
        jsonwebtoken::encode(&header, &claims, key).unwrap()
    };
    let rs_token = sign(Algorithm::RS256, "rs", &rs_encoding, "https://rs.bench");
    let es_token = sign(Algorithm::ES256, "es", &es_encoding, "https://es.bench");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();

    let time = |what: &str, f: &mut dyn FnMut()| {
        f(); // warm-up (fills the key cache)
        let start = Instant::now();
        for _ in 0..n {
            f();
        }
        let per = start.elapsed().as_secs_f64() / n as f64;
        (what.to_string(), per)
    };
    let baseline = time("decode header and payload, no checks (baseline)", &mut || {
        let header = jsonwebtoken::decode_header(&rs_token).unwrap();
        let payload = URL_SAFE_NO_PAD.decode(rs_token.split('.').nth(1).unwrap()).unwrap();
        let claims: Value = serde_json::from_slice(&payload).unwrap();
        std::hint::black_box((header, claims));
    });
    let rows = [
        baseline.clone(),
        time("verify RS256 (2048-bit) token", &mut || {
            std::hint::black_box(rt.block_on(auth.verify(&rs_token)).unwrap());
        }),
        time("verify ES256 (P-256) token", &mut || {
            std::hint::black_box(rt.block_on(auth.verify(&es_token)).unwrap());
        }),
    ];
    println!("| measurement | µs per token | ratio to baseline |");
    println!("|---|---|---|");
    for (what, per) in rows {
        println!("| {what} | {:.1} | {:.1} |", per * 1e6, per / baseline.1);
    }
}
