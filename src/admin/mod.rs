//! The admin API under `/_hookgate/`: which request is which, who may ask,
//! and what each refusal answers. The Worker glue asks the delivery log and
//! serves the dashboard's files; every decision is here.
//!
//! The whole prefix is 404 unless the `ADMIN_TOKEN` secret is set. The
//! dashboard's files hold no data and are served to anyone once it is set;
//! every data request needs `Authorization: Bearer <token>`, compared in
//! constant time.

use crate::log::{Cursor, Filter, DEFAULT_PAGE, MAX_PAGE};
use crate::outcome::{problem, Answer};
use crate::query::{decode, pairs, value_of};
use crate::setting::ADMIN_PREFIX;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The dashboard: a page, its script and its style. No data: it asks the
/// API, with the token the user enters. Included from src/admin, or in the
/// Worker from the minified copies scripts/build.sh makes (see build.rs).
pub const DASHBOARD_HTML: &str =
    include_str!(concat!(env!("HOOKGATE_DASHBOARD_DIR"), "/dashboard.html"));
pub const DASHBOARD_JS: &str =
    include_str!(concat!(env!("HOOKGATE_DASHBOARD_DIR"), "/dashboard.js"));
pub const DASHBOARD_CSS: &str =
    include_str!(concat!(env!("HOOKGATE_DASHBOARD_DIR"), "/dashboard.css"));

/// The dashboard's files may load only each other and call only this
/// origin's API; nothing may frame them.
pub const DASHBOARD_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One admin request, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminRequest {
    /// `GET /_hookgate/`: the dashboard page.
    Dashboard,
    /// `GET /_hookgate/dashboard.js` or `.css`.
    Asset(Asset),
    /// `GET /_hookgate/deliveries?route=&outcome=&since=&limit=&cursor=`
    List {
        filter: Filter,
        limit: u32,
        cursor: Option<Cursor>,
    },
    /// `GET /_hookgate/deliveries/<key>?route=<path>`
    Get { route: String, key: String },
    /// `GET /_hookgate/stats?since=`
    Stats { since_ms: i64 },
    /// `POST /_hookgate/deliveries/<key>/retry?route=<path>`: queue a dead
    /// letter again.
    Retry { route: String, key: String },
}

/// A dashboard file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asset {
    Script,
    Style,
}

impl AdminRequest {
    /// Whether answering needs the token (everything but the dashboard's
    /// files, which hold no data).
    pub fn needs_token(&self) -> bool {
        !matches!(self, AdminRequest::Dashboard | AdminRequest::Asset(_))
    }
}

/// Why an admin request was not answered with data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminError {
    /// `ADMIN_TOKEN` is not set: the admin API does not exist.
    Disabled,
    /// No such admin path.
    NotFound,
    /// The path exists, but not for this method.
    MethodNotAllowed,
    /// No bearer token, or not the right one.
    Unauthorized,
    /// A query parameter is malformed (the text says which).
    BadQuery(&'static str),
    /// No record for that route and key.
    UnknownDelivery,
    /// The record holds no dead letter to retry.
    NotADeadLetter,
    /// The delivery queue refused the retried event; the letter is kept.
    QueueUnavailable,
    /// The delivery log could not be reached.
    LogUnavailable,
}

impl AdminError {
    /// The answer, as problem+json. Nothing the request sent is echoed.
    pub fn answer(self) -> Answer {
        let (status, reason, detail) = match self {
            AdminError::Disabled | AdminError::NotFound => {
                (404, "not-found", "No webhook endpoint at this path.")
            }
            AdminError::MethodNotAllowed => {
                (405, "method-not-allowed", "The admin API is read with GET.")
            }
            AdminError::Unauthorized => (
                401,
                "unauthorized",
                "The admin API needs Authorization: Bearer with the ADMIN_TOKEN secret.",
            ),
            AdminError::BadQuery(detail) => (400, "bad-query", detail),
            AdminError::UnknownDelivery => (
                404,
                "unknown-delivery",
                "No delivery with that key on that route.",
            ),
            AdminError::NotADeadLetter => (
                409,
                "not-a-dead-letter",
                "That delivery holds no dead letter: it was delivered, is still being retried, or was retried already.",
            ),
            AdminError::QueueUnavailable => (
                503,
                "queue-unavailable",
                "The delivery queue is unavailable; the dead letter is kept. Retry later.",
            ),
            AdminError::LogUnavailable => (
                503,
                "log-unavailable",
                "The delivery log could not be read; retry later.",
            ),
        };
        let mut answer = problem(status, reason, detail);
        match self {
            AdminError::Unauthorized => answer
                .headers
                .push(("www-authenticate", "Bearer realm=\"hookgate\"".to_owned())),
            AdminError::MethodNotAllowed => answer.headers.push(("allow", "GET, POST".to_owned())),
            AdminError::LogUnavailable | AdminError::QueueUnavailable => {
                answer.headers.push(("retry-after", "30".to_owned()))
            }
            _ => {}
        }
        answer
    }
}

/// Whether `authorization` carries `Bearer <token>`. Both sides are hashed
/// before the constant-time comparison, so neither the token's length nor
/// how much of a guess was right shows in the timing.
pub fn authorized(authorization: Option<&str>, token: &str) -> bool {
    let Some(given) = authorization.and_then(|value| value.strip_prefix("Bearer ")) else {
        return false;
    };
    let given = Sha256::digest(given.trim().as_bytes());
    let expected = Sha256::digest(token.as_bytes());
    given.ct_eq(&expected).into()
}

/// Parses an admin request. `path` starts with [`ADMIN_PREFIX`]; `query` is
/// without its `?`; `now_ms` resolves relative `since` values.
pub fn parse(
    method: &str,
    path: &str,
    query: &str,
    now_ms: i64,
) -> Result<AdminRequest, AdminError> {
    let rest = path
        .strip_prefix(ADMIN_PREFIX)
        .ok_or(AdminError::NotFound)?;
    let segments: Vec<&str> = rest.split('/').skip(1).collect();
    let request = match segments.as_slice() {
        [] | [""] => AdminRequest::Dashboard,
        ["dashboard.js"] => AdminRequest::Asset(Asset::Script),
        ["dashboard.css"] => AdminRequest::Asset(Asset::Style),
        ["deliveries"] => list(query, now_ms)?,
        ["deliveries", key] if !key.is_empty() => {
            let (route, key) = keyed(key, query)?;
            AdminRequest::Get { route, key }
        }
        ["deliveries", key, "retry"] if !key.is_empty() => {
            let (route, key) = keyed(key, query)?;
            if method != "POST" {
                return Err(AdminError::MethodNotAllowed);
            }
            return Ok(AdminRequest::Retry { route, key });
        }
        ["stats"] => {
            let fields = pairs(query).ok_or(AdminError::BadQuery(
                "The query string is not valid percent-encoding.",
            ))?;
            let since_ms = match one(&fields, "since") {
                Some(text) => parse_since(&text, now_ms).ok_or(BAD_SINCE)?,
                None => now_ms.saturating_sub(DAY_MS),
            };
            AdminRequest::Stats { since_ms }
        }
        _ => return Err(AdminError::NotFound),
    };
    if method != "GET" && method != "HEAD" {
        return Err(AdminError::MethodNotAllowed);
    }
    Ok(request)
}

const DAY_MS: i64 = 86_400_000;

/// The key of a record's path and its `route=`.
fn keyed(key: &str, query: &str) -> Result<(String, String), AdminError> {
    let key = decode(key).ok_or(AdminError::BadQuery(
        "The key in the path is not valid percent-encoding.",
    ))?;
    let fields = pairs(query).ok_or(AdminError::BadQuery(
        "The query string is not valid percent-encoding.",
    ))?;
    let route = one(&fields, "route").ok_or(AdminError::BadQuery(
        "route= is required: the same key may exist on several routes.",
    ))?;
    Ok((route, key))
}

const BAD_SINCE: AdminError = AdminError::BadQuery(
    "since= takes Unix milliseconds, or a span back from now such as 90s, 15m, 1h or 7d.",
);

fn one(fields: &[(String, String)], name: &str) -> Option<String> {
    value_of(fields, name).filter(|v| !v.is_empty())
}

fn list(query: &str, now_ms: i64) -> Result<AdminRequest, AdminError> {
    let fields = pairs(query).ok_or(AdminError::BadQuery(
        "The query string is not valid percent-encoding.",
    ))?;
    let since_ms = match one(&fields, "since") {
        Some(text) => Some(parse_since(&text, now_ms).ok_or(BAD_SINCE)?),
        None => None,
    };
    let limit = match one(&fields, "limit") {
        Some(text) => crate::query::whole::<u32>(&text)
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or(AdminError::BadQuery(
                "limit= takes a whole number from 1 to 100.",
            ))?,
        None => DEFAULT_PAGE,
    };
    let cursor = match one(&fields, "cursor") {
        Some(text) => Some(Cursor::decode(&text).ok_or(AdminError::BadQuery(
            "cursor= takes the cursor of a previous page, unchanged.",
        ))?),
        None => None,
    };
    Ok(AdminRequest::List {
        filter: Filter {
            route: one(&fields, "route"),
            outcome: one(&fields, "outcome"),
            since_ms,
        },
        limit,
        cursor,
    })
}

/// `since`: Unix milliseconds, or a span back from now (`90s`, `15m`, `1h`,
/// `7d`).
pub fn parse_since(text: &str, now_ms: i64) -> Option<i64> {
    if text.len() > 18 {
        return None;
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    // The unit is read as a byte before the text is split: splitting at
    // `len - 1` would panic inside a last character of several bytes
    // (`since=1%C3%A9`), and the query is parsed before the token is checked.
    let unit_ms = match text.as_bytes().last()? {
        b's' => 1_000,
        b'm' => 60_000,
        b'h' => 3_600_000,
        b'd' => DAY_MS,
        _ => return None,
    };
    let number = &text[..text.len() - 1];
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let span = number.parse::<i64>().ok()?.checked_mul(unit_ms)?;
    Some(now_ms.saturating_sub(span))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    #[test]
    fn the_token_must_match_exactly() {
        assert!(authorized(Some("Bearer s3cret-token"), "s3cret-token"));
        for wrong in [
            None,
            Some(""),
            Some("s3cret-token"),
            Some("Basic s3cret-token"),
            Some("Bearer s3cret-toke"),
            Some("Bearer s3cret-token2"),
            Some("bearer s3cret-token"),
            Some("Bearer "),
        ] {
            assert!(!authorized(wrong, "s3cret-token"), "{wrong:?}");
        }
    }

    #[test]
    fn paths_and_methods() {
        assert_eq!(
            parse("GET", "/_hookgate/", "", NOW),
            Ok(AdminRequest::Dashboard)
        );
        assert_eq!(
            parse("GET", "/_hookgate", "", NOW),
            Ok(AdminRequest::Dashboard)
        );
        assert_eq!(
            parse("GET", "/_hookgate/dashboard.js", "", NOW),
            Ok(AdminRequest::Asset(Asset::Script))
        );
        assert_eq!(
            parse("GET", "/_hookgate/nope", "", NOW),
            Err(AdminError::NotFound)
        );
        assert_eq!(
            parse("GET", "/_hookgate/deliveries/a/b", "route=/a", NOW),
            Err(AdminError::NotFound)
        );
        assert_eq!(
            parse("POST", "/_hookgate/stats", "", NOW),
            Err(AdminError::MethodNotAllowed)
        );
        assert!(!AdminRequest::Dashboard.needs_token());
        assert!(AdminRequest::Stats { since_ms: 0 }.needs_token());
    }

    #[test]
    fn listings_take_filters_and_paging() {
        let request = parse(
            "GET",
            "/_hookgate/deliveries",
            "route=%2Fquo&outcome=delivered&since=1h&limit=20&cursor=5.6",
            NOW,
        );
        assert_eq!(
            request,
            Ok(AdminRequest::List {
                filter: Filter {
                    route: Some("/quo".into()),
                    outcome: Some("delivered".into()),
                    since_ms: Some(NOW - 3_600_000),
                },
                limit: 20,
                cursor: Some(Cursor {
                    last_seen: 5,
                    row: 6
                }),
            })
        );
        for bad in [
            "limit=0",
            "limit=101",
            "limit=x",
            "cursor=zz",
            "since=yesterday",
            "since=%zz",
        ] {
            assert!(
                matches!(
                    parse("GET", "/_hookgate/deliveries", bad, NOW),
                    Err(AdminError::BadQuery(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn one_record_by_route_and_encoded_key() {
        assert_eq!(
            parse(
                "GET",
                "/_hookgate/deliveries/msg%2F1%20x",
                "route=/quo",
                NOW
            ),
            Ok(AdminRequest::Get {
                route: "/quo".into(),
                key: "msg/1 x".into()
            })
        );
        assert!(matches!(
            parse("GET", "/_hookgate/deliveries/msg_1", "", NOW),
            Err(AdminError::BadQuery(_))
        ));
    }

    #[test]
    fn a_dead_letter_is_retried_with_post() {
        assert_eq!(
            parse(
                "POST",
                "/_hookgate/deliveries/evt_1/retry",
                "route=%2Fstripe",
                NOW
            ),
            Ok(AdminRequest::Retry {
                route: "/stripe".into(),
                key: "evt_1".into()
            })
        );
        assert_eq!(
            parse(
                "GET",
                "/_hookgate/deliveries/evt_1/retry",
                "route=/stripe",
                NOW
            ),
            Err(AdminError::MethodNotAllowed)
        );
        assert_eq!(
            parse("POST", "/_hookgate/deliveries", "", NOW),
            Err(AdminError::MethodNotAllowed)
        );
    }

    #[test]
    fn since_is_milliseconds_or_a_span() {
        assert_eq!(parse_since("1700000000000", NOW), Some(1_700_000_000_000));
        assert_eq!(parse_since("90s", NOW), Some(NOW - 90_000));
        assert_eq!(parse_since("15m", NOW), Some(NOW - 900_000));
        assert_eq!(parse_since("7d", NOW), Some(NOW - 7 * DAY_MS));
        for bad in ["", "h", "-1h", "1w", "1.5h", "9999999999999999999d"] {
            assert_eq!(parse_since(bad, NOW), None, "{bad:?}");
        }
        assert_eq!(
            parse("GET", "/_hookgate/stats", "", NOW),
            Ok(AdminRequest::Stats {
                since_ms: NOW - DAY_MS
            })
        );
    }

    /// Found by tests/properties.rs: a `since` ending in a character of
    /// several bytes panicked (a string split inside that character), and
    /// anyone could send one, since the query is parsed before the token is
    /// checked.
    #[test]
    fn since_ending_in_a_multibyte_character_is_a_bad_query() {
        for bad in ["é", "1é", "15mé", "1\u{1F980}", "7d\u{0300}"] {
            assert_eq!(parse_since(bad, NOW), None, "{bad:?}");
        }
        for path in ["/_hookgate/deliveries", "/_hookgate/stats"] {
            assert_eq!(
                parse("GET", path, "since=1%C3%A9", NOW),
                Err(BAD_SINCE),
                "{path}"
            );
        }
    }

    #[test]
    fn refusals_never_echo_the_request() {
        for error in [
            AdminError::Unauthorized,
            AdminError::NotFound,
            AdminError::BadQuery("x"),
            AdminError::LogUnavailable,
        ] {
            let answer = error.answer();
            assert_eq!(answer.content_type, "application/problem+json");
            let value: serde_json::Value = serde_json::from_str(&answer.body).expect("JSON");
            assert_eq!(value["status"], answer.status);
        }
        assert!(AdminError::Unauthorized
            .answer()
            .headers
            .iter()
            .any(|(n, _)| *n == "www-authenticate"));
        assert_eq!(AdminError::Disabled.answer().status, 404);
    }
}
