//! Caller identity from request headers: admin (`Authorization: Convex <key>` or `?adminKey=`),
//! or anonymous. User JWTs (`Bearer …`) are accepted but carry no identity yet: emvex has no auth
//! providers configured, so `ctx.auth.getUserIdentity()` is `null`.

use axum::http::HeaderMap;

/// Who is calling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    Admin,
    Anonymous,
}

/// The header names an admin key that is not this deployment's.
#[derive(Debug)]
pub struct BadAdminKey;

/// Reads the caller from the `Authorization` header, or the `adminKey` query parameter when
/// there is no header.
pub fn caller(headers: &HeaderMap, query_admin_key: Option<&str>, admin_key: &str) -> Result<Caller, BadAdminKey> {
    let header = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let presented = match header {
        Some(h) if h.len() >= 7 && h[..7].eq_ignore_ascii_case("convex ") => Some(h[7..].trim()),
        Some(_) => None,
        None => query_admin_key,
    };
    let Some(presented) = presented else { return Ok(Caller::Anonymous) };
    if is_admin_key(presented, admin_key) { Ok(Caller::Admin) } else { Err(BadAdminKey) }
}

/// Admin keys may carry a deployment-type prefix (`dev:`, `prod:`) and an impersonation suffix
/// (`:<base64 identity>`); only the key itself is compared.
pub fn is_admin_key(presented: &str, admin_key: &str) -> bool {
    if presented == admin_key {
        return true;
    }
    presented.split(':').any(|part| part == admin_key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(axum::http::header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        h
    }

    #[test]
    fn recognises_admin_keys() {
        assert_eq!(caller(&headers("Convex k1"), None, "k1").unwrap(), Caller::Admin);
        assert_eq!(caller(&headers("convex dev:k1"), None, "k1").unwrap(), Caller::Admin);
        assert!(caller(&headers("Convex nope"), None, "k1").is_err());
        assert_eq!(caller(&headers("Bearer x.y.z"), None, "k1").unwrap(), Caller::Anonymous);
        assert_eq!(caller(&HeaderMap::new(), None, "k1").unwrap(), Caller::Anonymous);
        assert_eq!(caller(&HeaderMap::new(), Some("k1"), "k1").unwrap(), Caller::Admin);
    }
}
