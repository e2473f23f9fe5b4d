//! One HTTP exchange, behind the [`Transport`] trait so the retry and conflict logic can be
//! tested with scripted answers; [`HttpTransport`] is the real one, on reqwest and rustls.
//!
//! A transport does no retrying and no interpretation of statuses: it sends one request
//! and says what came back, or which way it failed — before sending (safe to repeat) or
//! after (the server may have applied it).

use super::token::Secret;
use super::{SendError, SendOptions, proxied_unless_loopback};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// At most this much of a response body is kept: enough for a referral or an error.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Idle pooled connections are dropped before a typical 60 s server keep-alive closes
/// them, so a request is rarely written onto a connection the server is closing.
const POOL_IDLE: Duration = Duration::from_secs(30);

/// A boxed future, so that [`Transport`] stays usable as `dyn`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The two methods refsync uses on a referral.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Read the referral.
    Get,
    /// Apply a JSON Patch document.
    Patch,
}

/// One request, with its headers as typed values (the token stays a [`Secret`]).
#[derive(Clone, Debug)]
pub struct Request {
    /// GET or PATCH.
    pub method: Method,
    /// The referral's URL, ID already percent-encoded.
    pub url: reqwest::Url,
    /// The bearer token.
    pub token: Secret,
    /// `MS-CorrelationId`.
    pub correlation_id: uuid::Uuid,
    /// `MS-RequestId`.
    pub request_id: uuid::Uuid,
    /// `If-Match`, quoted.
    pub if_match: Option<String>,
    /// Whether to send `Prefer: return=representation`.
    pub prefer_representation: bool,
    /// The JSON body of a PATCH.
    pub body: Option<Vec<u8>>,
}

impl Request {
    /// Every header but `Authorization`, as the API expects them; safe to log.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("Accept", "application/json".to_string()),
            ("MS-CorrelationId", self.correlation_id.to_string()),
            ("MS-RequestId", self.request_id.to_string()),
        ];
        if self.body.is_some() {
            headers.push(("Content-Type", "application/json".into()));
        }
        if let Some(tag) = &self.if_match {
            headers.push(("If-Match", tag.clone()));
        }
        if self.prefer_representation {
            headers.push(("Prefer", "return=representation".into()));
        }
        headers
    }
}

/// What came back.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// The `ETag` header, if any.
    pub etag: Option<String>,
    /// The raw `Retry-After` header, if any (parsed by the retry policy).
    pub retry_after: Option<String>,
    /// The body, at most [`BODY_LIMIT`] bytes.
    pub body: Vec<u8>,
}

/// The shortest token looked for in error answers: real access tokens run to hundreds
/// of characters.
const SHORTEST_REDACTED: usize = 8;

impl Response {
    /// An error answer with every copy of `token` in its body blotted out: a server or
    /// proxy that echoes the request's headers into an error would put the token into the
    /// report, the rejects file and the logs. Success bodies are data, left alone, as is
    /// a token too short to be told from ordinary text (a test's).
    pub fn without_token(mut self, token: &Secret) -> Response {
        let token = token.expose().as_bytes();
        let echoed = self.status >= 400
            && token.len() >= SHORTEST_REDACTED
            && memchr::memmem::find(&self.body, token).is_some();
        if !echoed {
            return self;
        }
        let mut body = Vec::with_capacity(self.body.len());
        let mut rest = self.body.as_slice();
        while let Some(at) = memchr::memmem::find(rest, token) {
            body.extend_from_slice(&rest[..at]);
            body.extend_from_slice(b"***");
            rest = &rest[at + token.len()..];
        }
        body.extend_from_slice(rest);
        self.body = body;
        self
    }
}

/// How an exchange failed without an HTTP answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// No connection could be made: nothing was sent.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// No answer within `--timeout`: the request may have been applied.
    #[error("no answer within the timeout")]
    Timeout,
    /// The connection dropped after the request was sent: it may have been applied.
    #[error("connection lost after sending: {0}")]
    Lost(String),
    /// The request could not be built; repeating it would not help.
    #[error("cannot build the request: {0}")]
    Invalid(String),
    /// The server's TLS certificate was not trusted (unknown issuer, expired, another
    /// name, …): nothing was sent, and no retry would help.
    #[error("the server's TLS certificate is not trusted: {0}")]
    Certificate(String),
}

/// One HTTP exchange with the referrals API.
pub trait Transport: Send + Sync {
    /// Sends `request` once and returns the answer, or how it failed.
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, TransportError>>;
}

/// The real transport: reqwest with rustls, certificate checks on, system proxy honoured.
#[derive(Clone, Debug)]
pub struct HttpTransport {
    client: reqwest::Client,
}

impl HttpTransport {
    /// Builds the client: per-request timeout, `--ca-cert` as an extra root, no redirects
    /// (a redirect would carry the token elsewhere), `HTTPS_PROXY`/`NO_PROXY` from the env
    /// except for a loopback endpoint (the emulator), which no proxy could reach.
    pub fn new(options: &SendOptions) -> Result<Self, SendError> {
        let mut builder = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(POOL_IDLE)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("refsync/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &options.ca_cert {
            builder = builder.tls_certs_merge(read_ca_cert(path)?);
        }
        let client = proxied_unless_loopback(builder, &options.endpoint)
            .build()
            .map_err(|e| SendError::Client(e.to_string()))?;
        Ok(HttpTransport { client })
    }

    async fn exchange(&self, request: Request) -> Result<Response, TransportError> {
        let response = self
            .build(&request)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let status = response.status().as_u16();
        let etag = header(reqwest::header::ETAG);
        let retry_after = header(reqwest::header::RETRY_AFTER);
        let body = match read_bounded(response).await {
            Ok(body) => body,
            // A referral read is its body: one cut short (the connection dropped, or
            // --timeout ran out mid-body) is a failed read, retried like one.
            Err((error, _)) if request.method == Method::Get && (200..300).contains(&status) => {
                return Err(classify(&error));
            }
            Err((_, kept)) => kept,
        };
        // A body that ends mid-JSON on a connection closed without a length was cut short
        // just as well, though HTTP cannot tell.
        if request.method == Method::Get && (200..300).contains(&status) && ends_mid_json(&body) {
            return Err(TransportError::Lost(
                "the connection closed before the answer's JSON was complete".into(),
            ));
        }
        Ok(Response {
            status,
            etag,
            retry_after,
            body,
        })
    }

    fn build(&self, request: &Request) -> reqwest::RequestBuilder {
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Patch => reqwest::Method::PATCH,
        };
        let mut builder = self.client.request(method, request.url.clone());
        for (name, value) in request.headers() {
            builder = builder.header(name, value);
        }
        // `bearer_auth` marks the header sensitive, so reqwest never prints it either.
        builder = builder.bearer_auth(request.token.expose());
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        builder
    }
}

impl Transport for HttpTransport {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, TransportError>> {
        Box::pin(self.exchange(request))
    }
}

/// Reads the PEM file of `--ca-cert` (one or several certificates); a file holding none
/// (another file given by mistake) is an error, not an empty list of extra roots.
pub fn read_ca_cert(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, SendError> {
    let pem = std::fs::read(path)
        .map_err(|e| SendError::Client(format!("cannot read --ca-cert {}: {e}", path.display())))?;
    let not_pem = |reason: String| {
        SendError::Client(format!(
            "--ca-cert {} is not a PEM certificate: {reason}",
            path.display()
        ))
    };
    match reqwest::Certificate::from_pem_bundle(&pem) {
        Ok(certificates) if certificates.is_empty() => Err(not_pem(
            "it holds no -----BEGIN CERTIFICATE----- block".into(),
        )),
        Ok(certificates) => Ok(certificates),
        // reqwest says only "builder error" here.
        Err(_) => Err(not_pem(
            "a -----BEGIN CERTIFICATE----- block in it is damaged (its base64 or the \
             certificate inside does not read)"
                .into(),
        )),
    }
}

/// What rustls says of a certificate it refuses (its `Error::InvalidCertificate`). rustls
/// is not a direct dependency, and reqwest hides it behind `io::Error`s, so its message is
/// what can be recognised in the chain.
const RUSTLS_INVALID_CERTIFICATE: &str = "invalid peer certificate: ";

/// Sorts a reqwest error into the cases the retry policy tells apart.
fn classify(error: &reqwest::Error) -> TransportError {
    let text = error.to_string();
    if error.is_builder() {
        TransportError::Invalid(text)
    } else if let Some(why) = certificate_refused(error) {
        TransportError::Certificate(why)
    } else if error.is_connect() {
        TransportError::Connect(text)
    } else if error.is_timeout() {
        TransportError::Timeout
    } else {
        TransportError::Lost(text)
    }
}

/// Why the server's certificate was refused (`UnknownIssuer`, …), where some error in the
/// chain of `error` is rustls refusing it.
fn certificate_refused(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    std::iter::successors(Some(error), |e| e.source()).find_map(|e| {
        let text = e.to_string();
        let at = text.find(RUSTLS_INVALID_CERTIFICATE)?;
        Some(text[at + RUSTLS_INVALID_CERTIFICATE.len()..].to_string())
    })
}

/// Why the server's certificate was refused in plain words, with what to do, followed by
/// rustls's own name for it (`raw`, as [`certificate_refused`] found it) to search for.
pub fn certificate_advice(raw: &str) -> String {
    let plain = if raw.contains("CaUsedAsEndEntity") {
        "the server presents a CA's certificate as its own; it needs a certificate that CA \
         issued for the host (the CA itself is what --ca-cert FILE takes)"
    } else if raw.contains("Expired") {
        "it has expired (or this machine's clock is wrong); renew it on the server"
    } else if raw.contains("NotValidYet") {
        "it is not valid yet (or this machine's clock is wrong)"
    } else if raw.contains("NotValidForName") {
        "it is not issued for the endpoint's host name; use the name it names"
    } else if raw.contains("Revoked") {
        "its issuer has revoked it"
    } else {
        "if the endpoint uses a certificate from your own CA, pass that CA with --ca-cert \
         FILE (PEM)"
    };
    format!("{plain} ({raw})")
}

/// Whether `body`, short of [`BODY_LIMIT`], is JSON that starts but stops before it is
/// complete (an empty body is not: it is no JSON at all).
fn ends_mid_json(body: &[u8]) -> bool {
    !body.is_empty()
        && body.len() < BODY_LIMIT
        && serde_json::from_slice::<serde::de::IgnoredAny>(body).is_err_and(|e| e.is_eof())
}

/// Reads at most [`BODY_LIMIT`] bytes; a body cut short is an error, with what arrived
/// of it. Of a PATCH's answer or an error, that part is kept: the status line already
/// says what happened, and the body is only detail.
async fn read_bounded(
    mut response: reqwest::Response,
) -> Result<Vec<u8>, (reqwest::Error, Vec<u8>)> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = BODY_LIMIT - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= BODY_LIMIT {
                    return Ok(body);
                }
            }
            Ok(None) => return Ok(body),
            Err(error) => return Err((error, body)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_echoing_the_token_loses_every_copy_of_it() {
        let response = Response {
            status: 403,
            body: b"Bearer tok-1234 refused; tok-1234 again".to_vec(),
            ..Response::default()
        };
        let cleaned = response.without_token(&Secret::new("tok-1234"));
        assert_eq!(cleaned.body, b"Bearer *** refused; *** again");
    }

    fn request(method: Method, body: Option<Vec<u8>>) -> Request {
        Request {
            method,
            url: reqwest::Url::parse("https://h/v1.0/engagements/referrals/a").expect("a URL"),
            token: Secret::new("tok"),
            correlation_id: uuid::Uuid::nil(),
            request_id: uuid::Uuid::nil(),
            if_match: Some("\"e1\"".into()),
            prefer_representation: true,
            body,
        }
    }

    #[test]
    fn patch_headers_are_the_ones_the_api_documents() {
        let names: Vec<_> = request(Method::Patch, Some(b"[]".to_vec()))
            .headers()
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(
            names,
            [
                "Accept",
                "MS-CorrelationId",
                "MS-RequestId",
                "Content-Type",
                "If-Match",
                "Prefer"
            ]
        );
    }

    #[test]
    fn logged_headers_and_debug_never_show_the_token() {
        let req = request(Method::Get, None);
        assert!(req.headers().iter().all(|(_, v)| !v.contains("tok")));
        assert!(!format!("{req:?}").contains("\"tok\""));
    }

    /// An error with a message and an optional cause, to build chains like reqwest's.
    #[derive(Debug)]
    struct Link(String, Option<Box<dyn std::error::Error + Send + Sync>>);

    impl std::fmt::Display for Link {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }

    impl std::error::Error for Link {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn a_refused_certificate_is_explained_in_plain_words_with_rustls_name_for_it() {
        let served_ca = certificate_advice("Other(OtherError(CaUsedAsEndEntity))");
        assert!(
            served_ca.contains("a CA's certificate as its own"),
            "{served_ca}"
        );
        assert!(
            served_ca.ends_with("(Other(OtherError(CaUsedAsEndEntity)))"),
            "{served_ca}"
        );
        assert!(certificate_advice("Expired").contains("expired"));
        assert!(certificate_advice("UnknownIssuer").contains("--ca-cert"));
    }

    #[test]
    fn a_certificate_refused_deep_in_the_chain_is_recognised() {
        // reqwest → hyper-util → io::Error(InvalidData, rustls::Error::InvalidCertificate)
        let rustls = Link("invalid peer certificate: UnknownIssuer".into(), None);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, rustls);
        let hyper = Link("client error (Connect)".into(), Some(Box::new(io)));
        let reqwest = Link("error sending request".into(), Some(Box::new(hyper)));
        assert_eq!(
            certificate_refused(&reqwest).as_deref(),
            Some("UnknownIssuer")
        );
        let refused = Link(
            "error sending request".into(),
            Some(Box::new(Link("Connection refused".into(), None))),
        );
        assert_eq!(certificate_refused(&refused), None);
    }

    #[test]
    fn a_file_without_a_certificate_is_not_a_ca_cert() {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), "id,op,path,value\n").expect("write");
        match read_ca_cert(file.path()) {
            Err(SendError::Client(message)) => assert!(message.contains("no -----BEGIN")),
            other => panic!("expected a client error, got {other:?}"),
        }
        let damaged = "-----BEGIN CERTIFICATE-----\nnot base64 !\n-----END CERTIFICATE-----\n";
        std::fs::write(file.path(), damaged).expect("write");
        match read_ca_cert(file.path()) {
            Err(SendError::Client(message)) => assert!(message.contains("is damaged"), "{message}"),
            other => panic!("expected a client error, got {other:?}"),
        }
    }

    #[test]
    fn a_missing_ca_cert_is_a_client_error_naming_the_file() {
        let options = SendOptions {
            ca_cert: Some("/nonexistent/ca.pem".into()),
            ..crate::send::tests::options()
        };
        match HttpTransport::new(&options) {
            Err(SendError::Client(message)) => assert!(message.contains("/nonexistent/ca.pem")),
            other => panic!("expected a client error, got {other:?}"),
        }
    }
}
