//! The admin API under `/_hookgate/`: which request is which, who may ask,
//! and what each refusal answers. The Worker glue asks the delivery log and
//! serves the dashboard's files; every decision is here.
//!
//! The whole prefix is 404 unless the `ADMIN_TOKEN` secret is set. Once it
//! is, the token comes first ([`request`]): a `GET` of the dashboard's page
//! or one of its two files is served to anyone (they hold no data, and a
//! browser opening the page cannot send a bearer token); every other
//! request needs `Authorization: Bearer <token>`, compared in constant time,
//! and without it is 401 whatever its path, method or query, so nothing
//! about the API shows before the token. Every refusal has a reason the
//! stats count it under ([`AdminError::counted_as`]).

use crate::config::Config;
use crate::log::counts::NO_ROUTE;
use crate::log::{Cursor, Filter, DEFAULT_PAGE, MAX_PAGE};
use crate::outcome::{problem, Answer};
use crate::pause::PausedRoutes;
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
    /// `GET /_hookgate/stats/series`: the chart's numbers for the hour and
    /// day ending at `now_ms` ([`crate::log::series`]).
    Series { now_ms: i64 },
    /// `POST /_hookgate/deliveries/<key>/retry?route=<path>`: queue a dead
    /// letter again.
    Retry { route: String, key: String },
    /// `POST /_hookgate/dead-letters/retry?route=<path>[&since=&until=]`:
    /// queue again a route's dead letters left in a time range (Unix ms,
    /// inclusive), the oldest first, at most [`BULK_RETRY`] per request.
    RetryDead {
        route: String,
        since_ms: i64,
        until_ms: i64,
    },
    /// `GET /_hookgate/routes`: every route, with whether it is paused.
    Routes,
    /// `POST /_hookgate/routes/pause?route=<path>` (`paused`) or
    /// `…/routes/resume?route=<path>`.
    Pause { route: String, paused: bool },
}

impl AdminRequest {
    /// What this request changes, if anything, and on which route: every
    /// admin action is recorded (a log line, and a count in the stats under
    /// the admin prefix by its name), so who paused a route or retried its
    /// letters can be told afterwards. Reads change nothing.
    pub fn action(&self) -> Option<(&'static str, &str)> {
        match self {
            AdminRequest::Retry { route, .. } => Some(("retry", route)),
            AdminRequest::RetryDead { route, .. } => Some(("retry-dead-letters", route)),
            AdminRequest::Pause { route, paused } => {
                Some((if *paused { "pause" } else { "resume" }, route))
            }
            _ => None,
        }
    }
}

/// The most dead letters one bulk retry queues. Each costs three requests
/// beyond the shards' one each (take the letter, queue it, mark it queued),
/// and a request on the free plan may make 50: 8 + 3 × 12 = 44. The answer
/// says whether more are left; the next request takes them.
pub const BULK_RETRY: u32 = 12;

/// A dashboard file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asset {
    Script,
    Style,
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
    /// No route has the record's path any more (the settings changed since
    /// the event was accepted): a retry could only die again, so it is
    /// refused and the dead letter is kept for when the route is back.
    RouteGone,
    /// The delivery queue refused the retried event; the letter is kept.
    QueueUnavailable,
    /// No route has the path to pause or resume.
    UnknownRoute,
    /// The delivery log could not be reached.
    LogUnavailable,
}

impl AdminError {
    /// The stable reason code, in the answer and in the stats.
    pub fn reason(self) -> &'static str {
        match self {
            AdminError::Disabled | AdminError::NotFound => "not-found",
            AdminError::MethodNotAllowed => "method-not-allowed",
            AdminError::Unauthorized => "unauthorized",
            AdminError::BadQuery(_) => "bad-query",
            AdminError::UnknownDelivery => "unknown-delivery",
            AdminError::NotADeadLetter => "not-a-dead-letter",
            AdminError::RouteGone => "route-gone",
            AdminError::QueueUnavailable => "queue-unavailable",
            AdminError::UnknownRoute => "unknown-route",
            AdminError::LogUnavailable => "log-unavailable",
        }
    }

    /// The route and reason the stats count this refusal under: the admin
    /// API's prefix, or, when the API does not exist, no route at all, like
    /// any other path no route has.
    pub fn counted_as(self) -> (&'static str, &'static str) {
        match self {
            AdminError::Disabled => (NO_ROUTE, self.reason()),
            _ => (ADMIN_PREFIX, self.reason()),
        }
    }

    /// The answer, as problem+json. Nothing the request sent is echoed.
    pub fn answer(self) -> Answer {
        let (status, detail) = match self {
            AdminError::Disabled | AdminError::NotFound => {
                (404, "No webhook endpoint at this path.")
            }
            AdminError::MethodNotAllowed => (405, "The admin API is read with GET."),
            AdminError::Unauthorized => (
                401,
                "The admin API needs Authorization: Bearer with the ADMIN_TOKEN secret.",
            ),
            AdminError::BadQuery(detail) => (400, detail),
            AdminError::UnknownDelivery => (404, "No delivery with that key on that route."),
            AdminError::UnknownRoute => (404, "No route has that path."),
            AdminError::NotADeadLetter => (
                409,
                "That delivery holds no dead letter: it was delivered, is still being retried, or was retried already.",
            ),
            AdminError::RouteGone => (
                409,
                "No route has this path any more (the settings changed since the event was accepted), so a retry could only fail again; the dead letter is kept: restore the route to retry it.",
            ),
            AdminError::QueueUnavailable => (
                503,
                "The delivery queue is unavailable; the dead letter is kept. Retry later.",
            ),
            AdminError::LogUnavailable => {
                (503, "The delivery log could not be read; retry later.")
            }
        };
        let mut answer = problem(status, self.reason(), detail);
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

/// The paths of the routes configured now, for the records the log shows
/// (a record of any other route is shown as gone).
pub fn route_paths(config: &Config) -> Vec<String> {
    let mut paths = Vec::with_capacity(config.routes.len());
    for route in &config.routes {
        paths.push(route.path.clone());
    }
    paths
}

/// Whether a dead letter of `route` can be retried: only while a route has
/// that path (the consumer would otherwise keep it as dead at once).
pub fn retryable(config: &Config, route: &str) -> Result<(), AdminError> {
    match config.route_for(route) {
        Some(_) => Ok(()),
        None => Err(AdminError::RouteGone),
    }
}

/// `GET /_hookgate/routes`: each route's path and whether it is paused
/// (as the gate asks [`PausedRoutes::holds`]), in the settings' order.
pub fn routes_json(config: &Config, paused: &PausedRoutes) -> String {
    let mut out = String::from(r#"{"routes":["#);
    for (i, route) in config.routes.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"route":"#);
        crate::json::push_str(&mut out, &route.path);
        out.push_str(if paused.holds(&route.path) {
            r#","paused":true}"#
        } else {
            r#","paused":false}"#
        });
    }
    out.push_str("]}");
    out
}

/// Decides an admin request once `ADMIN_TOKEN` (`token`) is set: the
/// dashboard's files for anyone, then the token, and only then the path,
/// method and query ([`parse`]). Before the token nothing is parsed, so no
/// answer but 401 tells anyone without it what the API would take.
pub fn request(
    method: &str,
    path: &str,
    query: &str,
    now_ms: i64,
    authorization: Option<&str>,
    token: &str,
) -> Result<AdminRequest, AdminError> {
    if let Some(file) = public_file(method, path) {
        return Ok(file);
    }
    if !authorized(authorization, token) {
        return Err(AdminError::Unauthorized);
    }
    parse(method, path, query, now_ms)
}

/// A `GET` (or `HEAD`) of the dashboard's page, script or style: what a
/// browser loads before anyone has typed the token. They hold no data.
fn public_file(method: &str, path: &str) -> Option<AdminRequest> {
    if method != "GET" && method != "HEAD" {
        return None;
    }
    match path.strip_prefix(ADMIN_PREFIX)? {
        "" | "/" => Some(AdminRequest::Dashboard),
        "/dashboard.js" => Some(AdminRequest::Asset(Asset::Script)),
        "/dashboard.css" => Some(AdminRequest::Asset(Asset::Style)),
        _ => None,
    }
}

/// Parses an admin request that carried the token. `path` starts with
/// [`ADMIN_PREFIX`]; `query` is without its `?`; `now_ms` resolves relative
/// `since` values.
pub fn parse(
    method: &str,
    path: &str,
    query: &str,
    now_ms: i64,
) -> Result<AdminRequest, AdminError> {
    let rest = path
        .strip_prefix(ADMIN_PREFIX)
        .ok_or(AdminError::NotFound)?;
    let mut segments = Vec::new();
    for segment in rest.split('/').skip(1) {
        segments.push(segment);
    }
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
        ["routes"] => AdminRequest::Routes,
        // The actions on a route: each needs its route= and a POST.
        ["dead-letters", action @ "retry"] | ["routes", action @ ("pause" | "resume")] => {
            let fields = pairs(query).ok_or(AdminError::BadQuery(
                "The query string is not valid percent-encoding.",
            ))?;
            let route = one(&fields, "route").ok_or(AdminError::BadQuery(
                "route= is required: the route to act on.",
            ))?;
            let since_ms = time(&fields, "since", BAD_SINCE, now_ms)?.unwrap_or(i64::MIN);
            let until_ms = time(&fields, "until", BAD_UNTIL, now_ms)?.unwrap_or(i64::MAX);
            if method != "POST" {
                return Err(AdminError::MethodNotAllowed);
            }
            return Ok(match *action {
                "retry" => AdminRequest::RetryDead {
                    route,
                    since_ms,
                    until_ms,
                },
                action => AdminRequest::Pause {
                    route,
                    paused: action == "pause",
                },
            });
        }
        ["stats"] => {
            let fields = pairs(query).ok_or(AdminError::BadQuery(
                "The query string is not valid percent-encoding.",
            ))?;
            let since_ms =
                time(&fields, "since", BAD_SINCE, now_ms)?.unwrap_or(now_ms.saturating_sub(DAY_MS));
            AdminRequest::Stats { since_ms }
        }
        ["stats", "series"] => AdminRequest::Series { now_ms },
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

const BAD_UNTIL: AdminError = AdminError::BadQuery(
    "until= takes Unix milliseconds, or a span back from now such as 90s, 15m, 1h or 7d.",
);

/// A time field (`since`, `until`) as [`parse_since`] reads it, if given.
fn time(
    fields: &[(String, String)],
    name: &str,
    bad: AdminError,
    now_ms: i64,
) -> Result<Option<i64>, AdminError> {
    match one(fields, name) {
        Some(text) => parse_since(&text, now_ms).map(Some).ok_or(bad),
        None => Ok(None),
    }
}

fn one(fields: &[(String, String)], name: &str) -> Option<String> {
    value_of(fields, name).filter(|v| !v.is_empty())
}

fn list(query: &str, now_ms: i64) -> Result<AdminRequest, AdminError> {
    let fields = pairs(query).ok_or(AdminError::BadQuery(
        "The query string is not valid percent-encoding.",
    ))?;
    let since_ms = time(&fields, "since", BAD_SINCE, now_ms)?;
    let until_ms = time(&fields, "until", BAD_UNTIL, now_ms)?;
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
            event_type: one(&fields, "event_type"),
            key_prefix: one(&fields, "key_prefix"),
            since_ms,
            until_ms,
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
    // (`since=1%C3%A9`).
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
    }

    #[test]
    fn listings_take_filters_and_paging() {
        let request = parse(
            "GET",
            "/_hookgate/deliveries",
            "route=%2Fquo&outcome=delivered&since=1h&until=15m&event_type=message.received&key_prefix=msg_2f&limit=20&cursor=5.6",
            NOW,
        );
        assert_eq!(
            request,
            Ok(AdminRequest::List {
                filter: Filter {
                    route: Some("/quo".into()),
                    outcome: Some("delivered".into()),
                    event_type: Some("message.received".into()),
                    key_prefix: Some("msg_2f".into()),
                    since_ms: Some(NOW - 3_600_000),
                    until_ms: Some(NOW - 900_000),
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
            "until=soon",
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
    fn a_bulk_retry_takes_a_route_and_a_time_range() {
        assert_eq!(
            parse(
                "POST",
                "/_hookgate/dead-letters/retry",
                "route=%2Fquo&since=1h&until=1700000000000",
                NOW
            ),
            Ok(AdminRequest::RetryDead {
                route: "/quo".into(),
                since_ms: NOW - 3_600_000,
                until_ms: 1_700_000_000_000,
            })
        );
        assert_eq!(
            parse("POST", "/_hookgate/dead-letters/retry", "route=%2Fquo", NOW),
            Ok(AdminRequest::RetryDead {
                route: "/quo".into(),
                since_ms: i64::MIN,
                until_ms: i64::MAX,
            })
        );
        for (method, query, expected) in [
            ("GET", "route=%2Fquo", AdminError::MethodNotAllowed),
            (
                "POST",
                "",
                AdminError::BadQuery("route= is required: the route to act on."),
            ),
            ("POST", "route=%2Fquo&until=never", BAD_UNTIL),
            ("POST", "route=%2Fquo&since=x", BAD_SINCE),
        ] {
            assert_eq!(
                parse(method, "/_hookgate/dead-letters/retry", query, NOW),
                Err(expected),
                "{method} {query}"
            );
        }
    }

    #[test]
    fn a_route_is_paused_and_resumed_with_post_and_the_routes_are_read_with_get() {
        for (action, paused) in [("pause", true), ("resume", false)] {
            let path = format!("/_hookgate/routes/{action}");
            assert_eq!(
                parse("POST", &path, "route=%2Fquo", NOW),
                Ok(AdminRequest::Pause {
                    route: "/quo".into(),
                    paused
                })
            );
            assert_eq!(
                parse("GET", &path, "route=%2Fquo", NOW),
                Err(AdminError::MethodNotAllowed)
            );
            assert!(matches!(
                parse("POST", &path, "", NOW),
                Err(AdminError::BadQuery(_))
            ));
            assert_eq!(
                request("POST", &path, "route=%2Fquo", NOW, None, TOKEN),
                Err(AdminError::Unauthorized)
            );
        }
        assert_eq!(
            parse("GET", "/_hookgate/routes", "", NOW),
            Ok(AdminRequest::Routes)
        );
        assert_eq!(
            parse("POST", "/_hookgate/routes/stop", "route=%2Fquo", NOW),
            Err(AdminError::NotFound)
        );
        assert_eq!(
            parse("POST", "/_hookgate/dead-letters/pause", "route=%2Fquo", NOW),
            Err(AdminError::NotFound)
        );
        let config = Config::from_settings(|name| match name {
            "WEBHOOK_SECRET" => Some(crate::testing::VECTOR_KEY.to_owned()),
            "ORIGIN_URL" => Some("http://x/".to_owned()),
            "WEBHOOK_PATH" => Some("/quo".to_owned()),
            _ => None,
        })
        .expect("valid");
        let path = &config.routes[0].path;
        let listed = |paused: &str| -> serde_json::Value {
            let paused = PausedRoutes {
                read_ms: NOW,
                routes: paused.to_owned(),
            };
            serde_json::from_str(&routes_json(&config, &paused)).expect("JSON")
        };
        assert_eq!(
            listed(""),
            serde_json::json!({"routes": [{"route": path, "paused": false}]})
        );
        assert_eq!(
            listed(&format!("/other\n{path}\n")),
            serde_json::json!({"routes": [{"route": path, "paused": true}]})
        );
        assert_eq!(
            listed(&format!("{path}/x\n")),
            serde_json::json!({"routes": [{"route": path, "paused": false}]}),
            "a path under it is another route"
        );
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
        assert_eq!(
            parse("GET", "/_hookgate/stats/series", "", NOW),
            Ok(AdminRequest::Series { now_ms: NOW })
        );
    }

    /// Found by tests/properties.rs: a `since` ending in a character of
    /// several bytes panicked (a string split inside that character); the
    /// query was then parsed before the token was checked, so anyone could
    /// send one.
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

    const TOKEN: &str = "s3cret-token-0123456789";

    /// Found by the second hostile review: without a token the API still
    /// answered 400 with guidance, 405 or 404 by what was asked, showing
    /// what it would take. Now only the dashboard's files come before it.
    #[test]
    fn the_token_comes_before_everything_but_the_dashboards_files() {
        let asked = [
            (
                "GET",
                "/_hookgate/deliveries",
                "limit=0",
                AdminError::BadQuery(""),
            ),
            (
                "GET",
                "/_hookgate/deliveries/x",
                "",
                AdminError::BadQuery(""),
            ),
            (
                "GET",
                "/_hookgate/deliveries/x/retry",
                "route=/",
                AdminError::MethodNotAllowed,
            ),
            ("POST", "/_hookgate/stats", "", AdminError::MethodNotAllowed),
            (
                "POST",
                "/_hookgate/stats/series",
                "",
                AdminError::MethodNotAllowed,
            ),
            (
                "GET",
                "/_hookgate/stats",
                "since=soon",
                AdminError::BadQuery(""),
            ),
            ("GET", "/_hookgate/nope", "", AdminError::NotFound),
            ("POST", "/_hookgate/", "", AdminError::MethodNotAllowed),
            (
                "DELETE",
                "/_hookgate/dashboard.js",
                "",
                AdminError::MethodNotAllowed,
            ),
        ];
        for (method, path, query, with_token) in asked {
            // No header, a near miss, the token without "Bearer " (the
            // message names which, never the text).
            let refused = [None, Some("Bearer s3cret-token-012345678"), Some(TOKEN)];
            for (which, authorization) in refused.into_iter().enumerate() {
                assert_eq!(
                    request(method, path, query, NOW, authorization, TOKEN),
                    Err(AdminError::Unauthorized),
                    "{method} {path}?{query} with authorization {which}"
                );
            }
            let answered = request(
                method,
                path,
                query,
                NOW,
                Some("Bearer s3cret-token-0123456789"),
                TOKEN,
            );
            assert_eq!(
                answered.map_err(AdminError::reason),
                Err(with_token.reason()),
                "{method} {path}?{query}"
            );
        }
        for (method, path, file) in [
            ("GET", "/_hookgate", AdminRequest::Dashboard),
            ("GET", "/_hookgate/", AdminRequest::Dashboard),
            ("HEAD", "/_hookgate/", AdminRequest::Dashboard),
            (
                "GET",
                "/_hookgate/dashboard.js",
                AdminRequest::Asset(Asset::Script),
            ),
            (
                "GET",
                "/_hookgate/dashboard.css",
                AdminRequest::Asset(Asset::Style),
            ),
        ] {
            assert_eq!(request(method, path, "x=1", NOW, None, TOKEN), Ok(file));
        }
        assert_eq!(
            request(
                "GET",
                "/_hookgate/stats",
                "",
                NOW,
                Some("Bearer s3cret-token-0123456789"),
                TOKEN
            ),
            Ok(AdminRequest::Stats {
                since_ms: NOW - DAY_MS
            })
        );
    }

    #[test]
    fn every_refusal_is_counted_under_the_admin_api_or_no_route() {
        for error in [
            AdminError::NotFound,
            AdminError::MethodNotAllowed,
            AdminError::Unauthorized,
            AdminError::BadQuery("x"),
            AdminError::UnknownDelivery,
            AdminError::NotADeadLetter,
            AdminError::RouteGone,
            AdminError::QueueUnavailable,
            AdminError::UnknownRoute,
            AdminError::LogUnavailable,
        ] {
            assert_eq!(error.counted_as(), (ADMIN_PREFIX, error.reason()));
            let body: serde_json::Value = serde_json::from_str(&error.answer().body).expect("JSON");
            assert_eq!(body["reason"], error.reason());
        }
        assert_eq!(AdminError::Disabled.counted_as(), (NO_ROUTE, "not-found"));
    }

    /// Found by the second hostile review: a dead letter whose route was
    /// removed since was queued again (202), only to die again at once.
    #[test]
    fn a_dead_letter_of_a_route_that_is_gone_is_not_retried() {
        let config = Config::from_settings(|name| match name {
            "WEBHOOK_SECRET" => Some(crate::testing::VECTOR_KEY.to_owned()),
            "ORIGIN_URL" => Some("http://x/".to_owned()),
            "WEBHOOK_PATH" => Some("/quo".to_owned()),
            _ => None,
        })
        .expect("valid");
        assert_eq!(retryable(&config, "/quo"), Ok(()));
        assert_eq!(retryable(&config, "/removed"), Err(AdminError::RouteGone));
        let answer = AdminError::RouteGone.answer();
        assert_eq!(
            (answer.status, answer.content_type),
            (409, "application/problem+json")
        );
        assert!(
            answer.body.contains("\"reason\":\"route-gone\""),
            "{}",
            answer.body
        );
        assert_eq!(route_paths(&config), ["/quo"]);
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
    #[test]
    fn every_post_is_an_action_and_no_read_is() {
        let action = |method: &str, path: &str, query: &str| {
            let request = parse(method, path, query, NOW).unwrap();
            request
                .action()
                .map(|(name, route)| (name, route.to_owned()))
        };
        let quo = |name: &'static str| Some((name, "/quo".to_owned()));
        assert_eq!(
            action("POST", "/_hookgate/routes/pause", "route=%2Fquo"),
            quo("pause")
        );
        assert_eq!(
            action("POST", "/_hookgate/routes/resume", "route=%2Fquo"),
            quo("resume")
        );
        assert_eq!(
            action("POST", "/_hookgate/deliveries/k/retry", "route=%2Fquo"),
            quo("retry")
        );
        assert_eq!(
            action("POST", "/_hookgate/dead-letters/retry", "route=%2Fquo"),
            quo("retry-dead-letters")
        );
        for path in [
            "/_hookgate/routes",
            "/_hookgate/deliveries",
            "/_hookgate/stats",
        ] {
            assert_eq!(action("GET", path, ""), None, "{path}");
        }
    }
}
