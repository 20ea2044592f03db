//! What the gate says about each request it handled: one structured log
//! object (Workers Logs indexes its fields), one metrics data point
//! (Analytics Engine), the delivery log's attempt when the outcome makes a
//! record, and the count that every request adds to.
//!
//! Everything here is built from [`Handled`], which by construction holds no
//! body, signature or secret; the route is named by its configured path,
//! never by the path a request asked for.

use crate::config::Config;
use crate::gate::Handled;
use crate::log::counts::NO_ROUTE;
use crate::log::{records, Attempt};
use std::borrow::Cow;

/// A value of a structured log field.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Text(Cow<'a, str>),
    /// Every number hookgate logs is whole (statuses, counts, sizes,
    /// milliseconds): written as an integer, no float formatting in wasm.
    Number(i64),
    Null,
}

/// A log line's fields as `edge.js`'s `logObject` reads them: `name NUL
/// value` pairs, each value `s` + text, `n` + a number, or empty for null
/// (one string across the JS boundary instead of a call per field).
pub fn encode_line(fields: &[(&'static str, Value<'_>)]) -> String {
    let mut text = String::with_capacity(256);
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            text.push('\0');
        }
        text.push_str(name);
        text.push('\0');
        match value {
            Value::Text(value) => {
                text.push('s');
                // Fields are hookgate's own texts or checked printable ids,
                // but a NUL would shift every field after it: never pass one.
                text.extend(value.chars().filter(|c| *c != '\0'));
            }
            Value::Number(number) => {
                text.push('n');
                text.push_str(&number.to_string());
            }
            Value::Null => {}
        }
    }
    text
}

/// One request, observed.
pub struct Observation<'a> {
    pub config: &'a Config,
    pub handled: &'a Handled,
    /// When the gate finished, Unix milliseconds.
    pub finished_ms: i64,
    /// How long the request took.
    pub duration_ms: u32,
}

impl<'a> Observation<'a> {
    /// The route's configured path, or [`NO_ROUTE`].
    pub fn route(&self) -> &str {
        self.handled
            .route
            .and_then(|index| self.config.routes.get(index))
            .map_or(NO_ROUTE, |route| route.path.as_str())
    }

    fn scheme(&self) -> &str {
        self.handled.scheme.map_or("", |scheme| scheme.name())
    }

    /// The structured log line's fields.
    pub fn log_fields(&self) -> Vec<(&'static str, Value<'_>)> {
        let handled = self.handled;
        let text = |value: Option<&'a str>| value.map_or(Value::Null, |v| Value::Text(v.into()));
        let number = |value: Option<i64>| value.map_or(Value::Null, Value::Number);
        let mut fields = vec![
            ("hookgate", Value::Text("request".into())),
            ("route", Value::Text(self.route().into())),
            ("scheme", text(handled.scheme.map(|s| s.name()))),
            ("reason", Value::Text(handled.outcome.reason().into())),
            ("status", Value::Number(i64::from(handled.outcome.status()))),
            ("key", text(handled.key.as_deref())),
            ("event_type", text(handled.event_type.as_deref())),
            ("duration_ms", Value::Number(i64::from(self.duration_ms))),
            (
                "origin_status",
                number(handled.origin_status.map(i64::from)),
            ),
            ("body_bytes", number(handled.body_bytes.map(|n| n as i64))),
        ];
        if !handled.incidents.is_empty() {
            let mut incidents = String::new();
            for (i, incident) in handled.incidents.iter().enumerate() {
                if i > 0 {
                    incidents.push(',');
                }
                incident.push_name(&mut incidents);
            }
            fields.push(("incidents", Value::Text(incidents.into())));
        }
        fields
    }

    /// The Analytics Engine data point: blobs (route, scheme, reason),
    /// doubles (status, duration, body size), index (route).
    pub fn metrics_point(&self) -> ([&str; 3], [f64; 3], &str) {
        let route = self.route();
        (
            [route, self.scheme(), self.handled.outcome.reason()],
            [
                f64::from(self.handled.outcome.status()),
                f64::from(self.duration_ms),
                self.handled.body_bytes.unwrap_or(0) as f64,
            ],
            route,
        )
    }

    /// The delivery log's attempt, when this outcome makes a record.
    pub fn attempt(&self) -> Option<Attempt> {
        let handled = self.handled;
        if !records(handled.outcome) {
            return None;
        }
        Some(Attempt {
            route: self.route().to_owned(),
            key: handled.key.clone()?,
            scheme: self.scheme().to_owned(),
            event_type: handled.event_type.clone(),
            at_ms: self.finished_ms,
            outcome: handled.outcome.reason().to_owned(),
            origin_status: handled.origin_status,
            duration_ms: self.duration_ms,
        })
    }
}

/// One queue consumer attempt, observed: the same log fields, metrics and
/// record as a request, from what the consumer did.
pub struct Forwarded<'a> {
    pub route: &'a str,
    pub key: &'a str,
    pub scheme: &'a str,
    pub event_type: Option<&'a str>,
    /// `delivered`, `retrying`, `dead`, `duplicate` or `in-flight`.
    pub reason: &'a str,
    /// The queue's count of deliveries of this message, from 1.
    pub attempt: u32,
    pub origin_status: Option<u16>,
    pub finished_ms: i64,
    pub duration_ms: u32,
}

impl Forwarded<'_> {
    pub fn log_fields(&self) -> Vec<(&'static str, Value<'_>)> {
        vec![
            ("hookgate", Value::Text("queue".into())),
            ("route", Value::Text(self.route.into())),
            ("scheme", Value::Text(self.scheme.into())),
            ("reason", Value::Text(self.reason.into())),
            ("key", Value::Text(self.key.into())),
            (
                "event_type",
                self.event_type
                    .map_or(Value::Null, |t| Value::Text(t.into())),
            ),
            ("attempt", Value::Number(i64::from(self.attempt))),
            ("duration_ms", Value::Number(i64::from(self.duration_ms))),
            (
                "origin_status",
                self.origin_status
                    .map_or(Value::Null, |s| Value::Number(i64::from(s))),
            ),
        ]
    }

    /// The delivery log's attempt: forwards that reached a decision about
    /// the event (not a redelivered copy, not one waiting for another).
    pub fn attempt(&self) -> Option<Attempt> {
        matches!(self.reason, "delivered" | "retrying" | "dead").then(|| Attempt {
            route: self.route.to_owned(),
            key: self.key.to_owned(),
            scheme: self.scheme.to_owned(),
            event_type: self.event_type.map(str::to_owned),
            at_ms: self.finished_ms,
            outcome: self.reason.to_owned(),
            origin_status: self.origin_status,
            duration_ms: self.duration_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome;
    use crate::schemes::Scheme;
    use crate::testing::VECTOR_KEY;

    fn config() -> Config {
        Config::from_settings(|name| match name {
            "WEBHOOK_SECRET" => Some(VECTOR_KEY.to_owned()),
            "ORIGIN_URL" => Some("http://127.0.0.1:9/".to_owned()),
            "WEBHOOK_PATH" => Some("/quo".to_owned()),
            _ => None,
        })
        .expect("valid")
    }

    fn handled(outcome: Outcome, route: Option<usize>) -> Handled {
        Handled {
            outcome,
            route,
            scheme: route.map(|_| Scheme::StandardWebhooks),
            key: route.map(|_| "msg_1".to_owned()),
            event_type: Some("message.received".to_owned()),
            origin_status: Some(200),
            body_bytes: Some(321),
            challenge: None,
            retry_after: None,
            incidents: Vec::new(),
        }
    }

    #[test]
    fn a_delivery_is_logged_counted_measured_and_recorded() {
        let config = config();
        let handled = handled(Outcome::Delivered, Some(0));
        let seen = Observation {
            config: &config,
            handled: &handled,
            finished_ms: 5,
            duration_ms: 12,
        };
        let fields = seen.log_fields();
        let field = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(field("route"), Some(Value::Text("/quo".into())));
        assert_eq!(field("reason"), Some(Value::Text("delivered".into())));
        assert_eq!(field("status"), Some(Value::Number(200)));
        assert_eq!(field("key"), Some(Value::Text("msg_1".into())));
        assert_eq!(field("body_bytes"), Some(Value::Number(321)));
        let (blobs, doubles, index) = seen.metrics_point();
        assert_eq!(
            blobs,
            [
                "/quo".to_owned(),
                "standard-webhooks".to_owned(),
                "delivered".to_owned()
            ]
        );
        assert_eq!(doubles, [200.0, 12.0, 321.0]);
        assert_eq!(index, "/quo");
        let attempt = seen.attempt().expect("recorded");
        assert_eq!(
            (attempt.key.as_str(), attempt.at_ms, attempt.duration_ms),
            ("msg_1", 5, 12)
        );
    }

    #[test]
    fn log_lines_encode_texts_numbers_and_nulls() {
        let text = encode_line(&[
            ("route", Value::Text("/quo".into())),
            ("status", Value::Number(200)),
            ("key", Value::Null),
            ("odd", Value::Text("a\0b".into())),
        ]);
        assert_eq!(text, "route\0s/quo\0status\0n200\0key\0\0odd\0sab");
    }

    #[test]
    fn consumer_attempts_that_decide_something_are_recorded() {
        let seen = |reason| Forwarded {
            route: "/q",
            key: "evt_1",
            scheme: "stripe",
            event_type: None,
            reason,
            attempt: 2,
            origin_status: Some(503),
            finished_ms: 9,
            duration_ms: 4,
        };
        for reason in ["delivered", "retrying", "dead"] {
            assert_eq!(
                seen(reason).attempt().map(|a| a.outcome),
                Some(reason.to_owned())
            );
        }
        assert_eq!(seen("duplicate").attempt(), None);
        assert_eq!(seen("in-flight").attempt(), None);
        assert!(seen("retrying")
            .log_fields()
            .contains(&("attempt", Value::Number(2))));
    }

    #[test]
    fn rejections_are_counted_not_recorded_and_unrouted_ones_have_no_path() {
        let config = config();
        let handled = handled(Outcome::NotFound, None);
        let seen = Observation {
            config: &config,
            handled: &handled,
            finished_ms: 5,
            duration_ms: 1,
        };
        assert_eq!(seen.route(), NO_ROUTE);
        assert_eq!(seen.attempt(), None);
        let forged = Handled {
            key: None,
            ..self::handled(Outcome::BadSignature, Some(0))
        };
        let seen = Observation {
            config: &config,
            handled: &forged,
            finished_ms: 5,
            duration_ms: 1,
        };
        assert_eq!(seen.attempt(), None);
        assert!(seen
            .log_fields()
            .iter()
            .any(|(n, v)| *n == "key" && *v == Value::Null));
    }
}
