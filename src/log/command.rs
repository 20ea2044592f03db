//! What the Worker asks of the `DeliveryLog` Durable Object, and how it
//! travels: a path naming the command and a form-encoded body, so the
//! object needs no JSON parser. Pure, so the encoding is tested natively on
//! both sides.

use super::counts::Count;
use super::{Attempt, Cursor, Filter, Letter, DEFAULT_PAGE, MAX_PAGE};
use crate::query::{pairs, push_encoded, value_of};

/// One request to the delivery log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogCommand {
    /// Record one attempt at a delivery.
    Attempt(Attempt),
    /// Record an attempt that left a dead letter, and keep the letter.
    DeadLetter(Attempt, Letter),
    /// The dead letter of a record, to queue it again (the answer is the
    /// letter, encoded as [`encode_letter`] writes it).
    TakeLetter { route: String, key: String },
    /// The letter taken was queued again: the record says `queued` and the
    /// letter (its body) is dropped.
    Requeued {
        route: String,
        key: String,
        at_ms: i64,
    },
    /// Add a batch of counts.
    Counts(Vec<Count>),
    /// A page of records, newest first. `routes` are the paths of the
    /// routes configured now (the log object does not read the settings),
    /// so a record whose route is gone can say so.
    List {
        filter: Filter,
        limit: u32,
        cursor: Option<Cursor>,
        routes: Vec<String>,
    },
    /// One record; `routes` as for [`LogCommand::List`].
    Get {
        route: String,
        key: String,
        routes: Vec<String>,
    },
    /// Counts per route and reason since a time (Unix ms).
    Stats { since_ms: i64 },
    /// Delete records last seen, and counts, before a time (Unix ms).
    Purge { before_ms: i64 },
    /// How many records and writes the object holds (for tests and operators).
    Meta,
}

/// A letter as form fields (`type`, `content_type`, `h` as `name:value`,
/// `body` in base64), as it travels to and from the log.
pub fn encode_letter(out: &mut String, letter: &Letter) {
    if let Some(content_type) = &letter.content_type {
        field(out, "content_type", content_type);
    }
    if let Some(event_type) = &letter.event_type {
        field(out, "letter_type", event_type);
    }
    for (name, value) in &letter.headers {
        field(out, "h", &format!("{name}:{value}"));
    }
    field(out, "body", &crate::keys::encode_base64(&letter.body));
}

/// Reads what [`encode_letter`] wrote.
pub fn decode_letter(fields: &[(String, String)]) -> Option<Letter> {
    let one = |name: &str| value_of(fields, name);
    Some(Letter {
        content_type: one("content_type"),
        event_type: one("letter_type"),
        headers: fields
            .iter()
            .filter(|(n, _)| n == "h")
            .map(|(_, v)| v.split_once(':').map(|(n, v)| (n.to_owned(), v.to_owned())))
            .collect::<Option<_>>()?,
        body: crate::keys::decode_base64(&one("body")?)?,
    })
}

fn push_attempt(body: &mut String, a: &Attempt) {
    field(body, "route", &a.route);
    field(body, "key", &a.key);
    field(body, "scheme", &a.scheme);
    if let Some(event_type) = &a.event_type {
        field(body, "type", event_type);
    }
    field(body, "at", &a.at_ms.to_string());
    field(body, "outcome", &a.outcome);
    if let Some(status) = a.origin_status {
        field(body, "status", &status.to_string());
    }
    field(body, "ms", &a.duration_ms.to_string());
}

fn read_attempt(fields: &[(String, String)]) -> Option<Attempt> {
    let one = |name: &str| value_of(fields, name);
    Some(Attempt {
        route: one("route")?,
        key: one("key")?,
        scheme: one("scheme")?,
        event_type: one("type"),
        at_ms: one("at")?.parse().ok()?,
        outcome: one("outcome")?,
        origin_status: match one("status") {
            Some(status) => Some(crate::query::whole(&status)?),
            None => None,
        },
        duration_ms: crate::query::whole(&one("ms")?)?,
    })
}

/// The routes configured now, one `live` field each.
fn push_live(out: &mut String, routes: &[String]) {
    for route in routes {
        field(out, "live", route);
    }
}

fn live(fields: &[(String, String)]) -> Vec<String> {
    fields
        .iter()
        .filter(|(name, _)| name == "live")
        .map(|(_, route)| route.clone())
        .collect()
}

fn field(out: &mut String, name: &str, value: &str) {
    if !out.is_empty() {
        out.push('&');
    }
    out.push_str(name);
    out.push('=');
    push_encoded(out, value);
}

impl LogCommand {
    /// The path and body of the request to the object.
    pub fn encode(&self) -> (&'static str, String) {
        let mut body = String::new();
        let path = match self {
            LogCommand::Attempt(a) => {
                push_attempt(&mut body, a);
                "/attempt"
            }
            LogCommand::DeadLetter(a, letter) => {
                push_attempt(&mut body, a);
                encode_letter(&mut body, letter);
                "/dead-letter"
            }
            LogCommand::TakeLetter { route, key } => {
                field(&mut body, "route", route);
                field(&mut body, "key", key);
                "/take-letter"
            }
            LogCommand::Requeued { route, key, at_ms } => {
                field(&mut body, "route", route);
                field(&mut body, "key", key);
                field(&mut body, "at", &at_ms.to_string());
                "/requeued"
            }
            LogCommand::Counts(counts) => {
                for c in counts {
                    field(&mut body, "minute", &c.minute.to_string());
                    field(&mut body, "route", &c.route);
                    field(&mut body, "reason", &c.reason);
                    field(&mut body, "count", &c.count.to_string());
                }
                "/counts"
            }
            LogCommand::List {
                filter,
                limit,
                cursor,
                routes,
            } => {
                if let Some(route) = &filter.route {
                    field(&mut body, "route", route);
                }
                if let Some(outcome) = &filter.outcome {
                    field(&mut body, "outcome", outcome);
                }
                if let Some(since) = filter.since_ms {
                    field(&mut body, "since", &since.to_string());
                }
                field(&mut body, "limit", &limit.to_string());
                if let Some(cursor) = cursor {
                    field(&mut body, "cursor", &cursor.encode());
                }
                push_live(&mut body, routes);
                "/list"
            }
            LogCommand::Get { route, key, routes } => {
                field(&mut body, "route", route);
                field(&mut body, "key", key);
                push_live(&mut body, routes);
                "/get"
            }
            LogCommand::Stats { since_ms } => {
                field(&mut body, "since", &since_ms.to_string());
                "/stats"
            }
            LogCommand::Purge { before_ms } => {
                field(&mut body, "before", &before_ms.to_string());
                "/purge"
            }
            LogCommand::Meta => "/meta",
        };
        (path, body)
    }

    /// Parses what [`Self::encode`] wrote; `None` for anything else.
    pub fn decode(path: &str, body: &str) -> Option<Self> {
        let fields = pairs(body)?;
        let one = |name: &str| value_of(&fields, name);
        let number = |name: &str| one(name).and_then(|v| v.parse::<i64>().ok());
        Some(match path {
            "/attempt" => LogCommand::Attempt(read_attempt(&fields)?),
            "/dead-letter" => {
                LogCommand::DeadLetter(read_attempt(&fields)?, decode_letter(&fields)?)
            }
            "/take-letter" => LogCommand::TakeLetter {
                route: one("route")?,
                key: one("key")?,
            },
            "/requeued" => LogCommand::Requeued {
                route: one("route")?,
                key: one("key")?,
                at_ms: number("at")?,
            },
            "/counts" => {
                let mut counts = Vec::new();
                let mut rest = fields.iter();
                while let Some((name, minute)) = rest.next() {
                    let (Some(("route", route)), Some(("reason", reason)), Some(("count", count))) = (
                        rest.next().map(|(n, v)| (n.as_str(), v)),
                        rest.next().map(|(n, v)| (n.as_str(), v)),
                        rest.next().map(|(n, v)| (n.as_str(), v)),
                    ) else {
                        return None;
                    };
                    if name != "minute" {
                        return None;
                    }
                    counts.push(Count {
                        minute: minute.parse().ok()?,
                        route: route.clone(),
                        reason: reason.clone(),
                        count: crate::query::whole(count)?,
                    });
                }
                LogCommand::Counts(counts)
            }
            "/list" => LogCommand::List {
                filter: Filter {
                    route: one("route"),
                    outcome: one("outcome"),
                    since_ms: match one("since") {
                        Some(since) => Some(since.parse().ok()?),
                        None => None,
                    },
                },
                limit: one("limit")
                    .and_then(|l| crate::query::whole(&l))
                    .unwrap_or(DEFAULT_PAGE)
                    .clamp(1, MAX_PAGE),
                cursor: match one("cursor") {
                    Some(cursor) => Some(Cursor::decode(&cursor)?),
                    None => None,
                },
                routes: live(&fields),
            },
            "/get" => LogCommand::Get {
                route: one("route")?,
                key: one("key")?,
                routes: live(&fields),
            },
            "/stats" => LogCommand::Stats {
                since_ms: number("since")?,
            },
            "/purge" => LogCommand::Purge {
                before_ms: number("before")?,
            },
            "/meta" => LogCommand::Meta,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(command: LogCommand) {
        let (path, body) = command.encode();
        assert_eq!(
            LogCommand::decode(path, &body),
            Some(command.clone()),
            "{body}"
        );
    }

    #[test]
    fn every_command_round_trips() {
        round_trip(LogCommand::Attempt(Attempt {
            route: "/hooks/quo".into(),
            key: "msg_1 & <b>=%".into(),
            scheme: "standard-webhooks".into(),
            event_type: Some("message.received".into()),
            at_ms: 1_700_000_000_123,
            outcome: "origin-failed".into(),
            origin_status: Some(503),
            duration_ms: 42,
        }));
        round_trip(LogCommand::Attempt(Attempt {
            route: "/a".into(),
            key: "k".into(),
            scheme: "github".into(),
            event_type: None,
            at_ms: 1,
            outcome: "delivered".into(),
            origin_status: None,
            duration_ms: 0,
        }));
        let attempt = Attempt {
            route: "/q".into(),
            key: "k".into(),
            scheme: "stripe".into(),
            event_type: None,
            at_ms: 9,
            outcome: "dead".into(),
            origin_status: Some(503),
            duration_ms: 3,
        };
        round_trip(LogCommand::DeadLetter(
            attempt,
            Letter {
                content_type: Some("application/json".into()),
                headers: vec![("stripe-signature".into(), "t=1,v1=ab:cd".into())],
                event_type: Some("invoice.paid".into()),
                body: vec![0, 0xff, b'{', b'}'],
            },
        ));
        round_trip(LogCommand::TakeLetter {
            route: "/q".into(),
            key: "k".into(),
        });
        round_trip(LogCommand::Requeued {
            route: "/q".into(),
            key: "k".into(),
            at_ms: 5,
        });
        round_trip(LogCommand::Counts(vec![
            Count {
                minute: 28_333_333,
                route: "/a".into(),
                reason: "bad-signature".into(),
                count: 7,
            },
            Count {
                minute: 28_333_334,
                route: "(none)".into(),
                reason: "not-found".into(),
                count: 1,
            },
        ]));
        round_trip(LogCommand::Counts(vec![]));
        round_trip(LogCommand::List {
            filter: Filter {
                route: Some("/a".into()),
                outcome: Some("delivered".into()),
                since_ms: Some(5),
            },
            limit: 20,
            cursor: Some(Cursor {
                last_seen: 9,
                row: 3,
            }),
            routes: vec!["/a".into(), "/b & c".into()],
        });
        round_trip(LogCommand::List {
            filter: Filter::default(),
            limit: 50,
            cursor: None,
            routes: Vec::new(),
        });
        round_trip(LogCommand::Get {
            route: "/a".into(),
            key: "sig_00".into(),
            routes: vec!["/a".into()],
        });
        round_trip(LogCommand::Stats { since_ms: 0 });
        round_trip(LogCommand::Purge { before_ms: 123 });
        round_trip(LogCommand::Meta);
    }

    #[test]
    fn junk_is_refused() {
        assert_eq!(LogCommand::decode("/drop", ""), None);
        assert_eq!(LogCommand::decode("/attempt", "route=/a"), None);
        assert_eq!(
            LogCommand::decode("/counts", "minute=1&route=/a&reason=x"),
            None
        );
        assert_eq!(
            LogCommand::decode("/counts", "route=/a&minute=1&reason=x&count=1"),
            None
        );
        assert_eq!(LogCommand::decode("/list", "cursor=nope"), None);
        assert_eq!(LogCommand::decode("/stats", "since=soon"), None);
    }

    #[test]
    fn page_sizes_are_bounded() {
        let limit = |body: &str| match LogCommand::decode("/list", body) {
            Some(LogCommand::List { limit, .. }) => limit,
            other => panic!("{other:?}"),
        };
        assert_eq!(limit("limit=0"), 1);
        assert_eq!(limit("limit=100000"), MAX_PAGE);
        assert_eq!(limit(""), DEFAULT_PAGE);
    }
}
