//! The API base URL and the referral URLs built on it.
//!
//! The endpoint is checked before any connection is made: a bearer token must never travel
//! in clear text, so plain `http://` is only accepted for a loopback host (the emulator).
//! IDs are percent-encoded as one path segment even though the planner already restricts
//! them, so a bug upstream can never turn an ID into a different path.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Url;
use std::fmt;
use std::net::IpAddr;

use crate::config::parse::masked_url;

/// Every byte but RFC 3986's unreserved characters is encoded in an ID segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Why an endpoint is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// Not a URL at all.
    #[error(
        "--endpoint {url:?} is not a URL ({reason}); give e.g. https://api.partner.microsoft.com/v1.0"
    )]
    NotUrl {
        /// The endpoint as given, what may carry a secret masked (`config::parse::masked_url`).
        url: String,
        /// What the URL parser said.
        reason: String,
    },
    /// A scheme other than http or https.
    #[error("--endpoint {url:?} must start with https://")]
    Scheme {
        /// The endpoint as given, what may carry a secret masked (`config::parse::masked_url`).
        url: String,
    },
    /// Plain http to a host that is not loopback.
    #[error(
        "--endpoint {url:?} uses plain http to a host that is not loopback; use https:// so the token is not sent in clear text"
    )]
    PlainHttp {
        /// The endpoint as given, what may carry a secret masked (`config::parse::masked_url`).
        url: String,
    },
    /// A user name or password in the URL: refsync signs in with a bearer token, and a
    /// password in the URL would show wherever the URL does (logs, `config show`). The
    /// message names neither.
    #[error(
        "--endpoint must not carry a user name or password (user:password@host); refsync \
         authenticates with a bearer token: give the API base only, e.g. \
         https://api.partner.microsoft.com/v1.0"
    )]
    UserInfo,
    /// Query strings and fragments cannot be combined with the paths refsync appends.
    #[error("--endpoint {url:?} must not carry a query or fragment; give the API base only")]
    QueryOrFragment {
        /// The endpoint as given, what may carry a secret masked (`config::parse::masked_url`).
        url: String,
    },
}

/// Checks an endpoint: `https`, or `http` only to a loopback host (127.0.0.0/8, ::1,
/// `localhost`). Returns it without trailing slashes.
pub fn check_endpoint(url: &str) -> Result<String, EndpointError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| EndpointError::NotUrl {
        url: masked_url(url),
        reason: e.to_string(),
    })?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(EndpointError::UserInfo);
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(EndpointError::QueryOrFragment {
            url: masked_url(url),
        });
    }
    match parsed.scheme() {
        "https" => {}
        "http" if parsed.host_str().is_some_and(is_loopback) => {}
        "http" => {
            return Err(EndpointError::PlainHttp {
                url: masked_url(url),
            });
        }
        _ => {
            return Err(EndpointError::Scheme {
                url: masked_url(url),
            });
        }
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// `builder` for a client of `url`: proxies from the environment, but none for a URL on
/// this machine (the emulator's API or token endpoint), which no proxy could reach.
pub fn proxied_unless_loopback(
    builder: reqwest::ClientBuilder,
    url: &str,
) -> reqwest::ClientBuilder {
    match is_loopback_url(url) {
        true => builder.no_proxy(),
        false => builder,
    }
}

/// Whether `url` is on this machine (its host is loopback).
fn is_loopback_url(url: &str) -> bool {
    Url::parse(url)
        .ok()
        .and_then(|url| url.host_str().map(is_loopback))
        .unwrap_or(false)
}

/// Whether a URL host names this machine. IPv6 hosts come bracketed from the URL parser.
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.eq_ignore_ascii_case("localhost") {
        return true;
    }
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A checked endpoint, as text (for the URLs written out in full, such as a listing's) and
/// parsed (for the referral URLs built on it).
#[derive(Clone, Debug)]
pub struct Endpoint {
    text: String,
    base: Url,
}

impl Endpoint {
    /// Checks `url` as [`check_endpoint`] does.
    pub fn check(url: &str) -> Result<Endpoint, EndpointError> {
        let text = check_endpoint(url)?;
        let base = Url::parse(&text).map_err(|e| EndpointError::NotUrl {
            url: masked_url(url),
            reason: e.to_string(),
        })?;
        Ok(Endpoint { text, base })
    }

    /// The endpoint without trailing slashes.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The URL of one referral, the ID percent-encoded as a segment.
    ///
    /// Only the path is parsed: parsing each whole URL (scheme, host, IDNA) was a
    /// twentieth of a fast `sync`'s time in a profile.
    pub fn referral_url(&self, id: &str) -> Url {
        let path = format!(
            "{}/engagements/referrals/{}",
            self.base.path().trim_end_matches('/'),
            utf8_percent_encode(id, SEGMENT)
        );
        let mut url = self.base.clone();
        url.set_path(&path);
        url
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls_are_told_from_remote_ones() {
        for url in [
            "http://127.0.0.1:9/v1.0",
            "http://localhost/v1.0",
            "http://[::1]:9/",
        ] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in ["https://api.partner.microsoft.com/v1.0", "not a url"] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }

    #[test]
    fn plain_http_to_a_remote_host_is_refused() {
        assert!(matches!(
            check_endpoint("http://example.com/v1.0"),
            Err(EndpointError::PlainHttp { .. })
        ));
    }

    #[test]
    fn plain_http_to_loopback_is_accepted_without_trailing_slash() {
        assert_eq!(
            check_endpoint("http://127.0.0.1:8080/v1.0/").as_deref(),
            Ok("http://127.0.0.1:8080/v1.0")
        );
        assert!(check_endpoint("http://127.8.9.10/v1.0").is_ok());
        assert!(check_endpoint("http://[::1]:9/v1.0").is_ok());
        assert!(check_endpoint("http://LocalHost:9/v1.0").is_ok());
    }

    #[test]
    fn https_anywhere_is_accepted() {
        assert_eq!(
            check_endpoint("https://api.partner.microsoft.com/v1.0").as_deref(),
            Ok("https://api.partner.microsoft.com/v1.0")
        );
    }

    #[test]
    fn other_schemes_queries_and_garbage_are_refused() {
        assert!(matches!(
            check_endpoint("ftp://127.0.0.1/v1.0"),
            Err(EndpointError::Scheme { .. })
        ));
        assert!(matches!(
            check_endpoint("https://h/v1.0?x=1"),
            Err(EndpointError::QueryOrFragment { .. })
        ));
        assert!(matches!(
            check_endpoint("not a url"),
            Err(EndpointError::NotUrl { .. })
        ));
    }

    #[test]
    fn a_query_or_fragment_is_refused_without_being_repeated() {
        for (url, shown) in [
            (
                "http://127.0.0.1:9/v1.0?sig=SECRET",
                "http://127.0.0.1:9/v1.0?***",
            ),
            ("https://h/v1.0#SECRET", "https://h/v1.0#***"),
            ("http://u:SECRET@h/v?SECRET", "http://***@h/v?***"),
        ] {
            let message = match check_endpoint(url) {
                Err(error) => error.to_string(),
                Ok(_) => panic!("{url} accepted"),
            };
            assert!(!message.contains("SECRET"), "{message}");
            assert_eq!(masked_url(url), shown);
        }
    }

    #[test]
    fn a_user_name_or_password_is_refused_without_being_repeated() {
        for url in [
            "https://user:pa55@api.example.com/v1.0",
            "http://user@127.0.0.1:8080/v1.0",
        ] {
            let error = check_endpoint(url).expect_err(url);
            assert_eq!(error, EndpointError::UserInfo);
            assert!(!error.to_string().contains("pa55"));
        }
    }

    #[test]
    fn a_host_that_merely_starts_with_localhost_is_not_loopback() {
        assert!(check_endpoint("http://localhost.example.com/v1.0").is_err());
        assert!(check_endpoint("http://127.0.0.1.example.com/v1.0").is_err());
    }

    fn referral_url(endpoint: &str, id: &str) -> String {
        let endpoint = Endpoint::check(endpoint).expect("a valid endpoint");
        endpoint.referral_url(id).to_string()
    }

    #[test]
    fn ids_are_percent_encoded_as_one_path_segment() {
        assert_eq!(
            referral_url("https://h/v1.0", "a-b_c.d~e"),
            "https://h/v1.0/engagements/referrals/a-b_c.d~e"
        );
        assert_eq!(
            referral_url("https://h/v1.0", "../x y/é?"),
            "https://h/v1.0/engagements/referrals/..%2Fx%20y%2F%C3%A9%3F"
        );
    }

    #[test]
    fn referral_urls_keep_the_endpoint_s_port_and_path() {
        assert_eq!(
            referral_url("http://127.0.0.1:8080/v1.0/", "a"),
            "http://127.0.0.1:8080/v1.0/engagements/referrals/a"
        );
        assert_eq!(
            referral_url("https://h", "a"),
            "https://h/engagements/referrals/a"
        );
        assert_eq!(
            referral_url("https://h/base/v1.0", "a"),
            "https://h/base/v1.0/engagements/referrals/a"
        );
    }
}
