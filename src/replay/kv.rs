//! The replay store on Workers KV.
//!
//! KV has no compare-and-set, so a claim is a read followed by a write: two
//! copies of one delivery that arrive together, or at two locations within
//! KV's propagation delay (about a minute), can both pass. The origin should
//! still dedupe on `webhook-id`; the Durable Object store closes the race.
//!
//! The logic is generic over [`KvBackend`] so it is tested natively; the
//! Worker glue implements the backend on a `worker::kv::KvStore`.

use super::{claim_ttl_seconds, Claim, ReplayStore, StoreError};
use crate::config::KV_MIN_TTL_SECONDS;
use sha2::{Digest, Sha256};

const DONE: &str = "done";
const IN_FLIGHT: &str = "in-flight";

/// The three KV operations the store needs.
#[allow(async_fn_in_trait)] // Workers run on one thread; no Send bound is wanted.
pub trait KvBackend {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError>;
    async fn put(&self, key: &str, value: &str, ttl_seconds: u64) -> Result<(), StoreError>;
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
}

/// A [`ReplayStore`] on any [`KvBackend`]. A `done` value carries its own
/// expiry (`done:<unix seconds>`), because KV does not tell a reader how long
/// a key has left and a duplicate near the end must be able to extend it.
pub struct KvReplayStore<B> {
    backend: B,
    done_ttl_seconds: u64,
    claim_ttl_seconds: u64,
    now: i64,
    keep_seconds: u64,
}

impl<B: KvBackend> KvReplayStore<B> {
    /// `done_ttl_seconds` is `DEDUPE_TTL_SECONDS`; the claim lives a little
    /// longer than the origin timeout. Both respect KV's 60-second minimum.
    pub fn new(backend: B, done_ttl_seconds: u64, origin_timeout_ms: u64) -> Self {
        let claim_ttl_seconds = claim_ttl_seconds(origin_timeout_ms);
        Self {
            backend,
            done_ttl_seconds: done_ttl_seconds.max(KV_MIN_TTL_SECONDS),
            claim_ttl_seconds: claim_ttl_seconds.max(KV_MIN_TTL_SECONDS),
            now: 0,
            keep_seconds: 0,
        }
    }

    /// The clock (Unix seconds) and how long a duplicate must still be
    /// remembered after it was seen: two tolerance windows, since the copy
    /// just answered could be captured and replayed until its own timestamp
    /// leaves the window.
    pub fn at(mut self, now: i64, keep_seconds: u64) -> Self {
        self.now = now;
        self.keep_seconds = keep_seconds;
        self
    }

    pub fn claim_ttl_seconds(&self) -> u64 {
        self.claim_ttl_seconds
    }
}

/// KV keys are limited to 512 bytes and ids are chosen by the sender, so the
/// key is a fixed-length hash: any id fits, and none can address another
/// record of the namespace.
pub fn key_for(id: &str) -> String {
    let digest = Sha256::digest(id.as_bytes());
    let mut key = String::with_capacity(12 + 64);
    key.push_str("hookgate:v1:");
    for byte in digest {
        key.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        key.push(char::from(b"0123456789abcdef"[usize::from(byte & 0xf)]));
    }
    key
}

fn done_value(expires_at: i64) -> String {
    format!("{DONE}:{expires_at}")
}

/// Reads a `done` value: `Some(Some(expiry))`, or `Some(None)` for a bare
/// `done` without one; `None` when the value is not a done mark.
fn parse_done(value: &str) -> Option<Option<i64>> {
    if value == DONE {
        return Some(None);
    }
    let expiry = value.strip_prefix(DONE)?.strip_prefix(':')?;
    Some(expiry.parse().ok())
}

impl<B: KvBackend> KvReplayStore<B> {
    /// A duplicate arrived: if the mark would expire before the copy's own
    /// timestamp leaves the window, keep it longer. Best effort: the answer
    /// is already decided, and a failed write only shortens the memory.
    async fn extend_if_expiring(&self, key: &str, expires_at: i64) {
        let left = expires_at.saturating_sub(self.now);
        let keep = i64::try_from(self.keep_seconds).unwrap_or(i64::MAX);
        if left < keep {
            let value = done_value(self.now.saturating_add(keep));
            let _ = self
                .backend
                .put(key, &value, self.keep_seconds.max(KV_MIN_TTL_SECONDS))
                .await;
        }
    }
}

impl<B: KvBackend> ReplayStore for KvReplayStore<B> {
    async fn claim(&self, id: &str) -> Result<Claim, StoreError> {
        let key = key_for(id);
        let value = self.backend.get(&key).await?;
        match value.as_deref().map(|v| (v, parse_done(v))) {
            Some((_, Some(expiry))) => {
                if let Some(expires_at) = expiry {
                    self.extend_if_expiring(&key, expires_at).await;
                }
                Ok(Claim::AlreadyDone)
            }
            // An unknown value is treated as held: failing closed costs a
            // retry, failing open could cost a duplicate.
            Some((_, None)) => Ok(Claim::InFlight),
            None => {
                self.backend
                    .put(&key, IN_FLIGHT, self.claim_ttl_seconds)
                    .await?;
                Ok(Claim::Claimed)
            }
        }
    }

    async fn mark_done(&self, id: &str) -> Result<(), StoreError> {
        let ttl = i64::try_from(self.done_ttl_seconds).unwrap_or(i64::MAX);
        let value = done_value(self.now.saturating_add(ttl));
        self.backend
            .put(&key_for(id), &value, self.done_ttl_seconds)
            .await
    }

    /// Deletes the claim only while it is still a claim: in KV's race another
    /// copy may have delivered the event meanwhile, and its `done` mark must
    /// survive this copy's failure. (Read and delete are two steps; this
    /// narrows the race, the Durable Object store closes it.)
    async fn release(&self, id: &str) -> Result<(), StoreError> {
        let key = key_for(id);
        match self.backend.get(&key).await?.as_deref() {
            Some(IN_FLIGHT) => self.backend.delete(&key).await,
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::testing::{block_on, FakeKv};

    #[test]
    fn keys_are_fixed_length_and_distinct() {
        let long = "x".repeat(10_000);
        for id in ["", "msg_1", long.as_str()] {
            assert_eq!(key_for(id).len(), 12 + 64);
        }
        assert_ne!(key_for("msg_1"), key_for("msg_2"));
        assert_eq!(
            key_for("abc"),
            "hookgate:v1:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn ttls_respect_the_kv_minimum_and_the_origin_timeout() {
        assert_eq!(
            KvReplayStore::new(&FakeKv::default(), 10, 1).claim_ttl_seconds(),
            60
        );
        assert_eq!(
            KvReplayStore::new(&FakeKv::default(), 10, 45_001).claim_ttl_seconds(),
            46 + 30
        );
        let kv = FakeKv::default();
        let store = KvReplayStore::new(&kv, 10, 1);
        block_on(store.mark_done("a")).expect("put");
        assert_eq!(kv.ttl_of(&key_for("a")), Some(60));
    }

    #[test]
    fn claim_then_done_then_duplicate() {
        let kv = FakeKv::default();
        let store = KvReplayStore::new(&kv, 259_200, 10_000);
        assert_eq!(block_on(store.claim("msg_1")), Ok(Claim::Claimed));
        assert_eq!(kv.ttl_of(&key_for("msg_1")), Some(60));
        assert_eq!(block_on(store.claim("msg_1")), Ok(Claim::InFlight));
        block_on(store.mark_done("msg_1")).expect("mark");
        assert_eq!(kv.ttl_of(&key_for("msg_1")), Some(259_200));
        assert_eq!(
            kv.value_of(&key_for("msg_1")).as_deref(),
            Some("done:259200")
        );
        assert_eq!(block_on(store.claim("msg_1")), Ok(Claim::AlreadyDone));
    }

    #[test]
    fn a_duplicate_near_the_end_extends_the_mark() {
        let kv = FakeKv::default();
        let key = key_for("msg_1");
        let first = KvReplayStore::new(&kv, 3_600, 10_000).at(1_000, 600);
        assert_eq!(block_on(first.claim("msg_1")), Ok(Claim::Claimed));
        block_on(first.mark_done("msg_1")).expect("done");
        assert_eq!(kv.value_of(&key).as_deref(), Some("done:4600"));

        // Early duplicates leave the mark alone.
        let early = KvReplayStore::new(&kv, 3_600, 10_000).at(2_000, 600);
        assert_eq!(block_on(early.claim("msg_1")), Ok(Claim::AlreadyDone));
        assert_eq!(kv.value_of(&key).as_deref(), Some("done:4600"));

        // A retry 100 s before the end: remembered 600 s from now.
        let late = KvReplayStore::new(&kv, 3_600, 10_000).at(4_500, 600);
        assert_eq!(block_on(late.claim("msg_1")), Ok(Claim::AlreadyDone));
        assert_eq!(kv.value_of(&key).as_deref(), Some("done:5100"));
        assert_eq!(kv.ttl_of(&key), Some(600));
    }

    #[test]
    fn a_bare_done_from_an_older_version_still_counts() {
        let kv = FakeKv::default();
        kv.insert(&key_for("msg_1"), "done");
        let store = KvReplayStore::new(&kv, 3_600, 10_000).at(0, 600);
        assert_eq!(block_on(store.claim("msg_1")), Ok(Claim::AlreadyDone));
        assert_eq!(kv.value_of(&key_for("msg_1")).as_deref(), Some("done"));
    }

    #[test]
    fn a_late_release_never_erases_a_done_mark() {
        // Two copies raced past the read; the first delivered, the second's
        // forward failed. Its release must not forget the delivery.
        let kv = FakeKv::default();
        let store = KvReplayStore::new(&kv, 3_600, 10_000);
        block_on(store.mark_done("msg_1")).expect("done");
        block_on(store.release("msg_1")).expect("release");
        assert_eq!(block_on(store.claim("msg_1")), Ok(Claim::AlreadyDone));
    }

    #[test]
    fn release_lets_the_next_claim_through() {
        let kv = FakeKv::default();
        let store = KvReplayStore::new(&kv, 259_200, 10_000);
        assert_eq!(block_on(store.claim("msg_1")), Ok(Claim::Claimed));
        block_on(store.release("msg_1")).expect("release");
        assert_eq!(block_on(store.claim("msg_1")), Ok(Claim::Claimed));
    }

    #[test]
    fn unknown_values_count_as_held() {
        let kv = FakeKv::default();
        kv.insert(&key_for("msg_1"), "something-else");
        let store = KvReplayStore::new(&kv, 259_200, 10_000);
        assert_eq!(block_on(store.claim("msg_1")), Ok(Claim::InFlight));
    }

    #[test]
    fn failures_surface_as_unavailable() {
        let kv = FakeKv::default();
        let store = KvReplayStore::new(&kv, 259_200, 10_000);
        kv.fail_gets(true);
        assert_eq!(block_on(store.claim("msg_1")), Err(StoreError::Unavailable));
        kv.fail_gets(false);
        kv.fail_puts(true);
        assert_eq!(block_on(store.claim("msg_1")), Err(StoreError::Unavailable));
        assert_eq!(
            block_on(store.mark_done("msg_1")),
            Err(StoreError::Unavailable)
        );
        kv.fail_puts(false);
        kv.insert(&key_for("msg_1"), "in-flight");
        kv.fail_deletes(true);
        assert_eq!(
            block_on(store.release("msg_1")),
            Err(StoreError::Unavailable)
        );
        kv.fail_gets(true);
        assert_eq!(
            block_on(store.release("msg_1")),
            Err(StoreError::Unavailable)
        );
    }
}
