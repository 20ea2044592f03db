//! The replay store on Workers KV.
//!
//! KV bills every write, so this store writes one thing per delivered event:
//! the `done` mark. A claim is a read; the in-flight hold lives in the
//! isolate and the location's cache (`super::local`, `super::location`).
//! KV has no compare-and-set anyway: two copies of one delivery at two
//! locations within KV's propagation delay (about a minute) can both pass.
//! The origin should still dedupe on `webhook-id`; the Durable Object store
//! closes the race.
//!
//! The logic is generic over [`KvBackend`] so it is tested natively; the
//! Worker glue implements the backend on a Workers KV binding.

use super::{Claim, ReplayStore, StoreError};
use crate::keys::hashed_name;
use crate::setting::KV_MIN_TTL_SECONDS;

const DONE: &str = "done";

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
}

impl<B: KvBackend> KvReplayStore<B> {
    pub fn new(backend: B) -> Self {
        Self { backend }
    }
}

/// KV keys are limited to 512 bytes and replay keys are chosen by senders,
/// so the key is a fixed-length hash: any key fits, and none can address
/// another record of the namespace.
pub fn key_for(text: &str) -> String {
    hashed_name("hookgate:v1:", text)
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

/// A KV expiration for a mark that must live until `until`: KV counts from
/// its own clock at the write, which is at or after `now`, so the mark lives
/// at least that long; never under KV's one-minute minimum.
fn ttl_until(now: i64, until: i64) -> u64 {
    u64::try_from(until.saturating_sub(now))
        .unwrap_or(0)
        .max(KV_MIN_TTL_SECONDS)
}

impl<B: KvBackend> KvReplayStore<B> {
    /// A duplicate arrived: if the mark would expire before the copy could
    /// no longer be replayed, keep it longer. Best effort: the answer is
    /// already decided, and a failed write only shortens the memory.
    async fn extend_if_expiring(&self, key: &str, expires_at: i64, now: i64, keep_until: i64) {
        if expires_at < keep_until {
            let _ = self
                .backend
                .put(key, &done_value(keep_until), ttl_until(now, keep_until))
                .await;
        }
    }
}

impl<B: KvBackend> ReplayStore for KvReplayStore<B> {
    async fn claim(
        &self,
        text: &str,
        now: i64,
        _claim_seconds: u64,
        keep_until: i64,
    ) -> Result<Claim, StoreError> {
        let key = key_for(text);
        let value = self.backend.get(&key).await?;
        match value.as_deref().map(|v| (v, parse_done(v))) {
            Some((_, Some(expiry))) => {
                if let Some(expires_at) = expiry {
                    self.extend_if_expiring(&key, expires_at, now, keep_until)
                        .await;
                }
                Ok(Claim::AlreadyDone)
            }
            // An unknown value (or an in-flight mark an earlier version
            // wrote) is treated as held: failing closed costs a retry,
            // failing open could cost a duplicate.
            Some((_, None)) => Ok(Claim::InFlight),
            // Claimed without a write: the claim is held in the isolate and
            // the location's cache (`super::location`), which cost nothing;
            // KV's one write per event is the `done` mark.
            None => Ok(Claim::Claimed),
        }
    }

    async fn mark_done(&self, text: &str, now: i64, until: i64) -> Result<(), StoreError> {
        self.backend
            .put(&key_for(text), &done_value(until), ttl_until(now, until))
            .await
    }

    /// Nothing to undo in KV: a claim wrote nothing there, and a `done`
    /// mark another copy wrote meanwhile must survive this copy's failure.
    async fn release(&self, _text: &str) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::testing::{block_on, FakeKv};

    const NOW: i64 = 1_000;

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
    fn ttls_respect_the_kv_minimum() {
        let kv = FakeKv::default();
        let store = KvReplayStore::new(&kv);
        block_on(store.mark_done("a", NOW, NOW + 10)).expect("put");
        assert_eq!(kv.ttl_of(&key_for("a")), Some(60));
        block_on(store.mark_done("b", NOW, NOW + 76)).expect("put");
        assert_eq!(kv.ttl_of(&key_for("b")), Some(76));
    }

    #[test]
    fn claim_then_done_then_duplicate() {
        let kv = FakeKv::default();
        let store = KvReplayStore::new(&kv);
        assert_eq!(
            block_on(store.claim("msg_1", NOW, 40, 0)),
            Ok(Claim::Claimed)
        );
        assert_eq!(kv.len(), 0, "a claim writes nothing to KV");
        block_on(store.mark_done("msg_1", NOW, NOW + 259_200)).expect("mark");
        assert_eq!(kv.ttl_of(&key_for("msg_1")), Some(259_200));
        assert_eq!(
            kv.value_of(&key_for("msg_1")).as_deref(),
            Some("done:260200")
        );
        assert_eq!(
            block_on(store.claim("msg_1", NOW, 40, 0)),
            Ok(Claim::AlreadyDone)
        );
    }

    #[test]
    fn a_duplicate_that_could_outlive_the_mark_extends_it() {
        let kv = FakeKv::default();
        let key = key_for("msg_1");
        let store = KvReplayStore::new(&kv);
        assert_eq!(
            block_on(store.claim("msg_1", 1_000, 40, 0)),
            Ok(Claim::Claimed)
        );
        block_on(store.mark_done("msg_1", 1_000, 4_600)).expect("done");
        assert_eq!(kv.value_of(&key).as_deref(), Some("done:4600"));

        // A duplicate whose own replay window ends before the mark: unchanged.
        assert_eq!(
            block_on(store.claim("msg_1", 2_000, 40, 2_601)),
            Ok(Claim::AlreadyDone)
        );
        assert_eq!(kv.value_of(&key).as_deref(), Some("done:4600"));

        // One that could be replayed after the mark expires: kept until then.
        assert_eq!(
            block_on(store.claim("msg_1", 4_500, 40, 5_101)),
            Ok(Claim::AlreadyDone)
        );
        assert_eq!(kv.value_of(&key).as_deref(), Some("done:5101"));
        assert_eq!(kv.ttl_of(&key), Some(601));
    }

    #[test]
    fn a_bare_done_from_an_older_version_still_counts() {
        let kv = FakeKv::default();
        kv.insert(&key_for("msg_1"), "done");
        let store = KvReplayStore::new(&kv);
        assert_eq!(
            block_on(store.claim("msg_1", 0, 40, 600)),
            Ok(Claim::AlreadyDone)
        );
        assert_eq!(kv.value_of(&key_for("msg_1")).as_deref(), Some("done"));
    }

    #[test]
    fn a_late_release_never_erases_a_done_mark() {
        // Two copies raced past the read; the first delivered, the second's
        // forward failed. Its release must not forget the delivery.
        let kv = FakeKv::default();
        let store = KvReplayStore::new(&kv);
        block_on(store.mark_done("msg_1", NOW, NOW + 3_600)).expect("done");
        block_on(store.release("msg_1")).expect("release");
        assert_eq!(
            block_on(store.claim("msg_1", NOW, 40, 0)),
            Ok(Claim::AlreadyDone)
        );
    }

    #[test]
    fn release_writes_nothing_and_lets_the_next_claim_through() {
        let kv = FakeKv::default();
        let store = KvReplayStore::new(&kv);
        assert_eq!(
            block_on(store.claim("msg_1", NOW, 40, 0)),
            Ok(Claim::Claimed)
        );
        block_on(store.release("msg_1")).expect("release");
        assert_eq!(
            kv.calls
                .borrow()
                .iter()
                .filter(|c| !c.starts_with("get "))
                .count(),
            0
        );
        assert_eq!(
            block_on(store.claim("msg_1", NOW, 40, 0)),
            Ok(Claim::Claimed)
        );
    }

    #[test]
    fn unknown_values_count_as_held() {
        let kv = FakeKv::default();
        kv.insert(&key_for("msg_1"), "something-else");
        let store = KvReplayStore::new(&kv);
        assert_eq!(
            block_on(store.claim("msg_1", NOW, 40, 0)),
            Ok(Claim::InFlight)
        );
    }

    #[test]
    fn failures_surface_as_unavailable() {
        let kv = FakeKv::default();
        let store = KvReplayStore::new(&kv);
        kv.fail_gets(true);
        assert_eq!(
            block_on(store.claim("msg_1", NOW, 40, 0)),
            Err(StoreError::Unavailable)
        );
        kv.fail_gets(false);
        kv.fail_puts(true);
        // KV refusing writes (its daily limit, say) does not stop a claim:
        // the event is forwarded, and only its done mark is lost.
        assert_eq!(
            block_on(store.claim("msg_1", NOW, 40, 0)),
            Ok(Claim::Claimed)
        );
        assert_eq!(
            block_on(store.mark_done("msg_1", NOW, NOW + 60)),
            Err(StoreError::Unavailable)
        );
    }

    #[test]
    fn an_in_flight_mark_of_an_earlier_version_still_holds() {
        let kv = FakeKv::default();
        kv.insert(&key_for("msg_1"), "in-flight");
        let store = KvReplayStore::new(&kv);
        assert_eq!(
            block_on(store.claim("msg_1", NOW, 40, 0)),
            Ok(Claim::InFlight)
        );
    }
}
