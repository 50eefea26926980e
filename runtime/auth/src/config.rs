//! The auth providers of `convex/auth.config.ts`: its default export `{ providers: [...] }`,
//! evaluated by the engine with the deployment's environment variables and handed over as JSON.
//!
//! Owns: [`Provider`] and the parsing of the export's JSON into providers, with Convex's
//! normalisation of issuer URLs (no scheme means `https://`; a trailing `/` does not count).
//! Invariant: a parsed provider always has an `http(s)` issuer and, for OIDC, an application id.

use serde_json::Value as Json;

use crate::AuthError;

/// Signature algorithms a `customJwt` provider may name (as Convex).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    RS256,
    ES256,
}

/// One entry of `providers`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Provider {
    /// An OpenID Connect provider: keys come from `<domain>/.well-known/openid-configuration`.
    Oidc { domain: String, application_id: String },
    /// `type: "customJwt"`: keys come from `jwks` (an URL or a `data:` URI).
    CustomJwt { issuer: String, jwks: String, algorithm: Algorithm, application_id: Option<String> },
}

impl Provider {
    /// The issuer URL tokens must name.
    pub fn issuer(&self) -> &str {
        match self {
            Provider::Oidc { domain, .. } => domain,
            Provider::CustomJwt { issuer, .. } => issuer,
        }
    }

    pub fn application_id(&self) -> Option<&str> {
        match self {
            Provider::Oidc { application_id, .. } => Some(application_id),
            Provider::CustomJwt { application_id, .. } => application_id.as_deref(),
        }
    }

    /// Whether a token with this issuer and these audiences is this provider's: the issuer must
    /// match, and the audience only when the provider names an application id.
    pub fn matches(&self, issuer: &str, audiences: &[String]) -> bool {
        if let Some(app) = self.application_id()
            && !audiences.iter().any(|a| a == app)
        {
            return false;
        }
        same_issuer(self.issuer(), issuer)
    }

    /// How Convex lists a provider in its "No auth provider found" message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Provider::Oidc { domain, application_id } => format!("OIDC(domain={domain}, app_id={application_id})"),
            Provider::CustomJwt { issuer, application_id, .. } => {
                format!("CustomJWT(issuer={issuer}, app_id={})", application_id.as_deref().unwrap_or("none"))
            }
        }
    }
}

/// Issuers compare with `https://` added when they have no scheme and without a trailing `/`.
pub(crate) fn same_issuer(configured: &str, token_issuer: &str) -> bool {
    let with_scheme = if token_issuer.starts_with("https://") || token_issuer.starts_with("http://") {
        token_issuer.to_string()
    } else {
        format!("https://{token_issuer}")
    };
    configured.trim_end_matches('/') == with_scheme.trim_end_matches('/')
}

/// Parses the JSON of `auth.config.ts`'s default export (`None`: the app has no auth config).
pub fn parse_auth_config(json: Option<&str>) -> Result<Vec<Provider>, AuthError> {
    let Some(text) = json else { return Ok(Vec::new()) };
    let value: Json = serde_json::from_str(text).map_err(|e| config_error(format!("not JSON: {e}")))?;
    let providers = match value.get("providers") {
        Some(Json::Array(list)) => list,
        Some(_) => return Err(config_error("`providers` must be an array".into())),
        None => return Err(config_error("the default export must be an object with a `providers` array".into())),
    };
    providers.iter().enumerate().map(|(i, p)| parse_provider(i, p)).collect()
}

fn parse_provider(index: usize, value: &Json) -> Result<Provider, AuthError> {
    let Json::Object(fields) = value else {
        return Err(config_error(format!("providers[{index}] must be an object")));
    };
    let string = |name: &str| -> Result<Option<String>, AuthError> {
        match fields.get(name) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(config_error(format!("providers[{index}].{name} must be a string"))),
        }
    };
    let required = |name: &str| -> Result<String, AuthError> {
        string(name)?.ok_or_else(|| {
            config_error(format!(
                "providers[{index}] has no `{name}` (if it reads an environment variable, is that variable set?)"
            ))
        })
    };
    match string("type")?.as_deref() {
        Some("customJwt") => {
            let algorithm = match required("algorithm")?.as_str() {
                "RS256" => Algorithm::RS256,
                "ES256" => Algorithm::ES256,
                other => {
                    return Err(AuthError::bad_request(
                        "InvalidSignatureAlgorithm",
                        format!("Invalid signature algorithm (only RS256 and ES256 are supported): {other}"),
                    ));
                }
            };
            Ok(Provider::CustomJwt {
                issuer: issuer_url(&required("issuer")?)?,
                jwks: required("jwks")?,
                algorithm,
                application_id: string("applicationID")?,
            })
        }
        None | Some("oidc") => {
            Ok(Provider::Oidc { domain: issuer_url(&required("domain")?)?, application_id: required("applicationID")? })
        }
        Some(other) => Err(config_error(format!("providers[{index}].type {other:?} is not \"customJwt\""))),
    }
}

/// A provider's domain or issuer as an URL: `https://` is assumed when there is no scheme.
fn issuer_url(original: &str) -> Result<String, AuthError> {
    let invalid = |why: &str| {
        AuthError::bad_request("InvalidProviderDomainUrl", format!("Invalid provider domain URL \"{original}\": {why}"))
    };
    if original.starts_with('"') {
        return Err(invalid("starts with a double quote (\")"));
    }
    let url = match original.split_once("://") {
        Some((scheme, _)) if scheme.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            if scheme != "http" && scheme != "https" {
                return Err(invalid("scheme should be http or https"));
            }
            original.to_string()
        }
        _ => format!("https://{original}"),
    };
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or("");
    if rest.is_empty() || rest.starts_with('/') {
        return Err(invalid("has no host"));
    }
    Ok(url)
}

fn config_error(message: String) -> AuthError {
    AuthError::bad_request("InvalidAuthConfig", format!("convex/auth.config.ts: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_kinds_of_provider() {
        let json = r#"{"providers":[
            {"domain":"clerk.example.com","applicationID":"convex"},
            {"type":"customJwt","issuer":"http://127.0.0.1:9/","jwks":"data:text/plain;base64,e30=","algorithm":"ES256"}
        ]}"#;
        let providers = parse_auth_config(Some(json)).unwrap();
        assert_eq!(
            providers[0],
            Provider::Oidc { domain: "https://clerk.example.com".into(), application_id: "convex".into() }
        );
        assert!(providers[1].matches("http://127.0.0.1:9", &[]));
        assert!(!providers[0].matches("https://clerk.example.com", &["other".into()]));
        assert!(providers[0].matches("clerk.example.com/", &["convex".into()]));
        assert!(parse_auth_config(None).unwrap().is_empty());
    }

    #[test]
    fn bad_configs_name_what_is_wrong() {
        let missing = parse_auth_config(Some(r#"{"providers":[{"applicationID":"convex"}]}"#)).unwrap_err();
        assert!(missing.message.contains("providers[0] has no `domain`"), "{}", missing.message);
        let alg = r#"{"providers":[{"type":"customJwt","issuer":"https://x.dev","jwks":"https://x.dev/j","algorithm":"HS256"}]}"#;
        assert_eq!(parse_auth_config(Some(alg)).unwrap_err().code, "InvalidSignatureAlgorithm");
        let scheme = r#"{"providers":[{"domain":"ftp://x.dev","applicationID":"a"}]}"#;
        assert_eq!(parse_auth_config(Some(scheme)).unwrap_err().code, "InvalidProviderDomainUrl");
    }
}
