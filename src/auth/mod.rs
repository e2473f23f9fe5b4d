//! Signing in to Microsoft Entra ID for unattended runs (API.md "Authentication").
//!
//! [`device::login`] is `refsync auth login`: the device-code grant, which ends with a
//! refresh token saved by [`store`] in a file only its owner can read. [`RefreshGrant`] is
//! the token source of unattended runs: it trades that refresh token for access tokens,
//! says when one is due for renewal, and saves the rotated refresh token. [`oauth`] is the
//! wire format both share. No secret here is ever logged, shown or put in an error.

pub mod device;
pub mod oauth;
pub mod refresh;
pub mod store;

pub use refresh::RefreshGrant;

use crate::send::Secret;
use std::path::PathBuf;

/// The default sign-in authority (the Microsoft identity platform).
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// The default scope: the Partner Center API as the user, and a refresh token.
pub const DEFAULT_SCOPE: &str =
    "https://api.partner.microsoft.com/user_impersonation offline_access";

/// The default tenant: any work or school account's own.
pub const DEFAULT_TENANT: &str = "organizations";

/// The resolved `[auth]` section.
#[derive(Clone, Debug)]
pub struct AuthSettings {
    /// `https://login.microsoftonline.com`, or a loopback emulator, without a trailing `/`.
    pub authority: String,
    /// The directory (tenant) ID or domain.
    pub tenant: String,
    /// The application (client) ID of the app registration.
    pub client_id: String,
    /// The client secret of a confidential app, if any.
    pub client_secret: Option<Secret>,
    /// Where the refresh token is kept.
    pub refresh_token_file: PathBuf,
    /// The scopes asked for, space-separated.
    pub scope: String,
}

impl AuthSettings {
    /// `{authority}/{tenant}/oauth2/v2.0/token`.
    pub fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.authority, self.tenant)
    }

    /// `{authority}/{tenant}/oauth2/v2.0/devicecode`.
    pub fn device_code_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/devicecode", self.authority, self.tenant)
    }

    /// The scope with `offline_access` added if missing: without it no refresh token is
    /// issued, and unattended runs would have nothing to start from.
    pub fn scope_with_offline_access(&self) -> String {
        if self.scope.split_whitespace().any(|s| s == "offline_access") {
            self.scope.clone()
        } else {
            format!("{} offline_access", self.scope.trim())
        }
    }
}

/// Why signing in or renewing a token failed. No variant carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The sign-in service could not be reached.
    #[error(
        "cannot reach the sign-in service at {url}: {reason}; check the network, HTTPS_PROXY and [auth] authority"
    )]
    Unreachable {
        /// The endpoint.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The sign-in service refused, with its OAuth error code.
    #[error("the sign-in service refused: {code}: {description}; {hint}")]
    Refused {
        /// The OAuth `error`.
        code: String,
        /// Its `error_description` (the service's own text, which never echoes secrets).
        description: String,
        /// What to do next.
        hint: &'static str,
    },
    /// An answer that is not what the protocol says.
    #[error("unexpected answer from the sign-in service at {url}: {reason}")]
    BadAnswer {
        /// The endpoint.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// The device code expired before the user signed in.
    #[error(
        "the sign-in code expired before sign-in finished; run `refsync auth login` again and sign in within {minutes} {unit}",
        unit = if *minutes == 1 { "minute" } else { "minutes" }
    )]
    CodeExpired {
        /// How long the code lived.
        minutes: u64,
    },
    /// Sign-in worked but no refresh token came with it.
    #[error(
        "sign-in gave no refresh token; make sure [auth] scope includes offline_access and the app registration allows public client flows"
    )]
    NoRefreshToken,
    /// The refresh-token file is missing or empty.
    #[error("no refresh token in {path}; sign in once with `refsync auth login --config FILE`")]
    MissingRefreshToken {
        /// The file.
        path: PathBuf,
    },
    /// The refresh-token file cannot be read or written.
    #[error(
        "cannot {action} the refresh-token file {path}: {source}; check the path and its permissions"
    )]
    Store {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_lifetime_is_counted_in_minutes_singular_or_plural() {
        let one = AuthError::CodeExpired { minutes: 1 }.to_string();
        assert!(one.ends_with("within 1 minute"), "{one}");
        let many = AuthError::CodeExpired { minutes: 15 }.to_string();
        assert!(many.ends_with("within 15 minutes"), "{many}");
    }
}
