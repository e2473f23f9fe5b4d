//! Answers as data: a [`Reply`] is stored for `MS-RequestId` replay and counted before it
//! becomes an HTTP response, and an [`ApiError`] is the `{"code", "message"}` body of
//! every refusal.

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One answer, complete enough to be sent again unchanged.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    /// The status code.
    pub status: StatusCode,
    /// The JSON body, if any.
    pub body: Option<Bytes>,
    /// The `ETag` header, if any.
    pub etag: Option<String>,
    /// The `Retry-After` header in seconds, if any.
    pub retry_after: Option<u64>,
    /// The `WWW-Authenticate` header (the challenge of a 401), if any.
    pub challenge: Option<String>,
}

impl Reply {
    /// A 2xx answer carrying the referral's ETag, with or without its representation.
    pub fn success(status: StatusCode, body: Option<&Value>, etag: &str) -> Reply {
        Reply {
            status,
            body: body.map(to_bytes),
            etag: Some(etag.to_string()),
            retry_after: None,
            challenge: None,
        }
    }

    /// A 200 with a JSON body and no ETag (lists, stats, token answers).
    pub fn json(body: &Value) -> Reply {
        Reply {
            status: StatusCode::OK,
            body: Some(to_bytes(body)),
            etag: None,
            retry_after: None,
            challenge: None,
        }
    }
}

fn to_bytes(value: &Value) -> Bytes {
    // Serialising a `Value` cannot fail: its map keys are strings.
    Bytes::from(serde_json::to_vec(value).unwrap_or_default())
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let has_body = self.body.is_some();
        let mut response = Response::new(self.body.map_or_else(Body::empty, Body::from));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        if has_body {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        if let Some(etag) = self.etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
            headers.insert(header::ETAG, etag);
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(challenge) = self.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

/// A refusal: its status, a stable machine-readable code and a message for people.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The `code` of the body (`InvalidTransition`, `PreconditionFailed`, …).
    pub code: &'static str,
    /// The `message` of the body.
    pub message: String,
    /// `Retry-After` seconds, for 429.
    pub retry_after: Option<u64>,
    /// The `WWW-Authenticate` challenge, for 401.
    pub challenge: Option<String>,
}

impl ApiError {
    /// An error without `Retry-After`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
            challenge: None,
        }
    }

    /// 400 with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401 `Unauthorized` with the `WWW-Authenticate` challenge every 401 must carry
    /// (RFC 9110, section 15.5.2).
    pub fn unauthorized(message: impl Into<String>, challenge: impl Into<String>) -> ApiError {
        ApiError {
            challenge: Some(challenge.into()),
            ..ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized", message)
        }
    }

    /// 405 `MethodNotAllowed`: the path exists, the method does not (the `Allow` header is
    /// the router's to add).
    pub fn method_not_allowed(method: &str, path: &str) -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("{method} is not allowed on {path}; the Allow header lists what is"),
        )
    }

    /// 404 `NotFound` for a referral ID.
    pub fn not_found(id: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("no referral with ID {id:?}"),
        )
    }

    /// 429 `Throttled`, with `Retry-After` where given.
    pub fn throttled(retry_after: Option<u64>) -> ApiError {
        ApiError {
            retry_after,
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "Throttled",
                "too many requests; slow down and retry later",
            )
        }
    }

    /// An injected 5xx.
    pub fn server_fault(status: StatusCode) -> ApiError {
        let code = match status {
            StatusCode::BAD_GATEWAY => "BadGateway",
            StatusCode::SERVICE_UNAVAILABLE => "ServiceUnavailable",
            StatusCode::GATEWAY_TIMEOUT => "GatewayTimeout",
            _ => "InternalServerError",
        };
        ApiError::new(status, code, "injected server fault; retry")
    }
}

impl From<ApiError> for Reply {
    fn from(error: ApiError) -> Reply {
        let body = json!({ "code": error.code, "message": error.message });
        Reply {
            status: error.status,
            body: Some(to_bytes(&body)),
            etag: None,
            retry_after: error.retry_after,
            challenge: error.challenge,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        Reply::from(self).into_response()
    }
}
