//! How a delivery ended, and the one place that turns that into an HTTP answer.
//!
//! The sender reads only the status: 2xx stops its retries, anything else
//! schedules another attempt. So every status here is chosen for what it makes
//! the sender do, and the origin's own status is never relayed (a relayed 410
//! would make the sender disable the endpoint).

/// Every way a delivery can end. Each maps to exactly one status and one
/// stable `reason` code that clients may match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Verified and accepted by the origin with a 2xx.
    Delivered,
    /// Verified, but this webhook-id was already delivered: a sender retry
    /// or a replay. Answered 200 so the sender stops; not forwarded again.
    AlreadyDelivered,
    /// Another copy of this webhook-id is being forwarded right now.
    InFlight,
    /// A forward of this replay key failed a moment ago: copies wait out a
    /// cool-down (`Retry-After` says how long) before the store or the
    /// origin is asked again.
    CoolingDown,
    /// A verified Slack `url_verification` handshake, answered with its
    /// challenge and not forwarded.
    Challenge,
    /// Verified, but of an event type the route's `events` leaves out:
    /// answered 200 so the sender stops, never stored or forwarded.
    Filtered,
    /// Verified, but the route is paused (admin API): nothing was claimed
    /// or forwarded, and the sender is asked to retry after
    /// `Retry-After`. A queue route queues its events instead, unless a body
    /// is too large for the queue.
    Paused,
    /// Verified and safely in the delivery queue (queue mode); the consumer
    /// forwards it.
    Queued,
    /// Verified, but the delivery queue refused it; nothing was queued or
    /// forwarded, and the sender's retry will be accepted.
    QueueUnavailable,
    /// The request is not for a route's path.
    NotFound,
    /// The webhook path was called with a method other than POST.
    MethodNotAllowed,
    /// The body is larger than `MAX_BODY_BYTES`.
    TooLarge,
    /// The body could not be read to its end (the client went away).
    BadBody,
    /// The body took longer than hookgate waits for one.
    BodyTimeout,
    /// A header the route's scheme requires is absent or empty.
    MissingHeader,
    /// The signed id is empty, too long, or holds `.`, a non-printable byte
    /// or spaces at either end.
    BadId,
    /// The signature's timestamp is not a whole number in plain digits
    /// (no sign, space, fraction or leading zero).
    BadTimestamp,
    /// The timestamp is older than the tolerance allows.
    StaleTimestamp,
    /// The timestamp is further ahead than the tolerance allows.
    FutureTimestamp,
    /// No signature in the scheme's header matches any key.
    BadSignature,
    /// The origin answered with a non-2xx status or could not be reached.
    OriginFailed,
    /// The origin did not answer within `ORIGIN_TIMEOUT_MS`.
    OriginTimeout,
    /// The replay store could not be read or written; nothing was forwarded.
    StoreUnavailable,
    /// A setting is missing or invalid; the log names it.
    Misconfigured,
    /// The runtime failed to compute an HMAC; nothing was forwarded.
    Internal,
}

/// Seconds a sender should wait before retrying a delivery that is in flight
/// or that met an unavailable store.
pub const RETRY_AFTER_SECONDS: u32 = 30;

use crate::json;
use crate::schemes::{standard_webhooks, Scheme, Sender};
use std::borrow::Cow;

/// The HTTP answer for one outcome, free of any worker type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    /// Extra headers, such as `Retry-After` and `Allow`.
    pub headers: Vec<(&'static str, String)>,
}

impl Outcome {
    /// The stable machine-readable code, also used in logs.
    pub fn reason(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::AlreadyDelivered => "duplicate",
            Outcome::Challenge => "challenge",
            Outcome::Filtered => "filtered",
            Outcome::Queued => "queued",
            Outcome::Paused => "paused",
            Outcome::QueueUnavailable => "queue-unavailable",
            Outcome::InFlight => "in-flight",
            Outcome::CoolingDown => "cooling-down",
            Outcome::NotFound => "not-found",
            Outcome::MethodNotAllowed => "method-not-allowed",
            Outcome::TooLarge => "too-large",
            Outcome::BadBody => "bad-body",
            Outcome::BodyTimeout => "body-timeout",
            Outcome::MissingHeader => "missing-header",
            Outcome::BadId => "bad-id",
            Outcome::BadTimestamp => "bad-timestamp",
            Outcome::StaleTimestamp => "stale-timestamp",
            Outcome::FutureTimestamp => "future-timestamp",
            Outcome::BadSignature => "bad-signature",
            Outcome::OriginFailed => "origin-failed",
            Outcome::OriginTimeout => "origin-timeout",
            Outcome::StoreUnavailable => "store-unavailable",
            Outcome::Misconfigured => "misconfigured",
            Outcome::Internal => "internal-error",
        }
    }

    pub fn status(self) -> u16 {
        match self {
            Outcome::Delivered
            | Outcome::AlreadyDelivered
            | Outcome::Challenge
            | Outcome::Filtered => 200,
            Outcome::Queued => 202,
            Outcome::BadId | Outcome::BadBody => 400,
            Outcome::MissingHeader
            | Outcome::BadTimestamp
            | Outcome::StaleTimestamp
            | Outcome::FutureTimestamp
            | Outcome::BadSignature => 401,
            Outcome::NotFound => 404,
            Outcome::MethodNotAllowed => 405,
            Outcome::BodyTimeout => 408,
            Outcome::InFlight => 409,
            Outcome::TooLarge => 413,
            Outcome::Misconfigured | Outcome::Internal => 500,
            Outcome::OriginFailed => 502,
            Outcome::StoreUnavailable
            | Outcome::QueueUnavailable
            | Outcome::CoolingDown
            | Outcome::Paused => 503,
            Outcome::OriginTimeout => 504,
        }
    }

    /// A human sentence for the problem body. Fixed text only: no header
    /// value, signature, secret or origin body can reach a sender through
    /// it. Texts that name headers come from the route's scheme, or from an
    /// `hmac` route's settings (header names, never values).
    fn detail(self, sender: Option<Sender<'_>>) -> Cow<'static, str> {
        match (self, sender) {
            (Outcome::MissingHeader, Some(sender)) => sender.missing_header_detail(),
            (Outcome::BadSignature, Some(sender)) => sender.bad_signature_detail(),
            _ => Cow::Borrowed(self.fixed_detail()),
        }
    }

    /// [`Outcome::detail`] without a route.
    fn fixed_detail(self) -> &'static str {
        match self {
            Outcome::Delivered => "The event was verified and delivered.",
            Outcome::AlreadyDelivered => {
                "This event was already delivered; it was not forwarded again."
            }
            Outcome::Challenge => "The handshake was verified.",
            Outcome::Filtered => "The event was verified; this endpoint does not forward its type.",
            Outcome::Queued => "The event was verified and queued for delivery.",
            Outcome::Paused => "This endpoint is paused; retry later.",
            Outcome::QueueUnavailable => {
                "The delivery queue is unavailable; nothing was queued. Retry later."
            }
            Outcome::InFlight => "Another copy of this event is being delivered; retry later.",
            Outcome::CoolingDown => {
                "A delivery of this event failed a moment ago; retry after the time Retry-After gives."
            }
            Outcome::NotFound => "No webhook endpoint at this path.",
            Outcome::MethodNotAllowed => "Webhook deliveries must be POST requests.",
            Outcome::TooLarge => "The body is larger than this endpoint accepts.",
            Outcome::BadBody => "The request body could not be read.",
            Outcome::BodyTimeout => "The request body took too long to arrive.",
            Outcome::MissingHeader => "A signature header is required.",
            Outcome::BadId => standard_webhooks::BAD_ID,
            Outcome::BadTimestamp => "The signature's timestamp must be a whole number in plain digits, without a leading zero.",
            Outcome::StaleTimestamp => "The signature's timestamp is too far in the past.",
            Outcome::FutureTimestamp => "The signature's timestamp is too far in the future.",
            Outcome::BadSignature => "No signature matches.",
            Outcome::OriginFailed => "The origin did not accept the event; retry later.",
            Outcome::OriginTimeout => "The origin did not answer in time; retry later.",
            Outcome::StoreUnavailable => {
                "The replay store is unavailable; nothing was forwarded. Retry later."
            }
            Outcome::Misconfigured => "The gate is misconfigured; its log names the setting.",
            Outcome::Internal => {
                "The gate could not compute a signature; nothing was forwarded. Retry later."
            }
        }
    }

    /// The answer to a sender. `scheme` is the route's, when the request
    /// reached one: problem texts then name that sender's headers.
    pub fn answer(self, scheme: Option<Scheme>) -> Answer {
        self.answer_after(scheme, None)
    }

    /// [`Outcome::answer`], with the wait a cool-down asks for: a
    /// `retry_after` of its own replaces the usual [`RETRY_AFTER_SECONDS`].
    pub fn answer_after(self, scheme: Option<Scheme>, retry_after: Option<u64>) -> Answer {
        self.answer_to(scheme.map(Sender::Named), retry_after)
    }

    /// [`Outcome::answer_after`] for a route's sender: an `hmac` route's
    /// problem texts name the headers its settings name.
    pub fn answer_to(self, sender: Option<Sender<'_>>, retry_after: Option<u64>) -> Answer {
        let status = self.status();
        let mut headers = Vec::new();
        if matches!(
            self,
            Outcome::InFlight
                | Outcome::StoreUnavailable
                | Outcome::QueueUnavailable
                | Outcome::CoolingDown
                | Outcome::Paused
        ) {
            let seconds = retry_after.unwrap_or(u64::from(RETRY_AFTER_SECONDS));
            headers.push(("retry-after", seconds.to_string()));
        }
        if self == Outcome::MethodNotAllowed {
            headers.push(("allow", "POST".to_owned()));
        }
        if status == 200 || status == 202 {
            let mut body = String::from(r#"{"status":""#);
            body.push_str(self.reason());
            body.push_str(r#""}"#);
            return Answer {
                status,
                content_type: "application/json",
                body,
                headers,
            };
        }
        let mut answer = problem(status, self.reason(), &self.detail(sender));
        answer.headers = headers;
        answer
    }
}

/// A problem+json answer (RFC 9457) with hookgate's stable `reason` code.
pub fn problem(status: u16, reason: &str, detail: &str) -> Answer {
    // Pieces pushed, not `format!`: the status is written by the one
    // integer routine the module's other numbers use (u64's), with no u16 one.
    let mut body = String::from(r#"{"type":"about:blank","title":""#);
    body.push_str(title(status));
    body.push_str(r#"","status":"#);
    body.push_str(&u64::from(status).to_string());
    body.push_str(r#","reason":"#);
    json::push_str(&mut body, reason);
    body.push_str(r#","detail":"#);
    json::push_str(&mut body, detail);
    body.push('}');
    Answer {
        status,
        content_type: "application/problem+json",
        body,
        headers: Vec::new(),
    }
}

/// The answer to a verified Slack `url_verification`: its challenge, as
/// Slack expects it back.
pub fn challenge_answer(challenge: &str) -> Answer {
    let mut body = String::from(r#"{"challenge":"#);
    json::push_str(&mut body, challenge);
    body.push('}');
    Answer {
        status: 200,
        content_type: "application/json",
        body,
        headers: Vec::new(),
    }
}

fn title(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Content Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Every outcome (`every_outcome_is_in_all` keeps it so).
    pub(crate) const ALL: [Outcome; 25] = [
        Outcome::Paused,
        Outcome::Filtered,
        Outcome::Queued,
        Outcome::QueueUnavailable,
        Outcome::Delivered,
        Outcome::AlreadyDelivered,
        Outcome::Challenge,
        Outcome::BodyTimeout,
        Outcome::InFlight,
        Outcome::CoolingDown,
        Outcome::NotFound,
        Outcome::MethodNotAllowed,
        Outcome::TooLarge,
        Outcome::BadBody,
        Outcome::MissingHeader,
        Outcome::BadId,
        Outcome::BadTimestamp,
        Outcome::StaleTimestamp,
        Outcome::FutureTimestamp,
        Outcome::BadSignature,
        Outcome::OriginFailed,
        Outcome::OriginTimeout,
        Outcome::StoreUnavailable,
        Outcome::Misconfigured,
        Outcome::Internal,
    ];

    #[test]
    fn every_answer_is_valid_json_with_its_reason() {
        for (outcome, scheme) in ALL.iter().flat_map(|o| {
            std::iter::once(None)
                .chain(Scheme::ALL.into_iter().map(Some))
                .map(move |s| (*o, s))
        }) {
            let answer = outcome.answer(scheme);
            let body: serde_json::Value = serde_json::from_str(&answer.body).expect("JSON body");
            if answer.status == 200 || answer.status == 202 {
                assert_eq!(body["status"], outcome.reason());
            } else {
                assert_eq!(answer.content_type, "application/problem+json");
                assert_eq!(body["reason"], outcome.reason());
                assert_eq!(body["status"], answer.status);
            }
        }
    }

    #[test]
    fn a_missing_header_names_the_routes_own_headers() {
        let github = Outcome::MissingHeader.answer(Some(Scheme::Github)).body;
        assert!(github.contains("x-hub-signature-256"), "{github}");
        assert!(!github.contains("webhook-"), "{github}");
        let standard = Outcome::MissingHeader
            .answer(Some(Scheme::StandardWebhooks))
            .body;
        assert!(standard.contains("webhook-signature"), "{standard}");
    }

    #[test]
    fn the_challenge_is_echoed_as_json_and_escaped() {
        let answer = challenge_answer("abc\"</script>");
        assert_eq!(answer.status, 200);
        let body: serde_json::Value = serde_json::from_str(&answer.body).expect("JSON");
        assert_eq!(body["challenge"], "abc\"</script>");
        assert!(!answer.body.contains('<'));
    }

    #[test]
    fn the_entrys_answer_for_a_trap_is_internal_errors() {
        // src/js/shim.js answers a request whose work trapped with this
        // outcome's body; it holds a copy, which must not drift.
        let shim = include_str!("js/shim.js");
        let body = Outcome::Internal.answer(None).body;
        assert!(shim.contains(&format!("'{body}'")), "{body}");
    }

    #[test]
    fn every_outcome_is_in_all() {
        // A new variant fails to compile here until it has a place, and
        // then this test until ALL lists it.
        let place = |outcome: Outcome| match outcome {
            Outcome::Delivered => 0,
            Outcome::AlreadyDelivered => 1,
            Outcome::InFlight => 2,
            Outcome::CoolingDown => 3,
            Outcome::Challenge => 4,
            Outcome::Filtered => 5,
            Outcome::Paused => 6,
            Outcome::Queued => 7,
            Outcome::QueueUnavailable => 8,
            Outcome::NotFound => 9,
            Outcome::MethodNotAllowed => 10,
            Outcome::TooLarge => 11,
            Outcome::BadBody => 12,
            Outcome::BodyTimeout => 13,
            Outcome::MissingHeader => 14,
            Outcome::BadId => 15,
            Outcome::BadTimestamp => 16,
            Outcome::StaleTimestamp => 17,
            Outcome::FutureTimestamp => 18,
            Outcome::BadSignature => 19,
            Outcome::OriginFailed => 20,
            Outcome::OriginTimeout => 21,
            Outcome::StoreUnavailable => 22,
            Outcome::Misconfigured => 23,
            Outcome::Internal => 24,
        };
        let mut places: Vec<usize> = ALL.iter().map(|o| place(*o)).collect();
        places.sort_unstable();
        assert_eq!(places, (0..25).collect::<Vec<_>>());
    }

    #[test]
    fn reasons_are_unique() {
        let mut reasons: Vec<_> = ALL.iter().map(|o| o.reason()).collect();
        reasons.sort_unstable();
        reasons.dedup();
        assert_eq!(reasons.len(), ALL.len());
    }

    #[test]
    fn retryable_answers_say_when() {
        for outcome in [
            Outcome::InFlight,
            Outcome::StoreUnavailable,
            Outcome::QueueUnavailable,
        ] {
            assert!(outcome
                .answer(None)
                .headers
                .iter()
                .any(|(name, _)| *name == "retry-after"));
        }
        assert_eq!(
            Outcome::MethodNotAllowed.answer(None).headers,
            vec![("allow", "POST".to_owned())]
        );
    }

    #[test]
    fn statuses_follow_the_contract() {
        let expected = [
            (Outcome::Delivered, 200),
            (Outcome::AlreadyDelivered, 200),
            (Outcome::InFlight, 409),
            (Outcome::MissingHeader, 401),
            (Outcome::StaleTimestamp, 401),
            (Outcome::BadSignature, 401),
            (Outcome::BadId, 400),
            (Outcome::TooLarge, 413),
            (Outcome::MethodNotAllowed, 405),
            (Outcome::NotFound, 404),
            (Outcome::OriginFailed, 502),
            (Outcome::OriginTimeout, 504),
            (Outcome::StoreUnavailable, 503),
            (Outcome::Misconfigured, 500),
            (Outcome::BodyTimeout, 408),
            (Outcome::Challenge, 200),
            (Outcome::Queued, 202),
            (Outcome::QueueUnavailable, 503),
        ];
        for (outcome, status) in expected {
            assert_eq!(outcome.status(), status, "{outcome:?}");
        }
    }
}
