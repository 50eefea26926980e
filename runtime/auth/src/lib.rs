//! emvex-auth: who a user is, from a `Bearer` JWT checked against the app's
//! `convex/auth.config.ts` providers (OIDC with discovery, or `customJwt`), as Convex checks it.
//!
//! Owns: [`Authenticator`] (the providers, their cached keys, token verification),
//! [`AuthError`] with Convex's codes and texts, and the identity JSON functions see
//! (`identity`). It knows nothing of HTTP routes, sockets or the executor: the server and the
//! sync protocol call [`Authenticator::verify`] and carry the identity into calls.
//!
//! Invariants:
//! - a token is routed to the first provider whose issuer (and application id, when it has one)
//!   matches its unverified `iss`/`aud`, then verified with that provider's keys only: its
//!   signature (RS256 or ES256 for `customJwt`; RS256 or EdDSA for OIDC, as Convex), `iss`,
//!   `aud`, `exp` (required) and `iat`/`nbf` (when present), with [`CUSTOM_JWT_CLOCK_SKEW`] or
//!   [`OIDC_CLOCK_SKEW`] of tolerance;
//! - time is read from the deployment's one [`Clock`];
//! - every failure is an [`AuthError`]; none is treated as anonymous.

mod config;
mod identity;
mod keys;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use emvex_clock::Clock;
use jsonwebtoken::{Algorithm as JwtAlgorithm, DecodingKey, Validation};
use serde_json::{Map, Value as Json};

pub use config::{Algorithm, Provider, parse_auth_config};
pub use identity::acting_identity;

use crate::keys::KeyStore;

/// Clock skew a `customJwt` token's `exp`/`iat`/`nbf` are given (Convex: 5 s).
pub const CUSTOM_JWT_CLOCK_SKEW: Duration = Duration::from_secs(5);
/// Clock skew an OIDC token's times are given (the default of the OIDC verifier Convex uses).
pub const OIDC_CLOCK_SKEW: Duration = Duration::from_secs(60);

/// Why a token was refused, in Convex's words. `code` is stable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthError {
    pub code: &'static str,
    pub message: String,
    pub kind: AuthErrorKind,
}

/// The class of an [`AuthError`], which decides its HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthErrorKind {
    /// 401: the token was refused.
    Unauthenticated,
    /// 400: the configuration or the provider is at fault (discovery, a bad auth config).
    BadRequest,
}

impl AuthError {
    pub(crate) fn unauthenticated(code: &'static str, message: impl Into<String>) -> AuthError {
        AuthError { code, message: message.into(), kind: AuthErrorKind::Unauthenticated }
    }

    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> AuthError {
        AuthError { code, message: message.into(), kind: AuthErrorKind::BadRequest }
    }

    /// The HTTP status Convex answers with.
    pub fn http_status(&self) -> u16 {
        match self.kind {
            AuthErrorKind::Unauthenticated => 401,
            AuthErrorKind::BadRequest => 400,
        }
    }
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for AuthError {}

/// A verified user: the identity functions see, and when it stops being valid.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifiedUser {
    /// The `UserIdentity` object.
    pub identity: Map<String, Json>,
    /// The token's `exp`, in ms since the epoch.
    pub expires_at_ms: f64,
}

/// Verifies tokens against one app's providers. Cheap to share (`Arc`).
pub struct Authenticator {
    /// The providers, or why `auth.config.ts` could not be read (reported on every token).
    providers: Result<Vec<Provider>, AuthError>,
    keys: KeyStore,
    clock: Clock,
}

impl Authenticator {
    /// An authenticator for the JSON of `auth.config.ts`'s default export (`None`: no file).
    pub fn new(auth_config_json: Option<&str>, clock: Clock) -> Arc<Authenticator> {
        Arc::new(Authenticator {
            providers: parse_auth_config(auth_config_json),
            keys: KeyStore::new(clock.clone()),
            clock,
        })
    }

    /// The providers, or why the auth config is unusable.
    pub fn providers(&self) -> Result<&[Provider], &AuthError> {
        self.providers.as_deref()
    }

    /// Verifies a user JWT and builds its identity.
    pub async fn verify(&self, token: &str) -> Result<VerifiedUser, AuthError> {
        let providers = self.providers.as_ref().map_err(Clone::clone)?;
        let claims = unverified_claims(token)?;
        let Some(issuer) = claims.get("iss").and_then(Json::as_str) else {
            return Err(AuthError::unauthenticated(
                "InvalidAuthHeader",
                "Missing issuer claim ('iss') in JWT payload. The JWT must include an 'iss' claim that matches one \
                 of your configured auth providers.",
            ));
        };
        let audiences = audiences(&claims);
        let Some(provider) = providers.iter().find(|p| p.matches(issuer, &audiences)) else {
            return Err(no_provider(providers));
        };
        match provider {
            Provider::CustomJwt { jwks, algorithm, .. } => {
                let algorithm = match algorithm {
                    Algorithm::RS256 => JwtAlgorithm::RS256,
                    Algorithm::ES256 => JwtAlgorithm::ES256,
                };
                let claims = self.verified_claims(token, jwks, &[algorithm]).await.map_err(|e| match e {
                    KeyFailure::Auth(e) => e,
                    KeyFailure::Kid(kid) => AuthError::unauthenticated(
                        "InvalidAuthHeader",
                        match kid {
                            Some(kid) => format!(
                                "Could not decode token. The JWT's 'kid' (key ID) header is '{kid}', does this key \
                                 match any key in the provider's JWKS?"
                            ),
                            None => "Could not decode token. JWT may be missing a 'kid' (key ID) header.".into(),
                        },
                    ),
                })?;
                let (issuer, subject, expires_at_ms) = self.check_claims(provider, &claims, CUSTOM_JWT_CLOCK_SKEW)?;
                Ok(VerifiedUser { identity: identity::from_custom_claims(&issuer, &subject, &claims), expires_at_ms })
            }
            Provider::Oidc { domain, .. } => {
                let jwks_uri = self.keys.discover(domain).await?;
                let refused = || {
                    AuthError::unauthenticated(
                        "Unauthenticated",
                        "Could not verify OIDC token claim. Check that the token signature is valid and the token \
                         hasn't expired.",
                    )
                };
                let claims = self
                    .verified_claims(token, &jwks_uri, &[JwtAlgorithm::RS256, JwtAlgorithm::EdDSA])
                    .await
                    .map_err(|e| match e {
                        KeyFailure::Auth(e) if e.code != "InvalidAuthHeader" => e,
                        _ => refused(),
                    })?;
                let (issuer, subject, expires_at_ms) =
                    self.check_claims(provider, &claims, OIDC_CLOCK_SKEW).map_err(|_| refused())?;
                Ok(VerifiedUser { identity: identity::from_oidc_claims(&issuer, &subject, &claims), expires_at_ms })
            }
        }
    }

    /// The token's claims once its signature checked out with a key of the set at `jwks_uri`.
    async fn verified_claims(
        &self,
        token: &str,
        jwks_uri: &str,
        algorithms: &[JwtAlgorithm],
    ) -> Result<Map<String, Json>, KeyFailure> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| KeyFailure::Kid(None))?;
        if !algorithms.contains(&header.alg) {
            return Err(KeyFailure::Auth(AuthError::unauthenticated(
                "InvalidAuthHeader",
                format!(
                    "Could not decode token. The JWT is signed with {:?}, but the provider expects {}.",
                    header.alg,
                    algorithms.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(" or ")
                ),
            )));
        }
        let mut refreshed = false;
        loop {
            let set = self.keys.jwks(jwks_uri, refreshed).await.map_err(KeyFailure::Auth)?;
            let candidates: Vec<_> = match &header.kid {
                Some(kid) => set.keys.iter().filter(|k| k.common.key_id.as_deref() == Some(kid)).collect(),
                None => set.keys.iter().collect(),
            };
            if candidates.is_empty() && !refreshed {
                refreshed = true;
                continue;
            }
            let mut validation = Validation::new(header.alg);
            // Times, issuer and audience are checked by `check_claims` against the one clock.
            validation.validate_exp = false;
            validation.validate_nbf = false;
            validation.validate_aud = false;
            validation.required_spec_claims.clear();
            for jwk in candidates {
                let Ok(key) = DecodingKey::from_jwk(jwk) else { continue };
                if let Ok(data) = jsonwebtoken::decode::<Map<String, Json>>(token, &key, &validation) {
                    return Ok(data.claims);
                }
            }
            return Err(KeyFailure::Kid(header.kid.clone()));
        }
    }

    /// Checks a verified token's issuer, audience and times; its issuer, subject and expiry.
    fn check_claims(
        &self,
        provider: &Provider,
        claims: &Map<String, Json>,
        skew: Duration,
    ) -> Result<(String, String, f64), AuthError> {
        let invalid = |message: String| AuthError::unauthenticated("InvalidAuthHeader", message);
        let issuer = claims.get("iss").and_then(Json::as_str).ok_or_else(|| invalid("Missing issuer".into()))?;
        if !config::same_issuer(provider.issuer(), issuer) {
            return Err(invalid(format!("Invalid issuer: {issuer} != {}", provider.issuer())));
        }
        if let Some(app) = provider.application_id() {
            let audiences = audiences(claims);
            if audiences.is_empty() {
                return Err(invalid(
                    "Missing audience claim ('aud') in JWT payload. The JWT must include an 'aud' claim that matches \
                     your configured application ID."
                        .into(),
                ));
            }
            if !audiences.iter().any(|a| a == app) {
                return Err(invalid(format!("Invalid audience: {app} not in {audiences:?}")));
            }
        }
        let subject = claims.get("sub").and_then(Json::as_str).ok_or_else(|| invalid("Missing subject".into()))?;
        let now = self.clock.now_ms() / 1000.0;
        let skew = skew.as_secs_f64();
        let exp = claims.get("exp").and_then(Json::as_f64).ok_or_else(|| invalid("Missing expiry".into()))?;
        if now > exp + skew {
            return Err(invalid(format!(
                "Could not validate token: Token expired {} seconds ago",
                (now - exp).floor() as i64
            )));
        }
        for (claim, what) in [("nbf", "is not valid yet"), ("iat", "was issued in the future")] {
            if let Some(t) = claims.get(claim).and_then(Json::as_f64)
                && t > now + skew
            {
                return Err(invalid(format!("Could not validate token: the token {what} ({claim} {t}, now {now:.0})")));
            }
        }
        Ok((issuer.to_string(), subject.to_string(), exp * 1000.0))
    }
}

/// Why no key verified a token.
enum KeyFailure {
    Auth(AuthError),
    /// No key of the set (with this `kid`) verified the signature.
    Kid(Option<String>),
}

/// The payload of a JWT, before any check.
fn unverified_claims(token: &str) -> Result<Map<String, Json>, AuthError> {
    let malformed = || {
        AuthError::unauthenticated(
            "InvalidAuthHeader",
            "Could not parse JWT payload. Check that the token is a valid JWT format with three base64-encoded parts \
             separated by dots.",
        )
    };
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(malformed());
    }
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts[1].trim_end_matches('='))
        .map_err(|_| malformed())?;
    match serde_json::from_slice(&payload) {
        Ok(Json::Object(claims)) => Ok(claims),
        _ => Err(malformed()),
    }
}

/// `aud` as a list (it may be one string or an array).
fn audiences(claims: &Map<String, Json>) -> Vec<String> {
    match claims.get("aud") {
        Some(Json::String(a)) => vec![a.clone()],
        Some(Json::Array(list)) => list.iter().filter_map(|a| a.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

fn no_provider(providers: &[Provider]) -> AuthError {
    let message = if providers.is_empty() {
        "No auth provider found matching the given token (no providers configured). Check convex/auth.config.ts."
            .to_string()
    } else {
        format!(
            "No auth provider found matching the given token. Check that your JWT's issuer and audience match one of \
             your configured providers: [{}]",
            providers.iter().map(Provider::describe).collect::<Vec<_>>().join(", ")
        )
    };
    AuthError::unauthenticated("NoAuthProvider", message)
}
