//! Caller identity from request headers: admin (`Authorization: Convex <key>` or `?adminKey=`,
//! optionally acting as a user with `Convex <key>:<base64 JSON identity>`), a signed-in user
//! (`Authorization: Bearer <JWT>`, verified against the app's `auth.config.ts` providers), or
//! anonymous (no credentials).
//!
//! Invariant: credentials that do not check out are refused, never treated as anonymous.

use axum::http::HeaderMap;
use base64::Engine;
use emvex_auth::{AuthError, Authenticator, acting_identity};
use emvex_executor::UserIdentity;

/// Who is calling.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Caller {
    /// Holds the deployment's admin key (may run internal functions).
    pub admin: bool,
    /// The user functions see: a verified token's, or the one an admin acts as.
    pub identity: Option<UserIdentity>,
}

/// Why the credentials were refused.
#[derive(Debug)]
pub enum CallerError {
    /// The header names an admin key that is not this deployment's.
    BadAdminKey,
    /// A user token (or an acting identity) that does not check out.
    Auth(AuthError),
}

/// Reads the caller from the `Authorization` header, or the `adminKey` query parameter when
/// there is no header.
pub async fn caller(
    headers: &HeaderMap,
    query_admin_key: Option<&str>,
    admin_key: &str,
    authenticator: &Authenticator,
) -> Result<Caller, CallerError> {
    let header = headers.get(axum::http::header::AUTHORIZATION).map(|v| v.to_str().unwrap_or(""));
    let presented = match header {
        Some(h) if h.len() >= 7 && h[..7].eq_ignore_ascii_case("convex ") => h[7..].trim(),
        Some(h) => return bearer(h, authenticator).await,
        None => match query_admin_key {
            Some(key) => key,
            None => return Ok(Caller::default()),
        },
    };
    let Some(acting_as) = admin_key_parts(presented, admin_key) else { return Err(CallerError::BadAdminKey) };
    let identity = match acting_as {
        None => None,
        Some(encoded) => Some(decode_acting_identity(encoded).map_err(CallerError::Auth)?),
    };
    Ok(Caller { admin: true, identity })
}

/// A `Bearer <JWT>` header's user.
async fn bearer(header: &str, authenticator: &Authenticator) -> Result<Caller, CallerError> {
    if header.len() <= 7 || !header[..7].eq_ignore_ascii_case("bearer ") {
        return Err(CallerError::Auth(AuthError {
            code: "InvalidAuthHeader",
            message: "Header must begin with `bearer `".into(),
            kind: emvex_auth::AuthErrorKind::Unauthenticated,
        }));
    }
    let user = authenticator.verify(header[7..].trim()).await.map_err(CallerError::Auth)?;
    Ok(Caller { admin: false, identity: Some(UserIdentity::from_object(&user.identity)) })
}

/// Admin keys may carry a deployment-type prefix (`dev:`, `prod:`) and an impersonation suffix
/// (`:<base64 identity>`); only the key itself is compared.
pub fn is_admin_key(presented: &str, admin_key: &str) -> bool {
    admin_key_parts(presented, admin_key).is_some()
}

/// `Some(acting-as suffix)` when `presented` holds this deployment's key.
fn admin_key_parts<'a>(presented: &'a str, admin_key: &str) -> Option<Option<&'a str>> {
    if presented == admin_key {
        return Some(None);
    }
    let parts: Vec<&str> = presented.split(':').collect();
    let at = parts.iter().position(|part| *part == admin_key)?;
    Some(parts.get(at + 1).copied().filter(|s| !s.is_empty()))
}

/// The identity of `Convex <key>:<base64(JSON)>` (`ConvexHttpClient.setAdminAuth(key, identity)`,
/// `npx convex run --identity`).
fn decode_acting_identity(encoded: &str) -> Result<UserIdentity, AuthError> {
    let invalid = |why: String| AuthError {
        code: "InvalidActingIdentity",
        message: format!("The identity to act as is not base64-encoded JSON: {why}"),
        kind: emvex_auth::AuthErrorKind::BadRequest,
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded.trim().trim_end_matches('=')))
        .map_err(|e| invalid(e.to_string()))?;
    let json: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
    Ok(UserIdentity::from_object(&acting_identity(&json)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use emvex_clock::Clock;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(axum::http::header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        h
    }

    fn call(auth: Option<&str>, query_key: Option<&str>) -> Result<Caller, CallerError> {
        let authenticator = Authenticator::new(None, Clock::real());
        let headers = auth.map(headers).unwrap_or_default();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(caller(&headers, query_key, "k1", &authenticator))
    }

    #[test]
    fn recognises_admin_keys() {
        let admin = Caller { admin: true, identity: None };
        assert_eq!(call(Some("Convex k1"), None).unwrap(), admin);
        assert_eq!(call(Some("convex dev:k1"), None).unwrap(), admin);
        assert!(matches!(call(Some("Convex nope"), None), Err(CallerError::BadAdminKey)));
        assert_eq!(call(None, None).unwrap(), Caller::default());
        assert_eq!(call(None, Some("k1")).unwrap(), admin);
    }

    #[test]
    fn admins_may_act_as_a_user() {
        let encoded = base64::engine::general_purpose::STANDARD.encode(r#"{"subject":"s","issuer":"https://i"}"#);
        let caller = call(Some(&format!("Convex k1:{encoded}")), None).unwrap();
        assert!(caller.admin);
        assert_eq!(caller.identity.unwrap().to_json()["tokenIdentifier"], "https://i|s");
        assert!(matches!(call(Some("Convex k1:!!"), None), Err(CallerError::Auth(_))));
    }

    #[test]
    fn bad_user_tokens_are_refused_not_anonymous() {
        let Err(CallerError::Auth(e)) = call(Some("Bearer x.y.z"), None) else { panic!("a bad token was accepted") };
        assert_eq!(e.code, "InvalidAuthHeader");
        let Err(CallerError::Auth(e)) = call(Some("Basic abc"), None) else { panic!("a Basic header was accepted") };
        assert_eq!(e.message, "Header must begin with `bearer `");
    }
}
