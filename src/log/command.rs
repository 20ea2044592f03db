//! What the Worker asks of the `DeliveryLog` Durable Objects (the log's
//! shards), what they answer, and how both travel: a path naming the
//! command and a form-encoded body, so the objects need no JSON parser.
//! Pure, so the encoding is tested natively on both sides.

use super::buffer::Batch;
use super::counts::Count;
use super::partial::Partial;
use super::{decode_history, encode_history, Attempt, Fact, Letter};
use crate::query::{pairs, push_encoded, value_of};

/// The most parts one scan returns.
pub const MAX_SCAN: u32 = 500;

/// One request to a shard of the delivery log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogCommand {
    /// Record a batch of attempts and counts: what an isolate buffered
    /// ([`super::buffer`]), in one request.
    Batch(Batch),
    /// Record an attempt that left a dead letter, and keep the letter: at
    /// once, never buffered (it holds the only copy of the event).
    DeadLetter(Attempt, Letter),
    /// The shard's dead letter of a delivery, to queue it again: 200 with
    /// the letter ([`encode_taken`]), 409 when the shard has parts of the
    /// delivery but no letter, 404 when it has nothing of it.
    TakeLetter { route: String, key: String },
    /// The letter taken was queued again: the shard records a `queued`
    /// attempt and drops the letter (its body).
    Requeued {
        route: String,
        key: String,
        scheme: String,
        at_ms: i64,
    },
    /// Drops the shard's copy of a letter queued again from another shard
    /// (a message dead-lettered twice, in two isolates).
    DropLetter { route: String, key: String },
    /// The keys of the shard's dead letters of a route left in a time range
    /// (Unix ms, inclusive), with the time each was left, oldest first, at
    /// most `limit` ([`encode_dead_keys`]): what a bulk retry takes.
    DeadKeys {
        route: String,
        since_ms: i64,
        until_ms: i64,
        limit: u32,
    },
    /// The paused routes, a path a line, after pausing (`on`) or resuming
    /// `route`, when one is given. Kept by the first shard only.
    Paused { route: Option<String>, on: bool },
    /// Parts, newest first, for a listing ([`super::listing`]).
    Scan(Scan),
    /// Every part the shard holds of these deliveries (route, key).
    Lookup { keys: Vec<(String, String)> },
    /// Count cells since `since_minute` (Unix minutes), as
    /// [`encode_counts`] writes them: by minute from `by_minute` on, and
    /// before it summed over aligned spans of `span` minutes (under each
    /// span's first minute). The chart's numbers ([`super::series`]) by
    /// minute in the last hour and by hour before; the stats' ([`WHOLE`]
    /// for both) summed over the whole range.
    Stats {
        since_minute: i64,
        by_minute: i64,
        span: i64,
    },
    /// Delete parts last seen, letters kept, and counts, before a time
    /// (Unix ms).
    Purge { before_ms: i64 },
    /// What the shard holds and has written (for tests and operators).
    Meta,
}

/// One shard's part of a listing: its parts that match the filters a part
/// can be held to alone ([`super::partial::Candidates`] for the outcome),
/// newest first (by last seen, then tie-break), older than `before`
/// (`(last_seen, tie)`, see [`super::partial::shard_bound`]), at most
/// `limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    pub route: Option<String>,
    pub outcome: Option<String>,
    pub since_ms: Option<i64>,
    pub before: Option<(i64, i64)>,
    pub limit: u32,
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
        let mut header = String::with_capacity(name.len() + 1 + value.len());
        header.push_str(name);
        header.push(':');
        header.push_str(value);
        field(out, "h", &header);
    }
    field(out, "body", &crate::keys::encode_base64(&letter.body));
}

/// Reads what [`encode_letter`] wrote.
pub fn decode_letter(fields: &[(String, String)]) -> Option<Letter> {
    let one = |name: &str| value_of(fields, name);
    let mut headers = Vec::new();
    for (_, v) in fields.iter().filter(|(n, _)| n == "h") {
        let (n, v) = v.split_once(':')?;
        headers.push((n.to_owned(), v.to_owned()));
    }
    Some(Letter {
        content_type: one("content_type"),
        event_type: one("letter_type"),
        headers,
        body: crate::keys::decode_base64(&one("body")?)?,
    })
}

/// A taken letter, with the scheme and time of the attempt that left it
/// (the `queued` attempt of a retry is recorded under that scheme).
pub fn encode_taken(scheme: &str, at_ms: i64, letter: &Letter) -> String {
    let mut out = String::new();
    field(&mut out, "scheme", scheme);
    number_field(&mut out, "at", at_ms);
    encode_letter(&mut out, letter);
    out
}

/// Reads what [`encode_taken`] wrote: scheme, time and letter.
pub fn decode_taken(text: &str) -> Option<(String, i64, Letter)> {
    let fields = pairs(text)?;
    let letter = decode_letter(&fields)?;
    let mut r = Reader::new(&fields);
    let taken = (r.text("scheme"), r.int("at"), letter);
    r.done(taken)
}

/// Keys of dead letters and when each was left, as a shard answers
/// [`LogCommand::DeadKeys`].
pub fn encode_dead_keys(keys: &[(String, i64)]) -> String {
    let mut out = String::new();
    for (key, at) in keys {
        field(&mut out, "k", key);
        number_field(&mut out, "at", *at);
    }
    out
}

/// Reads what [`encode_dead_keys`] wrote.
pub fn decode_dead_keys(text: &str) -> Option<Vec<(String, i64)>> {
    let fields = pairs(text)?;
    let mut keys = Vec::new();
    for group in groups(&fields, &["k"])? {
        let mut r = Reader::new(group);
        let key = (r.text("k"), r.int("at"));
        keys.push(r.done(key)?);
    }
    Some(keys)
}

/// The fields in groups, each starting at a field named one of `markers`
/// (the first field must be one). Lets a body hold a list of records with
/// optional fields, each read by name within its group.
fn groups<'a>(
    fields: &'a [(String, String)],
    markers: &[&str],
) -> Option<Vec<&'a [(String, String)]>> {
    let mut groups: Vec<&'a [(String, String)]> = Vec::new();
    let mut start = 0;
    for (i, (name, _)) in fields.iter().enumerate() {
        if markers.contains(&name.as_str()) {
            if i > start {
                groups.push(&fields[start..i]);
            }
            start = i;
        } else if i == 0 {
            return None;
        }
    }
    if start < fields.len() {
        groups.push(&fields[start..]);
    }
    Some(groups)
}

fn number(fields: &[(String, String)], name: &str) -> Option<i64> {
    value_of(fields, name)?.parse().ok()
}

/// Reads fields by name, noting one that is missing or malformed instead
/// of returning at once: each read is one call, with no early return that
/// drops what was read before it, and [`Reader::done`] gives the value only
/// when every read succeeded (the `None` stopping at the first failure
/// gives, as the reads have no effect but their values).
struct Reader<'a> {
    fields: &'a [(String, String)],
    failed: bool,
}

impl<'a> Reader<'a> {
    fn new(fields: &'a [(String, String)]) -> Self {
        Self {
            fields,
            failed: false,
        }
    }

    /// The value, or a default noted as a failure.
    fn check<T: Default>(&mut self, value: Option<T>) -> T {
        match value {
            Some(value) => value,
            None => {
                self.failed = true;
                T::default()
            }
        }
    }

    /// A required text field.
    #[inline(never)]
    fn text(&mut self, name: &str) -> String {
        let value = value_of(self.fields, name);
        self.check(value)
    }

    /// A required integer field.
    #[inline(never)]
    fn int(&mut self, name: &str) -> i64 {
        let value = number(self.fields, name);
        self.check(value)
    }

    /// A required whole number field.
    #[inline(never)]
    fn whole<T: TryFrom<u64> + Default>(&mut self, name: &str) -> T {
        let value = value_of(self.fields, name).and_then(|text| crate::query::whole(&text));
        self.check(value)
    }

    /// An optional field: `None` when absent, a failure when malformed.
    fn optional<T>(&mut self, name: &str, read: fn(&str) -> Option<T>) -> Option<T> {
        let text = value_of(self.fields, name)?;
        let value = read(&text);
        self.failed |= value.is_none();
        value
    }

    /// `value`, when every read succeeded.
    fn done<T>(&self, value: T) -> Option<T> {
        (!self.failed).then_some(value)
    }
}

/// Text as an integer, for [`Reader::optional`].
fn int(text: &str) -> Option<i64> {
    text.parse().ok()
}

/// An attempt's fields, the route under `route_field` (`route`, or `a`
/// where it starts a group of a batch).
fn push_attempt(body: &mut String, a: &Attempt, route_field: &str) {
    field(body, route_field, &a.route);
    field(body, "key", &a.key);
    field(body, "scheme", &a.scheme);
    if let Some(event_type) = &a.event_type {
        field(body, "type", event_type);
    }
    number_field(body, "at", a.at_ms);
    field(body, "outcome", &a.outcome);
    if let Some(status) = a.origin_status {
        number_field(body, "status", i64::from(status));
    }
    number_field(body, "ms", i64::from(a.duration_ms));
}

fn read_attempt(fields: &[(String, String)], route_field: &str) -> Option<Attempt> {
    let mut r = Reader::new(fields);
    let attempt = Attempt {
        route: r.text(route_field),
        key: r.text("key"),
        scheme: r.text("scheme"),
        event_type: value_of(fields, "type"),
        at_ms: r.int("at"),
        outcome: r.text("outcome"),
        origin_status: r.optional("status", crate::query::whole),
        duration_ms: r.whole("ms"),
    };
    r.done(attempt)
}

fn push_count(body: &mut String, c: &Count) {
    number_field(body, "c", c.minute);
    field(body, "route", &c.route);
    field(body, "reason", &c.reason);
    field(body, "count", &c.count.to_string());
}

fn read_count(fields: &[(String, String)]) -> Option<Count> {
    let mut r = Reader::new(fields);
    let count = Count {
        minute: r.int("c"),
        route: r.text("route"),
        reason: r.text("reason"),
        count: r.whole("count"),
    };
    r.done(count)
}

/// The field names of a part's three facts: time, outcome (none for the
/// delivered one, whose outcome is known), status, duration.
const LAST: [&str; 4] = ["la", "lo", "ls", "lm"];
const ONWARD: [&str; 4] = ["oa", "oo", "os", "om"];
const DELIVERED: [&str; 4] = ["da", "", "ds", "dm"];

fn push_fact(out: &mut String, names: [&str; 4], fact: &Fact) {
    number_field(out, names[0], fact.at_ms);
    if !names[1].is_empty() {
        field(out, names[1], &fact.outcome);
    }
    if let Some(status) = fact.origin_status {
        number_field(out, names[2], i64::from(status));
    }
    number_field(out, names[3], i64::from(fact.duration_ms));
}

/// A fact under `names`; a delivered one when it has no outcome field.
/// `Some(None)` when the group has none.
fn read_fact(fields: &[(String, String)], names: [&str; 4]) -> Option<Option<Fact>> {
    if value_of(fields, names[0]).is_none() {
        return Some(None);
    }
    let mut r = Reader::new(fields);
    let fact = Fact {
        at_ms: r.int(names[0]),
        outcome: if names[1].is_empty() {
            "delivered".to_owned()
        } else {
            r.text(names[1])
        },
        origin_status: r.optional(names[2], crate::query::whole),
        duration_ms: r.whole(names[3]),
    };
    r.done(Some(fact))
}

/// Parts as a shard answers a scan or a lookup: one group each.
pub fn encode_parts(parts: &[Partial]) -> String {
    let mut out = String::with_capacity(parts.len() * 160);
    for part in parts {
        field(&mut out, "p", &part.route);
        field(&mut out, "key", &part.key);
        number_field(&mut out, "tie", part.tie);
        field(&mut out, "scheme", &part.scheme);
        if let Some(event_type) = &part.event_type {
            field(&mut out, "type", event_type);
        }
        number_field(&mut out, "first", part.first_seen);
        number_field(&mut out, "n", i64::from(part.attempts));
        push_fact(&mut out, LAST, &part.last);
        if let Some(onward) = &part.onward {
            push_fact(&mut out, ONWARD, onward);
        }
        if let Some(delivered) = &part.delivered {
            push_fact(&mut out, DELIVERED, delivered);
        }
        if part.dead_letter {
            field(&mut out, "letter", "1");
        }
        field(&mut out, "h", &encode_history(&part.history));
    }
    out
}

/// Reads what [`encode_parts`] wrote. A part is last seen at its last
/// attempt.
pub fn decode_parts(text: &str) -> Option<Vec<Partial>> {
    let fields = pairs(text)?;
    let mut parts = Vec::new();
    for group in groups(&fields, &["p"])? {
        let last = read_fact(group, LAST)??;
        let mut r = Reader::new(group);
        let part = Partial {
            route: r.text("p"),
            key: r.text("key"),
            tie: r.int("tie"),
            scheme: r.text("scheme"),
            event_type: value_of(group, "type"),
            first_seen: r.int("first"),
            last_seen: last.at_ms,
            attempts: r.whole("n"),
            onward: r.check(read_fact(group, ONWARD)),
            delivered: r.check(read_fact(group, DELIVERED)),
            dead_letter: value_of(group, "letter").is_some(),
            history: r.check(decode_history(&value_of(group, "h").unwrap_or_default())),
            last,
        };
        parts.push(r.done(part)?);
    }
    Some(parts)
}

/// A span of minutes longer than any time (2^40 minutes: two million
/// years), exact as a JavaScript number: `Stats` by it sums the whole
/// range into one cell per route and reason.
pub const WHOLE: i64 = 1 << 40;

/// Count cells, as a shard answers `Stats`: as a batch of counts only
/// travels, so one decoder reads both.
pub fn encode_counts(counts: &[Count]) -> String {
    let mut out = String::new();
    for count in counts {
        push_count(&mut out, count);
    }
    out
}

/// Reads what [`encode_counts`] wrote.
pub fn decode_counts(text: &str) -> Option<Vec<Count>> {
    match LogCommand::decode("/batch", text)? {
        LogCommand::Batch(batch) if batch.attempts.is_empty() => Some(batch.counts),
        _ => None,
    }
}

/// A number's field: one call for each rather than a `to_string` and its
/// string's drop written out at every number written.
#[inline(never)]
fn number_field(out: &mut String, name: &str, value: i64) {
    field(out, name, &value.to_string());
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
    /// The path and body of [`LogCommand::Batch`], without making the
    /// command (the caller keeps the batch, to keep it for the next write
    /// if this one fails).
    pub fn encode_batch(batch: &Batch) -> (&'static str, String) {
        let mut body = String::with_capacity(batch.attempts.len() * 160 + batch.counts.len() * 60);
        for a in &batch.attempts {
            push_attempt(&mut body, a, "a");
        }
        for c in &batch.counts {
            push_count(&mut body, c);
        }
        ("/batch", body)
    }

    /// The path and body of the request to the object.
    pub fn encode(&self) -> (&'static str, String) {
        let mut body = String::new();
        let path = match self {
            LogCommand::Batch(batch) => return Self::encode_batch(batch),
            LogCommand::DeadLetter(a, letter) => {
                push_attempt(&mut body, a, "route");
                encode_letter(&mut body, letter);
                "/dead-letter"
            }
            LogCommand::TakeLetter { route, key } => {
                field(&mut body, "route", route);
                field(&mut body, "key", key);
                "/take-letter"
            }
            LogCommand::Requeued {
                route,
                key,
                scheme,
                at_ms,
            } => {
                field(&mut body, "route", route);
                field(&mut body, "key", key);
                field(&mut body, "scheme", scheme);
                number_field(&mut body, "at", *at_ms);
                "/requeued"
            }
            LogCommand::DropLetter { route, key } => {
                field(&mut body, "route", route);
                field(&mut body, "key", key);
                "/drop-letter"
            }
            LogCommand::DeadKeys {
                route,
                since_ms,
                until_ms,
                limit,
            } => {
                field(&mut body, "route", route);
                number_field(&mut body, "since", *since_ms);
                number_field(&mut body, "until", *until_ms);
                number_field(&mut body, "limit", i64::from(*limit));
                "/dead-keys"
            }
            LogCommand::Scan(scan) => {
                if let Some(route) = &scan.route {
                    field(&mut body, "route", route);
                }
                if let Some(outcome) = &scan.outcome {
                    field(&mut body, "outcome", outcome);
                }
                if let Some(since) = scan.since_ms {
                    number_field(&mut body, "since", since);
                }
                if let Some((last_seen, tie)) = scan.before {
                    number_field(&mut body, "before", last_seen);
                    number_field(&mut body, "tie", tie);
                }
                number_field(&mut body, "limit", i64::from(scan.limit));
                "/scan"
            }
            LogCommand::Lookup { keys } => {
                for (route, key) in keys {
                    field(&mut body, "route", route);
                    field(&mut body, "key", key);
                }
                "/lookup"
            }
            LogCommand::Stats {
                since_minute,
                by_minute,
                span,
            } => {
                number_field(&mut body, "since", *since_minute);
                number_field(&mut body, "by", *by_minute);
                number_field(&mut body, "span", *span);
                "/stats"
            }
            LogCommand::Purge { before_ms } => {
                number_field(&mut body, "before", *before_ms);
                "/purge"
            }
            LogCommand::Paused { route, on } => {
                if let Some(route) = route {
                    field(&mut body, "route", route);
                }
                if *on {
                    field(&mut body, "on", "1");
                }
                "/paused"
            }
            LogCommand::Meta => "/meta",
        };
        (path, body)
    }

    /// Parses what [`Self::encode`] wrote; `None` for anything else.
    pub fn decode(path: &str, body: &str) -> Option<Self> {
        let fields = pairs(body)?;
        let mut r = Reader::new(&fields);
        let command = match path {
            "/batch" => {
                let mut batch = Batch::default();
                for group in groups(&fields, &["a", "c"])? {
                    if group[0].0 == "a" {
                        batch.attempts.push(read_attempt(group, "a")?);
                    } else {
                        batch.counts.push(read_count(group)?);
                    }
                }
                LogCommand::Batch(batch)
            }
            "/dead-letter" => {
                LogCommand::DeadLetter(read_attempt(&fields, "route")?, decode_letter(&fields)?)
            }
            "/take-letter" => LogCommand::TakeLetter {
                route: r.text("route"),
                key: r.text("key"),
            },
            "/requeued" => LogCommand::Requeued {
                route: r.text("route"),
                key: r.text("key"),
                scheme: r.text("scheme"),
                at_ms: r.int("at"),
            },
            "/drop-letter" => LogCommand::DropLetter {
                route: r.text("route"),
                key: r.text("key"),
            },
            "/dead-keys" => LogCommand::DeadKeys {
                route: r.text("route"),
                since_ms: r.int("since"),
                until_ms: r.int("until"),
                limit: r.whole::<u32>("limit").clamp(1, MAX_SCAN),
            },
            "/scan" => LogCommand::Scan(Scan {
                route: value_of(&fields, "route"),
                outcome: value_of(&fields, "outcome"),
                since_ms: r.optional("since", int),
                before: r
                    .optional("before", int)
                    .map(|before| (before, r.int("tie"))),
                limit: r.whole::<u32>("limit").clamp(1, MAX_SCAN),
            }),
            "/lookup" => {
                let mut keys = Vec::new();
                for group in groups(&fields, &["route"])? {
                    let mut r = Reader::new(group);
                    let key = (r.text("route"), r.text("key"));
                    keys.push(r.done(key)?);
                }
                LogCommand::Lookup { keys }
            }
            "/stats" => LogCommand::Stats {
                since_minute: r.int("since"),
                by_minute: r.int("by"),
                span: r.int("span"),
            },
            "/purge" => LogCommand::Purge {
                before_ms: r.int("before"),
            },
            "/paused" => LogCommand::Paused {
                route: value_of(&fields, "route"),
                on: value_of(&fields, "on").is_some(),
            },
            "/meta" => LogCommand::Meta,
            _ => return None,
        };
        r.done(command)
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

    fn attempt(key: &str, outcome: &str, status: Option<u16>, event_type: Option<&str>) -> Attempt {
        Attempt {
            route: "/hooks/quo".into(),
            key: key.into(),
            scheme: "standard-webhooks".into(),
            event_type: event_type.map(str::to_owned),
            at_ms: 1_700_000_000_123,
            outcome: outcome.into(),
            origin_status: status,
            duration_ms: 42,
        }
    }

    #[test]
    fn dead_keys_round_trip_and_junk_is_refused() {
        let keys = vec![
            ("msg_1 & =".to_owned(), 1_700_000_000_000),
            ("k".to_owned(), -1),
        ];
        assert_eq!(decode_dead_keys(&encode_dead_keys(&keys)), Some(keys));
        assert_eq!(decode_dead_keys(""), Some(Vec::new()));
        assert_eq!(decode_dead_keys("k=a"), None, "no time");
        assert_eq!(decode_dead_keys("at=1&k=a"), None, "no key first");
    }

    #[test]
    fn every_command_round_trips() {
        round_trip(LogCommand::Batch(Batch {
            attempts: vec![
                attempt(
                    "msg_1 & <b>=%",
                    "origin-failed",
                    Some(503),
                    Some("message.received"),
                ),
                attempt("a=c", "delivered", None, None),
            ],
            counts: vec![
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
            ],
        }));
        round_trip(LogCommand::Batch(Batch::default()));
        round_trip(LogCommand::Batch(Batch {
            attempts: Vec::new(),
            counts: vec![Count {
                minute: 1,
                route: "a".into(),
                reason: "c".into(),
                count: 2,
            }],
        }));
        round_trip(LogCommand::DeadLetter(
            attempt("k", "dead", Some(503), None),
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
        round_trip(LogCommand::DeadKeys {
            route: "/q &=".into(),
            since_ms: -5,
            until_ms: 1_700_000_000_000,
            limit: 10,
        });
        round_trip(LogCommand::Requeued {
            route: "/q".into(),
            key: "k".into(),
            scheme: "stripe".into(),
            at_ms: 5,
        });
        round_trip(LogCommand::DropLetter {
            route: "/q".into(),
            key: "k".into(),
        });
        round_trip(LogCommand::Scan(Scan {
            route: Some("/a".into()),
            outcome: Some("delivered".into()),
            since_ms: Some(5),
            before: Some((9, 3)),
            limit: 20,
        }));
        round_trip(LogCommand::Scan(Scan {
            route: None,
            outcome: None,
            since_ms: None,
            before: None,
            limit: 1,
        }));
        round_trip(LogCommand::Lookup {
            keys: vec![
                ("/a".into(), "sig_00".into()),
                ("/b & c".into(), "route".into()),
            ],
        });
        round_trip(LogCommand::Lookup { keys: Vec::new() });
        round_trip(LogCommand::Stats {
            since_minute: 29_935_000,
            by_minute: 29_936_000,
            span: 60,
        });
        round_trip(LogCommand::Purge { before_ms: 123 });
        round_trip(LogCommand::Meta);
        for (route, on) in [
            (None, false),
            (Some("/quo & =".to_owned()), true),
            (Some("/quo".to_owned()), false),
        ] {
            round_trip(LogCommand::Paused { route, on });
        }
    }

    #[test]
    fn parts_counts_and_taken_letters_round_trip() {
        let mut part = Partial::of(&attempt("key=1&", "origin-failed", Some(503), Some("push")));
        part.add(&Attempt {
            at_ms: 1_700_000_000_200,
            ..attempt("key=1&", "delivered", Some(200), Some("push"))
        });
        part.add(&Attempt {
            at_ms: 1_700_000_000_300,
            ..attempt("key=1&", "retrying", None, None)
        });
        part.dead_letter = true;
        let bare = Partial::of(&attempt("k", "store-unavailable", None, None));
        let parts = vec![part, bare];
        assert_eq!(decode_parts(&encode_parts(&parts)), Some(parts));
        assert_eq!(decode_parts(""), Some(Vec::new()));
        let cells = vec![
            Count {
                minute: 29_936_017,
                route: "/a&b".into(),
                reason: "latency:50".into(),
                count: 4,
            },
            Count {
                minute: 29_935_980,
                route: "(none)".into(),
                reason: "not-found".into(),
                count: 1,
            },
        ];
        assert_eq!(decode_counts(&encode_counts(&cells)), Some(cells));
        assert_eq!(decode_counts(""), Some(Vec::new()));
        let letter = Letter {
            content_type: None,
            headers: Vec::new(),
            event_type: None,
            body: b"{}".to_vec(),
        };
        assert_eq!(
            decode_taken(&encode_taken("github", 7, &letter)),
            Some(("github".to_owned(), 7, letter))
        );
    }

    #[test]
    fn junk_is_refused() {
        assert_eq!(LogCommand::decode("/drop", ""), None);
        assert_eq!(
            LogCommand::decode("/attempt", "route=/a"),
            None,
            "one attempt per request is gone"
        );
        assert_eq!(LogCommand::decode("/batch", "a=/a"), None);
        assert_eq!(LogCommand::decode("/batch", "c=1&route=/a&reason=x"), None);
        assert_eq!(
            LogCommand::decode("/batch", "route=/a&c=1&route=/a&reason=x&count=1"),
            None,
            "a group starts with its marker"
        );
        assert_eq!(
            LogCommand::decode("/scan", "before=nope&tie=1&limit=1"),
            None
        );
        assert_eq!(LogCommand::decode("/scan", "before=1&limit=1"), None);
        assert_eq!(
            LogCommand::decode("/scan", ""),
            None,
            "a scan says how many"
        );
        assert_eq!(LogCommand::decode("/lookup", "route=/a"), None);
        assert_eq!(LogCommand::decode("/stats", "since=soon&by=1&span=1"), None);
        assert_eq!(decode_parts("p=/a&key=k"), None);
        assert_eq!(decode_parts("key=k&p=/a"), None);
        assert_eq!(LogCommand::decode("/stats", "since=1&by=2"), None);
        assert_eq!(decode_counts("c=1&route=/a&reason=x&count=-1"), None);
        assert_eq!(decode_counts("c=1&route=/a&reason=x"), None);
    }

    #[test]
    fn scans_are_bounded() {
        let limit = |body: &str| match LogCommand::decode("/scan", body) {
            Some(LogCommand::Scan(scan)) => scan.limit,
            other => panic!("{other:?}"),
        };
        assert_eq!(limit("limit=0"), 1);
        assert_eq!(limit("limit=100000"), MAX_SCAN);
    }
}
