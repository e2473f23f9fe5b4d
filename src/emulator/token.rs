//! A stand-in for the Microsoft identity platform's token endpoints, so `[auth]` can be
//! tested end to end: `POST /{tenant}/oauth2/v2.0/token` (refresh-token and device-code
//! grants) and `POST /{tenant}/oauth2/v2.0/devicecode`.
//!
//! Any non-empty refresh token is accepted once and a new one is issued each time
//! (rotation); one already exchanged is refused with `invalid_grant`, as the real service
//! refuses a revoked or expired one, so a client that does not save the rotated token
//! fails here too.
//! A device code answers `authorization_pending` to its first poll and tokens after, so a
//! client's polling loop is exercised. Errors use the OAuth shape (`error`,
//! `error_description`), as the real endpoint does.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::auth::DevicePoll;
use super::reply::Reply;
use super::routes::AppState;

type Fields = Result<Form<HashMap<String, String>>, FormRejection>;

/// `POST /{tenant}/oauth2/v2.0/token`.
pub async fn token(State(app): State<Arc<AppState>>, fields: Fields) -> Response {
    let Ok(Form(fields)) = fields else {
        return oauth_error("invalid_request", "the body must be a form");
    };
    if let Some(refused) = without_client_id(&fields) {
        return refused;
    }
    match fields.get("grant_type").map(String::as_str) {
        Some("refresh_token") => match fields.get("refresh_token") {
            Some(token) if token.is_empty() => {
                oauth_error("invalid_grant", "the refresh token is missing or invalid")
            }
            Some(token) if app.auth.spend_refresh_token(token) => {
                // With no scope, the refresh token's own: refsync's, offline access included.
                let scope = fields
                    .get("scope")
                    .map_or(crate::auth::DEFAULT_SCOPE, String::as_str);
                tokens(&app, scope)
            }
            Some(_) => oauth_error(
                "invalid_grant",
                "the refresh token was already exchanged: use the one its answer rotated to \
                 (AADSTS70008-like: expired or revoked)",
            ),
            None => oauth_error("invalid_grant", "the refresh token is missing or invalid"),
        },
        Some("urn:ietf:params:oauth:grant-type:device_code") => {
            let code = fields.get("device_code").map(String::as_str).unwrap_or("");
            match app.auth.poll_device(code) {
                Some(DevicePoll::Pending) => {
                    oauth_error("authorization_pending", "the user has not signed in yet")
                }
                Some(DevicePoll::SignedIn(scope)) => tokens(&app, &scope),
                None => oauth_error(
                    "expired_token",
                    "the device code is unknown, expired or already used",
                ),
            }
        }
        _ => oauth_error(
            "unsupported_grant_type",
            "use refresh_token or the device_code grant",
        ),
    }
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`.
pub async fn device_code(State(app): State<Arc<AppState>>, fields: Fields) -> Response {
    let Ok(Form(fields)) = fields else {
        return oauth_error("invalid_request", "the body must be a form");
    };
    if let Some(refused) = without_client_id(&fields) {
        return refused;
    }
    let scope = fields.get("scope").map_or(API_SCOPE, String::as_str);
    let (code, user_code) = app.auth.start_device(scope);
    let uri = app.base_url.replace("/v1.0", "/devicelogin");
    Reply::json(&json!({
        "device_code": code,
        "user_code": user_code,
        "verification_uri": uri,
        "expires_in": 900,
        "interval": 1,
        "message": format!("To sign in, open {uri} and enter the code {user_code}."),
    }))
    .into_response()
}

/// `GET /devicelogin`, the page a device code's `verification_uri` names: in the emulator
/// there is nobody to sign in, and the next poll signs in by itself.
pub async fn device_login() -> &'static str {
    "refsync emulator: no sign-in is needed here; the device code is accepted at its next poll.\n"
}

/// The API alone, without offline access: the scope of a device code that names none.
const API_SCOPE: &str = "https://api.partner.microsoft.com/user_impersonation";

/// The refusal of a request without a `client_id`, as the real service refuses it.
fn without_client_id(fields: &HashMap<String, String>) -> Option<Response> {
    match fields.get("client_id") {
        Some(id) if !id.trim().is_empty() => None,
        _ => Some(oauth_error(
            "invalid_request",
            "the request must name a client_id",
        )),
    }
}

/// Tokens for `scope`: a refresh token only when it includes `offline_access`, as the
/// real service issues one.
fn tokens(app: &AppState, scope: &str) -> Response {
    let mut body: Value = json!({
        "token_type": "Bearer",
        "scope": scope,
        "expires_in": app.auth.lifetime().as_secs(),
        "access_token": app.auth.issue(),
    });
    if scope.split_whitespace().any(|s| s == "offline_access") {
        body["refresh_token"] = json!(format!("emu-refresh-{}", uuid::Uuid::new_v4().simple()));
    }
    Reply::json(&body).into_response()
}

fn oauth_error(error: &str, description: &str) -> Response {
    let body = json!({ "error": error, "error_description": description });
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}
