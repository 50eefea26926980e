//! Where a provider's public keys come from: a JWKS from an URL or a `data:` URI, and for OIDC
//! providers the `jwks_uri` of their discovery document (`<issuer>/.well-known/openid-configuration`).
//!
//! Owns: the per-URL caches of JWKS and discovery documents. Invariants: a key set is fetched
//! once and reused; a token whose `kid` is not in the cached set makes one refetch (at most one
//! per [`REFETCH_INTERVAL`] per URL, so bad tokens cannot make emvex hammer a provider); fetch
//! failures are never cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use emvex_clock::Clock;

use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use serde_json::Value as Json;

use crate::AuthError;

/// A kid missing from a cached key set refetches the set at most this often.
const REFETCH_INTERVAL: Duration = Duration::from_secs(5);
/// Time allowed for one fetch of a key set or discovery document.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Fetches and caches key sets.
pub(crate) struct KeyStore {
    http: reqwest::Client,
    /// URI → the key set and when it was fetched (ms on the clock).
    jwks: Mutex<HashMap<String, (Arc<JwkSet>, f64)>>,
    clock: Clock,
    /// Issuer → its discovery document's `jwks_uri`.
    discovered: Mutex<HashMap<String, String>>,
}

impl KeyStore {
    pub(crate) fn new(clock: Clock) -> KeyStore {
        let http = reqwest::Client::builder().timeout(FETCH_TIMEOUT).build().unwrap_or_default();
        KeyStore { http, jwks: Mutex::default(), discovered: Mutex::default(), clock }
    }

    /// The key set at `uri`: cached, unless `refresh` asks for a newer one (then refetched if the
    /// cached one is older than [`REFETCH_INTERVAL`]).
    pub(crate) async fn jwks(&self, uri: &str, refresh: bool) -> Result<Arc<JwkSet>, AuthError> {
        if let Some((set, fetched)) = self.jwks.lock().expect("jwks cache").get(uri).cloned()
            && (!refresh || self.clock.now_ms() - fetched < REFETCH_INTERVAL.as_millis() as f64)
        {
            return Ok(set);
        }
        let body = if uri.starts_with("data:") { data_uri(uri)? } else { self.fetch_jwks(uri).await? };
        let set: JwkSet = serde_json::from_slice(&body).map_err(|_| {
            AuthError::unauthenticated(
                "InvalidAuthHeader",
                format!(
                    "Invalid JWKS response body from '{uri}'. The response is not valid JSON or doesn't match the \
                     expected JWKS format."
                ),
            )
        })?;
        let set = Arc::new(set);
        self.jwks.lock().expect("jwks cache").insert(uri.to_string(), (set.clone(), self.clock.now_ms()));
        Ok(set)
    }

    async fn fetch_jwks(&self, uri: &str) -> Result<Vec<u8>, AuthError> {
        let failed = |why: String| {
            AuthError::unauthenticated(
                "InvalidAuthHeader",
                format!("Could not fetch JWKS from URL '{uri}': {why}. Check that the URL is correct and accessible."),
            )
        };
        let response = self
            .http
            .get(uri)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| failed(e.to_string()))?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            return Err(failed(format!("HTTP {} {}", status.as_u16(), status.canonical_reason().unwrap_or("Unknown"))));
        }
        let content_type =
            response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("unknown");
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("application/json")
            && !essence.eq_ignore_ascii_case("application/jwk-set+json")
        {
            return Err(AuthError::unauthenticated(
                "InvalidAuthHeader",
                format!(
                    "Invalid Content-Type '{content_type}' when fetching JWKS from '{uri}'. Expected \
                     'application/json' or 'application/jwk-set+json'."
                ),
            ));
        }
        Ok(response.bytes().await.map_err(|e| failed(e.to_string()))?.to_vec())
    }

    /// The `jwks_uri` of an OIDC issuer, from its discovery document (cached).
    pub(crate) async fn discover(&self, issuer: &str) -> Result<String, AuthError> {
        if let Some(uri) = self.discovered.lock().expect("discovery cache").get(issuer) {
            return Ok(uri.clone());
        }
        let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        let failed = |why: String| {
            AuthError::bad_request(
                "AuthProviderDiscoveryFailed",
                format!("Auth provider discovery of {issuer} failed{why}"),
            )
        };
        let response = self.http.get(&url).send().await.map_err(|e| failed(format!(": {e}")))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| failed(format!(": {e}")))?;
        if !status.is_success() {
            return Err(failed(format!(": {} {}", status.as_u16(), String::from_utf8_lossy(&body))));
        }
        let document: Json = serde_json::from_slice(&body).map_err(|e| failed(format!(": {e}")))?;
        let uri = document
            .get("jwks_uri")
            .and_then(Json::as_str)
            .ok_or_else(|| failed(": the discovery document has no `jwks_uri`".into()))?
            .to_string();
        self.discovered.lock().expect("discovery cache").insert(issuer.to_string(), uri.clone());
        Ok(uri)
    }
}

/// The bytes of a `data:` URI (`;base64` or percent-encoded).
fn data_uri(uri: &str) -> Result<Vec<u8>, AuthError> {
    let invalid = || {
        AuthError::unauthenticated(
            "InvalidAuthHeader",
            "Invalid JWKS data URL. Check that the data URL is properly formatted and contains valid base64-encoded \
             JSON.",
        )
    };
    let (meta, data) = uri["data:".len()..].split_once(',').ok_or_else(invalid)?;
    if meta.rsplit(';').next().is_some_and(|p| p.eq_ignore_ascii_case("base64")) {
        let data: String = percent_encoding::percent_decode_str(data)
            .decode_utf8()
            .map_err(|_| invalid())?
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        // Padding is optional.
        base64::engine::general_purpose::STANDARD_NO_PAD.decode(data.trim_end_matches('=')).map_err(|_| invalid())
    } else {
        Ok(percent_encoding::percent_decode_str(data).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_uris_in_base64_and_percent_encoding() {
        assert_eq!(data_uri("data:text/plain;charset=utf-8;base64,eyJrZXlzIjpbXX0=").unwrap(), br#"{"keys":[]}"#);
        assert_eq!(data_uri("data:application/json,%7B%22keys%22%3A%5B%5D%7D").unwrap(), br#"{"keys":[]}"#);
        assert!(data_uri("data:nocomma").is_err());
    }
}
