//! The HTTP client behind `fetch` in actions.
//!
//! Owns: turning a request taken from the prelude's `fetch` (method, URL, header pairs, body
//! bytes, redirect mode) into a real HTTP exchange with `reqwest` (rustls for TLS), and the
//! whole response (status, reason, final URL, header pairs, body bytes) handed back to JS.
//! Invariants: only `http:`/`https:` URLs are fetched; a response body larger than the cap
//! is an error, never truncated; `redirect: "follow"` follows at most 20 hops, `"manual"`
//! hands back the 3xx response, `"error"` fails on a 3xx. The clients (one per redirect mode)
//! belong to one isolate and are used on its tokio runtime only (their connection pools hold
//! tasks of that runtime).

use std::fmt;

/// A request as built by the prelude's `Request`.
#[derive(Debug, Clone)]
pub(crate) struct FetchRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// `"follow"`, `"manual"` or `"error"`.
    pub redirect: String,
}

/// A complete response.
#[derive(Debug, Clone)]
pub(crate) struct FetchResponse {
    pub status: u16,
    pub status_text: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub redirected: bool,
}

/// Why a fetch failed; shown to JS as the message of a `TypeError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FetchError {
    /// The client could not be built (TLS set-up).
    Client(String),
    UnsupportedScheme(String),
    InvalidRequest(String),
    UnexpectedRedirect(String),
    BodyTooLarge {
        limit: usize,
    },
    Network(String),
}

impl FetchError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            FetchError::Client(_) => "FetchClient",
            FetchError::UnsupportedScheme(_) => "FetchUnsupportedScheme",
            FetchError::InvalidRequest(_) => "FetchInvalidRequest",
            FetchError::UnexpectedRedirect(_) => "FetchUnexpectedRedirect",
            FetchError::BodyTooLarge { .. } => "FetchBodyTooLarge",
            FetchError::Network(_) => "FetchNetwork",
        }
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Client(m) => {
                write!(f, "fetch failed: could not create the HTTP client: {m}")
            }
            FetchError::UnsupportedScheme(s) => {
                write!(f, "fetch failed: scheme '{s}' is not supported")
            }
            FetchError::InvalidRequest(m) => write!(f, "fetch failed: {m}"),
            FetchError::UnexpectedRedirect(u) => {
                write!(f, "fetch failed: unexpected redirect to {u}")
            }
            FetchError::BodyTooLarge { limit } => {
                write!(f, "fetch failed: response body is larger than {} MB", limit >> 20)
            }
            FetchError::Network(m) => write!(f, "fetch failed: {m}"),
        }
    }
}

impl std::error::Error for FetchError {}

/// The isolate's HTTP clients.
#[derive(Clone)]
pub(crate) struct FetchClient {
    follow: reqwest::Client,
    manual: reqwest::Client,
}

impl FetchClient {
    pub fn new() -> Result<FetchClient, FetchError> {
        let build = |policy| {
            reqwest::Client::builder()
                .redirect(policy)
                .user_agent(concat!("emvex/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| FetchError::Client(e.to_string()))
        };
        Ok(FetchClient {
            follow: build(reqwest::redirect::Policy::limited(20))?,
            manual: build(reqwest::redirect::Policy::none())?,
        })
    }

    /// Performs `req`, reading at most `max_body` bytes of response body.
    pub async fn fetch(&self, req: FetchRequest, max_body: usize) -> Result<FetchResponse, FetchError> {
        let url = reqwest::Url::parse(&req.url)
            .map_err(|e| FetchError::InvalidRequest(format!("invalid URL {}: {e}", req.url)))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(FetchError::UnsupportedScheme(url.scheme().to_string()));
        }
        let method = reqwest::Method::from_bytes(req.method.as_bytes())
            .map_err(|_| FetchError::InvalidRequest(format!("invalid method {}", req.method)))?;
        let client = if req.redirect == "follow" { &self.follow } else { &self.manual };
        let mut builder = client.request(method, url.clone());
        for (name, value) in &req.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(body) = req.body {
            builder = builder.body(body);
        }
        let mut resp = builder.send().await.map_err(|e| FetchError::Network(error_chain(&e)))?;
        let status = resp.status();
        if req.redirect == "error" && status.is_redirection() {
            let to = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_default();
            return Err(FetchError::UnexpectedRedirect(to));
        }
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let final_url = resp.url().to_string();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| FetchError::Network(error_chain(&e)))? {
            if body.len() + chunk.len() > max_body {
                return Err(FetchError::BodyTooLarge { limit: max_body });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FetchResponse {
            status: status.as_u16(),
            status_text: status.canonical_reason().unwrap_or("").to_string(),
            redirected: final_url != url.as_str(),
            url: final_url,
            headers,
            body,
        })
    }
}

/// An error with its causes (reqwest's top-level message alone rarely says what went wrong).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(url: &str) -> FetchRequest {
        FetchRequest { method: "GET".into(), url: url.into(), headers: vec![], body: None, redirect: "follow".into() }
    }

    #[test]
    fn refuses_other_schemes_and_bad_methods() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let client = FetchClient::new().unwrap();
        let err = rt.block_on(client.fetch(request("ftp://example.com/x"), 1 << 20)).unwrap_err();
        assert_eq!(err, FetchError::UnsupportedScheme("ftp".into()));
        assert_eq!(err.code(), "FetchUnsupportedScheme");
        let mut bad = request("http://127.0.0.1:1/");
        bad.method = "BAD METHOD".into();
        let err = rt.block_on(client.fetch(bad, 1 << 20)).unwrap_err();
        assert_eq!(err.code(), "FetchInvalidRequest");
    }

    #[test]
    fn connection_refused_is_a_network_error() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let client = FetchClient::new().unwrap();
        // Bind then drop a listener so the port is (very likely) closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let err = rt.block_on(client.fetch(request(&format!("http://127.0.0.1:{port}/")), 1 << 20)).unwrap_err();
        assert_eq!(err.code(), "FetchNetwork", "{err}");
        assert!(err.to_string().starts_with("fetch failed: "), "{err}");
    }
}
