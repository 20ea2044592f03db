//! The delivery log: what happened to every verified delivery, kept at the
//! edge without ever keeping a body, a signature or a secret.
//!
//! One record per verified delivery per route, keyed by the replay key:
//! when it was first and last seen, how many attempts the gate worked on,
//! the last outcome, the origin's status and how long the attempt took.
//! Rejections are not recorded one by one (a flood of forged requests must
//! not cost a storage write each): they are counted per route and reason
//! (see [`counts`]) and written in batches.
//!
//! The records live in [`SHARDS`] `DeliveryLog` Durable Objects (SQLite).
//! Each isolate buffers its attempts and counts ([`buffer`]) and writes
//! them in batches to one shard, so a delivery costs a fraction of a
//! request and one of the objects takes only some of the gate's load; a
//! delivery's attempts may then be held in parts by several shards
//! ([`partial`]), which a read combines into the record one object would
//! have kept ([`listing`]). This module holds what is decided about them:
//! which outcomes make a record, how attempts merge, the commands the
//! Worker sends the objects ([`command`]) and the JSON the admin API
//! answers with ([`render`]).

pub mod buffer;
pub mod command;
pub mod counts;
pub mod latency;
pub mod listing;
pub mod partial;
pub mod render;
pub mod series;

use crate::outcome::Outcome;

/// One attempt at a delivery, as the gate finished it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The route's path.
    pub route: String,
    /// The replay key (the webhook-id for Standard Webhooks).
    pub key: String,
    /// The route's scheme name.
    pub scheme: String,
    /// The event type, when the sender names one.
    pub event_type: Option<String>,
    /// When the attempt finished, Unix milliseconds.
    pub at_ms: i64,
    /// The outcome's reason code (`delivered`, `origin-failed`, …).
    pub outcome: String,
    /// The origin's status, when it answered.
    pub origin_status: Option<u16>,
    /// How long the gate worked on it.
    pub duration_ms: u32,
}

/// One attempt's result, as a record shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    pub at_ms: i64,
    pub outcome: String,
    pub origin_status: Option<u16>,
    pub duration_ms: u32,
}

impl Fact {
    pub fn of(attempt: &Attempt) -> Self {
        Self {
            at_ms: attempt.at_ms,
            outcome: attempt.outcome.clone(),
            origin_status: attempt.origin_status,
            duration_ms: attempt.duration_ms,
        }
    }
}

/// How many of a delivery's attempts its record lists (the newest): enough
/// for a sender's whole retry schedule or a queue route's, bounded so that
/// a delivery replayed without end keeps a record of fixed size.
pub const HISTORY: usize = 20;

/// A history as one text, as a shard stores and answers it: each attempt
/// `at:outcome:status:ms` (no status when the origin did not answer), the
/// attempts separated by `,`, the outcome percent-encoded (a reason code
/// holds neither separator, but an outcome is only text to this codec).
pub fn encode_history(history: &[Fact]) -> String {
    let mut out = String::with_capacity(history.len() * 32);
    for (i, fact) in history.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&fact.at_ms.to_string());
        out.push(':');
        crate::query::push_encoded(&mut out, &fact.outcome);
        out.push(':');
        if let Some(status) = fact.origin_status {
            out.push_str(&status.to_string());
        }
        out.push(':');
        out.push_str(&fact.duration_ms.to_string());
    }
    out
}

/// Reads what [`encode_history`] wrote; `None` for anything else.
pub fn decode_history(text: &str) -> Option<Vec<Fact>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    // Pushed, not collected into an `Option` (module size).
    let mut history = Vec::new();
    for entry in text.split(',') {
        let mut fields = entry.split(':');
        let fact = Fact {
            at_ms: fields.next()?.parse().ok()?,
            outcome: crate::query::decode(fields.next()?)?,
            origin_status: match fields.next()? {
                "" => None,
                status => Some(crate::query::whole(status)?),
            },
            duration_ms: crate::query::whole(fields.next()?)?,
        };
        if fields.next().is_some() {
            return None;
        }
        history.push(fact);
    }
    Some(history)
}

/// A delivery as the log keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub route: String,
    pub key: String,
    pub scheme: String,
    pub event_type: Option<String>,
    /// Unix milliseconds.
    pub first_seen: i64,
    /// Unix milliseconds.
    pub last_seen: i64,
    /// Attempts the gate worked on (claimed, or tried to claim).
    pub attempts: u32,
    /// The last outcome's reason code; see [`merged_outcome`].
    pub outcome: String,
    pub origin_status: Option<u16>,
    pub duration_ms: u32,
    /// Whether a dead letter (the event's body and headers, for a retry) is
    /// kept with the record: the one place hookgate keeps a body.
    pub dead_letter: bool,
    /// Its last attempts, oldest first, at most [`HISTORY`]. Attempts
    /// recorded before the log kept them are counted in `attempts` only.
    pub history: Vec<Fact>,
}

/// A queued event that ran out of attempts, kept so it can be retried:
/// what the forward needs, and nothing the origin would not get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    pub content_type: Option<String>,
    /// The sender's headers that are forwarded (the scheme's own).
    pub headers: Vec<(String, String)>,
    pub event_type: Option<String>,
    pub body: Vec<u8>,
}

/// Whether an outcome makes (or updates) a delivery record: the verified
/// deliveries the gate worked on. A duplicate or a copy in flight changes
/// nothing about the delivery (and a replay flood of a captured delivery
/// must not cost a write per copy), so those are only counted, like
/// rejections and Slack's handshake.
pub fn records(outcome: Outcome) -> bool {
    match outcome {
        Outcome::Delivered
        | Outcome::Queued
        | Outcome::QueueUnavailable
        | Outcome::OriginFailed
        | Outcome::OriginTimeout
        | Outcome::StoreUnavailable
        | Outcome::Internal => true,
        Outcome::AlreadyDelivered
        | Outcome::InFlight
        | Outcome::CoolingDown
        | Outcome::Paused
        | Outcome::Challenge
        | Outcome::Filtered
        | Outcome::NotFound
        | Outcome::MethodNotAllowed
        | Outcome::TooLarge
        | Outcome::BadBody
        | Outcome::BodyTimeout
        | Outcome::MissingHeader
        | Outcome::BadId
        | Outcome::BadTimestamp
        | Outcome::StaleTimestamp
        | Outcome::FutureTimestamp
        | Outcome::BadSignature
        | Outcome::Misconfigured => false,
    }
}

/// The outcome a record shows after an attempt: the attempt's, except that
/// `delivered` is never replaced by a later failure (in KV's race a second
/// copy's failed forward must not hide that the event arrived), and `dead`
/// only by what moves the event on: queued again, a consumer attempt, a
/// delivery. A copy of a dead event refused meanwhile (the sender's, or a
/// replay, answered 503 while the store was down) changes nothing about the
/// event; recorded over `dead`, it hid the dead letter from the listing of
/// dead ones, where an operator finds what to retry.
pub fn merged_outcome<'a>(previous: Option<&'a str>, attempt: &'a str) -> &'a str {
    match previous {
        Some("delivered") => "delivered",
        Some("dead") if !matches!(attempt, "queued" | "retrying" | "delivered" | "dead") => "dead",
        _ => attempt,
    }
}

impl DeliveryRecord {
    /// The record after `attempt`: a new one for a first attempt, else the
    /// existing one with the attempt counted and its outcome merged.
    pub fn merge(existing: Option<DeliveryRecord>, attempt: &Attempt) -> DeliveryRecord {
        match existing {
            None => DeliveryRecord {
                route: attempt.route.clone(),
                key: attempt.key.clone(),
                scheme: attempt.scheme.clone(),
                event_type: attempt.event_type.clone(),
                first_seen: attempt.at_ms,
                last_seen: attempt.at_ms,
                attempts: 1,
                outcome: attempt.outcome.clone(),
                origin_status: attempt.origin_status,
                duration_ms: attempt.duration_ms,
                dead_letter: false,
                history: vec![Fact::of(attempt)],
            },
            Some(mut record) => {
                record.history.push(Fact::of(attempt));
                let over = record.history.len().saturating_sub(HISTORY);
                record.history.drain(..over);
                let outcome = merged_outcome(Some(&record.outcome), &attempt.outcome).to_owned();
                let kept = outcome != attempt.outcome;
                DeliveryRecord {
                    event_type: attempt.event_type.clone().or(record.event_type),
                    first_seen: record.first_seen.min(attempt.at_ms),
                    last_seen: record.last_seen.max(attempt.at_ms),
                    attempts: record.attempts.saturating_add(1),
                    origin_status: if kept {
                        record.origin_status
                    } else {
                        attempt.origin_status
                    },
                    duration_ms: if kept {
                        record.duration_ms
                    } else {
                        attempt.duration_ms
                    },
                    outcome,
                    ..record
                }
            }
        }
    }
}

/// A dead letter a bulk retry takes: its key, and the shards that keep a
/// copy (two, for a message dead-lettered in two isolates: the newest is
/// queued, the other dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToRetry {
    pub key: String,
    pub shards: Vec<usize>,
}

/// The dead letters a bulk retry takes from what each shard answered (its
/// keys and the time each was left, oldest first, at most `asked` each):
/// the oldest `cap` deliveries (by their newest copy), and whether any are
/// left for the next request — beyond the cap, or beyond what a shard that
/// answered in full may hold.
pub fn to_retry(answers: &[Vec<(String, i64)>], asked: usize, cap: usize) -> (Vec<ToRetry>, bool) {
    // (key, newest time, shards), in no order yet.
    let mut found: Vec<(&str, i64, Vec<usize>)> = Vec::new();
    let mut oldest_left: Option<i64> = None;
    for (shard, keys) in answers.iter().enumerate() {
        if keys.len() >= asked {
            // This shard may hold more, all left no earlier than its last.
            let last = keys.last().map_or(i64::MIN, |(_, at)| *at);
            oldest_left = Some(oldest_left.map_or(last, |o| o.min(last)));
        }
        for (key, at) in keys {
            match found.iter_mut().find(|(k, ..)| *k == key.as_str()) {
                Some((_, newest, shards)) => {
                    *newest = (*newest).max(*at);
                    shards.push(shard);
                }
                None => found.push((key, *at, vec![shard])),
            }
        }
    }
    let mut taken = Vec::new();
    // The oldest first, picked one by one (no sort linked for a dozen).
    while taken.len() < cap {
        let Some(at) = (0..found.len()).min_by_key(|&i| found[i].1) else {
            break;
        };
        // Past the point where a full shard stopped, that shard may hold
        // older ones than this: leave the rest for the next request.
        if oldest_left.is_some_and(|left| found[at].1 > left) {
            break;
        }
        let (key, _, shards) = found.swap_remove(at);
        taken.push(ToRetry {
            key: key.to_owned(),
            shards,
        });
    }
    let more = !found.is_empty() || oldest_left.is_some();
    (taken, more)
}

/// Filters of a listing, as the admin API parsed them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub route: Option<String>,
    pub outcome: Option<String>,
    /// The record's event type, exactly.
    pub event_type: Option<String>,
    /// The start of the replay key (a webhook-id's first characters).
    pub key_prefix: Option<String>,
    /// Records last seen at or after this, Unix milliseconds.
    pub since_ms: Option<i64>,
    /// Records last seen at or before this, Unix milliseconds.
    pub until_ms: Option<i64>,
}

impl Filter {
    /// Whether a whole record (its parts combined) passes.
    pub fn passes(&self, record: &DeliveryRecord) -> bool {
        let is = |wanted: &Option<String>, value: &str| wanted.as_ref().is_none_or(|w| w == value);
        is(&self.route, &record.route)
            && is(&self.outcome, &record.outcome)
            && self
                .event_type
                .as_ref()
                .is_none_or(|kind| record.event_type.as_ref() == Some(kind))
            && self
                .key_prefix
                .as_ref()
                .is_none_or(|prefix| record.key.starts_with(prefix.as_str()))
            && self.since_ms.is_none_or(|since| record.last_seen >= since)
            && self.until_ms.is_none_or(|until| record.last_seen <= until)
    }
}

/// Where a page of a listing starts: after the record last seen at
/// `last_seen` whose newest part is at `row` (its shard and tie-break,
/// [`partial::position`]; newest first, ties by row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    pub last_seen: i64,
    pub row: i64,
}

impl Cursor {
    /// An opaque token for clients: `<last_seen>.<row>`.
    pub fn encode(&self) -> String {
        let mut token = self.last_seen.to_string();
        token.push('.');
        token.push_str(&self.row.to_string());
        token
    }

    pub fn decode(text: &str) -> Option<Self> {
        let (last_seen, row) = text.split_once('.')?;
        let digits =
            |t: &str| !t.is_empty() && t.len() <= 18 && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(last_seen) || !digits(row) {
            return None;
        }
        Some(Self {
            last_seen: last_seen.parse().ok()?,
            row: row.parse().ok()?,
        })
    }
}

/// How many `DeliveryLog` objects the log is spread over. Each isolate
/// writes to one, chosen at random when it starts, so a flush is one
/// request and each object takes about an eighth of the gate's batches;
/// every read asks them all. Never lowered: what a shard no longer read
/// holds would vanish from the admin API.
pub const SHARDS: usize = 8;

/// The name of a shard's object. The first is the object that held the
/// whole log before it had shards (`delivery-log`), so what it kept stays
/// readable and retryable after an upgrade.
pub fn shard_name(shard: usize) -> String {
    match shard {
        0 => "delivery-log".to_owned(),
        n => {
            let mut name = String::from("delivery-log-");
            name.push_str(&(n as u64).to_string());
            name
        }
    }
}

/// The most records one page holds, and the default.
pub const MAX_PAGE: u32 = 100;
pub const DEFAULT_PAGE: u32 = 50;

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(at_ms: i64, outcome: &str, status: Option<u16>) -> Fact {
        Fact {
            at_ms,
            outcome: outcome.into(),
            origin_status: status,
            duration_ms: 7,
        }
    }

    fn keys(list: &[(&str, i64)]) -> Vec<(String, i64)> {
        list.iter().map(|(k, at)| ((*k).to_owned(), *at)).collect()
    }

    #[test]
    fn a_bulk_retry_takes_the_oldest_once_each_from_the_shards_that_keep_it() {
        let answers = vec![
            keys(&[("a", 10), ("c", 30)]),
            keys(&[]),
            keys(&[("b", 20), ("c", 35)]),
        ];
        let (taken, more) = to_retry(&answers, 5, 10);
        let listed: Vec<(&str, &[usize])> = taken
            .iter()
            .map(|t| (t.key.as_str(), t.shards.as_slice()))
            .collect();
        assert_eq!(
            listed,
            [("a", &[0][..]), ("b", &[2][..]), ("c", &[0, 2][..])]
        );
        assert!(!more);
        // The cap: the oldest two now, the rest next time.
        let (taken, more) = to_retry(&answers, 5, 2);
        assert_eq!(
            taken.iter().map(|t| t.key.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(more);
    }

    #[test]
    fn a_shard_that_answered_in_full_holds_back_what_it_may_precede() {
        // Shard 0 answered its limit (2): it may hold more from 20 on, so
        // shard 1's key at 50 waits for the next request; the ones up to
        // 20 are taken.
        let answers = vec![keys(&[("a", 10), ("b", 20)]), keys(&[("z", 50)])];
        let (taken, more) = to_retry(&answers, 2, 10);
        assert_eq!(
            taken.iter().map(|t| t.key.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(more);
        let (taken, more) = to_retry(&[keys(&[]), keys(&[])], 2, 10);
        assert!(taken.is_empty() && !more);
    }

    #[test]
    fn a_history_round_trips_as_text_and_junk_is_refused() {
        let history = vec![
            fact(1_700_000_000_000, "origin-failed", Some(503)),
            fact(1_700_000_005_000, "origin-timeout", None),
            fact(1_700_000_065_000, "delivered", Some(200)),
        ];
        let text = encode_history(&history);
        assert_eq!(
            text,
            "1700000000000:origin-failed:503:7,1700000005000:origin-timeout::7,1700000065000:delivered:200:7"
        );
        assert_eq!(decode_history(&text), Some(history));
        assert_eq!(decode_history(""), Some(Vec::new()));
        // Any outcome text travels: the codec holds no reason codes to.
        let odd = vec![fact(1, "a:b,c %", None), fact(2, "", Some(200))];
        assert_eq!(decode_history(&encode_history(&odd)), Some(odd));
        for junk in [
            "x",
            "1:a:2",
            "1:a:2:3:4",
            "1:%zz:200:3",
            "a:b:200:3",
            "1:a:70000:3",
            "1:a:2:-3",
            ",",
            "1:a:2:3,",
        ] {
            assert_eq!(decode_history(junk), None, "{junk}");
        }
    }

    #[test]
    fn a_record_lists_its_newest_attempts_and_counts_them_all() {
        let mut record = None;
        for i in 0..25 {
            let attempt = Attempt {
                route: "/quo".into(),
                key: "msg_1".into(),
                scheme: "standard-webhooks".into(),
                event_type: None,
                at_ms: 1_000 + i,
                outcome: "origin-failed".into(),
                origin_status: Some(500),
                duration_ms: 3,
            };
            record = Some(DeliveryRecord::merge(record, &attempt));
        }
        let record = record.expect("record");
        assert_eq!(record.attempts, 25);
        assert_eq!(record.history.len(), HISTORY);
        assert_eq!(
            record.history[0].at_ms, 1_005,
            "the oldest five are dropped"
        );
        assert_eq!(record.history[HISTORY - 1].at_ms, 1_024);
    }

    #[test]
    fn only_deliveries_the_gate_worked_on_are_recorded() {
        assert!(records(Outcome::Delivered));
        assert!(records(Outcome::OriginFailed));
        assert!(records(Outcome::OriginTimeout));
        for counted in [
            Outcome::AlreadyDelivered,
            Outcome::InFlight,
            Outcome::BadSignature,
            Outcome::NotFound,
            Outcome::TooLarge,
            Outcome::Challenge,
            Outcome::Filtered,
        ] {
            assert!(!records(counted), "{counted:?}");
        }
    }

    #[test]
    fn delivered_is_never_hidden_by_a_later_failure() {
        assert_eq!(merged_outcome(None, "origin-failed"), "origin-failed");
        assert_eq!(
            merged_outcome(Some("origin-failed"), "delivered"),
            "delivered"
        );
        assert_eq!(
            merged_outcome(Some("delivered"), "origin-failed"),
            "delivered"
        );
    }

    #[test]
    fn a_dead_letter_stays_dead_until_the_event_moves_on() {
        for refused in [
            "store-unavailable",
            "queue-unavailable",
            "origin-failed",
            "origin-timeout",
            "internal-error",
        ] {
            assert_eq!(merged_outcome(Some("dead"), refused), "dead", "{refused}");
        }
        for onward in ["queued", "retrying", "delivered", "dead"] {
            assert_eq!(merged_outcome(Some("dead"), onward), onward);
        }
        let dead = DeliveryRecord::merge(None, &attempt("dead", 1_000, Some(500)));
        let copy = DeliveryRecord::merge(Some(dead), &attempt("store-unavailable", 2_000, None));
        assert_eq!(
            (copy.outcome.as_str(), copy.origin_status, copy.attempts),
            ("dead", Some(500), 2)
        );
        let requeued = DeliveryRecord::merge(Some(copy), &attempt("queued", 3_000, None));
        assert_eq!(requeued.outcome, "queued");
    }

    fn attempt(outcome: &str, at_ms: i64, status: Option<u16>) -> Attempt {
        Attempt {
            route: "/quo".into(),
            key: "msg_1".into(),
            scheme: "standard-webhooks".into(),
            event_type: Some("message.received".into()),
            at_ms,
            outcome: outcome.into(),
            origin_status: status,
            duration_ms: 10,
        }
    }

    #[test]
    fn attempts_merge_into_one_record() {
        let first = DeliveryRecord::merge(None, &attempt("origin-failed", 1_000, Some(503)));
        assert_eq!(
            (first.attempts, first.first_seen, first.last_seen),
            (1, 1_000, 1_000)
        );
        let second = DeliveryRecord::merge(Some(first), &attempt("delivered", 5_000, Some(200)));
        assert_eq!(second.attempts, 2);
        assert_eq!((second.first_seen, second.last_seen), (1_000, 5_000));
        assert_eq!(
            (second.outcome.as_str(), second.origin_status),
            ("delivered", Some(200))
        );
        // A copy's later failure (KV's race) does not hide the delivery.
        let third =
            DeliveryRecord::merge(Some(second), &attempt("origin-failed", 6_000, Some(500)));
        assert_eq!(
            (third.outcome.as_str(), third.origin_status),
            ("delivered", Some(200))
        );
        assert_eq!((third.attempts, third.last_seen), (3, 6_000));
    }

    #[test]
    fn cursors_round_trip_and_refuse_junk() {
        let cursor = Cursor {
            last_seen: 1_700_000_000_123,
            row: 42,
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        for junk in [
            "",
            ".",
            "1.",
            ".1",
            "a.b",
            "1.2.3",
            "-1.2",
            "1.2 ",
            "99999999999999999999.1",
        ] {
            assert_eq!(Cursor::decode(junk), None, "{junk:?}");
        }
    }
}
