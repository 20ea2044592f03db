//! Alerts: someone is told when events pile up as dead letters, when a
//! route's origin keeps failing, and when the replay store or the delivery
//! queue refuses (a daily limit reached), instead of finding out from the
//! dashboard days later.
//!
//! Pure: what a request or a queue attempt says ([`Memory::seen`]),
//! whether this isolate alerted of it in the current quiet period
//! ([`quiet_end`]), the location's mark that keeps the other isolates of
//! the location quiet for the rest of it ([`Alert::mark`]), and the signed
//! request itself ([`Alert::signed`]). The glue only sends what this
//! decides, after the answer; `edge.js` sends it unless the location's
//! cache already holds its mark (an isolate of the location sent it in this
//! period), and writes the mark first.
//!
//! The quiet periods are the clock's ten minutes (:00, :10, … UTC), the
//! same for every isolate: one that finds another's mark is quiet exactly as
//! long as the mark lasts, with nothing to learn from it, so no alert waits
//! for an answer from the cache.
//!
//! Nothing an alert says comes from a request but the route's configured
//! path: no body, signature, header or secret can reach it.

use crate::config::Config;
use crate::gate::{Handled, Incident};
use crate::keys::{hashed_name, SigningKey};
use crate::outcome::Outcome;
use crate::queue::{Attempted, Consumed, StoreRefusal};
use crate::route::Route;
use crate::schemes::standard_webhooks;

/// At most one alert per cause per route in each period this long (of the
/// clock, see [`quiet_end`]), so an outage makes one message every ten
/// minutes, not one per delivery.
pub const QUIET_MS: i64 = 600_000;

/// When the quiet period `at_ms` falls in ends: the next multiple of
/// [`QUIET_MS`] since the Unix epoch, the same for every isolate.
pub fn quiet_end(at_ms: i64) -> i64 {
    at_ms
        .div_euclid(QUIET_MS)
        .saturating_add(1)
        .saturating_mul(QUIET_MS)
}

/// This many failed forwards of a route within [`WINDOW_MS`] make an
/// alert: more than a blip (a deploy of the origin, one bad event retried),
/// and still found within minutes of an outage.
pub const FAILURES: usize = 10;

/// See [`FAILURES`].
pub const WINDOW_MS: i64 = 300_000;

/// The marks' names in the location's cache.
const MARK_PREFIX: &str = "alert/v1/";

/// Why an alert is sent. Each is `type` `hookgate.<name>` in the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// A queued event ran out of attempts (or its route is gone) and is kept
    /// as a dead letter until someone retries it.
    DeadLetter,
    /// The route's forwards failed [`FAILURES`] times within [`WINDOW_MS`]
    /// (the origin answered non-2xx, did not answer in time, or could not
    /// be reached).
    OriginFailures,
    /// The replay store refused a claim or a write: KV's daily write limit,
    /// or a store that is down.
    StoreRefused,
    /// The delivery queue refused an event: a Queues limit, or a queue that
    /// is down. The sender was asked to retry.
    QueueRefused,
}

impl Cause {
    /// The cause's name, as `cause` in the payload.
    pub fn name(self) -> &'static str {
        match self {
            Cause::DeadLetter => "dead_letter",
            Cause::OriginFailures => "origin_failures",
            Cause::StoreRefused => "store_refused",
            Cause::QueueRefused => "queue_refused",
        }
    }

    /// What is counted, and a hint, for the chat line.
    fn said(self) -> (&'static str, &'static str) {
        match self {
            Cause::DeadLetter => (
                "dead letters",
                "queued events out of attempts; retry them once the origin is back",
            ),
            Cause::OriginFailures => ("failed forwards within 5 minutes", "the origin is failing"),
            Cause::StoreRefused => (
                "refusals of the replay store",
                "KV's daily write limit, or the store is down",
            ),
            Cause::QueueRefused => (
                "refusals of the delivery queue",
                "a Queues limit, or the queue is down; senders retry",
            ),
        }
    }
}

/// Where a route's alerts go and what signs them: its `alert_url`, else
/// `ALERT_URL`; `ALERT_SECRET`, else its origin secret. `None` when it has
/// no alerts (the settings refuse a URL with no key). A route that is gone
/// (a queued event's) has only the global settings.
pub fn target<'a>(
    config: &'a Config,
    route: Option<&'a Route>,
) -> Option<(&'a str, &'a SigningKey)> {
    let url = route.and_then(|route| route.alert_url.as_deref());
    let url = url.or(config.alerts.url.as_deref())?;
    let key = config.alerts.key.as_ref();
    Some((
        url,
        key.or(route.and_then(|route| route.origin_key.as_ref()))?,
    ))
}

/// One alert to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub cause: Cause,
    /// The route's configured path.
    pub route: String,
    /// How many times the cause was seen: since this isolate last made this
    /// alert (sent, or found sent by another isolate of the location), or,
    /// for origin failures, within the window.
    pub count: u32,
    /// When, Unix milliseconds.
    pub at_ms: i64,
}

impl Alert {
    /// The location-cache entry whose presence says an isolate of the
    /// location sent this route's alert of this cause in this quiet period
    /// (it names the period, and is written to last [`Alert::mark_seconds`]).
    /// Hashed: a route's path is not a cache URL's.
    pub fn mark(&self) -> String {
        let period = self.at_ms.div_euclid(QUIET_MS);
        hashed_name(
            MARK_PREFIX,
            &format!("{} {period} {}", self.cause.name(), self.route),
        )
    }

    /// How long the mark lasts: to the end of the quiet period, in whole
    /// seconds (at least one).
    pub fn mark_seconds(&self) -> u64 {
        let left = quiet_end(self.at_ms).saturating_sub(self.at_ms);
        u64::try_from(left.saturating_add(999) / 1000).unwrap_or(1)
    }

    /// The chat line: Slack shows `text`, Discord `content`.
    pub fn text(&self) -> String {
        let (counted, hint) = self.cause.said();
        format!(
            "hookgate: route `{}`: {counted}: {} ({hint})",
            self.route, self.count
        )
    }

    /// The JSON payload. Every string is escaped by [`crate::json`].
    pub fn payload(&self) -> String {
        let text = crate::json::string(&self.text());
        format!(
            "{{\"type\":\"hookgate.{cause}\",\"cause\":\"{cause}\",\"route\":{route},\"count\":{count},\"time\":{time},\"text\":{text},\"content\":{text}}}",
            cause = self.cause.name(),
            route = crate::json::string(&self.route),
            count = self.count,
            time = self.at_ms,
        )
    }

    /// The request's headers and body, signed as Standard Webhooks with
    /// the code that re-signs forwards, so the receiver verifies an alert as
    /// the origin verifies a forward. The id names the cause, the route and
    /// period (16 hex digits of `mark`, this alert's [`Alert::mark`],
    /// which the caller has already) and the time: an isolate
    /// makes one alert of a cause and route per period, and two routes'
    /// alerts of one cause in the same millisecond (one queue batch) still
    /// differ, so a receiver that drops repeated ids drops neither.
    pub fn signed(&self, key: &SigningKey, mark: &str) -> (Vec<(&'static str, String)>, String) {
        let body = self.payload();
        let route = mark
            .get(MARK_PREFIX.len()..MARK_PREFIX.len() + 16)
            .unwrap_or("");
        let id = format!("alert_{}_{route}_{}", self.cause.name(), self.at_ms);
        let timestamp = self.at_ms.div_euclid(1000);
        let tag = key.tag(&standard_webhooks::prefix(&id, timestamp), body.as_bytes());
        let mut headers = vec![("content-type", "application/json".to_owned())];
        for header in standard_webhooks::headers_for(&id, timestamp, &tag) {
            headers.push(header);
        }
        (headers, body)
    }
}

/// What one isolate remembers of one route.
#[derive(Debug)]
struct Watch {
    route: String,
    /// The newest failed forwards' times, at most [`FAILURES`] of them.
    failures: Vec<i64>,
    next: usize,
    /// Per cause: until when this isolate stays quiet, and what it saw
    /// since its last alert.
    quiet_until: [i64; 4],
    seen: [u32; 4],
}

/// What [`Memory::seen`] looks at.
#[derive(Debug, Clone, Copy)]
pub enum Seen<'a> {
    /// A request the gate handled.
    Request(&'a Handled),
    /// A queue consumer attempt.
    Attempt(&'a Attempted),
}

/// What one isolate remembers for alerts: a few numbers per route, so a
/// delivery costs nothing beyond them (no store write, no request).
#[derive(Debug, Default)]
pub struct Memory {
    watches: Vec<Watch>,
}

impl Memory {
    /// Nothing remembered yet (`const`, for the isolate's `thread_local`).
    pub const fn new() -> Self {
        Self {
            watches: Vec::new(),
        }
    }

    fn watch(&mut self, route: &str) -> &mut Watch {
        let at = match self.watches.iter().position(|w| w.route == route) {
            Some(at) => at,
            None => {
                self.watches.push(Watch {
                    route: route.to_owned(),
                    failures: Vec::new(),
                    next: 0,
                    quiet_until: [i64::MIN; 4],
                    seen: [0; 4],
                });
                self.watches.len() - 1
            }
        };
        &mut self.watches[at]
    }

    /// One occurrence of `cause` on `route`: its alert, unless this isolate
    /// made one of it for the route in this quiet period (whether it or
    /// another isolate of the location then sent it).
    pub fn occurred(&mut self, route: &str, cause: Cause, now: i64) -> Option<Alert> {
        let watch = self.watch(route);
        let i = cause as usize;
        watch.seen[i] = watch.seen[i].saturating_add(1);
        if now < watch.quiet_until[i] {
            return None;
        }
        watch.quiet_until[i] = quiet_end(now);
        Some(Alert {
            cause,
            route: route.to_owned(),
            count: std::mem::take(&mut watch.seen[i]),
            at_ms: now,
        })
    }

    /// A failed forward: once [`FAILURES`] of them fall within
    /// [`WINDOW_MS`], the origin-failures alert (as [`Memory::occurred`]
    /// lets it).
    pub fn failed(&mut self, route: &str, now: i64) -> Option<Alert> {
        let watch = self.watch(route);
        // A ring of the newest FAILURES; once full, `next` is the oldest.
        let kept = &mut watch.failures;
        if kept.len() < FAILURES {
            kept.push(now);
        } else {
            kept[watch.next] = now;
            watch.next = (watch.next + 1) % FAILURES;
        }
        let crossed = kept.len() == FAILURES && now.saturating_sub(kept[watch.next]) < WINDOW_MS;
        if !crossed {
            return None;
        }
        let alert = self.occurred(route, Cause::OriginFailures, now)?;
        Some(Alert {
            count: FAILURES as u32,
            ..alert
        })
    }

    /// What a request the gate handled, or a queue consumer attempt, on
    /// `route` says: a failed forward counts towards the threshold; a dead
    /// letter, or a refusal of the store or the queue, is an alert's cause.
    pub fn seen(&mut self, route: &str, seen: Seen<'_>, now: i64) -> Vec<Alert> {
        let (failed, store, queue, dead) = match seen {
            Seen::Request(handled) => (
                matches!(
                    handled.outcome,
                    Outcome::OriginFailed | Outcome::OriginTimeout
                ),
                handled.outcome == Outcome::StoreUnavailable
                    || handled
                        .incidents
                        .iter()
                        .any(|i| matches!(i, Incident::MarkDoneFailed | Incident::ReleaseFailed)),
                handled.outcome == Outcome::QueueUnavailable,
                false,
            ),
            Seen::Attempt(attempted) => (
                attempted.route.is_some()
                    && attempted.store_refused != Some(StoreRefusal::Claim)
                    && matches!(attempted.consumed, Consumed::Retrying | Consumed::Dead),
                attempted.store_refused.is_some(),
                false,
                attempted.consumed == Consumed::Dead,
            ),
        };
        let mut alerts = Vec::new();
        let failures = failed.then(|| self.failed(route, now));
        // Pushed one by one: no `extend` instance for an `Option`.
        if let Some(Some(alert)) = failures {
            alerts.push(alert);
        }
        for (cause, happened) in [
            (Cause::StoreRefused, store),
            (Cause::QueueRefused, queue),
            (Cause::DeadLetter, dead),
        ] {
            if let Some(alert) = happened.then(|| self.occurred(route, cause, now)).flatten() {
                alerts.push(alert);
            }
        }
        alerts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schemes::standard_webhooks::{parse_key, verify};
    use crate::setting::ConfigError;
    use crate::testing::{ORIGIN_KEY, ROTATED_KEY, VECTOR_KEY};
    use std::collections::HashMap;

    const NOW: i64 = 1_795_757_561_000;
    /// The start of the quiet period NOW falls in (161 s before it).
    const START: i64 = 1_795_757_400_000;

    /// A single-route gate's settings with `pairs` over them, read.
    fn read(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut settings: HashMap<String, String> = HashMap::from([
            ("WEBHOOK_SECRET".to_owned(), VECTOR_KEY.to_owned()),
            ("ORIGIN_URL".to_owned(), "http://127.0.0.1:9/in".to_owned()),
        ]);
        for (name, value) in pairs {
            settings.insert((*name).to_owned(), (*value).to_owned());
        }
        Config::from_settings(|name| settings.get(name).cloned())
    }

    fn config(pairs: &[(&str, &str)]) -> Config {
        read(pairs).expect("valid")
    }

    fn config_err(pairs: &[(&str, &str)]) -> ConfigError {
        read(pairs).expect_err("invalid")
    }

    fn handled(outcome: Outcome, incidents: Vec<Incident>) -> Handled {
        Handled {
            outcome,
            route: Some(0),
            scheme: None,
            key: Some("msg_1".into()),
            event_type: None,
            origin_status: None,
            body_bytes: None,
            challenge: None,
            retry_after: None,
            incidents,
        }
    }

    fn attempted(consumed: Consumed, store_refused: Option<StoreRefusal>) -> Attempted {
        Attempted {
            consumed,
            verdict: crate::queue::Verdict::Ack,
            route: Some(0),
            origin_status: None,
            store_refused,
        }
    }

    #[test]
    fn one_alert_per_cause_and_route_in_ten_minutes_with_what_it_held_back() {
        assert_eq!(START % QUIET_MS, 0);
        let mut memory = Memory::default();
        let first = memory
            .occurred("/quo", Cause::DeadLetter, START)
            .expect("the first");
        assert_eq!(first.count, 1);
        for later in [1, 60_000, QUIET_MS - 1] {
            assert_eq!(
                memory.occurred("/quo", Cause::DeadLetter, START + later),
                None
            );
        }
        // Another cause, another route: each its own.
        assert!(memory
            .occurred("/quo", Cause::StoreRefused, START + 2)
            .is_some());
        assert!(memory
            .occurred("/gh", Cause::DeadLetter, START + 3)
            .is_some());
        let next = memory
            .occurred("/quo", Cause::DeadLetter, START + QUIET_MS)
            .expect("the next period");
        assert_eq!(next.count, 4, "the three held back, and this one");
        // The periods are the clock's: an alert late in one is followed by
        // one early in the next.
        let late = START + 2 * QUIET_MS - 1_000;
        assert!(memory.occurred("/gh", Cause::DeadLetter, late).is_some());
        assert!(memory
            .occurred("/gh", Cause::DeadLetter, late + 1_000)
            .is_some());
    }

    #[test]
    fn the_quiet_periods_are_the_clocks_so_isolates_agree_on_them() {
        assert_eq!(quiet_end(START), START + QUIET_MS);
        assert_eq!(quiet_end(NOW), START + QUIET_MS);
        assert_eq!(quiet_end(START + QUIET_MS - 1), START + QUIET_MS);
        assert_eq!(quiet_end(START - 1), START);
        // Isolate A alerts early in a period; B, which saw nothing until
        // nine minutes in, makes the same alert with the same mark (which
        // edge.js finds, so B sends nothing), lasting the minute left: then
        // both are quiet until the same moment, and B's next one, in the
        // next period, has a mark of its own.
        let (mut a, mut b) = (Memory::default(), Memory::default());
        let from_a = a
            .occurred("/quo", Cause::DeadLetter, START + 10)
            .expect("A");
        let from_b = b
            .occurred("/quo", Cause::DeadLetter, START + 540_000)
            .expect("B");
        assert_eq!(from_a.mark(), from_b.mark());
        assert_eq!((from_a.mark_seconds(), from_b.mark_seconds()), (600, 60));
        assert_eq!(
            b.occurred("/quo", Cause::DeadLetter, START + QUIET_MS - 1),
            None
        );
        let next = b
            .occurred("/quo", Cause::DeadLetter, START + QUIET_MS)
            .expect("B, as soon as the period ends");
        assert_eq!(next.count, 2, "with the one held back");
        assert_ne!(next.mark(), from_b.mark());
        assert_eq!(next.mark_seconds(), 600);
        // Never less than a second.
        let last = Alert {
            at_ms: START + QUIET_MS - 1,
            ..next
        };
        assert_eq!(last.mark_seconds(), 1);
    }

    #[test]
    fn failures_alert_once_they_cross_the_threshold_within_the_window() {
        let mut memory = Memory::default();
        // Spread wider than the window: never ten within it.
        for i in 0..30 {
            assert_eq!(memory.failed("/quo", NOW + i * 40_000), None, "{i}");
        }
        let start = NOW + 10_000_000;
        for i in 0..9 {
            assert_eq!(memory.failed("/quo", start + i), None);
        }
        let alert = memory.failed("/quo", start + 9).expect("the tenth");
        assert_eq!((alert.cause, alert.count), (Cause::OriginFailures, 10));
        assert_eq!(memory.failed("/quo", start + 10), None, "quiet now");
        assert_eq!(
            memory.watches[0].failures.len(),
            10,
            "bounded by the threshold"
        );
        // Once the quiet is over, the ring still holds the ten old failures:
        // one more failure does not alert, since those are outside the
        // window by then; nine more within it do.
        let later = start + WINDOW_MS + QUIET_MS;
        assert_eq!(memory.failed("/quo", later), None, "the window moved on");
        for i in 1..9 {
            assert_eq!(memory.failed("/quo", later + i), None, "{i}");
        }
        let again = memory
            .failed("/quo", later + 9)
            .expect("ten within the window");
        assert_eq!(again.count, 10);
    }

    #[test]
    fn a_request_names_its_causes() {
        let mut memory = Memory::default();
        for i in 0..FAILURES as i64 - 2 {
            assert_eq!(memory.failed("/", NOW - 100 + i), None);
        }
        let causes = |memory: &mut Memory, handled: &Handled, now| -> Vec<Cause> {
            memory
                .seen("/", Seen::Request(handled), now)
                .iter()
                .map(|a| a.cause)
                .collect()
        };
        let failed = handled(Outcome::OriginFailed, vec![Incident::OriginStatus(503)]);
        assert_eq!(causes(&mut memory, &failed, NOW), []);
        let timed_out = handled(Outcome::OriginTimeout, vec![Incident::ReleaseFailed]);
        assert_eq!(
            causes(&mut memory, &timed_out, NOW + 1),
            [Cause::OriginFailures, Cause::StoreRefused]
        );
        let unmarked = handled(Outcome::Delivered, vec![Incident::MarkDoneFailed]);
        assert_eq!(
            causes(&mut Memory::default(), &unmarked, NOW),
            [Cause::StoreRefused]
        );
        let claim = handled(Outcome::StoreUnavailable, vec![Incident::ClaimFailed]);
        assert_eq!(
            causes(&mut Memory::default(), &claim, NOW),
            [Cause::StoreRefused]
        );
        let queue = handled(Outcome::QueueUnavailable, vec![Incident::QueueRefused]);
        assert_eq!(
            causes(&mut Memory::default(), &queue, NOW),
            [Cause::QueueRefused]
        );
        for quiet in [
            Outcome::Delivered,
            Outcome::BadSignature,
            Outcome::CoolingDown,
        ] {
            assert_eq!(
                causes(&mut Memory::default(), &handled(quiet, vec![]), NOW),
                []
            );
        }
    }

    #[test]
    fn a_queue_attempt_names_its_causes() {
        let causes = |attempted: &Attempted| -> Vec<Cause> {
            let mut memory = Memory::default();
            for i in 0..FAILURES as i64 - 1 {
                memory.failed("/", NOW - 100 + i);
            }
            memory
                .seen("/", Seen::Attempt(attempted), NOW)
                .iter()
                .map(|a| a.cause)
                .collect()
        };
        assert_eq!(
            causes(&attempted(Consumed::Retrying, None)),
            [Cause::OriginFailures]
        );
        assert_eq!(
            causes(&attempted(Consumed::Dead, None)),
            [Cause::OriginFailures, Cause::DeadLetter]
        );
        // A refused claim: nothing was forwarded, so no origin failure.
        assert_eq!(
            causes(&attempted(Consumed::Retrying, Some(StoreRefusal::Claim))),
            [Cause::StoreRefused]
        );
        // A refused release after a failed forward: both.
        assert_eq!(
            causes(&attempted(Consumed::Retrying, Some(StoreRefusal::Settle))),
            [Cause::OriginFailures, Cause::StoreRefused]
        );
        // A refused done mark after a delivered forward.
        assert_eq!(
            causes(&attempted(Consumed::Delivered, Some(StoreRefusal::Settle))),
            [Cause::StoreRefused]
        );
        // From the dead-letter queue, or a route that is gone: no forward.
        let moved = Attempted {
            route: None,
            ..attempted(Consumed::Dead, None)
        };
        assert_eq!(causes(&moved), [Cause::DeadLetter]);
        assert_eq!(causes(&attempted(Consumed::Delivered, None)), []);
        assert_eq!(causes(&attempted(Consumed::InFlight, None)), []);
    }

    #[test]
    fn an_alerts_mark_is_one_per_cause_and_route_and_a_cache_url() {
        let alert = |cause, route: &str| Alert {
            cause,
            route: route.into(),
            count: 1,
            at_ms: NOW,
        };
        let mark = alert(Cause::DeadLetter, "/quo").mark();
        assert_eq!(
            mark,
            Alert {
                at_ms: NOW + 1,
                count: 7,
                ..alert(Cause::DeadLetter, "/quo")
            }
            .mark()
        );
        assert_ne!(mark, alert(Cause::OriginFailures, "/quo").mark());
        assert_ne!(mark, alert(Cause::DeadLetter, "/quo/").mark());
        let next_period = Alert {
            at_ms: NOW + QUIET_MS,
            ..alert(Cause::DeadLetter, "/quo")
        };
        assert_ne!(mark, next_period.mark(), "one per period");
        assert!(mark.starts_with("alert/v1/"));
        let spelt = &mark["alert/v1/".len()..];
        assert!(spelt.bytes().all(|b| b.is_ascii_hexdigit()), "{mark}");
    }

    #[test]
    fn an_alert_is_signed_json_that_slack_and_discord_show() {
        let alert = Alert {
            cause: Cause::OriginFailures,
            route: "/quo&<b>".into(),
            count: 10,
            at_ms: NOW,
        };
        let key = parse_key(ORIGIN_KEY).expect("key");
        let (headers, body) = alert.signed(&key, &alert.mark());
        let value: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(value["type"], "hookgate.origin_failures");
        assert_eq!(value["cause"], "origin_failures");
        assert_eq!(value["route"], "/quo&<b>");
        assert_eq!(value["count"], 10);
        assert_eq!(value["time"], NOW);
        let text = value["text"].as_str().expect("text");
        assert!(
            text.starts_with("hookgate: route `/quo&<b>`: failed forwards within 5 minutes: 10 ("),
            "{text}"
        );
        assert_eq!(value["content"], value["text"], "Discord's field");
        let header = |name| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
                .expect(name)
        };
        assert_eq!(header("content-type"), "application/json");
        assert_eq!(header("webhook-timestamp"), (NOW / 1000).to_string());
        let check = |keys: &str| {
            verify(
                &standard_webhooks::parse_keys(keys).expect("keys"),
                header("webhook-id"),
                header("webhook-timestamp"),
                header("webhook-signature"),
                body.as_bytes(),
                NOW / 1000,
                300,
            )
        };
        assert_eq!(check(ORIGIN_KEY), Ok(()));
        assert!(check(ROTATED_KEY).is_err());
        assert!(standard_webhooks::id_is_valid(header("webhook-id")));
        // The id names the cause, the route and the time: another route's
        // alert of the same cause in the same millisecond has its own.
        let id = header("webhook-id").to_owned();
        let hash = &alert.mark()["alert/v1/".len()..][..16];
        assert_eq!(id, format!("alert_origin_failures_{hash}_{NOW}"));
        let other = Alert {
            route: "/other".into(),
            ..alert.clone()
        };
        let (other_headers, _) = other.signed(&key, &other.mark());
        let other_id = &other_headers
            .iter()
            .find(|(n, _)| *n == "webhook-id")
            .expect("id")
            .1;
        assert_ne!(other_id, &id);
    }

    #[test]
    fn alerts_go_to_the_routes_url_else_alert_url_signed_by_alert_secret_else_the_origins() {
        let routes = r#"{
            "/a": {"scheme": "github", "secret": "S", "origin": "http://o/", "alert_url": "https://alerts.example/a"},
            "/b": {"scheme": "github", "secret": "S", "origin": "http://o/", "origin_secret": "O", "alert_url": "https://hooks.example/b"},
            "/c": {"scheme": "github", "secret": "S", "origin": "http://o/", "origin_secret": "O"}
        }"#;
        let base = [
            ("ROUTES", routes),
            ("S", "a secret"),
            ("O", ORIGIN_KEY),
            ("ALERT_URL", "https://alerts.example/all"),
            ("ALERT_SECRET", ROTATED_KEY),
        ];
        let map: HashMap<&str, &str> = HashMap::from(base);
        let config =
            Config::from_settings(|name| map.get(name).map(|v| (*v).to_owned())).expect("valid");
        let of = |i: usize| {
            target(&config, config.routes.get(i)).map(|(url, key)| (url.to_owned(), key.clone()))
        };
        let alert_key = parse_key(ROTATED_KEY).expect("key");
        assert_eq!(
            of(0),
            Some(("https://alerts.example/a".into(), alert_key.clone()))
        );
        assert_eq!(
            of(1),
            Some(("https://hooks.example/b".into(), alert_key.clone()))
        );
        assert_eq!(
            of(2),
            Some(("https://alerts.example/all".into(), alert_key.clone()))
        );
        assert_eq!(
            of(9),
            Some(("https://alerts.example/all".into(), alert_key)),
            "a route that is gone"
        );
        // Without ALERT_SECRET each route's origin secret signs; a route
        // with none makes ALERT_SECRET required.
        let without = |drop: &[&str]| {
            let mut map = map.clone();
            for name in drop {
                map.remove(name);
            }
            Config::from_settings(|name| map.get(name).map(|v| (*v).to_owned()))
        };
        let error = without(&["ALERT_SECRET"]).expect_err("/a has no key");
        assert_eq!(error.place, crate::setting::Place::Setting("ALERT_SECRET"));
        assert_eq!(error.rule, crate::setting::Rule::AlertUnsigned);
        assert!(error.to_string().contains("origin_secret"), "{error}");
        let single = config_err(&[("ALERT_URL", "https://alerts.example/")]);
        assert_eq!(
            single,
            ConfigError::setting("ALERT_SECRET", crate::setting::Rule::AlertUnsigned)
        );
        let signed_by_origin = self::config(&[
            ("ALERT_URL", "https://alerts.example/"),
            ("ORIGIN_SECRET", ORIGIN_KEY),
        ]);
        let (_, key) = target(&signed_by_origin, signed_by_origin.routes.first()).expect("target");
        assert_eq!(Some(key), signed_by_origin.routes[0].origin_key.as_ref());
        assert_eq!(target(&self::config(&[]), None), None, "no alerts");
    }

    #[test]
    fn alert_urls_are_checked_as_origins_are() {
        use crate::setting::{Rule, UrlRule};
        for (url, rule) in [
            ("hooks.slack.com/x", UrlRule::NotHttp),
            ("https://user:pass@alerts.example/", UrlRule::Credentials),
            ("https://alerts.example/#x", UrlRule::Fragment),
        ] {
            assert_eq!(
                config_err(&[("ALERT_URL", url), ("ALERT_SECRET", ROTATED_KEY)]),
                ConfigError::setting("ALERT_URL", Rule::Url(rule)),
                "{url}"
            );
        }
        assert_eq!(
            config_err(&[
                ("ALERT_URL", "https://a.example/"),
                ("ALERT_SECRET", "whsec_")
            ]),
            ConfigError::setting("ALERT_SECRET", Rule::Key(crate::keys::KeyError::ZeroLength))
        );
        assert_eq!(config(&[]).alerts.url, None);
    }
}
