//! The identity `ctx.auth.getUserIdentity()` returns, built as Convex builds it (`UserIdentity`
//! in `convex/server`): from a verified token's claims, or from the attributes an admin acts as.
//!
//! Owns: the claim → field mapping. Invariants: every identity is a JSON object with
//! `tokenIdentifier` (`"<issuer>|<subject>"` when built from a token), `issuer` and `subject`
//! first; custom claims follow, sorted by name.
//! - OIDC tokens: the standard OIDC claims become camelCase fields (`given_name` → `givenName`,
//!   `picture` → `pictureUrl`, `birthdate` → `birthday`, `zoneinfo` → `timezone`, `locale` →
//!   `language`, `address.formatted` → `address`, `updated_at` → RFC 3339 `updatedAt`); the
//!   registered JWT claims (`aud`, `iat`, `azp`, …), `jti`, `nbf` and `fva` are left out; every
//!   other claim is passed through as it is.
//! - `customJwt` tokens: no field mapping (as Convex); every claim except the registered ones
//!   (`iss`, `sub`, `aud`, `exp`, `nbf`, `iat`, `jti`) and `fva` is passed through, and a nested
//!   object's members become `"outer.inner"` claims.

use serde_json::{Map, Value as Json};

use crate::AuthError;

/// Standard OIDC claims and their `UserIdentity` names (strings).
const STRING_CLAIMS: [(&str, &str); 13] = [
    ("name", "name"),
    ("given_name", "givenName"),
    ("family_name", "familyName"),
    ("nickname", "nickname"),
    ("preferred_username", "preferredUsername"),
    ("profile", "profileUrl"),
    ("picture", "pictureUrl"),
    ("website", "websiteUrl"),
    ("email", "email"),
    ("gender", "gender"),
    ("birthdate", "birthday"),
    ("zoneinfo", "timezone"),
    ("locale", "language"),
];

/// Claims of the ID token itself, not of the user (openidconnect's `IdTokenClaims` fields).
const OIDC_TOKEN_CLAIMS: [&str; 13] =
    ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "at_hash", "c_hash", "nbf"];

/// Registered JWT claims (RFC 7519 §4.1), which a `customJwt` identity leaves out.
const REGISTERED_CLAIMS: [&str; 7] = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];

fn base(issuer: &str, subject: &str) -> Map<String, Json> {
    let mut identity = Map::new();
    identity.insert("tokenIdentifier".into(), Json::String(format!("{issuer}|{subject}")));
    identity.insert("issuer".into(), Json::String(issuer.into()));
    identity.insert("subject".into(), Json::String(subject.into()));
    identity
}

/// The identity of an OIDC ID token's verified claims.
pub(crate) fn from_oidc_claims(issuer: &str, subject: &str, claims: &Map<String, Json>) -> Map<String, Json> {
    let mut identity = base(issuer, subject);
    for (claim, field) in STRING_CLAIMS {
        if let Some(Json::String(s)) = claims.get(claim) {
            identity.insert(field.into(), Json::String(s.clone()));
        }
    }
    for (claim, field) in [("email_verified", "emailVerified"), ("phone_number_verified", "phoneNumberVerified")] {
        match claims.get(claim) {
            Some(Json::Bool(b)) => drop(identity.insert(field.into(), Json::Bool(*b))),
            // Some providers send booleans as strings.
            Some(Json::String(s)) if s == "true" || s == "false" => {
                identity.insert(field.into(), Json::Bool(s == "true"));
            }
            _ => {}
        }
    }
    if let Some(Json::String(s)) = claims.get("phone_number") {
        identity.insert("phoneNumber".into(), Json::String(s.clone()));
    }
    if let Some(Json::String(formatted)) = claims.get("address").and_then(|a| a.get("formatted")) {
        identity.insert("address".into(), Json::String(formatted.clone()));
    }
    if let Some(seconds) = claims.get("updated_at").and_then(Json::as_i64) {
        identity.insert("updatedAt".into(), Json::String(rfc3339(seconds)));
    }
    let standard = |name: &str| {
        STRING_CLAIMS.iter().any(|(c, _)| *c == name)
            || OIDC_TOKEN_CLAIMS.contains(&name)
            || matches!(
                name,
                "email_verified" | "phone_number" | "phone_number_verified" | "address" | "updated_at" | "jti" | "fva"
            )
    };
    let mut custom: Vec<(&String, &Json)> = claims.iter().filter(|(name, _)| !standard(name)).collect();
    custom.sort_by(|a, b| a.0.cmp(b.0));
    for (name, value) in custom {
        identity.insert(name.clone(), value.clone());
    }
    identity
}

/// The identity of a `customJwt` token's verified claims.
pub(crate) fn from_custom_claims(issuer: &str, subject: &str, claims: &Map<String, Json>) -> Map<String, Json> {
    let mut identity = base(issuer, subject);
    let mut custom = Vec::new();
    flatten(claims, "", &mut custom);
    custom.retain(|(name, _)| !REGISTERED_CLAIMS.contains(&name.as_str()) && name != "fva");
    custom.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, value) in custom {
        identity.insert(name, value);
    }
    identity
}

fn flatten(claims: &Map<String, Json>, prefix: &str, out: &mut Vec<(String, Json)>) {
    for (name, value) in claims {
        let name = format!("{prefix}{name}");
        match value {
            Json::Object(inner) => flatten(inner, &format!("{name}."), out),
            _ => out.push((name, value.clone())),
        }
    }
}

/// The identity an admin acts as (`setAdminAuth(key, identity)`, `npx convex run --identity`,
/// `Authenticate{tokenType:"Admin", impersonating}`): its attributes as given, with
/// `tokenIdentifier` made from `issuer` and `subject` when it is missing.
pub fn acting_identity(attributes: &Json) -> Result<Map<String, Json>, AuthError> {
    let Json::Object(attributes) = attributes else {
        return Err(AuthError::bad_request("InvalidActingIdentity", "The identity to act as must be a JSON object"));
    };
    let text = |name: &str| attributes.get(name).and_then(Json::as_str);
    let token_identifier = match (text("tokenIdentifier"), text("issuer"), text("subject")) {
        (Some(t), _, _) => t.to_string(),
        (None, Some(issuer), Some(subject)) => format!("{issuer}|{subject}"),
        _ => {
            return Err(AuthError::bad_request(
                "InvalidActingIdentity",
                "Either \"tokenIdentifier\" or \"issuer\" and \"subject\" must be set",
            ));
        }
    };
    let mut identity = Map::new();
    identity.insert("tokenIdentifier".into(), Json::String(token_identifier));
    for (name, value) in attributes {
        if name != "tokenIdentifier" {
            identity.insert(name.clone(), value.clone());
        }
    }
    Ok(identity)
}

/// Seconds since the epoch as RFC 3339 UTC (`2024-01-02T03:04:05+00:00`, as chrono writes it).
fn rfc3339(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}+00:00", secs / 3600, secs % 3600 / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn oidc_claims_become_camel_case_fields() {
        let claims = json!({
            "iss": "https://id.example.com", "sub": "u1", "aud": "convex", "exp": 2, "iat": 1,
            "given_name": "Ada", "email": "ada@example.com", "email_verified": true, "picture": "https://p",
            "updated_at": 1_700_000_000, "address": {"formatted": "1 Main St"}, "org": {"id": 7}, "jti": "x"
        });
        let identity = from_oidc_claims("https://id.example.com", "u1", claims.as_object().unwrap());
        assert_eq!(
            Json::Object(identity),
            json!({
                "tokenIdentifier": "https://id.example.com|u1", "issuer": "https://id.example.com", "subject": "u1",
                "givenName": "Ada", "pictureUrl": "https://p", "email": "ada@example.com", "emailVerified": true,
                "address": "1 Main St", "updatedAt": "2023-11-14T22:13:20+00:00", "org": {"id": 7}
            })
        );
    }

    #[test]
    fn custom_jwt_claims_pass_through_flattened() {
        let claims = json!({"iss": "i", "sub": "s", "exp": 2, "aud": "a", "email": "e", "org": {"id": 7, "r": ["x"]}});
        let identity = from_custom_claims("i", "s", claims.as_object().unwrap());
        assert_eq!(
            Json::Object(identity),
            json!({"tokenIdentifier": "i|s", "issuer": "i", "subject": "s", "email": "e", "org.id": 7, "org.r": ["x"]})
        );
    }

    #[test]
    fn acting_identities_get_a_token_identifier() {
        let identity = acting_identity(&json!({"subject": "s", "issuer": "i", "name": "N"})).unwrap();
        assert_eq!(identity["tokenIdentifier"], "i|s");
        assert_eq!(identity["name"], "N");
        assert!(acting_identity(&json!({"name": "N"})).is_err());
        assert!(acting_identity(&json!("x")).is_err());
    }
}
