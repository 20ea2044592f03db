//! The JSON the admin API answers with. Written by hand through one escape
//! function ([`crate::json::push_str`]), so no value a sender chose (a key,
//! an event type) can break out of its string, in the JSON or in a page
//! that embeds it.

use super::series::Series;
use super::{Cursor, DeliveryRecord};
use crate::json::push_str;

/// One record as a JSON object. `routes` are the paths configured now: a
/// record of any other route says `"route_gone":true` (the settings changed
/// since; its dead letter, if any, cannot be retried until the route is
/// back).
pub fn push_record(out: &mut String, record: &DeliveryRecord, routes: &[String]) {
    out.push_str("{\"key\":");
    push_str(out, &record.key);
    out.push_str(",\"route\":");
    push_str(out, &record.route);
    out.push_str(",\"scheme\":");
    push_str(out, &record.scheme);
    out.push_str(",\"event_type\":");
    match &record.event_type {
        Some(event_type) => push_str(out, event_type),
        None => out.push_str("null"),
    }
    out.push_str(",\"first_seen\":");
    push_number(out, record.first_seen);
    out.push_str(",\"last_seen\":");
    push_number(out, record.last_seen);
    out.push_str(",\"attempts\":");
    push_number(out, i64::from(record.attempts));
    out.push_str(",\"outcome\":");
    push_str(out, &record.outcome);
    out.push_str(",\"origin_status\":");
    match record.origin_status {
        Some(status) => push_number(out, i64::from(status)),
        None => out.push_str("null"),
    }
    out.push_str(",\"duration_ms\":");
    push_number(out, i64::from(record.duration_ms));
    out.push_str(",\"dead_letter\":");
    out.push_str(boolean(record.dead_letter));
    out.push_str(",\"route_gone\":");
    out.push_str(boolean(!routes.contains(&record.route)));
    out.push('}');
}

/// One record, with its attempts (`history`, oldest first): the detail of
/// a delivery. A listing leaves them out, to stay small.
pub fn record(record: &DeliveryRecord, routes: &[String]) -> String {
    let mut out = String::with_capacity(256 + record.history.len() * 80);
    push_record(&mut out, record, routes);
    out.pop();
    out.push_str(",\"history\":[");
    for (i, fact) in record.history.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"at\":");
        push_number(&mut out, fact.at_ms);
        out.push_str(",\"outcome\":");
        push_str(&mut out, &fact.outcome);
        out.push_str(",\"origin_status\":");
        match fact.origin_status {
            Some(status) => push_number(&mut out, i64::from(status)),
            None => out.push_str("null"),
        }
        out.push_str(",\"duration_ms\":");
        push_number(&mut out, i64::from(fact.duration_ms));
        out.push('}');
    }
    out.push_str("]}");
    out
}

/// A number as JSON: one call for each, so no `format!` (and its
/// argument types' formatting) is written out at every number.
#[inline(never)]
fn push_number(out: &mut String, value: i64) {
    out.push_str(&value.to_string());
}

/// A count as JSON (see [`push_number`]).
#[inline(never)]
fn push_count(out: &mut String, value: u64) {
    out.push_str(&value.to_string());
}

fn boolean(value: bool) -> &'static str {
    if value {
        "true"
    } else {
        "false"
    }
}

/// A page of records and the cursor of the next page, if there is one.
pub fn page(records: &[DeliveryRecord], next: Option<Cursor>, routes: &[String]) -> String {
    let mut out = String::with_capacity(64 + records.len() * 256);
    out.push_str("{\"deliveries\":[");
    for (i, record) in records.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_record(&mut out, record, routes);
    }
    out.push_str("],\"cursor\":");
    match next {
        Some(cursor) => push_str(&mut out, &cursor.encode()),
        None => out.push_str("null"),
    }
    out.push('}');
    out
}

/// The chart's numbers ([`super::series`]):
/// `{"minutes_from":…,"hours_from":…,"routes":{"/a":{"minutes":{"delivered":[…60]},
/// "hours":{"delivered":[…24]},"delivered":3,"failed":1,"latency":{"samples":4,
/// "p50_ms":40,"p95_ms":90}}}}`; `latency` is `null` without samples.
pub fn series(series: &Series) -> String {
    let window = series.window;
    let mut out = String::from("{\"minutes_from\":");
    push_number(&mut out, window.first_minute * 60_000);
    out.push_str(",\"hours_from\":");
    push_number(&mut out, window.first_hour * 3_600_000);
    out.push_str(",\"routes\":{");
    for (i, route) in series.routes.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(&mut out, &route.route);
        out.push_str(":{\"minutes\":");
        push_rows(&mut out, &route.minutes);
        out.push_str(",\"hours\":");
        push_rows(&mut out, &route.hours);
        let (delivered, failed) = route.outcomes();
        out.push_str(",\"delivered\":");
        push_count(&mut out, delivered);
        out.push_str(",\"failed\":");
        push_count(&mut out, failed);
        out.push_str(",\"latency\":");
        let latency = &route.latency;
        match (latency.percentile(50), latency.percentile(95)) {
            (Some(p50), Some(p95)) => {
                out.push_str("{\"samples\":");
                push_count(&mut out, latency.samples());
                out.push_str(",\"p50_ms\":");
                push_number(&mut out, i64::from(p50));
                out.push_str(",\"p95_ms\":");
                push_number(&mut out, i64::from(p95));
                out.push_str("}}");
            }
            _ => out.push_str("null}"),
        }
    }
    out.push_str("}}");
    out
}

/// Counts per reason as `{"reason":[n,…]}`.
fn push_rows(out: &mut String, rows: &[(String, Vec<u64>)]) {
    out.push('{');
    for (i, (reason, counts)) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(out, reason);
        out.push_str(":[");
        for (j, count) in counts.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            push_count(out, *count);
        }
        out.push(']');
    }
    out.push('}');
}

/// Counts per route and reason: `{"since":…,"routes":{"/a":{"delivered":3}}}`.
pub fn stats(since_ms: i64, rows: &[(String, String, u64)]) -> String {
    // A few routes and reasons: lists, in the order the rows came.
    let mut routes: Vec<(&str, Vec<(&str, u64)>)> = Vec::new();
    for (route, reason, count) in rows {
        let at = match routes.iter().position(|(r, _)| r == route) {
            Some(at) => at,
            None => {
                routes.push((route, Vec::new()));
                routes.len() - 1
            }
        };
        let reasons = &mut routes[at].1;
        match reasons.iter_mut().find(|(r, _)| r == reason) {
            Some((_, total)) => *total += count,
            None => reasons.push((reason, *count)),
        }
    }
    let mut out = String::from("{\"since\":");
    push_number(&mut out, since_ms);
    out.push_str(",\"routes\":{");
    for (i, (route, reasons)) in routes.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(&mut out, route);
        out.push_str(":{");
        for (j, (reason, count)) in reasons.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            push_str(&mut out, reason);
            out.push(':');
            push_count(&mut out, *count);
        }
        out.push('}');
    }
    out.push_str("}}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn sample() -> DeliveryRecord {
        DeliveryRecord {
            route: "/quo".into(),
            key: "<script>alert(1)</script>".into(),
            scheme: "standard-webhooks".into(),
            event_type: Some("message.received".into()),
            first_seen: 1_700_000_000_000,
            last_seen: 1_700_000_060_000,
            attempts: 2,
            outcome: "delivered".into(),
            origin_status: Some(204),
            duration_ms: 31,
            dead_letter: false,
            history: vec![
                crate::log::Fact {
                    at_ms: 1_700_000_000_000,
                    outcome: "origin-failed".into(),
                    origin_status: Some(503),
                    duration_ms: 12,
                },
                crate::log::Fact {
                    at_ms: 1_700_000_060_000,
                    outcome: "delivered".into(),
                    origin_status: Some(204),
                    duration_ms: 31,
                },
            ],
        }
    }

    #[test]
    fn a_delivery_s_detail_lists_its_attempts_and_a_page_does_not() {
        let value: Value = serde_json::from_str(&record(&sample(), &[])).expect("JSON");
        let history = value["history"].as_array().expect("history");
        assert_eq!(history.len(), 2);
        assert_eq!(history[0]["outcome"], "origin-failed");
        assert_eq!(history[0]["origin_status"], 503);
        assert_eq!(history[0]["at"], 1_700_000_000_000_i64);
        assert_eq!(history[1]["duration_ms"], 31);
        assert_eq!(value["route_gone"], true);
        let mut unanswered = sample();
        unanswered.history[0].origin_status = None;
        let value: Value = serde_json::from_str(&record(&unanswered, &[])).expect("JSON");
        assert_eq!(value["history"][0]["origin_status"], Value::Null);
        let listed: Value = serde_json::from_str(&page(&[sample()], None, &[])).expect("JSON");
        assert_eq!(listed["deliveries"][0].get("history"), None);
    }

    #[test]
    fn a_page_is_json_with_every_field() {
        let text = page(
            &[sample()],
            Some(Cursor {
                last_seen: 5,
                row: 6,
            }),
            &["/quo".to_owned()],
        );
        assert!(!text.contains('<'), "{text}");
        let value: Value = serde_json::from_str(&text).expect("JSON");
        let first = &value["deliveries"][0];
        assert_eq!(first["key"], "<script>alert(1)</script>");
        assert_eq!(first["attempts"], 2);
        assert_eq!(first["origin_status"], 204);
        assert_eq!(first["event_type"], "message.received");
        assert_eq!(value["cursor"], "5.6");
        assert_eq!(first["route_gone"], false);
        let empty: Value = serde_json::from_str(&page(&[], None, &[])).expect("JSON");
        assert_eq!(empty["cursor"], Value::Null);
        let mut bare = sample();
        bare.event_type = None;
        bare.origin_status = None;
        let value: Value = serde_json::from_str(&record(&bare, &[])).expect("JSON");
        assert_eq!(value["event_type"], Value::Null);
        assert_eq!(value["origin_status"], Value::Null);
    }

    /// Found by the second hostile review: a dead letter of a route removed
    /// since looked like any other, with a retry that could only fail.
    #[test]
    fn a_record_whose_route_is_gone_says_so() {
        let routes = ["/github".to_owned(), "/quo-legacy".to_owned()];
        let value: Value = serde_json::from_str(&record(&sample(), &routes)).expect("JSON");
        assert_eq!(value["route_gone"], true, "/quo is not /quo-legacy");
        let routes = ["/quo".to_owned()];
        let value: Value = serde_json::from_str(&record(&sample(), &routes)).expect("JSON");
        assert_eq!(value["route_gone"], false);
    }

    #[test]
    fn stats_group_by_route_and_reason() {
        let rows = vec![
            ("/a".to_owned(), "delivered".to_owned(), 3),
            ("/a".to_owned(), "bad-signature".to_owned(), 2),
            ("/a".to_owned(), "bad-signature".to_owned(), 1),
            ("(none)".to_owned(), "not-found".to_owned(), 4),
        ];
        let value: Value = serde_json::from_str(&stats(7, &rows)).expect("JSON");
        assert_eq!(value["since"], 7);
        assert_eq!(value["routes"]["/a"]["bad-signature"], 3);
        assert_eq!(value["routes"]["/a"]["delivered"], 3);
        assert_eq!(value["routes"]["(none)"]["not-found"], 4);
    }

    #[test]
    fn the_series_is_json_with_a_row_per_reason_and_the_latency() {
        use crate::log::counts::Count;
        use crate::log::series::{Window, HOURS, MINUTES};
        let now = 1_796_222_250_000;
        let window = Window::ending(now);
        let mut series = Series::new(window);
        let minute = now / 60_000;
        let cell = |route: &str, reason: &str, minute: i64, count: u64| Count {
            minute,
            route: route.into(),
            reason: reason.into(),
            count,
        };
        series.add(&cell("/q\"uo<", "delivered", minute, 3));
        series.add(&cell("/q\"uo<", "origin-failed", minute - 1, 1));
        series.add(&cell("/q\"uo<", "latency:50", minute - minute % 60, 4));
        series.add(&cell("(none)", "not-found", minute, 2));
        let value: Value = serde_json::from_str(&super::series(&series)).expect("JSON");
        assert_eq!(value["minutes_from"], window.first_minute * 60_000);
        assert_eq!(value["hours_from"], window.first_hour * 3_600_000);
        let quo = &value["routes"]["/q\"uo<"];
        let delivered = quo["minutes"]["delivered"].as_array().expect("minutes");
        assert_eq!(delivered.len(), MINUTES);
        assert_eq!(delivered[MINUTES - 1], 3);
        assert_eq!(quo["minutes"]["origin-failed"][MINUTES - 2], 1);
        assert_eq!(
            quo["hours"]["delivered"].as_array().map(Vec::len),
            Some(HOURS)
        );
        assert_eq!(
            (quo["delivered"].clone(), quo["failed"].clone()),
            (3.into(), 1.into())
        );
        assert_eq!(quo["latency"]["samples"], 4);
        assert_eq!(
            (
                quo["latency"]["p50_ms"].clone(),
                quo["latency"]["p95_ms"].clone()
            ),
            (40.into(), 50.into())
        );
        assert_eq!(value["routes"]["(none)"]["latency"], Value::Null);
        assert!(quo["minutes"].get("latency:50").is_none());
    }
}
