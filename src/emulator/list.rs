//! `GET /v1.0/engagements/referrals`: the OData list, with the one filter refsync uses
//! (`externalReferenceId eq '…'`), `$select`, `$top`, `$skip` and `@odata.nextLink`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value, json};

use super::listener::ConnHandle;
use super::reply::{ApiError, Reply};
use super::routes::{AppState, finish, header};
use super::stats::HeaderRecord;

/// `$top` when none is given.
const DEFAULT_TOP: usize = 100;
/// The largest page served, whatever `$top` asks (server-driven paging).
const MAX_TOP: usize = 1000;

/// A list request's options.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ListQuery {
    /// The `externalReferenceId` asked for, if filtered.
    pub external_id: Option<String>,
    /// The fields kept, if `$select` is given.
    pub select: Option<Vec<String>>,
    /// Page size.
    pub top: usize,
    /// Referrals skipped before the page.
    pub skip: usize,
}

type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

/// The list handler.
pub async fn list_referrals(
    State(app): State<Arc<AppState>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    headers: HeaderMap,
    params: Params,
) -> Response {
    let _in_flight = app.stats.begin();
    let record = HeaderRecord::capture("GET", "", &headers);
    let outcome = match app.admit(false, "", &headers).await {
        Ok(_) => page(&app, &headers, params).into(),
        Err(outcome) => outcome,
    };
    finish(&app, &conn, record, outcome, std::time::Duration::ZERO).await
}

fn page(app: &AppState, headers: &HeaderMap, params: Params) -> Result<Reply, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::bad_request("InvalidQuery", e.body_text()))?;
    let query = parse_query(&params)?;
    let wanted = query.external_id.as_deref();
    let keep = |r: &Value| wanted.is_none_or(|w| r.get("externalReferenceId") == Some(&json!(w)));
    let (items, total) = app.store.page(keep, query.skip, query.top);
    let items: Vec<Value> = items
        .into_iter()
        .map(|r| project(r, &query.select))
        .collect();
    let mut body = json!({ "value": items });
    if has_next_page(&query, total) {
        let base_url = as_addressed(&app.base_url, header(headers, "host"));
        body["@odata.nextLink"] = json!(next_link(&base_url, &query));
    }
    Ok(Reply::json(&body))
}

/// Whether referrals are left after this page. `$top=0` asks for none at all (OData), so
/// it has no next page: a link that moved `$skip` on by 0 would be followed for ever.
fn has_next_page(query: &ListQuery, total: usize) -> bool {
    query.top > 0 && query.skip.saturating_add(query.top) < total
}

/// Reads `$filter`, `$select`, `$top` and `$skip`.
pub fn parse_query(params: &HashMap<String, String>) -> Result<ListQuery, ApiError> {
    let number = |name: &str, default: usize| match params.get(name) {
        None => Ok(default),
        Some(text) => text.trim().parse::<usize>().map_err(|_| {
            ApiError::bad_request("InvalidQuery", format!("{name} must be a whole number"))
        }),
    };
    Ok(ListQuery {
        external_id: params.get("$filter").map(|f| parse_filter(f)).transpose()?,
        select: params.get("$select").map(|s| {
            s.split(',')
                .map(|f| f.trim().to_string())
                .filter(|f| !f.is_empty())
                .collect()
        }),
        top: number("$top", DEFAULT_TOP)?.min(MAX_TOP),
        skip: number("$skip", 0)?,
    })
}

/// Parses `externalReferenceId eq 'VALUE'` (a quote inside doubled, as OData writes it).
fn parse_filter(filter: &str) -> Result<String, ApiError> {
    let refused = || {
        ApiError::bad_request(
            "InvalidFilter",
            "only $filter=externalReferenceId eq '…' is supported",
        )
    };
    let rest = filter
        .trim()
        .strip_prefix("externalReferenceId")
        .ok_or_else(refused)?;
    let rest = rest.trim_start().strip_prefix("eq").ok_or_else(refused)?;
    let literal = rest.trim();
    let inner = literal
        .strip_prefix('\'')
        .and_then(|l| l.strip_suffix('\''))
        .filter(|inner| !inner.replace("''", "").contains('\''))
        .ok_or_else(refused)?;
    Ok(inner.replace("''", "'"))
}

fn project(referral: Value, select: &Option<Vec<String>>) -> Value {
    match (select, referral) {
        (Some(fields), Value::Object(mut all)) => {
            let kept: Map<String, Value> = fields
                .iter()
                .filter_map(|f| all.remove(f).map(|v| (f.clone(), v)))
                .collect();
            Value::Object(kept)
        }
        (_, referral) => referral,
    }
}

/// `base_url` at the host the client addressed (its `Host` header), so that the next
/// link can be followed from where the client stands: behind a proxy, or when the
/// emulator listens on `0.0.0.0`, the listening address is not one it can reach.
fn as_addressed(base_url: &str, host: Option<&str>) -> String {
    let authority_chars = |c: char| c.is_ascii_alphanumeric() || ".-:[]_".contains(c);
    let Some(host) = host.filter(|h| !h.is_empty() && h.chars().all(authority_chars)) else {
        return base_url.to_string();
    };
    match base_url.strip_prefix("http://") {
        Some(rest) => {
            let path = rest.find('/').map_or("", |at| &rest[at..]);
            format!("http://{host}{path}")
        }
        None => base_url.to_string(),
    }
}

fn next_link(base_url: &str, query: &ListQuery) -> String {
    let encode = |text: &str| utf8_percent_encode(text, NON_ALPHANUMERIC).to_string();
    let mut link = format!(
        "{base_url}/engagements/referrals?$top={}&$skip={}",
        query.top,
        query.skip.saturating_add(query.top)
    );
    if let Some(id) = &query.external_id {
        let filter = format!("externalReferenceId eq '{}'", id.replace('\'', "''"));
        link.push_str(&format!("&$filter={}", encode(&filter)));
    }
    if let Some(fields) = &query.select {
        link.push_str(&format!("&$select={}", encode(&fields.join(","))));
    }
    link
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_filter_on_external_reference_id_is_understood_with_doubled_quotes() {
        assert_eq!(
            parse_filter("externalReferenceId eq 'OPP-1'").unwrap(),
            "OPP-1"
        );
        assert_eq!(
            parse_filter(" externalReferenceId  eq 'O''Brien' ").unwrap(),
            "O'Brien"
        );
        assert_eq!(
            parse_filter("name eq 'x'").unwrap_err().code,
            "InvalidFilter"
        );
        assert!(parse_filter("externalReferenceId eq 'a'b'").is_err());
        assert!(parse_filter("externalReferenceId eq x").is_err());
    }

    #[test]
    fn top_is_clamped_and_bad_numbers_refused() {
        let q = parse_query(&params(&[("$top", "5000"), ("$skip", "10")])).unwrap();
        assert_eq!((q.top, q.skip), (MAX_TOP, 10));
        assert_eq!(parse_query(&params(&[])).unwrap().top, DEFAULT_TOP);
        assert!(parse_query(&params(&[("$top", "-1")])).is_err());
        assert_eq!(parse_query(&params(&[("$top", "0")])).unwrap().top, 0);
    }

    #[test]
    fn a_page_of_none_has_no_next_page() {
        let query = |top, skip| ListQuery {
            top,
            skip,
            ..ListQuery::default()
        };
        assert!(!has_next_page(&query(0, 0), 30));
        assert!(has_next_page(&query(7, 21), 30));
        assert!(!has_next_page(&query(7, 23), 30));
        assert!(!has_next_page(&query(7, usize::MAX), 30));
    }

    #[test]
    fn the_next_link_is_at_the_host_the_client_addressed() {
        let base = "http://0.0.0.0:8080/v1.0";
        assert_eq!(
            as_addressed(base, Some("emu.example:9000")),
            "http://emu.example:9000/v1.0"
        );
        assert_eq!(as_addressed(base, Some("[::1]:80")), "http://[::1]:80/v1.0");
        assert_eq!(as_addressed(base, None), base);
        assert_eq!(as_addressed(base, Some("a/b@c")), base);
    }

    #[test]
    fn the_next_link_keeps_the_filter_and_moves_skip_on() {
        let q = parse_query(&params(&[
            ("$filter", "externalReferenceId eq 'A B'"),
            ("$top", "2"),
        ]))
        .unwrap();
        let link = next_link("http://h/v1.0", &q);
        assert!(link.starts_with("http://h/v1.0/engagements/referrals?$top=2&$skip=2&$filter="));
        assert!(link.contains("%27A%20B%27"));
    }
}
