use super::*;
use crate::keys::SigningKey;
use crate::mac::{MacError, SoftwareMac};
use crate::replay::cooldown::{CoolDowns, Cooled};
use crate::replay::kv::{key_for, KvReplayStore};
use crate::schemes::{github, quo_legacy, shopify, stripe};
use crate::testing::{block_on, FakeCache, FakeClock, FakeKv, FakeOrigin, FakeQueue};
use crate::testing::{ORIGIN_KEY, ROTATED_KEY as OTHER_KEY, VECTOR_KEY as KEY};
use std::collections::HashMap;

const NOW: i64 = 1_700_000_000;

struct FakeRequest {
    method: &'static str,
    path: &'static str,
    headers: HashMap<String, String>,
    body: Result<Vec<u8>, BodyError>,
    body_reads: usize,
    /// How long the body takes to arrive.
    body_ms: i64,
    /// The deadline the gate gave the last read.
    deadline: Option<i64>,
    clock: Option<FakeClock>,
    /// Every header name the gate asked for.
    asked: std::cell::RefCell<Vec<String>>,
}

impl FakeRequest {
    fn new(path: &'static str, headers: &[(&str, String)], body: &[u8]) -> Self {
        Self {
            method: "POST",
            path,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            body: Ok(body.to_vec()),
            body_reads: 0,
            body_ms: 0,
            deadline: None,
            clock: None,
            asked: Default::default(),
        }
    }
    fn set(&mut self, name: &str, value: &str) {
        self.headers.insert(name.to_owned(), value.to_owned());
    }
}

impl Incoming for FakeRequest {
    type Body = Vec<u8>;
    fn method(&self) -> &str {
        self.method
    }
    fn path(&self) -> &str {
        self.path
    }
    fn url(&self) -> String {
        format!("https://gate.example{}", self.path)
    }
    fn header(&self, name: &str) -> Option<String> {
        self.asked.borrow_mut().push(name.to_owned());
        self.headers.get(name).cloned()
    }
    async fn read_body(&mut self, limit: usize, deadline_ms: i64) -> Result<Vec<u8>, BodyError> {
        self.body_reads += 1;
        self.deadline = Some(deadline_ms);
        if let Some(clock) = &self.clock {
            if clock.now_ms() + self.body_ms > deadline_ms {
                clock.set_ms(deadline_ms);
                return Err(BodyError::TimedOut);
            }
            clock.advance_ms(self.body_ms);
        }
        match &self.body {
            Ok(body) if body.len() > limit => Err(BodyError::TooLarge),
            other => other.clone(),
        }
    }
}

fn config_with(extra: &[(&str, &str)]) -> Config {
    let mut settings: HashMap<String, String> = HashMap::from([
        ("WEBHOOK_SECRET".to_owned(), format!("{OTHER_KEY} {KEY}")),
        ("ORIGIN_URL".to_owned(), "http://127.0.0.1:9/in".to_owned()),
        ("MAX_BODY_BYTES".to_owned(), "64".to_owned()),
    ]);
    for (name, value) in extra {
        settings.insert((*name).to_owned(), (*value).to_owned());
    }
    Config::from_settings(|name| settings.get(name).cloned()).expect("valid test config")
}

fn key() -> SigningKey {
    standard_webhooks::parse_key(KEY).expect("key")
}

fn signed(id: &str, timestamp: i64, body: &[u8]) -> FakeRequest {
    let mut request = FakeRequest::new(
        "/",
        &[
            ("webhook-id", id.to_owned()),
            ("webhook-timestamp", timestamp.to_string()),
            (
                "webhook-signature",
                standard_webhooks::sign(&key(), id, timestamp, body),
            ),
            ("content-type", "application/json".to_owned()),
            ("cookie", "session=1".to_owned()),
        ],
        body,
    );
    request.method = "POST";
    request
}

/// The rig's replay store: KV, and a release that can fail as a Durable
/// Object shard that cannot be reached would (a KV release writes nothing).
struct RigStore<'a> {
    kv: KvReplayStore<&'a FakeKv>,
    refuse_release: bool,
}

impl ReplayStore for RigStore<'_> {
    async fn claim(
        &self,
        key: &str,
        now: i64,
        claim_seconds: u64,
        keep_until: i64,
    ) -> Result<Claim, crate::replay::StoreError> {
        self.kv.claim(key, now, claim_seconds, keep_until).await
    }
    async fn mark_done(
        &self,
        key: &str,
        now: i64,
        until: i64,
    ) -> Result<(), crate::replay::StoreError> {
        self.kv.mark_done(key, now, until).await
    }
    async fn release(&self, key: &str) -> Result<(), crate::replay::StoreError> {
        if self.refuse_release {
            return Err(crate::replay::StoreError::Unavailable);
        }
        self.kv.release(key).await
    }
}

/// The paused routes, as the rig's gate asks them; how often it asked.
#[derive(Default)]
struct RigPauses {
    routes: std::cell::RefCell<Vec<String>>,
    asked: std::cell::Cell<usize>,
}

impl crate::ports::Pauses for RigPauses {
    async fn paused(&self, route: &str) -> bool {
        self.asked.set(self.asked.get() + 1);
        self.routes.borrow().iter().any(|path| path == route)
    }
}

struct Rig {
    paused: RigPauses,
    config: Config,
    kv: FakeKv,
    refuse_release: std::cell::Cell<bool>,
    cache: FakeCache,
    cooled: Cooled,
    origin: FakeOrigin,
    queue: FakeQueue,
    clock: FakeClock,
}

impl Rig {
    fn new() -> Self {
        Self::with(config_with(&[]))
    }
    fn with(config: Config) -> Self {
        Self {
            paused: RigPauses::default(),
            config,
            kv: FakeKv::default(),
            refuse_release: std::cell::Cell::new(false),
            cache: FakeCache::default(),
            cooled: Cooled::default(),
            origin: FakeOrigin::answering(Ok(200)),
            queue: FakeQueue::default(),
            clock: FakeClock::at_seconds(NOW),
        }
    }
    fn run(&self, request: &mut FakeRequest) -> Handled {
        self.run_with(&SoftwareMac::new(&self.config), request)
    }
    fn run_with<M: Mac<Vec<u8>>>(&self, mac: &M, request: &mut FakeRequest) -> Handled {
        request.clock = Some(self.clock.clone());
        let store = RigStore {
            kv: KvReplayStore::new(&self.kv),
            refuse_release: self.refuse_release.get(),
        };
        let cool_down = CoolDowns::new(
            &self.cooled,
            &self.cache,
            self.config.failure_cool_down_seconds,
        );
        let ports = Ports {
            store: &store,
            mac,
            origin: &&self.origin,
            queue: &&self.queue,
            clock: &self.clock,
            cool_down: &cool_down,
            paused: &self.paused,
        };
        let handled = block_on(handle(&self.config, request, &ports));
        // The entry reads only these headers from the runtime: a header the
        // gate asks for beyond them would always look absent in a Worker.
        let names = header_names(&self.config);
        for name in request.asked.borrow().iter() {
            assert!(
                names.contains(&name.as_str()),
                "the gate read {name}, which header_names leaves out"
            );
        }
        handled
    }
    fn forwarded(&self) -> usize {
        self.origin.received.borrow().len()
    }
    fn last_header(&self, name: &str) -> Option<String> {
        let received = self.origin.received.borrow();
        let last = received.last()?;
        last.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }
}

#[test]
fn a_valid_delivery_is_forwarded_exactly_and_marked_done() {
    let rig = Rig::new();
    let handled = rig.run(&mut signed(
        "msg_1",
        NOW,
        b"{\"type\":\"message.received\"}",
    ));
    assert_eq!(handled.outcome, Outcome::Delivered);
    assert_eq!(handled.incidents, vec![]);
    assert_eq!(handled.key.as_deref(), Some("msg_1"));
    assert_eq!(handled.event_type.as_deref(), Some("message.received"));
    assert_eq!(handled.origin_status, Some(200));
    assert_eq!(
        (handled.route, handled.scheme),
        (Some(0), Some(Scheme::StandardWebhooks))
    );
    let received = rig.origin.received.borrow();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body, b"{\"type\":\"message.received\"}");
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
    let done = format!("done:{}", NOW + 259_200);
    assert_eq!(rig.kv.value_of(&key_for("msg_1")), Some(done));
}

#[test]
fn shape_is_checked_before_anything_else() {
    let rig = Rig::new();
    let mut wrong_path = signed("msg_1", NOW, b"{}");
    wrong_path.path = "/other";
    assert_eq!(rig.run(&mut wrong_path).outcome, Outcome::NotFound);
    let mut get = signed("msg_1", NOW, b"{}");
    get.method = "GET";
    assert_eq!(rig.run(&mut get).outcome, Outcome::MethodNotAllowed);
    let mut other_path_and_method = signed("msg_1", NOW, b"{}");
    other_path_and_method.method = "GET";
    other_path_and_method.path = "/x";
    assert_eq!(
        rig.run(&mut other_path_and_method).outcome,
        Outcome::NotFound
    );
    assert_eq!(rig.forwarded(), 0);
    assert_eq!(rig.kv.calls.borrow().len(), 0);
}

#[test]
fn the_configured_path_is_the_only_one() {
    let rig = Rig::with(config_with(&[("WEBHOOK_PATH", "/hooks/quo")]));
    assert_eq!(
        rig.run(&mut signed("msg_1", NOW, b"{}")).outcome,
        Outcome::NotFound
    );
    let mut request = signed("msg_1", NOW, b"{}");
    request.path = "/hooks/quo";
    assert_eq!(rig.run(&mut request).outcome, Outcome::Delivered);
}

#[test]
fn oversize_bodies_are_refused_before_reading_or_hashing() {
    let rig = Rig::new();
    let mut declared = signed("msg_1", NOW, b"{}");
    declared.set("content-length", "65");
    assert_eq!(rig.run(&mut declared).outcome, Outcome::TooLarge);
    assert_eq!(declared.body_reads, 0);

    // A small declared length is not trusted: the reader counts.
    let big = vec![b'a'; 65];
    let mut lying = signed("msg_2", NOW, &big);
    lying.set("content-length", "10");
    assert_eq!(rig.run(&mut lying).outcome, Outcome::TooLarge);

    let exact = vec![b'a'; 64];
    assert_eq!(
        rig.run(&mut signed("msg_3", NOW, &exact)).outcome,
        Outcome::Delivered
    );
    assert_eq!(rig.forwarded(), 1);
}

#[test]
fn an_empty_or_padded_webhook_id_is_a_bad_id() {
    let rig = Rig::new();
    for id in ["", "msg_x ", " msg_x"] {
        let mut request = signed(id, NOW, b"{}");
        assert_eq!(rig.run(&mut request).outcome, Outcome::BadId, "{id:?}");
        assert_eq!(request.body_reads, 0);
    }
    assert_eq!(rig.forwarded(), 0);
}

#[test]
fn each_missing_or_empty_header_is_401_without_reading_the_body() {
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        for empty in [false, true] {
            if name == "webhook-id" && empty {
                continue; // a bad id, above
            }
            let rig = Rig::new();
            let mut request = signed("msg_1", NOW, b"{}");
            if empty {
                request.set(name, "");
            } else {
                request.headers.remove(name);
            }
            assert_eq!(
                rig.run(&mut request).outcome,
                Outcome::MissingHeader,
                "{name}"
            );
            assert_eq!(request.body_reads, 0);
            assert_eq!(rig.forwarded(), 0);
        }
    }
}

#[test]
fn timestamps_outside_the_window_are_refused_before_the_body() {
    let rig = Rig::new();
    let mut stale = signed("msg_1", NOW - 301, b"{}");
    assert_eq!(rig.run(&mut stale).outcome, Outcome::StaleTimestamp);
    let mut future = signed("msg_1", NOW + 301, b"{}");
    assert_eq!(rig.run(&mut future).outcome, Outcome::FutureTimestamp);
    let mut garbage = signed("msg_1", NOW, b"{}");
    garbage.set("webhook-timestamp", "soon");
    assert_eq!(rig.run(&mut garbage).outcome, Outcome::BadTimestamp);
    assert_eq!(stale.body_reads + future.body_reads + garbage.body_reads, 0);
    assert_eq!(
        rig.run(&mut signed("msg_2", NOW - 300, b"{}")).outcome,
        Outcome::Delivered
    );
}

#[test]
fn a_body_trickled_past_the_window_is_refused_after_it_ends() {
    // The headers arrive inside the window; the body takes long enough that
    // the delivery leaves it. The gate stops reading at the window's end.
    let rig = Rig::new();
    let mut slow = signed("msg_1", NOW - 290, b"{}");
    slow.body_ms = 20_000;
    assert_eq!(rig.run(&mut slow).outcome, Outcome::StaleTimestamp);
    assert_eq!(slow.deadline, Some((NOW - 290 + 301) * 1000));
    assert_eq!(rig.forwarded(), 0);
    assert_eq!(rig.kv.calls.borrow().len(), 0, "never claimed");
}

#[test]
fn the_window_is_checked_again_once_the_body_has_arrived() {
    // A body that ends just past the window (the reader's deadline is the
    // window's last whole second; the check is the authority).
    let rig = Rig::new();
    rig.clock.set_ms(NOW * 1000 + 500);
    let mut late = signed("msg_1", NOW - 300, b"{}");
    late.body_ms = 600;
    assert_eq!(rig.run(&mut late).outcome, Outcome::StaleTimestamp);
    assert_eq!(rig.forwarded(), 0);
}

#[test]
fn no_body_is_waited_for_longer_than_the_cap() {
    let mut config = config_with(&[]);
    config.routes[0].scheme = Scheme::Github;
    config.routes[0].keys = vec![SigningKey::raw("github secret").expect("raw")];
    let rig = Rig::with(config);
    let mut request = FakeRequest::new(
        "/",
        &[(
            github::HEADER,
            github::sign(&rig.config.routes[0].keys[0], b"{}"),
        )],
        b"{}",
    );
    request.body_ms = MAX_BODY_MS + 1;
    assert_eq!(rig.run(&mut request).outcome, Outcome::BodyTimeout);
    assert_eq!(request.deadline, Some(NOW * 1000 + MAX_BODY_MS));
    // Within the window, a timestamped scheme stops at the cap too.
    let rig = Rig::with(config_with(&[
        ("TOLERANCE_SECONDS", "3600"),
        ("DEDUPE_TTL_SECONDS", "7200"),
    ]));
    let mut request = signed("msg_1", NOW, b"{}");
    request.body_ms = MAX_BODY_MS + 1;
    assert_eq!(rig.run(&mut request).outcome, Outcome::BodyTimeout);
}

#[test]
fn bad_signatures_are_401_and_never_touch_the_store() {
    let rig = Rig::new();
    let mut tampered = signed("msg_1", NOW, b"{\"amount\":1}");
    tampered.body = Ok(b"{\"amount\":9}".to_vec());
    assert_eq!(rig.run(&mut tampered).outcome, Outcome::BadSignature);
    let mut wrong_key = signed("msg_1", NOW, b"{}");
    let stranger = standard_webhooks::parse_key("whsec_c3RyYW5nZXItc3RyYW5nZXI=").expect("key");
    wrong_key.set(
        "webhook-signature",
        &standard_webhooks::sign(&stranger, "msg_1", NOW, b"{}"),
    );
    assert_eq!(rig.run(&mut wrong_key).outcome, Outcome::BadSignature);
    for header in ["v1,", "garbage", "v2,abc v1a,xyz"] {
        let mut request = signed("msg_1", NOW, b"{}");
        request.set("webhook-signature", header);
        assert_eq!(
            rig.run(&mut request).outcome,
            Outcome::BadSignature,
            "{header}"
        );
    }
    assert_eq!(rig.forwarded(), 0);
    assert_eq!(rig.kv.calls.borrow().len(), 0);
}

#[test]
fn a_second_key_verifies_during_rotation() {
    let rig = Rig::new();
    let mut request = signed("msg_1", NOW, b"{}");
    let other = standard_webhooks::parse_key(OTHER_KEY).expect("key");
    request.set(
        "webhook-signature",
        &standard_webhooks::sign(&other, "msg_1", NOW, b"{}"),
    );
    assert_eq!(rig.run(&mut request).outcome, Outcome::Delivered);
}

#[test]
fn a_valid_signature_on_the_first_of_two_header_lines_verifies() {
    let rig = Rig::new();
    let mut request = signed("msg_1", NOW, b"{}");
    let good = request.headers["webhook-signature"].clone();
    request.set(
        "webhook-signature",
        &format!("{good}, v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="),
    );
    assert_eq!(rig.run(&mut request).outcome, Outcome::Delivered);
}

#[test]
fn an_unreadable_body_is_400() {
    let rig = Rig::new();
    let mut request = signed("msg_1", NOW, b"{}");
    request.body = Err(BodyError::Unreadable);
    assert_eq!(rig.run(&mut request).outcome, Outcome::BadBody);
}

#[test]
fn a_retry_of_a_delivered_id_is_200_and_not_forwarded() {
    let rig = Rig::new();
    assert_eq!(
        rig.run(&mut signed("msg_1", NOW, b"{}")).outcome,
        Outcome::Delivered
    );
    // The sender's retry: same id, new timestamp and signature.
    rig.clock.advance_ms(60_000);
    assert_eq!(
        rig.run(&mut signed("msg_1", NOW + 60, b"{}")).outcome,
        Outcome::AlreadyDelivered
    );
    // A replay of the captured original.
    assert_eq!(
        rig.run(&mut signed("msg_1", NOW, b"{}")).outcome,
        Outcome::AlreadyDelivered
    );
    assert_eq!(rig.forwarded(), 1);
}

#[test]
fn a_copy_in_flight_is_409() {
    let rig = Rig::new();
    rig.kv.insert(&key_for("msg_1"), "in-flight");
    let handled = rig.run(&mut signed("msg_1", NOW, b"{}"));
    assert_eq!(handled.outcome, Outcome::InFlight);
    assert_eq!(rig.forwarded(), 0);
    assert_eq!(
        rig.kv.value_of(&key_for("msg_1")).as_deref(),
        Some("in-flight")
    );
}

#[test]
fn origin_failures_release_the_claim_so_the_retry_is_delivered_once() {
    for (answer, outcome, incident) in [
        (Ok(500), Outcome::OriginFailed, Incident::OriginStatus(500)),
        (Ok(410), Outcome::OriginFailed, Incident::OriginStatus(410)),
        (Ok(302), Outcome::OriginFailed, Incident::OriginStatus(302)),
        (
            Err(OriginError::Unreachable),
            Outcome::OriginFailed,
            Incident::OriginUnreachable,
        ),
        (
            Err(OriginError::Timeout),
            Outcome::OriginTimeout,
            Incident::OriginTimedOut,
        ),
    ] {
        let rig = Rig::new();
        rig.origin.answer.set(answer);
        let handled = rig.run(&mut signed("msg_1", NOW, b"{}"));
        assert_eq!(handled.outcome, outcome);
        assert_eq!(handled.incidents, vec![incident]);
        assert_eq!(handled.origin_status, answer.ok());
        assert_eq!(rig.kv.len(), 0, "claim released after {answer:?}");

        rig.origin.answer.set(Ok(204));
        rig.clock.advance_ms(30_000);
        assert_eq!(
            rig.run(&mut signed("msg_1", NOW + 30, b"{}")).outcome,
            Outcome::Delivered
        );
        rig.clock.advance_ms(60_000);
        assert_eq!(
            rig.run(&mut signed("msg_1", NOW + 90, b"{}")).outcome,
            Outcome::AlreadyDelivered
        );
        assert_eq!(rig.forwarded(), 2);
    }
}

#[test]
fn an_unavailable_store_fails_closed() {
    let rig = Rig::new();
    rig.kv.fail_gets(true);
    let handled = rig.run(&mut signed("msg_1", NOW, b"{}"));
    assert_eq!(handled.outcome, Outcome::StoreUnavailable);
    assert_eq!(handled.incidents, vec![Incident::ClaimFailed]);
    assert_eq!(rig.forwarded(), 0);
}

#[test]
fn kv_refusing_writes_still_delivers_and_reports_the_lost_mark() {
    // KV's daily write limit, say: a claim is a read, so the event is still
    // forwarded (never lost); only its done mark is, and that is reported.
    let rig = Rig::new();
    rig.kv.fail_puts(true);
    let handled = rig.run(&mut signed("msg_1", NOW, b"{}"));
    assert_eq!(handled.outcome, Outcome::Delivered);
    assert_eq!(handled.incidents, vec![Incident::MarkDoneFailed]);
    assert_eq!(rig.forwarded(), 1);
}

#[test]
fn a_failed_done_mark_still_answers_200_and_is_reported() {
    let rig = Rig::new();
    rig.kv.reject_writes_of("done");
    let handled = rig.run(&mut signed("msg_1", NOW, b"{}"));
    assert_eq!(handled.outcome, Outcome::Delivered);
    assert_eq!(handled.incidents, vec![Incident::MarkDoneFailed]);
    assert_eq!(rig.forwarded(), 1);
}

#[test]
fn a_failed_release_is_reported_and_the_answer_stands() {
    let rig = Rig::new();
    rig.origin.answer.set(Ok(503));
    rig.refuse_release.set(true);
    let handled = rig.run(&mut signed("msg_1", NOW, b"{}"));
    assert_eq!(handled.outcome, Outcome::OriginFailed);
    assert_eq!(
        handled.incidents,
        vec![Incident::OriginStatus(503), Incident::ReleaseFailed]
    );
}

#[test]
fn stale_reads_let_a_copy_through_as_kv_allows() {
    // Two locations: the second has not seen the first's writes. This is
    // the documented KV race; the Durable Object store closes it.
    let rig = Rig::new();
    assert_eq!(
        rig.run(&mut signed("msg_1", NOW, b"{}")).outcome,
        Outcome::Delivered
    );
    rig.kv.stale_reads(true);
    assert_eq!(
        rig.run(&mut signed("msg_1", NOW, b"{}")).outcome,
        Outcome::Delivered
    );
    assert_eq!(rig.forwarded(), 2);
}

#[test]
fn the_mark_outlives_the_last_moment_a_copy_could_be_replayed() {
    // DEDUPE_TTL exactly twice the tolerance, and a delivery stamped at the
    // future edge of the window: the mark must last until that stamp leaves
    // the window, past now + DEDUPE_TTL.
    let rig = Rig::with(config_with(&[
        ("TOLERANCE_SECONDS", "300"),
        ("DEDUPE_TTL_SECONDS", "600"),
    ]));
    rig.clock.set_ms(NOW * 1000 + 999);
    let stamp = NOW + 300;
    assert_eq!(
        rig.run(&mut signed("msg_1", stamp, b"{}")).outcome,
        Outcome::Delivered
    );
    let until = stamp + 300 + 1;
    assert_eq!(
        rig.kv.value_of(&key_for("msg_1")),
        Some(format!("done:{until}"))
    );
    assert!(until > NOW + 600);
    // The store's TTL counts from its own clock, at or after the write.
    assert_eq!(rig.kv.ttl_of(&key_for("msg_1")), Some((until - NOW) as u64));
}

#[test]
fn re_signs_for_the_origin_with_the_time_of_the_forward() {
    let rig = Rig::with(config_with(&[("ORIGIN_SECRET", ORIGIN_KEY)]));
    let mut request = signed("msg_1", NOW - 100, b"{}");
    request.body_ms = 8_000; // an 8 s upload
    let handled = rig.run(&mut request);
    assert_eq!(handled.outcome, Outcome::Delivered);
    let timestamp = rig.last_header("webhook-timestamp").expect("stamped");
    assert_eq!(
        timestamp,
        (NOW + 8).to_string(),
        "stamped when the forward left"
    );
    let keys = standard_webhooks::parse_keys(ORIGIN_KEY).expect("key");
    let check = standard_webhooks::verify(
        &keys,
        "msg_1",
        &timestamp,
        &rig.last_header("webhook-signature").expect("signed"),
        b"{}",
        NOW + 8,
        0,
    );
    assert_eq!(check, Ok(()));
}

/// A MAC whose platform crypto fails, for the sender's check or only for
/// re-signing.
struct BrokenMac {
    sender_works: bool,
}

impl Mac<Vec<u8>> for BrokenMac {
    async fn tags(
        &self,
        _route: usize,
        use_: KeyUse,
        prefix: &[u8],
        body: &Vec<u8>,
        _suffix: &[u8],
    ) -> Result<Vec<crate::keys::Tag>, MacError> {
        match use_ {
            KeyUse::Sender if self.sender_works => Ok(vec![key().tag(prefix, body)]),
            _ => Err(MacError::Unavailable),
        }
    }
}

#[test]
fn a_failing_mac_is_500_and_never_forwards() {
    let rig = Rig::new();
    let broken = BrokenMac {
        sender_works: false,
    };
    let handled = rig.run_with(&broken, &mut signed("msg_1", NOW, b"{}"));
    assert_eq!(handled.outcome, Outcome::Internal);
    assert_eq!(rig.kv.calls.borrow().len(), 0);

    let rig = Rig::with(config_with(&[("ORIGIN_SECRET", ORIGIN_KEY)]));
    let resign_fails = BrokenMac { sender_works: true };
    let handled = rig.run_with(&resign_fails, &mut signed("msg_1", NOW, b"{}"));
    assert_eq!(handled.outcome, Outcome::Internal);
    assert_eq!(handled.incidents, vec![Incident::ResignFailed]);
    assert_eq!(rig.kv.len(), 0, "claim released");
    assert_eq!(rig.forwarded(), 0);
}

// --- many senders, one gate -------------------------------------------------

const GITHUB_SECRET: &str = "It's a Secret to Everybody";
const STRIPE_SECRET: &str = "whsec_c3RyaXBlLXN0eWxlLXNpZ25pbmctc2VjcmV0";
const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const SHOPIFY_SECRET: &str = "shopify-app-secret";
const QUO_LEGACY_SECRET: &str = "R2ZLM2o0bFhBNVpyUnU2NG9mYXQ1MHNyR3pvSUhIVVg=";

fn six_routes(extra: &str) -> Config {
    let routes = format!(
        r#"{{
        "/quo": {{"scheme": "standard-webhooks", "secret": "QUO", "origin": "http://o/quo" {extra}}},
        "/quo-legacy": {{"scheme": "quo-legacy", "secret": "QUO_LEGACY", "origin": "http://o/legacy" {extra}}},
        "/github": {{"scheme": "github", "secret": ["GITHUB", "GITHUB_NEXT"], "origin": "http://o/github" {extra}}},
        "/stripe": {{"scheme": "stripe", "secret": "STRIPE", "origin": "http://o/stripe" {extra}}},
        "/slack": {{"scheme": "slack", "secret": "SLACK", "origin": "http://o/slack" {extra}}},
        "/shopify": {{"scheme": "shopify", "secret": "SHOPIFY", "origin": "http://o/shopify" {extra}}}
    }}"#
    );
    let settings = HashMap::from([
        ("ROUTES", routes),
        ("QUO", KEY.to_owned()),
        ("QUO_LEGACY", QUO_LEGACY_SECRET.to_owned()),
        ("GITHUB", GITHUB_SECRET.to_owned()),
        ("GITHUB_NEXT", "the next github secret".to_owned()),
        ("STRIPE", STRIPE_SECRET.to_owned()),
        ("SLACK", SLACK_SECRET.to_owned()),
        ("SHOPIFY", SHOPIFY_SECRET.to_owned()),
        ("ORIGIN", ORIGIN_KEY.to_owned()),
    ]);
    Config::from_settings(|name| settings.get(name).cloned()).expect("valid routes")
}

fn raw(secret: &str) -> SigningKey {
    SigningKey::raw(secret).expect("raw key")
}

fn github_delivery(body: &[u8], delivery: &str) -> FakeRequest {
    FakeRequest::new(
        "/github",
        &[
            (github::HEADER, github::sign(&raw(GITHUB_SECRET), body)),
            ("x-github-event", "push".to_owned()),
            ("x-github-delivery", delivery.to_owned()),
            ("content-type", "application/json".to_owned()),
            ("authorization", "token leak".to_owned()),
        ],
        body,
    )
}

fn stripe_delivery(body: &[u8], t: i64) -> FakeRequest {
    FakeRequest::new(
        "/stripe",
        &[(stripe::HEADER, stripe::sign(&raw(STRIPE_SECRET), t, body))],
        body,
    )
}

#[test]
fn each_route_verifies_its_own_scheme_and_forwards_to_its_own_origin() {
    let rig = Rig::with(six_routes(""));
    let body = br#"{"id":"EV1","type":"message.received"}"#;
    let legacy_key = quo_legacy::parse_keys(QUO_LEGACY_SECRET).expect("key");
    let mut cases = vec![
        {
            let mut r = signed("msg_q", NOW, body);
            r.path = "/quo";
            (r, "http://o/quo")
        },
        (
            FakeRequest::new(
                "/quo-legacy",
                &[(
                    quo_legacy::HEADER,
                    quo_legacy::sign(&legacy_key[0], NOW * 1000 + 5, body),
                )],
                body,
            ),
            "http://o/legacy",
        ),
        (github_delivery(body, "d-1"), "http://o/github"),
        (
            stripe_delivery(br#"{"id":"evt_1","type":"charge.succeeded"}"#, NOW),
            "http://o/stripe",
        ),
        (
            FakeRequest::new(
                "/slack",
                &[
                    (
                        slack::SIGNATURE_HEADER,
                        slack::sign(&raw(SLACK_SECRET), NOW, body),
                    ),
                    (slack::TIMESTAMP_HEADER, NOW.to_string()),
                ],
                body,
            ),
            "http://o/slack",
        ),
        (
            FakeRequest::new(
                "/shopify",
                &[
                    (shopify::HEADER, shopify::sign(&raw(SHOPIFY_SECRET), body)),
                    ("x-shopify-topic", "orders/create".to_owned()),
                ],
                body,
            ),
            "http://o/shopify",
        ),
    ];
    for (request, origin) in &mut cases {
        let handled = rig.run(request);
        assert_eq!(handled.outcome, Outcome::Delivered, "{}", request.path);
        let received = rig.origin.received.borrow();
        let last = received.last().expect("forwarded");
        assert_eq!(last.url, *origin);
        assert_eq!(last.body, request.body.clone().expect("body"));
        assert!(
            !last
                .headers
                .iter()
                .any(|(n, _)| *n == "authorization" || *n == "cookie"),
            "{:?}",
            last.headers
        );
    }
    assert_eq!(rig.forwarded(), 6);
}

#[test]
fn a_delivery_sent_to_another_routes_path_is_refused() {
    let rig = Rig::with(six_routes(""));
    let body = br#"{"id":"evt_1"}"#;
    // A GitHub delivery on the Stripe route: Stripe's header is missing.
    let mut misplaced = github_delivery(body, "d-1");
    misplaced.path = "/stripe";
    assert_eq!(rig.run(&mut misplaced).outcome, Outcome::MissingHeader);
    // A Shopify signature made with the GitHub secret, on the Shopify route.
    let mut crossed = FakeRequest::new(
        "/shopify",
        &[(shopify::HEADER, shopify::sign(&raw(GITHUB_SECRET), body))],
        body,
    );
    assert_eq!(rig.run(&mut crossed).outcome, Outcome::BadSignature);
    // A Standard Webhooks delivery on the GitHub route is not sniffed.
    let mut sw = signed("msg_1", NOW, body);
    sw.path = "/github";
    assert_eq!(rig.run(&mut sw).outcome, Outcome::MissingHeader);
    assert_eq!(rig.forwarded(), 0);
}

#[test]
fn a_captured_github_delivery_replayed_with_a_new_delivery_id_is_not_forwarded_again() {
    let rig = Rig::with(six_routes(""));
    let body = br#"{"ref":"refs/heads/main"}"#;
    let first = rig.run(&mut github_delivery(body, "d-1"));
    assert_eq!(first.outcome, Outcome::Delivered);
    let key = first.key.expect("keyed");
    assert!(key.starts_with("sig_"), "{key}");
    let replay = rig.run(&mut github_delivery(body, "d-2-forged"));
    assert_eq!(replay.outcome, Outcome::AlreadyDelivered);
    assert_eq!(replay.key.as_deref(), Some(key.as_str()));
    assert_eq!(rig.forwarded(), 1);
    assert_eq!(rig.last_header("x-github-delivery").as_deref(), Some("d-1"));
    assert_eq!(rig.last_header("x-github-event").as_deref(), Some("push"));
}

fn shopify_delivery(body: &[u8], topic: &str) -> FakeRequest {
    FakeRequest::new(
        "/shopify",
        &[
            (shopify::HEADER, shopify::sign(&raw(SHOPIFY_SECRET), body)),
            ("x-shopify-topic", topic.to_owned()),
        ],
        body,
    )
}

/// Shopify sends one order's `orders/create` and `orders/paid` with the same
/// body, so the same signature: both are events, and both reach the origin.
/// A retry of either is still a duplicate.
#[test]
fn the_same_body_under_two_shopify_topics_is_two_events() {
    let rig = Rig::with(six_routes(""));
    let body = br#"{"id":820982911946154508,"financial_status":"paid"}"#;
    let create = rig.run(&mut shopify_delivery(body, "orders/create"));
    let paid = rig.run(&mut shopify_delivery(body, "orders/paid"));
    assert_eq!(
        (create.outcome, paid.outcome),
        (Outcome::Delivered, Outcome::Delivered)
    );
    assert_ne!(create.key, paid.key);
    assert_eq!(rig.forwarded(), 2);
    assert_eq!(
        rig.last_header("x-shopify-topic").as_deref(),
        Some("orders/paid")
    );
    for topic in ["orders/create", "orders/paid"] {
        assert_eq!(
            rig.run(&mut shopify_delivery(body, topic)).outcome,
            Outcome::AlreadyDelivered,
            "{topic}"
        );
    }
    assert_eq!(rig.forwarded(), 2);
}

/// The same for GitHub's event names; the delivery id still counts for
/// nothing (it is not signed, and a redelivery keeps it anyway).
#[test]
fn the_same_body_under_two_github_events_is_two_events() {
    let rig = Rig::with(six_routes(""));
    let body = br#"{"ref":"main","repository":{"id":42}}"#;
    let push = rig.run(&mut github_delivery(body, "d-1"));
    let mut create = github_delivery(body, "d-2");
    create.set("x-github-event", "create");
    let create = rig.run(&mut create);
    assert_eq!(
        (push.outcome, create.outcome),
        (Outcome::Delivered, Outcome::Delivered)
    );
    assert_ne!(push.key, create.key);
    let mut again = github_delivery(body, "d-3-forged");
    again.set("x-github-event", "create");
    assert_eq!(rig.run(&mut again).outcome, Outcome::AlreadyDelivered);
    assert_eq!(rig.forwarded(), 2);
}

/// A delivery without the event header keeps the key the signature alone
/// made before, and every other scheme's signature key is unchanged.
#[test]
fn without_an_event_header_the_key_is_the_signatures_alone() {
    let rig = Rig::with(six_routes(""));
    let body = br#"{"id":1}"#;
    let tag = raw(SHOPIFY_SECRET).tag(b"", body);
    let mut bare = FakeRequest::new(
        "/shopify",
        &[(shopify::HEADER, shopify::sign(&raw(SHOPIFY_SECRET), body))],
        body,
    );
    let handled = rig.run(&mut bare);
    assert_eq!(handled.key, Some(fingerprint(&tag)));
    let topic = rig.run(&mut shopify_delivery(body, "orders/create"));
    assert_eq!(topic.key, Some(fingerprint_with(&tag, b"orders_create")));
    assert_eq!(topic.outcome, Outcome::Delivered);
}

/// Found in review: the event name is unsigned, and Shopify's library takes
/// `ORDERS/CREATE` or `orders.create` for `orders/create`, so each spelling
/// of a captured delivery's name was a new key and reached the origin's
/// handler again. Every spelling is now the one key.
#[test]
fn another_spelling_of_the_event_name_is_no_new_key() {
    let rig = Rig::with(six_routes(""));
    let body = br#"{"id":7}"#;
    assert_eq!(
        rig.run(&mut shopify_delivery(body, "orders/create"))
            .outcome,
        Outcome::Delivered
    );
    for spelling in ["ORDERS/CREATE", "orders.create", "Orders_Create"] {
        let again = rig.run(&mut shopify_delivery(body, spelling));
        assert_eq!(again.outcome, Outcome::AlreadyDelivered, "{spelling}");
    }
    assert_eq!(
        rig.run(&mut shopify_delivery(body, "orders/paid")).outcome,
        Outcome::Delivered,
        "another event of the same body is still its own"
    );
    assert_eq!(rig.forwarded(), 2);
}

/// Queue mode keys what it queues the same way: both topics are queued.
#[test]
fn the_same_body_under_two_topics_is_queued_twice() {
    let rig = Rig::with(six_routes(
        r#", "delivery": "queue", "origin_secret": "ORIGIN""#,
    ));
    let body = br#"{"id":820982911946154508}"#;
    for topic in ["orders/create", "orders/paid"] {
        assert_eq!(
            rig.run(&mut shopify_delivery(body, topic)).outcome,
            Outcome::Queued,
            "{topic}"
        );
    }
    assert_eq!(
        rig.run(&mut shopify_delivery(body, "orders/paid")).outcome,
        Outcome::AlreadyDelivered
    );
    let sent = rig.queue.sent.borrow();
    assert_eq!(sent.len(), 2);
    assert_ne!(sent[0].key, sent[1].key);
}

#[test]
fn a_stripe_retry_with_a_new_t_is_not_forwarded_twice() {
    let rig = Rig::with(six_routes(""));
    let body = br#"{"id":"evt_123","object":"event","type":"invoice.paid"}"#;
    let first = rig.run(&mut stripe_delivery(body, NOW - 10));
    assert_eq!(first.outcome, Outcome::Delivered);
    assert_eq!(first.key.as_deref(), Some("evt_123"));
    assert_eq!(first.event_type.as_deref(), Some("invoice.paid"));
    rig.clock.advance_ms(60_000);
    let retry = rig.run(&mut stripe_delivery(body, NOW + 60));
    assert_eq!(retry.outcome, Outcome::AlreadyDelivered);
    assert_eq!(rig.forwarded(), 1);
}

#[test]
fn replay_keys_of_different_routes_never_collide() {
    let rig = Rig::with(six_routes(""));
    let body = br#"{"id":"EV1"}"#;
    let mut quo = signed("evt_1", NOW, body);
    quo.path = "/quo";
    assert_eq!(rig.run(&mut quo).outcome, Outcome::Delivered);
    let stripe_body = br#"{"id":"evt_1"}"#;
    assert_eq!(
        rig.run(&mut stripe_delivery(stripe_body, NOW)).outcome,
        Outcome::Delivered
    );
    assert_eq!(rig.forwarded(), 2);
    assert!(rig.kv.value_of(&key_for("/quo evt_1")).is_some());
    assert!(rig.kv.value_of(&key_for("/stripe evt_1")).is_some());
}

#[test]
fn a_body_without_a_usable_id_falls_back_to_the_signature() {
    let rig = Rig::with(six_routes(""));
    for body in [
        &b"not json"[..],
        br#"{"id":12}"#,
        br#"{"id":""}"#,
        br#"{"object":"event"}"#,
    ] {
        let handled = rig.run(&mut stripe_delivery(body, NOW));
        assert_eq!(handled.outcome, Outcome::Delivered, "{body:?}");
        assert!(
            handled
                .key
                .as_deref()
                .is_some_and(|k| k.starts_with("sig_")),
            "{handled:?}"
        );
    }
    // The fallback is stable: the same signed content is the same key.
    let again = rig.run(&mut stripe_delivery(b"not json", NOW));
    assert_eq!(again.outcome, Outcome::AlreadyDelivered);
}

/// An event id no webhook-id could hold (a `.`, a space at an end, a
/// byte outside printable ASCII, too long) still keys its event: Stripe's
/// retries, signed anew with a new `t`, are forwarded once. The key is a
/// valid webhook-id, so the re-signed forward carries it and verifies.
#[test]
fn an_id_no_webhook_id_could_hold_still_keys_the_retries_of_its_event() {
    let rig = Rig::with(six_routes(r#", "origin_secret": "ORIGIN""#));
    let long = format!(r#"{{"id":"evt_{}"}}"#, "x".repeat(300));
    let bodies: [&[u8]; 5] = [
        br#"{"id":"evt_1.retry","type":"invoice.paid"}"#,
        br#"{"id":"evt_2.retry","type":"invoice.paid"}"#,
        br#"{"id":"evt_3 "}"#,
        "{\"id\":\"évt_4\"}".as_bytes(),
        long.as_bytes(),
    ];
    let mut keys = Vec::new();
    for body in bodies {
        let first = rig.run(&mut stripe_delivery(body, NOW - 10));
        assert_eq!(first.outcome, Outcome::Delivered, "{body:?}");
        let key = first.key.expect("keyed");
        assert!(key.starts_with("id_") && key.len() == 35, "{key}");
        assert!(standard_webhooks::id_is_valid(&key));
        let header = |n| rig.last_header(n).expect(n);
        assert_eq!(header("webhook-id"), key);
        assert_eq!(
            standard_webhooks::verify(
                &standard_webhooks::parse_keys(ORIGIN_KEY).expect("key"),
                &key,
                &header("webhook-timestamp"),
                &header("webhook-signature"),
                body,
                NOW,
                5
            ),
            Ok(())
        );
        let retry = rig.run(&mut stripe_delivery(body, NOW + 20));
        assert_eq!(retry.outcome, Outcome::AlreadyDelivered, "{body:?}");
        assert_eq!(retry.key.as_deref(), Some(key.as_str()));
        keys.push(key);
    }
    assert_eq!(rig.forwarded(), bodies.len());
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), bodies.len(), "different ids, different keys");
    // An id a webhook-id can hold is still the key as it is.
    let plain = rig.run(&mut stripe_delivery(br#"{"id":"evt_plain"}"#, NOW));
    assert_eq!(plain.key.as_deref(), Some("evt_plain"));
}

#[test]
fn a_verified_slack_handshake_is_answered_not_forwarded() {
    let rig = Rig::with(six_routes(""));
    let body = br#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let headers = [
        (
            slack::SIGNATURE_HEADER,
            slack::sign(&raw(SLACK_SECRET), NOW, body),
        ),
        (slack::TIMESTAMP_HEADER, NOW.to_string()),
    ];
    let handled = rig.run(&mut FakeRequest::new("/slack", &headers, body));
    assert_eq!(handled.outcome, Outcome::Challenge);
    assert_eq!(
        handled.challenge.as_deref(),
        Some("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
    );
    assert_eq!(rig.forwarded(), 0);
    assert_eq!(rig.kv.calls.borrow().len(), 0);
    // Forged: no answer, no challenge.
    let forged = [
        (
            slack::SIGNATURE_HEADER,
            slack::sign(&raw("not the secret"), NOW, body),
        ),
        (slack::TIMESTAMP_HEADER, NOW.to_string()),
    ];
    let handled = rig.run(&mut FakeRequest::new("/slack", &forged, body));
    assert_eq!(handled.outcome, Outcome::BadSignature);
    assert_eq!(handled.challenge, None);
}

#[test]
fn slack_events_are_keyed_by_event_id() {
    let rig = Rig::with(six_routes(""));
    let body = br#"{"type":"event_callback","event_id":"Ev08MFMKH6","event":{"type":"message"}}"#;
    let send = |ts: i64| {
        let headers = [
            (
                slack::SIGNATURE_HEADER,
                slack::sign(&raw(SLACK_SECRET), ts, body),
            ),
            (slack::TIMESTAMP_HEADER, ts.to_string()),
            ("x-slack-retry-num", "1".to_owned()),
        ];
        rig.run(&mut FakeRequest::new("/slack", &headers, body))
    };
    let first = send(NOW);
    assert_eq!(first.key.as_deref(), Some("Ev08MFMKH6"));
    assert_eq!(first.event_type.as_deref(), Some("event_callback"));
    assert_eq!(send(NOW + 1).outcome, Outcome::AlreadyDelivered);
    assert_eq!(rig.last_header("x-slack-retry-num").as_deref(), Some("1"));
}

#[test]
fn every_scheme_can_be_re_signed_for_one_origin_verifier() {
    let rig = Rig::with(six_routes(r#", "origin_secret": "ORIGIN""#));
    let body = br#"{"id":"evt_9","type":"invoice.paid"}"#;
    assert_eq!(
        rig.run(&mut stripe_delivery(body, NOW)).outcome,
        Outcome::Delivered
    );
    let keys = standard_webhooks::parse_keys(ORIGIN_KEY).expect("key");
    let header = |n| rig.last_header(n).expect(n);
    assert_eq!(header("webhook-id"), "evt_9");
    assert_eq!(
        standard_webhooks::verify(
            &keys,
            "evt_9",
            &header("webhook-timestamp"),
            &header("webhook-signature"),
            body,
            NOW,
            5
        ),
        Ok(())
    );
    assert!(
        rig.last_header(stripe::HEADER).is_some(),
        "the sender's own header stays"
    );
    // GitHub's key is a fingerprint: a valid webhook-id too.
    assert_eq!(
        rig.run(&mut github_delivery(body, "d-1")).outcome,
        Outcome::Delivered
    );
    let id = header("webhook-id");
    assert!(standard_webhooks::id_is_valid(&id));
    assert_eq!(
        standard_webhooks::verify(
            &keys,
            &id,
            &header("webhook-timestamp"),
            &header("webhook-signature"),
            body,
            NOW,
            5
        ),
        Ok(())
    );
}

#[test]
fn svix_headers_deliver_on_a_standard_webhooks_route() {
    let rig = Rig::with(six_routes(""));
    let body = br#"{"type":"user.created"}"#;
    let mut request = FakeRequest::new(
        "/quo",
        &[
            ("svix-id", "msg_svix".to_owned()),
            ("svix-timestamp", NOW.to_string()),
            (
                "svix-signature",
                standard_webhooks::sign(&key(), "msg_svix", NOW, body),
            ),
        ],
        body,
    );
    let handled = rig.run(&mut request);
    assert_eq!(handled.outcome, Outcome::Delivered);
    assert_eq!(handled.key.as_deref(), Some("msg_svix"));
    assert_eq!(rig.last_header("svix-id").as_deref(), Some("msg_svix"));
}

/// What reaches the origin is what was verified: when `svix-*` headers were
/// read, a `webhook-*` twin beside them was never checked and is dropped,
/// header by header (the read is header by header too).
#[test]
fn only_the_verified_twin_of_each_svix_header_reaches_the_origin() {
    let rig = Rig::with(six_routes(""));
    let body = br#"{"type":"user.created"}"#;
    let signature = standard_webhooks::sign(&key(), "msg_svix", NOW, body);
    let mut request = FakeRequest::new(
        "/quo",
        &[
            ("svix-id", "msg_svix".to_owned()),
            ("svix-timestamp", NOW.to_string()),
            ("svix-signature", signature.clone()),
            ("webhook-id", "msg_attacker".to_owned()),
            ("webhook-timestamp", "1".to_owned()),
            ("webhook-signature", "v1,AAAA".to_owned()),
        ],
        body,
    );
    assert_eq!(rig.run(&mut request).outcome, Outcome::Delivered);
    assert_eq!(rig.last_header("svix-id").as_deref(), Some("msg_svix"));
    assert_eq!(rig.last_header("svix-signature"), Some(signature.clone()));
    for twin in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        assert_eq!(rig.last_header(twin), None, "{twin} was not verified");
    }
    // A mix: svix-id was read, the webhook-* timestamp and signature were.
    let mut mixed = FakeRequest::new(
        "/quo",
        &[
            ("svix-id", "msg_mixed".to_owned()),
            ("webhook-id", "msg_attacker".to_owned()),
            ("webhook-timestamp", NOW.to_string()),
            (
                "webhook-signature",
                standard_webhooks::sign(&key(), "msg_mixed", NOW, body),
            ),
        ],
        body,
    );
    assert_eq!(rig.run(&mut mixed).outcome, Outcome::Delivered);
    let received = rig.origin.received.borrow();
    let names: Vec<_> = received[1]
        .headers
        .iter()
        .map(|(n, _)| n.as_ref())
        .collect();
    assert_eq!(names, ["webhook-timestamp", "webhook-signature", "svix-id"]);
}

#[test]
fn a_quo_legacy_retry_is_keyed_by_the_body_event_id() {
    let rig = Rig::with(six_routes(""));
    let key = &quo_legacy::parse_keys(QUO_LEGACY_SECRET).expect("key")[0];
    let body = br#"{"id":"EVc67ec998b35c41d388af50799aeeba3e","object":"event","type":"message.received"}"#;
    let send = |ms: i64| {
        let headers = [(quo_legacy::HEADER, quo_legacy::sign(key, ms, body))];
        rig.run(&mut FakeRequest::new("/quo-legacy", &headers, body))
    };
    let first = send(NOW * 1000 + 123);
    assert_eq!(first.outcome, Outcome::Delivered);
    assert_eq!(
        first.key.as_deref(),
        Some("EVc67ec998b35c41d388af50799aeeba3e")
    );
    assert_eq!(send(NOW * 1000 + 60_000).outcome, Outcome::AlreadyDelivered);
    // Milliseconds: a stamp 301 s old is stale.
    assert_eq!(send(NOW * 1000 - 301_000).outcome, Outcome::StaleTimestamp);
    assert_eq!(rig.forwarded(), 1);
}

// --- paused routes ----------------------------------------------------------

#[test]
fn a_paused_direct_route_asks_the_sender_to_retry_and_claims_nothing() {
    let rig = Rig::new();
    rig.paused.routes.borrow_mut().push("/".into());
    let handled = rig.run(&mut signed("msg_1", NOW, b"{}"));
    assert_eq!(handled.outcome, Outcome::Paused);
    assert_eq!(handled.retry_after, Some(PAUSED_RETRY_AFTER_SECONDS));
    assert_eq!(
        (rig.forwarded(), rig.kv.len()),
        (0, 0),
        "no forward, no claim"
    );
    let answer = handled.outcome.answer_after(None, handled.retry_after);
    assert_eq!(answer.status, 503);
    assert!(answer.headers.contains(&("retry-after", "60".to_owned())));
    // A forgery is refused as ever, without asking whether the route is paused.
    let asked = rig.paused.asked.get();
    let mut forged = signed("msg_2", NOW, b"{}");
    forged.body = Ok(b"{\"x\":1}".to_vec());
    assert_eq!(rig.run(&mut forged).outcome, Outcome::BadSignature);
    assert_eq!(rig.paused.asked.get(), asked);
    // Resumed: the sender's retry goes through, once.
    rig.paused.routes.borrow_mut().clear();
    assert_eq!(
        rig.run(&mut signed("msg_1", NOW, b"{}")).outcome,
        Outcome::Delivered
    );
    assert_eq!(
        rig.run(&mut signed("msg_1", NOW, b"{}")).outcome,
        Outcome::AlreadyDelivered
    );
    assert_eq!(rig.forwarded(), 1);
}

#[test]
fn a_paused_queue_route_still_queues_but_a_body_too_large_for_the_queue_waits() {
    let rig = queue_rig();
    rig.paused.routes.borrow_mut().push("/".into());
    assert_eq!(
        rig.run(&mut signed("msg_1", NOW, b"{}")).outcome,
        Outcome::Queued
    );
    let large = vec![b' '; MAX_QUEUED_BODY_BYTES + 1];
    assert_eq!(
        rig.run(&mut signed("msg_2", NOW, &large)).outcome,
        Outcome::Paused
    );
    assert_eq!((rig.queue.sent.borrow().len(), rig.forwarded()), (1, 0));
}

// --- queue mode -------------------------------------------------------------

fn queue_rig() -> Rig {
    Rig::with(config_with(&[
        ("DELIVERY", "queue"),
        ("ORIGIN_SECRET", ORIGIN_KEY),
        ("MAX_BODY_BYTES", "200000"),
    ]))
}

#[test]
fn a_queue_route_answers_once_the_event_is_queued() {
    let rig = queue_rig();
    let handled = rig.run(&mut signed("msg_1", NOW, b"{\"type\":\"x\"}"));
    assert_eq!(handled.outcome, Outcome::Queued);
    assert_eq!(rig.forwarded(), 0, "not forwarded while the sender waits");
    let sent = rig.queue.sent.borrow();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].key, "msg_1");
    assert_eq!(sent[0].route, "/");
    assert_eq!(sent[0].body, b"{\"type\":\"x\"}");
    assert_eq!(sent[0].event_type.as_deref(), Some("x"));
    assert!(sent[0]
        .headers
        .iter()
        .any(|(n, v)| n == "webhook-id" && v == "msg_1"));
    assert!(!sent[0].headers.iter().any(|(n, _)| n == "cookie"));
    assert!(rig
        .kv
        .value_of(&key_for("msg_1"))
        .is_some_and(|v| v.starts_with("done:")));
}

#[test]
fn a_duplicate_of_a_queued_event_is_not_queued_again() {
    let rig = queue_rig();
    assert_eq!(
        rig.run(&mut signed("msg_1", NOW, b"{}")).outcome,
        Outcome::Queued
    );
    rig.clock.advance_ms(5_000);
    assert_eq!(
        rig.run(&mut signed("msg_1", NOW + 5, b"{}")).outcome,
        Outcome::AlreadyDelivered
    );
    assert_eq!(rig.queue.sent.borrow().len(), 1);
}

#[test]
fn a_queue_that_refuses_releases_the_claim_so_the_retry_goes_through() {
    let rig = queue_rig();
    rig.queue.refuse.set(true);
    let handled = rig.run(&mut signed("msg_1", NOW, b"{}"));
    assert_eq!(handled.outcome, Outcome::QueueUnavailable);
    assert_eq!(handled.incidents, vec![Incident::QueueRefused]);
    assert_eq!(rig.kv.len(), 0, "claim released");
    rig.queue.refuse.set(false);
    // The sender's retry, once the cool-down after the failure is over.
    rig.clock.advance_ms(10_000);
    assert_eq!(
        rig.run(&mut signed("msg_1", NOW + 10, b"{}")).outcome,
        Outcome::Queued
    );
}

#[test]
fn a_body_too_large_for_a_queue_message_is_forwarded_directly() {
    let rig = queue_rig();
    let big = vec![b'a'; MAX_QUEUED_BODY_BYTES + 1];
    let handled = rig.run(&mut signed("msg_1", NOW, &big));
    assert_eq!(handled.outcome, Outcome::Delivered);
    assert_eq!(rig.queue.sent.borrow().len(), 0);
    assert_eq!(rig.forwarded(), 1);
    assert!(
        rig.last_header("webhook-signature").is_some(),
        "re-signed as queued forwards are"
    );
}

#[test]
fn incidents_are_named_as_debug_writes_them() {
    for incident in [
        Incident::OriginStatus(502),
        Incident::OriginUnreachable,
        Incident::ResignFailed,
        Incident::OriginTimedOut,
        Incident::ClaimFailed,
        Incident::MarkDoneFailed,
        Incident::ReleaseFailed,
        Incident::QueueRefused,
    ] {
        let mut name = String::new();
        incident.push_name(&mut name);
        assert_eq!(name, format!("{incident:?}"));
    }
}

/// KV writes (puts and deletes) the store made so far.
fn kv_writes(kv: &FakeKv) -> usize {
    kv.calls
        .borrow()
        .iter()
        .filter(|call| !call.starts_with("get "))
        .count()
}

#[test]
fn a_captured_delivery_replayed_while_the_origin_fails_costs_at_most_three_writes() {
    // GitHub signs no timestamp: a captured delivery stays valid for as long
    // as its origin refuses it.
    let rig = Rig::with(
        Config::from_settings(|name| match name {
            "ROUTES" => Some(
                r#"{"/gh":{"scheme":"github","secret":"GH","origin":"https://o.example/gh"}}"#
                    .to_owned(),
            ),
            "GH" => Some("It's a Secret to Everybody".to_owned()),
            _ => None,
        })
        .expect("config"),
    );
    rig.origin.answer.set(Ok(500));
    let body = br#"{"action":"opened"}"#;
    let signature = github::sign(&raw("It's a Secret to Everybody"), body);
    let capture = || {
        let mut request = FakeRequest::new(
            "/gh",
            &[
                ("x-hub-signature-256", signature.clone()),
                ("x-github-event", "issues".to_owned()),
            ],
            body,
        );
        request.method = "POST";
        request
    };
    let mut answers = HashMap::new();
    // 100 copies within 5 seconds.
    for _ in 0..100 {
        let handled = rig.run(&mut capture());
        *answers.entry(handled.outcome.reason()).or_insert(0) += 1;
        rig.clock.advance_ms(50);
    }
    assert!(rig.forwarded() <= 3, "origin requests: {}", rig.forwarded());
    assert!(
        kv_writes(&rig.kv) <= 3,
        "store writes: {:?}",
        rig.kv.calls.borrow()
    );
    assert_eq!(answers.get("origin-failed"), Some(&rig.forwarded()));
    assert_eq!(
        answers.get("cooling-down").copied().unwrap_or(0) + rig.forwarded(),
        100,
        "{answers:?}"
    );
}

#[test]
fn copies_inside_the_cool_down_are_503_with_the_wait_left() {
    let rig = Rig::new();
    rig.origin.answer.set(Ok(502));
    assert_eq!(
        rig.run(&mut signed("msg_1", NOW, b"{}")).outcome,
        Outcome::OriginFailed
    );
    rig.clock.advance_ms(3_000);
    let handled = rig.run(&mut signed("msg_1", NOW + 3, b"{}"));
    assert_eq!(handled.outcome, Outcome::CoolingDown);
    assert_eq!(handled.retry_after, Some(7));
    let answer = handled
        .outcome
        .answer_after(handled.scheme, handled.retry_after);
    assert_eq!(answer.status, 503);
    assert!(answer.headers.contains(&("retry-after", "7".to_owned())));
    // Other keys are not held back.
    rig.origin.answer.set(Ok(200));
    assert_eq!(
        rig.run(&mut signed("msg_2", NOW + 3, b"{}")).outcome,
        Outcome::Delivered
    );
}

#[test]
fn the_senders_retry_after_the_cool_down_is_delivered_and_each_failure_doubles_it() {
    let rig = Rig::new();
    rig.origin.answer.set(Ok(500));
    let mut at = NOW;
    for wait in [10, 20, 40] {
        assert_eq!(
            rig.run(&mut signed("msg_1", at, b"{}")).outcome,
            Outcome::OriginFailed
        );
        rig.clock.advance_ms((wait - 1) * 1000);
        let early = rig.run(&mut signed("msg_1", at + wait - 1, b"{}"));
        assert_eq!(early.outcome, Outcome::CoolingDown, "after {wait} s");
        rig.clock.advance_ms(1000);
        at += wait;
    }
    rig.origin.answer.set(Ok(200));
    assert_eq!(
        rig.run(&mut signed("msg_1", at, b"{}")).outcome,
        Outcome::Delivered
    );
    assert_eq!(rig.forwarded(), 4);
}

#[test]
fn without_a_cool_down_the_retry_goes_straight_through() {
    let rig = Rig::with(config_with(&[("FAILURE_COOL_DOWN_SECONDS", "0")]));
    rig.origin.answer.set(Ok(500));
    rig.run(&mut signed("msg_1", NOW, b"{}"));
    rig.origin.answer.set(Ok(200));
    assert_eq!(
        rig.run(&mut signed("msg_1", NOW, b"{}")).outcome,
        Outcome::Delivered
    );
}

#[test]
fn a_filtered_route_forwards_only_its_event_types_and_stores_nothing_else() {
    let rig = Rig::with(six_routes(r#", "events": ["message.*", "push"]"#));
    let quo = |id: &str, body: &[u8]| {
        let mut request = signed(id, NOW, body);
        request.path = "/quo";
        request
    };
    let dropped = rig.run(&mut quo("evt_call", br#"{"type":"call.completed"}"#));
    assert_eq!(dropped.outcome, Outcome::Filtered);
    assert_eq!(dropped.outcome.answer(None).status, 200);
    assert_eq!(dropped.event_type.as_deref(), Some("call.completed"));
    assert_eq!(rig.forwarded(), 0);
    assert!(rig.kv.calls.borrow().is_empty(), "nothing stored or read");
    // An event whose body names no type is not one of the listed types.
    let untyped = rig.run(&mut quo("evt_none", br#"{"id":"EV1"}"#));
    assert_eq!(untyped.outcome, Outcome::Filtered);

    let taken = rig.run(&mut quo("evt_msg", br#"{"type":"message.received"}"#));
    assert_eq!(taken.outcome, Outcome::Delivered);
    assert_eq!(rig.forwarded(), 1);
    // The sender's event header names a GitHub event's type.
    let push = rig.run(&mut github_delivery(b"{}", "d1"));
    assert_eq!(push.outcome, Outcome::Delivered);
    assert_eq!(rig.forwarded(), 2);

    // Verification comes first: a forgery of a filtered type is refused.
    let mut forged = quo("evt_forged", br#"{"type":"call.completed"}"#);
    forged.headers.insert(
        "webhook-signature".to_owned(),
        standard_webhooks::sign(&key(), "other", NOW, b"{}"),
    );
    assert_eq!(rig.run(&mut forged).outcome, Outcome::BadSignature);
}

#[test]
fn a_filtered_route_reads_the_type_of_a_body_of_any_size() {
    let rig = Rig::with(six_routes(r#", "events": "message.*""#));
    let padding = "x".repeat(TYPE_SCAN_MAX_BYTES);
    for (id, kind, outcome) in [
        ("evt_big_msg", "message.received", Outcome::Delivered),
        ("evt_big_call", "call.completed", Outcome::Filtered),
    ] {
        let body = format!(r#"{{"data":"{padding}","type":"{kind}"}}"#);
        let mut request = signed(id, NOW, body.as_bytes());
        request.path = "/quo";
        assert_eq!(rig.run(&mut request).outcome, outcome, "{kind}");
    }
    assert_eq!(rig.forwarded(), 1);
}

// ---------------------------------------------------------------------------
// `hmac` routes: the sender described by the route's fields.

const HMAC_SECRET: &str = "an hmac route's secret";

/// One route per shape of signed content, each with its own origin.
fn hmac_routes(extra: &str) -> Config {
    let routes = format!(
        r#"{{
        "/body": {{"scheme": "hmac", "secret": "HMAC", "origin": "http://o/body",
                   "signature_header": "X-Hub-Signature", "signature_prefix": "sha1=",
                   "algorithm": "sha1", "replay_key_field": "notification_id" {extra}}},
        "/stamped": {{"scheme": "hmac", "secret": "HMAC", "origin": "http://o/stamped",
                   "signature_header": "x-sig", "encoding": "base64",
                   "signed": "{{timestamp}}{{body}}", "timestamp_header": "x-ts" {extra}}},
        "/suffix": {{"scheme": "hmac", "secret": "HMAC", "origin": "http://o/suffix",
                   "signature_header": "x-sig", "algorithm": "sha512",
                   "signed": "{{body}}.{{timestamp}}", "timestamp_header": "x-ts",
                   "timestamp_unit": "milliseconds" {extra}}},
        "/ided": {{"scheme": "hmac", "secret": "HMAC", "origin": "http://o/ided",
                   "signature_header": "x-sig", "signature_prefix": "sha256=",
                   "signed": "{{id}}.{{timestamp}}{{body}}", "timestamp_header": "x-ts",
                   "id_header": "x-id" {extra}}},
        "/url": {{"scheme": "hmac", "secret": "HMAC", "origin": "http://o/url",
                   "signature_header": "x-sig", "encoding": "base64url",
                   "signed": "{{body}}|{{method}} {{url}}" {extra}}},
        "/public": {{"scheme": "hmac", "secret": "HMAC", "origin": "http://o/public",
                   "signature_header": "x-sig", "encoding": "base64",
                   "signed": "{{url}}{{body}}", "public_url": "https://hooks.example.com/square" {extra}}}
    }}"#
    );
    let settings = HashMap::from([
        ("ROUTES", routes),
        ("HMAC", HMAC_SECRET.to_owned()),
        ("ORIGIN", ORIGIN_KEY.to_owned()),
    ]);
    Config::from_settings(|name| settings.get(name).cloned()).expect("valid routes")
}

/// A delivery to `path` signed as that route's sender signs, with `ms` as
/// the timestamp header for routes in milliseconds.
fn hmac_delivery(
    config: &Config,
    path: &'static str,
    body: &[u8],
    ts: i64,
    id: &str,
) -> FakeRequest {
    let (_, route) = config.route_for(path).expect("route");
    let spec = route.hmac.as_ref().expect("an hmac route");
    let timestamp = match spec.timestamp_unit {
        crate::schemes::hmac::Unit::Seconds => ts.to_string(),
        crate::schemes::hmac::Unit::Milliseconds => (ts * 1000).to_string(),
    };
    let url = format!("https://gate.example{path}");
    let delivery = crate::schemes::hmac::Delivery {
        timestamp: &timestamp,
        id,
        url: &url,
        body,
    };
    let mut headers = vec![
        (
            spec.signature_header.as_str(),
            spec.sign(&raw(HMAC_SECRET), &delivery),
        ),
        ("content-type", "application/json".to_owned()),
        ("cookie", "session=1".to_owned()),
        ("x-unsigned-extra", "dropped".to_owned()),
    ];
    if let Some(name) = &spec.timestamp_header {
        headers.push((name.as_str(), timestamp.clone()));
    }
    if let Some(name) = &spec.id_header {
        headers.push((name.as_str(), id.to_owned()));
    }
    FakeRequest::new(path, &headers, body)
}

#[test]
fn each_hmac_route_verifies_its_description_and_forwards_its_own_headers() {
    let config = hmac_routes("");
    let rig = Rig::with(config.clone());
    let body = br#"{"notification_id":"ntf_1","type":"conversation.created"}"#;
    let expected: &[(&str, &[&str])] = &[
        ("/body", &["x-hub-signature"]),
        ("/stamped", &["x-sig", "x-ts"]),
        ("/suffix", &["x-sig", "x-ts"]),
        ("/ided", &["x-sig", "x-ts", "x-id"]),
        ("/url", &["x-sig"]),
        ("/public", &["x-sig"]),
    ];
    for (index, (path, headers)) in expected.iter().enumerate() {
        let handled = rig.run(&mut hmac_delivery(&config, path, body, NOW, "evt_1"));
        assert_eq!(handled.outcome, Outcome::Delivered, "{path}");
        assert_eq!(
            (handled.route, handled.scheme),
            (Some(index), Some(Scheme::Hmac))
        );
        assert_eq!(handled.event_type.as_deref(), Some("conversation.created"));
        let received = rig.origin.received.borrow();
        let last = received.last().expect("forwarded");
        assert_eq!(last.url, format!("http://o{path}"));
        assert_eq!(last.body, body);
        let names: Vec<_> = last.headers.iter().map(|(n, _)| n.as_ref()).collect();
        let mut want = vec!["content-type"];
        want.extend(*headers);
        assert_eq!(names, want, "{path}: only the route's own headers");
    }
    assert_eq!(rig.forwarded(), expected.len());
}

/// The replay key: the signed id, else the body field, else the
/// signature's fingerprint; nothing unsigned counts.
#[test]
fn an_hmac_routes_replay_key_comes_only_from_signed_content() {
    let config = hmac_routes("");
    let rig = Rig::with(config.clone());
    let body = br#"{"notification_id":"ntf_1"}"#;

    // The signed id: a retry signed anew (a later timestamp) is a duplicate.
    let first = rig.run(&mut hmac_delivery(&config, "/ided", body, NOW, "evt_1"));
    assert_eq!(first.key.as_deref(), Some("evt_1"));
    rig.clock.advance_ms(30_000);
    let retry = rig.run(&mut hmac_delivery(
        &config,
        "/ided",
        body,
        NOW + 30,
        "evt_1",
    ));
    assert_eq!(retry.outcome, Outcome::AlreadyDelivered);
    let other = rig.run(&mut hmac_delivery(
        &config,
        "/ided",
        body,
        NOW + 30,
        "evt_2",
    ));
    assert_eq!(other.outcome, Outcome::Delivered);

    // The body field: the same event, however its unsigned headers differ.
    let field = rig.run(&mut hmac_delivery(&config, "/body", body, NOW, ""));
    assert_eq!(field.key.as_deref(), Some("ntf_1"));
    let mut again = hmac_delivery(&config, "/body", body, NOW, "");
    again.set("x-unsigned-extra", "changed");
    assert_eq!(rig.run(&mut again).outcome, Outcome::AlreadyDelivered);
    // A body without the field falls back to the signature.
    let bare = rig.run(&mut hmac_delivery(
        &config,
        "/body",
        br#"{"id":"x"}"#,
        NOW,
        "",
    ));
    assert!(bare.key.as_deref().is_some_and(|k| k.starts_with("sig_")));

    // The signature: a re-stamped copy is another signature, so the window
    // bounds it; the same copy within the TTL is a duplicate.
    let stamped = rig.run(&mut hmac_delivery(&config, "/stamped", body, NOW, ""));
    assert!(stamped
        .key
        .as_deref()
        .is_some_and(|k| k.starts_with("sig_")));
    let mut copy = hmac_delivery(&config, "/stamped", body, NOW, "");
    copy.set("x-unsigned-extra", "another");
    assert_eq!(rig.run(&mut copy).outcome, Outcome::AlreadyDelivered);
}

#[test]
fn an_hmac_routes_window_is_its_tolerance_in_its_unit() {
    let config = hmac_routes(r#", "tolerance_seconds": 60, "dedupe_ttl_seconds": 600"#);
    let rig = Rig::with(config.clone());
    for (path, at, outcome) in [
        ("/stamped", NOW - 61, Outcome::StaleTimestamp),
        ("/stamped", NOW + 61, Outcome::FutureTimestamp),
        ("/suffix", NOW - 61, Outcome::StaleTimestamp),
        ("/ided", NOW + 61, Outcome::FutureTimestamp),
        ("/suffix", NOW - 60, Outcome::Delivered),
    ] {
        let mut request = hmac_delivery(&config, path, b"{}", at, "evt_w");
        let handled = rig.run(&mut request);
        assert_eq!(handled.outcome, outcome, "{path} at {at}");
        if outcome != Outcome::Delivered {
            assert_eq!(request.body_reads, 0, "refused before the body");
        }
    }
    // Milliseconds are read as milliseconds: seconds there are 1970.
    let mut seconds = hmac_delivery(&config, "/suffix", b"{}", NOW, "");
    seconds.set("x-ts", &NOW.to_string());
    assert_eq!(rig.run(&mut seconds).outcome, Outcome::StaleTimestamp);
    let mut padded = hmac_delivery(&config, "/stamped", b"{}", NOW, "");
    padded.set("x-ts", &format!("0{NOW}"));
    assert_eq!(rig.run(&mut padded).outcome, Outcome::BadTimestamp);
}

#[test]
fn hmac_forgeries_are_refused_with_the_right_reason() {
    let config = hmac_routes("");
    let rig = Rig::with(config.clone());
    let body = br#"{"notification_id":"ntf_9"}"#;
    for path in ["/body", "/stamped", "/suffix", "/ided", "/url", "/public"] {
        let mut tampered = hmac_delivery(&config, path, body, NOW, "evt_9");
        tampered.body = Ok(br#"{"notification_id":"ntf_8"}"#.to_vec());
        assert_eq!(
            rig.run(&mut tampered).outcome,
            Outcome::BadSignature,
            "{path}"
        );

        let (_, route) = config.route_for(path).expect("route");
        let spec = route.hmac.as_ref().expect("hmac");
        let mut missing = hmac_delivery(&config, path, body, NOW, "evt_9");
        missing.headers.remove(&spec.signature_header);
        let handled = rig.run(&mut missing);
        assert_eq!(handled.outcome, Outcome::MissingHeader, "{path}");
        assert_eq!(missing.body_reads, 0);
        let answer = handled
            .outcome
            .answer_to(Some(route.sender()), handled.retry_after);
        assert!(
            answer.body.contains(&spec.signature_header),
            "{path}: {}",
            answer.body
        );
        assert!(!answer.body.contains("webhook-"), "{}", answer.body);
    }
    // A stamped or ided route without its other headers.
    let mut no_ts = hmac_delivery(&config, "/ided", body, NOW, "evt_9");
    no_ts.headers.remove("x-ts");
    assert_eq!(rig.run(&mut no_ts).outcome, Outcome::MissingHeader);
    let mut no_id = hmac_delivery(&config, "/ided", body, NOW, "evt_9");
    no_id.headers.remove("x-id");
    assert_eq!(rig.run(&mut no_id).outcome, Outcome::MissingHeader);
    // The signed timestamp and id are signed: changing either breaks it.
    let mut moved = hmac_delivery(&config, "/ided", body, NOW, "evt_9");
    moved.set("x-id", "evt_10");
    assert_eq!(rig.run(&mut moved).outcome, Outcome::BadSignature);
    let mut restamped = hmac_delivery(&config, "/suffix", body, NOW, "");
    restamped.set("x-ts", &((NOW - 1) * 1000).to_string());
    assert_eq!(rig.run(&mut restamped).outcome, Outcome::BadSignature);
    // Signed by a stranger.
    let (_, route) = config.route_for("/stamped").expect("route");
    let spec = route.hmac.as_ref().expect("hmac");
    let delivery = crate::schemes::hmac::Delivery {
        timestamp: &NOW.to_string(),
        id: "",
        url: "",
        body,
    };
    let mut stranger = hmac_delivery(&config, "/stamped", body, NOW, "");
    stranger.set("x-sig", &spec.sign(&raw("not the secret"), &delivery));
    assert_eq!(rig.run(&mut stranger).outcome, Outcome::BadSignature);
    assert_eq!(rig.forwarded(), 0);
}

/// `{url}` is the request's URL as the Worker sees it, or the route's
/// `public_url` when set; a delivery signed for another URL fails.
#[test]
fn the_signed_url_is_the_requests_or_the_public_one() {
    let config = hmac_routes("");
    let rig = Rig::with(config.clone());
    let body = br#"{"event_id":"e1"}"#;
    let (_, route) = config.route_for("/url").expect("route");
    let spec = route.hmac.as_ref().expect("hmac");
    let sign_for = |url: &str| {
        spec.sign(
            &raw(HMAC_SECRET),
            &crate::schemes::hmac::Delivery {
                timestamp: "",
                id: "",
                url,
                body,
            },
        )
    };
    let mut elsewhere = FakeRequest::new(
        "/url",
        &[("x-sig", sign_for("https://elsewhere.example/url"))],
        body,
    );
    assert_eq!(rig.run(&mut elsewhere).outcome, Outcome::BadSignature);
    let mut here = FakeRequest::new(
        "/url",
        &[("x-sig", sign_for("https://gate.example/url"))],
        body,
    );
    assert_eq!(rig.run(&mut here).outcome, Outcome::Delivered);

    // The public URL wins over the request's, whatever URL the signer saw.
    let (_, public) = config.route_for("/public").expect("route");
    let public = public.hmac.as_ref().expect("hmac");
    let value = public.sign(
        &raw(HMAC_SECRET),
        &crate::schemes::hmac::Delivery {
            timestamp: "",
            id: "",
            url: "ignored: public_url is signed",
            body,
        },
    );
    let mut proxied = FakeRequest::new("/public", &[("x-sig", value)], body);
    assert_eq!(rig.run(&mut proxied).outcome, Outcome::Delivered);
    // Signed for the URL the Worker sees instead: refused.
    let tag = raw(HMAC_SECRET).mac(public.algorithm, b"https://gate.example/public", body, b"");
    let worker_url = crate::keys::encode_base64(&tag);
    let mut direct = FakeRequest::new("/public", &[("x-sig", worker_url)], body);
    assert_eq!(rig.run(&mut direct).outcome, Outcome::BadSignature);
}

/// A Standard Webhooks sender described as `hmac` on a route that re-signs:
/// the origin gets hookgate's `webhook-*` headers once, not the sender's
/// beside them.
#[test]
fn a_re_signed_hmac_forward_carries_each_standard_header_once() {
    let routes = r#"{"/sw": {"scheme": "hmac", "secret": "SW", "origin": "http://o/sw",
        "origin_secret": "ORIGIN", "signature_header": "webhook-signature",
        "signature_prefix": "v1,", "encoding": "base64", "key_encoding": "whsec",
        "signed": "{id}.{timestamp}.{body}", "timestamp_header": "webhook-timestamp",
        "id_header": "webhook-id"}}"#;
    let settings = HashMap::from([
        ("ROUTES", routes.to_owned()),
        ("SW", KEY.to_owned()),
        ("ORIGIN", ORIGIN_KEY.to_owned()),
    ]);
    let config = Config::from_settings(|name| settings.get(name).cloned()).expect("valid");
    let rig = Rig::with(config);
    let mut request = signed("msg_sw", NOW, b"{}");
    request.path = "/sw";
    assert_eq!(rig.run(&mut request).outcome, Outcome::Delivered);
    let received = rig.origin.received.borrow();
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
    let signature = &received[0].headers[3].1;
    assert_ne!(
        signature, &request.headers["webhook-signature"],
        "hookgate's own"
    );
}

/// A route named `hmac` that lost its description verifies nothing.
#[test]
fn an_hmac_route_without_its_description_fails_closed() {
    let mut config = hmac_routes("");
    let request = hmac_delivery(&config, "/body", b"{}", NOW, "");
    config.routes[0].hmac = None;
    let rig = Rig::with(config);
    let mut request = request;
    assert_eq!(rig.run(&mut request).outcome, Outcome::MissingHeader);
    assert_eq!(rig.forwarded(), 0);
}

/// A description on a route of a named scheme changes nothing: the route's
/// scheme decides.
#[test]
fn a_named_route_ignores_a_stray_description() {
    let mut config = six_routes("");
    let (index, _) = config.route_for("/github").expect("github");
    config.routes[index].hmac = Some(crate::schemes::hmac::HmacSpec::new("x-other"));
    let rig = Rig::with(config);
    let body = br#"{"ref":"main"}"#;
    assert_eq!(
        rig.run(&mut github_delivery(body, "d-1")).outcome,
        Outcome::Delivered
    );
}
