//! Queue mode: the sender is answered once a verified event is in a
//! Cloudflare Queue, and a consumer forwards it with hookgate's own retries,
//! so an origin that is down longer than a sender retries loses nothing.
//!
//! The pure core decides; the glue acts. [`consume`] takes one message and
//! returns what to do with it (acknowledge, retry after a delay, or keep it
//! as a dead letter), following the same claim / done / release rules as
//! the gate: Queues deliver at least once, and a second copy of a message
//! whose event was already forwarded finds the forward's `done` mark and is
//! acknowledged without a forward. The sender's signature was verified when
//! the event was accepted; it is not checked again (its timestamp is stale
//! by now, which is why queued forwards are always re-signed).

use crate::config::Config;
use crate::mac::Mac;
use crate::origin::{build_forward, resign, Origin};
use crate::ports::{BodyBytes, Clock, Queued};
use crate::replay::{claim_ttl_seconds, Claim, ReplayStore};
use crate::route::{Delivery, QueuePolicy, MAX_RETRY_DELAY_SECONDS};

/// What a consumer attempt came to, for the log, the stats and the
/// delivery record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consumed {
    /// The origin answered 2xx; acknowledged.
    Delivered,
    /// Already forwarded by an earlier copy of the message; acknowledged.
    AlreadyDelivered,
    /// Another copy is being forwarded now; retried after its claim.
    InFlight,
    /// The forward failed; retried after the back-off.
    Retrying,
    /// The forward failed on the last attempt; kept as a dead letter.
    Dead,
}

impl Consumed {
    /// The reason code the log and stats use.
    pub fn reason(self) -> &'static str {
        match self {
            Consumed::Delivered => "delivered",
            Consumed::AlreadyDelivered => "duplicate",
            Consumed::InFlight => "in-flight",
            Consumed::Retrying => "retrying",
            Consumed::Dead => "dead",
        }
    }
}

/// What the glue does with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Acknowledge: done with it.
    Ack,
    /// Retry after this many seconds.
    Retry { delay_seconds: u64 },
    /// Keep it as a dead letter (with its body), then acknowledge.
    DeadLetter,
}

/// One consumer attempt's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempted {
    pub consumed: Consumed,
    pub verdict: Verdict,
    /// The route's index, when it still exists.
    pub route: Option<usize>,
    pub origin_status: Option<u16>,
    /// What the replay store refused, if anything: an alert's cause (and,
    /// for the claim, no origin failure: nothing was forwarded).
    pub store_refused: Option<StoreRefusal>,
}

/// How long a dead letter the delivery log could not keep waits in the
/// queue before it is tried again: it holds the only copy of the event, so
/// it is never acknowledged unkept.
pub const UNKEPT_RETRY_SECONDS: u64 = 300;

impl Attempted {
    /// A dead letter the delivery log could not keep: it stays queued and is
    /// forwarded once more on its next try, so it is retrying, not dead. It
    /// counts (and alerts) as a dead letter once it is kept, not once per
    /// try while the log is down.
    pub fn not_kept(self) -> Self {
        Attempted {
            consumed: Consumed::Retrying,
            verdict: Verdict::Retry {
                delay_seconds: UNKEPT_RETRY_SECONDS,
            },
            ..self
        }
    }
}

/// Which of an attempt's requests the replay store refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreRefusal {
    /// The claim: nothing was forwarded.
    Claim,
    /// The done mark after a forward the origin took, or the release of
    /// the claim after one that failed (or could not be signed).
    Settle,
}

/// The delay before retry number `attempt` (1 for the first retry): the
/// base, doubling, capped at [`MAX_RETRY_DELAY_SECONDS`].
pub fn backoff(attempt: u32, base_seconds: u64) -> u64 {
    let doublings = attempt.saturating_sub(1).min(32);
    base_seconds
        .saturating_mul(1u64 << doublings)
        .min(MAX_RETRY_DELAY_SECONDS)
}

/// The replay-store text of a queued event's forward: apart from the
/// sender-side key, which was marked done when the event was accepted (no
/// sender key holds a `.`, and a route's texts begin with its path).
pub fn forward_text(replay_text: &str) -> String {
    format!("forward.{replay_text}")
}

/// Forwards one queued event; `attempt` counts from 1 (the queue's own
/// count of deliveries of this message).
#[allow(clippy::too_many_arguments)]
pub async fn consume<B, S, M, O, C>(
    config: &Config,
    message: Queued<B>,
    attempt: u32,
    store: &S,
    mac: &M,
    origin: &O,
    clock: &C,
) -> Attempted
where
    B: BodyBytes,
    S: ReplayStore,
    M: Mac<B>,
    O: Origin<B>,
    C: Clock,
{
    let Some((index, route)) = config.route_for(&message.route) else {
        // The route was removed or renamed since the event was accepted:
        // keep the event where an operator can see it and retry it.
        return Attempted {
            consumed: Consumed::Dead,
            verdict: Verdict::DeadLetter,
            route: None,
            origin_status: None,
            store_refused: None,
        };
    };
    let QueuePolicy {
        max_attempts,
        retry_base_seconds: base,
        ..
    } = match route.delivery {
        Delivery::Queue(policy) => policy,
        // Switched to direct since: finish what was accepted, with the
        // default policy.
        Delivery::Direct => QueuePolicy::DEFAULT,
    };
    let limits = &route.limits;
    let text = forward_text(&route.replay_text(&message.key));
    let now = clock.now_ms().div_euclid(1000);
    let claim_seconds = claim_ttl_seconds(limits.origin_timeout_ms);
    let failed = |origin_status| {
        if attempt >= max_attempts {
            Attempted {
                consumed: Consumed::Dead,
                verdict: Verdict::DeadLetter,
                route: Some(index),
                origin_status,
                store_refused: None,
            }
        } else {
            Attempted {
                consumed: Consumed::Retrying,
                verdict: Verdict::Retry {
                    delay_seconds: backoff(attempt, base),
                },
                route: Some(index),
                origin_status,
                store_refused: None,
            }
        }
    };
    match store.claim(&text, now, claim_seconds, 0).await {
        Err(_) => {
            return Attempted {
                store_refused: Some(StoreRefusal::Claim),
                ..failed(None)
            }
        }
        Ok(Claim::AlreadyDone) => {
            return Attempted {
                consumed: Consumed::AlreadyDelivered,
                verdict: Verdict::Ack,
                route: Some(index),
                origin_status: None,
                store_refused: None,
            }
        }
        Ok(Claim::InFlight) => {
            return Attempted {
                consumed: Consumed::InFlight,
                verdict: Verdict::Retry {
                    delay_seconds: claim_seconds,
                },
                route: Some(index),
                origin_status: None,
                store_refused: None,
            }
        }
        Ok(Claim::Claimed) => {}
    }

    // The claim is held: every failure must release it.
    let resigned = match resign(route, index, mac, clock, &message.key, &message.body).await {
        Ok(resigned) => resigned,
        Err(()) => {
            let released = store.release(&text).await;
            return Attempted {
                store_refused: released.err().map(|_| StoreRefusal::Settle),
                ..failed(None)
            };
        }
    };
    // The message's headers pass the scheme's own choice again, as the
    // gate's did: a message queued by an older version, or by hand, brings
    // nothing the origin should not see.
    let headers = &message.headers;
    let sender_headers = route.sender().sender_headers(&|name| {
        headers
            .iter()
            .find(|(held, _)| held == name)
            .map(|(_, value)| value.clone())
    });
    let forward = build_forward(
        route,
        message.content_type,
        sender_headers,
        message.body,
        resigned,
    );
    match origin.send(forward, limits.origin_timeout_ms).await {
        Ok(status) if (200..300).contains(&status) => {
            let now = clock.now_ms().div_euclid(1000);
            let ttl = i64::try_from(limits.dedupe_ttl_seconds).unwrap_or(i64::MAX);
            // A failed mark only risks a second forward if the message is
            // delivered again; the answer stands, and the refusal is said.
            let marked = store.mark_done(&text, now, now.saturating_add(ttl)).await;
            Attempted {
                consumed: Consumed::Delivered,
                verdict: Verdict::Ack,
                route: Some(index),
                origin_status: Some(status),
                store_refused: marked.err().map(|_| StoreRefusal::Settle),
            }
        }
        result => {
            let released = store.release(&text).await;
            // A timeout or a refused connection has no status to show.
            Attempted {
                store_refused: released.err().map(|_| StoreRefusal::Settle),
                ..failed(result.ok())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mac::SoftwareMac;
    use crate::origin::OriginError;
    use crate::replay::kv::KvReplayStore;
    use crate::schemes::standard_webhooks;
    use crate::testing::{block_on, FakeClock, FakeKv, FakeOrigin, ORIGIN_KEY, VECTOR_KEY};
    use std::collections::HashMap;

    const NOW: i64 = 1_700_000_000;

    fn config() -> Config {
        let settings = HashMap::from([
            ("WEBHOOK_SECRET", VECTOR_KEY.to_owned()),
            ("ORIGIN_URL", "http://127.0.0.1:9/in".to_owned()),
            ("ORIGIN_SECRET", ORIGIN_KEY.to_owned()),
            ("DELIVERY", "queue".to_owned()),
            ("QUEUE_MAX_ATTEMPTS", "3".to_owned()),
            ("QUEUE_RETRY_BASE_SECONDS", "10".to_owned()),
        ]);
        Config::from_settings(|name| settings.get(name).cloned()).expect("valid")
    }

    fn message(key: &str) -> Queued<Vec<u8>> {
        Queued {
            route: "/".into(),
            key: key.into(),
            content_type: Some("application/json".into()),
            headers: vec![
                ("webhook-id".into(), key.into()),
                ("x-injected".into(), "never forwarded".into()),
            ],
            event_type: Some("message.received".into()),
            body: b"{\"a\":1}".to_vec(),
        }
    }

    struct Rig {
        config: Config,
        kv: FakeKv,
        origin: FakeOrigin,
        clock: FakeClock,
    }

    impl Rig {
        fn new() -> Self {
            Self {
                config: config(),
                kv: FakeKv::default(),
                origin: FakeOrigin::answering(Ok(200)),
                clock: FakeClock::at_seconds(NOW),
            }
        }
        fn consume(&self, message: Queued<Vec<u8>>, attempt: u32) -> Attempted {
            let store = KvReplayStore::new(&self.kv);
            let mac = SoftwareMac::new(&self.config);
            block_on(consume(
                &self.config,
                message,
                attempt,
                &store,
                &mac,
                &&self.origin,
                &self.clock,
            ))
        }
    }

    #[test]
    fn backoff_doubles_from_the_base_up_to_six_hours() {
        assert_eq!(backoff(1, 30), 30);
        assert_eq!(backoff(2, 30), 60);
        assert_eq!(backoff(5, 30), 480);
        assert_eq!(backoff(11, 30), 21_600);
        assert_eq!(backoff(100, 30), 21_600);
        assert_eq!(backoff(0, 30), 30);
    }

    #[test]
    fn a_message_is_forwarded_re_signed_and_acknowledged() {
        let rig = Rig::new();
        let done = rig.consume(message("msg_1"), 1);
        assert_eq!(
            (done.consumed, done.verdict),
            (Consumed::Delivered, Verdict::Ack)
        );
        let received = rig.origin.received.borrow();
        assert_eq!(received.len(), 1);
        let names: Vec<_> = received[0]
            .headers
            .iter()
            .map(|(n, _)| n.as_ref())
            .collect();
        assert_eq!(
            names,
            [
                "content-type",
                "webhook-id",
                "webhook-timestamp",
                "webhook-signature"
            ]
        );
        let header = |n: &str| {
            received[0]
                .headers
                .iter()
                .find(|(h, _)| *h == n)
                .map(|(_, v)| v.clone())
                .expect(n)
        };
        let keys = standard_webhooks::parse_keys(ORIGIN_KEY).expect("key");
        let check = standard_webhooks::verify(
            &keys,
            "msg_1",
            &header("webhook-timestamp"),
            &header("webhook-signature"),
            &received[0].body,
            NOW,
            0,
        );
        assert_eq!(check, Ok(()));
    }

    /// A message holding both twins (queued by an older version, which kept
    /// every sender header) forwards only the `svix-*` one that was read,
    /// on a route that forwards sender headers (switched to direct, with no
    /// origin secret, since the event was queued).
    #[test]
    fn a_message_forwards_only_the_verified_twin() {
        let settings = HashMap::from([
            ("WEBHOOK_SECRET", VECTOR_KEY.to_owned()),
            ("ORIGIN_URL", "http://127.0.0.1:9/in".to_owned()),
        ]);
        let rig = Rig {
            config: Config::from_settings(|name| settings.get(name).cloned()).expect("valid"),
            ..Rig::new()
        };
        let mut held = message("msg_1");
        held.headers = vec![
            ("svix-id".into(), "msg_1".into()),
            ("webhook-id".into(), "msg_attacker".into()),
            ("svix-signature".into(), "v1,c2lnbmVk".into()),
        ];
        assert_eq!(rig.consume(held, 1).consumed, Consumed::Delivered);
        let received = rig.origin.received.borrow();
        let names: Vec<_> = received[0]
            .headers
            .iter()
            .map(|(n, _)| n.as_ref())
            .collect();
        assert_eq!(names, ["content-type", "svix-id", "svix-signature"]);
    }

    /// Found in review: `forward msg_1` is a webhook-id a sender may send,
    /// so on a gate without ROUTES its hold was the consumer's mark of
    /// `msg_1`, which was then acknowledged unforwarded. No sender's key
    /// holds a `.` (ids and body ids that would are keyed by their
    /// fingerprint), and a route's texts begin with its path.
    #[test]
    fn a_forwards_text_is_no_text_a_sender_can_make() {
        let text = forward_text("msg_1");
        assert!(!crate::schemes::standard_webhooks::id_is_valid(&text));
        assert!(!text.starts_with('/'));
        assert_ne!(text, forward_text("msg_2"));
    }

    #[test]
    fn a_dead_letter_the_log_could_not_keep_is_retrying_and_forwarded_again() {
        let rig = Rig::new();
        rig.origin.answer.set(Ok(503));
        let last = rig.consume(message("msg_1"), 3);
        assert_eq!(last.verdict, Verdict::DeadLetter);
        let unkept = last.clone().not_kept();
        assert_eq!(
            (unkept.consumed, unkept.verdict),
            (
                Consumed::Retrying,
                Verdict::Retry {
                    delay_seconds: UNKEPT_RETRY_SECONDS
                }
            )
        );
        assert_eq!(
            (unkept.route, unkept.origin_status),
            (last.route, last.origin_status)
        );
        // Its next try (past the last attempt) forwards it once more.
        rig.origin.answer.set(Ok(200));
        assert_eq!(
            rig.consume(message("msg_1"), 4).consumed,
            Consumed::Delivered
        );
        assert_eq!(rig.origin.received.borrow().len(), 2);
    }

    #[test]
    fn a_redelivered_message_is_acknowledged_without_a_forward() {
        let rig = Rig::new();
        assert_eq!(
            rig.consume(message("msg_1"), 1).consumed,
            Consumed::Delivered
        );
        let again = rig.consume(message("msg_1"), 1);
        assert_eq!(
            (again.consumed, again.verdict),
            (Consumed::AlreadyDelivered, Verdict::Ack)
        );
        assert_eq!(rig.origin.received.borrow().len(), 1);
    }

    #[test]
    fn failures_retry_with_back_off_then_become_dead_letters() {
        let rig = Rig::new();
        rig.origin.answer.set(Ok(503));
        let first = rig.consume(message("msg_1"), 1);
        assert_eq!(first.verdict, Verdict::Retry { delay_seconds: 10 });
        assert_eq!(
            (first.consumed, first.origin_status),
            (Consumed::Retrying, Some(503))
        );
        assert_eq!(
            rig.consume(message("msg_1"), 2).verdict,
            Verdict::Retry { delay_seconds: 20 }
        );
        rig.origin.answer.set(Err(OriginError::Timeout));
        let last = rig.consume(message("msg_1"), 3);
        assert_eq!(
            (last.consumed, last.verdict),
            (Consumed::Dead, Verdict::DeadLetter)
        );
        assert_eq!(rig.kv.len(), 0, "every claim released");
        // Retried from the dead letters once the origin is back: delivered once.
        rig.origin.answer.set(Ok(200));
        assert_eq!(
            rig.consume(message("msg_1"), 1).consumed,
            Consumed::Delivered
        );
        assert_eq!(
            rig.consume(message("msg_1"), 1).consumed,
            Consumed::AlreadyDelivered
        );
        assert_eq!(rig.origin.received.borrow().len(), 4);
    }

    #[test]
    fn a_copy_in_flight_waits_for_the_claim() {
        let rig = Rig::new();
        let text = forward_text("msg_1");
        rig.kv
            .insert(&crate::replay::kv::key_for(&text), "in-flight");
        let held = rig.consume(message("msg_1"), 1);
        assert_eq!(held.consumed, Consumed::InFlight);
        assert_eq!(held.verdict, Verdict::Retry { delay_seconds: 40 });
        assert_eq!(rig.origin.received.borrow().len(), 0);
    }

    #[test]
    fn a_refused_done_mark_or_release_is_said_and_changes_no_verdict() {
        let rig = Rig::new();
        rig.kv.reject_writes_of("done");
        let delivered = rig.consume(message("msg_1"), 1);
        assert_eq!(
            (
                delivered.consumed,
                delivered.verdict,
                delivered.store_refused
            ),
            (
                Consumed::Delivered,
                Verdict::Ack,
                Some(StoreRefusal::Settle)
            )
        );
        assert_eq!(rig.origin.received.borrow().len(), 1);
        // A refused claim is the claim's: nothing was forwarded.
        let rig = Rig::new();
        rig.kv.fail_gets(true);
        let refused = rig.consume(message("msg_2"), 1);
        assert_eq!(refused.store_refused, Some(StoreRefusal::Claim));
        assert_eq!(rig.origin.received.borrow().len(), 0);
        // Nothing refused: nothing said.
        let rig = Rig::new();
        assert_eq!(rig.consume(message("msg_3"), 1).store_refused, None);
    }

    #[test]
    fn a_store_failure_retries_and_a_vanished_route_keeps_the_event() {
        let rig = Rig::new();
        rig.kv.fail_gets(true);
        assert_eq!(
            rig.consume(message("msg_1"), 1).verdict,
            Verdict::Retry { delay_seconds: 10 }
        );
        let mut lost = message("msg_1");
        lost.route = "/removed".into();
        let kept = rig.consume(lost, 1);
        assert_eq!(
            (kept.consumed, kept.verdict, kept.route),
            (Consumed::Dead, Verdict::DeadLetter, None)
        );
    }
}
