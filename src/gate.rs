//! The path of one delivery: shape, verify, claim, forward, settle.
//!
//! Pure and generic: the request, the replay store and the origin are traits,
//! so every decision is tested natively with fakes, and the Worker glue only
//! adapts `worker` types to them. Cheap checks come first (path, method,
//! Content-Length, headers, the timestamp window) so a junk request never
//! costs a body read or an HMAC, and only a verified delivery touches the
//! store.

use crate::config::Config;
use crate::mac::Mac;
use crate::origin::{build_forward, Origin, OriginError, Verified};
use crate::outcome::Outcome;
use crate::replay::{Claim, ReplayStore};
use crate::signature::{self, VerifyError};

/// The longest webhook-id accepted; it also bounds what the store hashes.
pub const MAX_ID_BYTES: usize = 256;

/// Why a body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// More bytes arrived than the limit allows; reading stopped there.
    TooLarge,
    /// The stream failed before its end.
    Unreadable,
}

/// An incoming request, as the gate needs to see it.
#[allow(async_fn_in_trait)] // Workers run on one thread; no Send bound is wanted.
pub trait Incoming {
    /// The body, wherever the implementation finds it cheapest to keep.
    type Body;
    fn method(&self) -> &str;
    fn path(&self) -> &str;
    /// A header's value, looked up case-insensitively.
    fn header(&self, name: &str) -> Option<String>;
    /// Reads the whole body, failing as soon as it passes `limit` bytes, so
    /// a body without Content-Length cannot make the gate buffer without end.
    /// `declared` is the request's Content-Length when it parsed, already
    /// checked against `limit` by the gate.
    async fn read_body(
        &mut self,
        declared: Option<u64>,
        limit: usize,
    ) -> Result<Self::Body, BodyError>;
}

/// Something worth a log line that did not change the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incident {
    /// The origin answered this non-2xx status.
    OriginStatus(u16),
    /// The origin could not be reached.
    OriginUnreachable,
    /// The HMAC for re-signing could not be computed; the claim was released.
    ResignFailed,
    /// The origin did not answer in time.
    OriginTimedOut,
    /// The store failed while claiming; the delivery was refused.
    ClaimFailed,
    /// The origin had the event but the `done` mark was not written: a retry
    /// may be forwarded again once the claim expires.
    MarkDoneFailed,
    /// The claim of a failed forward could not be released: retries get 409
    /// until it expires.
    ReleaseFailed,
}

/// The gate's verdict on one request, with what the logs should say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    pub outcome: Outcome,
    /// The request's webhook-id, once it passed the shape checks.
    pub id: Option<String>,
    pub incidents: Vec<Incident>,
}

impl Handled {
    fn early(outcome: Outcome) -> Self {
        Self {
            outcome,
            id: None,
            incidents: Vec::new(),
        }
    }
}

/// Ids are visible ASCII without `.`: the signed content joins id,
/// timestamp and body with dots, and a bounded, printable id is safe to log.
pub fn id_is_valid(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_BYTES
        && id.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'.')
}

fn rejection(error: VerifyError) -> Outcome {
    match error {
        VerifyError::BadTimestamp => Outcome::BadTimestamp,
        VerifyError::StaleTimestamp => Outcome::StaleTimestamp,
        VerifyError::FutureTimestamp => Outcome::FutureTimestamp,
        VerifyError::BadSignature => Outcome::BadSignature,
    }
}

/// Runs one request through the gate. `now` is Unix seconds.
pub async fn handle<I, S, M, O>(
    config: &Config,
    request: &mut I,
    store: &S,
    mac: &M,
    origin: &O,
    now: i64,
) -> Handled
where
    I: Incoming,
    S: ReplayStore,
    M: Mac<I::Body>,
    O: Origin<I::Body>,
{
    let verified = match verify_request(config, request, mac, now).await {
        Ok(verified) => verified,
        Err(outcome) => return Handled::early(outcome),
    };
    let id = verified.id.clone();
    let mut handled = Handled {
        outcome: Outcome::Delivered,
        id: Some(id.clone()),
        incidents: Vec::new(),
    };

    match store.claim(&id).await {
        Err(_) => {
            handled.incidents.push(Incident::ClaimFailed);
            handled.outcome = Outcome::StoreUnavailable;
            return handled;
        }
        Ok(Claim::AlreadyDone) => {
            handled.outcome = Outcome::AlreadyDelivered;
            return handled;
        }
        Ok(Claim::InFlight) => {
            handled.outcome = Outcome::InFlight;
            return handled;
        }
        Ok(Claim::Claimed) => {}
    }

    // From here on the claim is held: every failure must release it.
    let failure = match resign(config, mac, &verified, now).await {
        Err(()) => (Outcome::Internal, Incident::ResignFailed),
        Ok(resigned) => match origin
            .send(
                build_forward(config, verified, resigned),
                config.origin_timeout_ms,
            )
            .await
        {
            Ok(status) if (200..300).contains(&status) => {
                if store.mark_done(&id).await.is_err() {
                    handled.incidents.push(Incident::MarkDoneFailed);
                }
                return handled;
            }
            Ok(status) => (Outcome::OriginFailed, Incident::OriginStatus(status)),
            Err(OriginError::Unreachable) => (Outcome::OriginFailed, Incident::OriginUnreachable),
            Err(OriginError::Timeout) => (Outcome::OriginTimeout, Incident::OriginTimedOut),
        },
    };
    handled.outcome = failure.0;
    handled.incidents.push(failure.1);
    if store.release(&id).await.is_err() {
        handled.incidents.push(Incident::ReleaseFailed);
    }
    handled
}

/// hookgate's own signature for the origin, stamped `now`, when
/// `ORIGIN_SECRET` is set.
async fn resign<B, M: Mac<B>>(
    config: &Config,
    mac: &M,
    delivery: &Verified<B>,
    now: i64,
) -> Result<Option<(i64, signature::Tag)>, ()> {
    if config.origin_key.is_none() {
        return Ok(None);
    }
    match mac.origin_tag(&delivery.id, now, &delivery.body).await {
        Ok(tag) => Ok(Some((now, tag))),
        Err(_) => Err(()),
    }
}

/// Shape and signature checks, cheapest first. Nothing here touches the store.
async fn verify_request<I, M>(
    config: &Config,
    request: &mut I,
    mac: &M,
    now: i64,
) -> Result<Verified<I::Body>, Outcome>
where
    I: Incoming,
    M: Mac<I::Body>,
{
    if request.path() != config.path {
        return Err(Outcome::NotFound);
    }
    if request.method() != "POST" {
        return Err(Outcome::MethodNotAllowed);
    }
    let declared_length = request
        .header("content-length")
        .and_then(|text| text.trim().parse::<u64>().ok());
    if declared_length.is_some_and(|length| length > config.max_body_bytes as u64) {
        return Err(Outcome::TooLarge);
    }

    // An empty webhook-id is a malformed id (400), as the contract says; an
    // empty timestamp or signature is as good as none (401).
    let present = |name: &str| request.header(name).filter(|value| !value.is_empty());
    let (Some(id), Some(timestamp), Some(signature)) = (
        request.header("webhook-id"),
        present("webhook-timestamp"),
        present("webhook-signature"),
    ) else {
        return Err(Outcome::MissingHeader);
    };
    if !id_is_valid(&id) {
        return Err(Outcome::BadId);
    }
    let seconds = signature::parse_timestamp(&timestamp).map_err(rejection)?;
    signature::check_timestamp(seconds, now, config.tolerance_seconds).map_err(rejection)?;

    let body = request
        .read_body(declared_length, config.max_body_bytes)
        .await
        .map_err(|error| match error {
            BodyError::TooLarge => Outcome::TooLarge,
            BodyError::Unreadable => Outcome::BadBody,
        })?;
    let tags = mac
        .sender_tags(&id, seconds, &body)
        .await
        .map_err(|_| Outcome::Internal)?;
    if !signature::header_matches(&signature, &tags) {
        return Err(Outcome::BadSignature);
    }

    Ok(Verified {
        content_type: request.header("content-type"),
        id,
        timestamp,
        signature,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mac::{MacError, SoftwareMac};
    use crate::replay::kv::{key_for, KvReplayStore};
    use crate::signature::SigningKey;
    use crate::testing::{block_on, FakeKv, FakeOrigin};
    use std::collections::HashMap;

    use crate::testing::{ORIGIN_KEY, ROTATED_KEY as OTHER_KEY, VECTOR_KEY as KEY};
    const NOW: i64 = 1_700_000_000;

    struct FakeRequest {
        method: &'static str,
        path: &'static str,
        headers: HashMap<String, String>,
        body: Result<Vec<u8>, BodyError>,
        body_reads: usize,
    }

    impl Incoming for FakeRequest {
        type Body = Vec<u8>;
        fn method(&self) -> &str {
            self.method
        }
        fn path(&self) -> &str {
            self.path
        }
        fn header(&self, name: &str) -> Option<String> {
            self.headers.get(&name.to_ascii_lowercase()).cloned()
        }
        async fn read_body(
            &mut self,
            _declared: Option<u64>,
            limit: usize,
        ) -> Result<Vec<u8>, BodyError> {
            self.body_reads += 1;
            match &self.body {
                Ok(body) if body.len() > limit => Err(BodyError::TooLarge),
                other => other.clone(),
            }
        }
    }

    fn config_with(extra: &[(&'static str, &'static str)]) -> Config {
        let mut settings: HashMap<&str, String> = HashMap::from([
            ("WEBHOOK_SECRET", format!("{OTHER_KEY} {KEY}")),
            ("ORIGIN_URL", "http://127.0.0.1:9/in".to_owned()),
            ("MAX_BODY_BYTES", "64".to_owned()),
        ]);
        for (name, value) in extra {
            settings.insert(name, (*value).to_owned());
        }
        Config::from_settings(|name| settings.get(name).cloned()).expect("valid test config")
    }

    fn signed(id: &str, timestamp: i64, body: &[u8]) -> FakeRequest {
        let key = SigningKey::parse(KEY).expect("key");
        let headers = HashMap::from([
            ("webhook-id".to_owned(), id.to_owned()),
            ("webhook-timestamp".to_owned(), timestamp.to_string()),
            (
                "webhook-signature".to_owned(),
                key.sign(id, timestamp, body),
            ),
            ("content-type".to_owned(), "application/json".to_owned()),
            ("cookie".to_owned(), "session=1".to_owned()),
        ]);
        FakeRequest {
            method: "POST",
            path: "/",
            headers,
            body: Ok(body.to_vec()),
            body_reads: 0,
        }
    }

    struct Rig {
        config: Config,
        kv: FakeKv,
        origin: FakeOrigin,
    }

    impl Rig {
        fn new() -> Self {
            Self {
                config: config_with(&[]),
                kv: FakeKv::default(),
                origin: FakeOrigin::answering(Ok(200)),
            }
        }
        fn run(&self, request: &mut FakeRequest) -> Handled {
            self.run_with(&self.config, &SoftwareMac::new(&self.config), request)
        }
        fn run_with<M: Mac<Vec<u8>>>(
            &self,
            config: &Config,
            mac: &M,
            request: &mut FakeRequest,
        ) -> Handled {
            let store = KvReplayStore::new(
                &self.kv,
                config.dedupe_ttl_seconds,
                config.origin_timeout_ms,
            )
            .at(NOW, config.tolerance_seconds * 2);
            block_on(handle(config, request, &store, mac, &&self.origin, NOW))
        }
        fn forwarded(&self) -> usize {
            self.origin.received.borrow().len()
        }
    }

    #[test]
    fn a_valid_delivery_is_forwarded_exactly_and_marked_done() {
        let rig = Rig::new();
        let handled = rig.run(&mut signed("msg_1", NOW, b"{\"a\":1}"));
        assert_eq!(handled.outcome, Outcome::Delivered);
        assert_eq!(handled.incidents, vec![]);
        let received = rig.origin.received.borrow();
        assert_eq!(received.len(), 1);
        assert_eq!(received[0].body, b"{\"a\":1}");
        let names: Vec<_> = received[0].headers.iter().map(|(n, _)| *n).collect();
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
        let mut rig = Rig::new();
        rig.config = config_with(&[("WEBHOOK_PATH", "/hooks/quo")]);
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
        declared
            .headers
            .insert("content-length".to_owned(), "65".to_owned());
        assert_eq!(rig.run(&mut declared).outcome, Outcome::TooLarge);
        assert_eq!(declared.body_reads, 0);

        let big = vec![b'a'; 65];
        let mut undeclared = signed("msg_2", NOW, &big);
        assert_eq!(rig.run(&mut undeclared).outcome, Outcome::TooLarge);

        let exact = vec![b'a'; 64];
        assert_eq!(
            rig.run(&mut signed("msg_3", NOW, &exact)).outcome,
            Outcome::Delivered
        );
        assert_eq!(rig.forwarded(), 1);
    }

    #[test]
    fn an_empty_webhook_id_is_a_bad_id() {
        let rig = Rig::new();
        let mut request = signed("msg_1", NOW, b"{}");
        request
            .headers
            .insert("webhook-id".to_owned(), String::new());
        assert_eq!(rig.run(&mut request).outcome, Outcome::BadId);
        assert_eq!(request.body_reads, 0);
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
                    request.headers.insert(name.to_owned(), String::new());
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
        garbage
            .headers
            .insert("webhook-timestamp".to_owned(), "soon".to_owned());
        assert_eq!(rig.run(&mut garbage).outcome, Outcome::BadTimestamp);
        assert_eq!(stale.body_reads + future.body_reads + garbage.body_reads, 0);
        assert_eq!(
            rig.run(&mut signed("msg_2", NOW - 300, b"{}")).outcome,
            Outcome::Delivered
        );
    }

    #[test]
    fn bad_signatures_are_401_and_never_touch_the_store() {
        let rig = Rig::new();
        let mut tampered = signed("msg_1", NOW, b"{\"amount\":1}");
        tampered.body = Ok(b"{\"amount\":9}".to_vec());
        assert_eq!(rig.run(&mut tampered).outcome, Outcome::BadSignature);
        let mut wrong_key = signed("msg_1", NOW, b"{}");
        let stranger = SigningKey::parse("whsec_c3RyYW5nZXI=").expect("key");
        wrong_key.headers.insert(
            "webhook-signature".to_owned(),
            stranger.sign("msg_1", NOW, b"{}"),
        );
        assert_eq!(rig.run(&mut wrong_key).outcome, Outcome::BadSignature);
        for header in ["v1,", "garbage", "v2,abc v1a,xyz"] {
            let mut request = signed("msg_1", NOW, b"{}");
            request
                .headers
                .insert("webhook-signature".to_owned(), header.to_owned());
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
        let other = SigningKey::parse(OTHER_KEY).expect("key");
        request.headers.insert(
            "webhook-signature".to_owned(),
            other.sign("msg_1", NOW, b"{}"),
        );
        assert_eq!(rig.run(&mut request).outcome, Outcome::Delivered);
    }

    #[test]
    fn bad_ids_are_400_before_the_store() {
        let rig = Rig::new();
        let long = "x".repeat(MAX_ID_BYTES + 1);
        for id in ["a.b", "tab\there", "nul\0", "é", long.as_str()] {
            let mut request = signed(id, NOW, b"{}");
            assert_eq!(rig.run(&mut request).outcome, Outcome::BadId, "{id:?}");
        }
        assert!(id_is_valid(&"x".repeat(MAX_ID_BYTES)));
        assert!(id_is_valid("msg_2fDk Zz-~"));
        assert!(!id_is_valid(""));
        assert_eq!(rig.kv.calls.borrow().len(), 0);
        assert_eq!(rig.forwarded(), 0);
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
            assert_eq!(rig.kv.len(), 0, "claim released after {answer:?}");

            rig.origin.answer.set(Ok(204));
            assert_eq!(
                rig.run(&mut signed("msg_1", NOW + 30, b"{}")).outcome,
                Outcome::Delivered
            );
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
        rig.kv.fail_gets(false);
        rig.kv.fail_puts(true);
        assert_eq!(
            rig.run(&mut signed("msg_1", NOW, b"{}")).outcome,
            Outcome::StoreUnavailable
        );
        assert_eq!(rig.forwarded(), 0);
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
        rig.kv.fail_deletes(true);
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
    fn re_signs_for_the_origin_when_asked() {
        let mut rig = Rig::new();
        rig.config = config_with(&[("ORIGIN_SECRET", ORIGIN_KEY)]);
        let handled = rig.run(&mut signed("msg_1", NOW - 100, b"{}"));
        assert_eq!(handled.outcome, Outcome::Delivered);
        let received = rig.origin.received.borrow();
        let header = |name: &str| {
            received[0]
                .headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        assert_eq!(header("webhook-timestamp"), NOW.to_string());
        let keys = crate::signature::KeyRing::parse(ORIGIN_KEY).expect("key");
        let check = signature::verify(
            &keys,
            "msg_1",
            &header("webhook-timestamp"),
            &header("webhook-signature"),
            b"{}",
            NOW,
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
        async fn sender_tags(
            &self,
            id: &str,
            timestamp: i64,
            body: &Vec<u8>,
        ) -> Result<Vec<signature::Tag>, MacError> {
            if self.sender_works {
                let key = SigningKey::parse(KEY).expect("key");
                Ok(vec![key.tag(id, timestamp, body)])
            } else {
                Err(MacError::Unavailable)
            }
        }
        async fn origin_tag(
            &self,
            _: &str,
            _: i64,
            _: &Vec<u8>,
        ) -> Result<signature::Tag, MacError> {
            Err(MacError::Unavailable)
        }
    }

    #[test]
    fn a_failing_mac_is_500_and_never_forwards() {
        let rig = Rig::new();
        let broken = BrokenMac {
            sender_works: false,
        };
        let handled = rig.run_with(&rig.config, &broken, &mut signed("msg_1", NOW, b"{}"));
        assert_eq!(handled.outcome, Outcome::Internal);
        assert_eq!(rig.kv.calls.borrow().len(), 0);

        let resigning = config_with(&[("ORIGIN_SECRET", ORIGIN_KEY)]);
        let resign_fails = BrokenMac { sender_works: true };
        let handled = rig.run_with(&resigning, &resign_fails, &mut signed("msg_1", NOW, b"{}"));
        assert_eq!(handled.outcome, Outcome::Internal);
        assert_eq!(handled.incidents, vec![Incident::ResignFailed]);
        assert_eq!(rig.kv.len(), 0, "claim released");
        assert_eq!(rig.forwarded(), 0);
    }
}
