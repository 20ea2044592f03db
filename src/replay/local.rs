//! Copies of one delivery that reach the same isolate at the same moment
//! are held back here, before the store is asked.
//!
//! Workers KV has no compare-and-set: copies whose reads all run before the
//! first claim is written each see nothing and each forward (measured in
//! Miniflare: 20 simultaneous copies, up to 16 forwards). Copies that land
//! on one isolate are common (a sender's retry burst, a replay script), and
//! one isolate runs one thread, so a set of keys being worked on closes the
//! race for them at no I/O cost. Copies on other isolates or locations still
//! race in KV; the Durable Object store closes that race everywhere.
//!
//! Entries carry their own expiry (the claim's), so a delivery whose work
//! was cut short (its future dropped) never holds its key for longer than
//! the store's claim would.

use super::{Claim, ReplayStore, StoreError};
use std::cell::RefCell;

/// The keys being worked on in this isolate, with when each claim lapses
/// (Unix seconds). A list: it holds the deliveries in flight in one isolate
/// at one moment, a handful, and a hash map would weigh more in wasm than it
/// saves.
#[derive(Default)]
pub struct Held(RefCell<Vec<(String, i64)>>);

impl Held {
    /// How many keys are held now (for tests).
    pub fn len(&self) -> usize {
        self.0.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes `key` until `until`, unless a live hold has it.
    fn take(&self, key: &str, now: i64, until: i64) -> bool {
        let mut held = self.0.borrow_mut();
        if let Some(at) = held.iter().position(|(k, _)| k == key) {
            if held[at].1 > now {
                return false;
            }
            held[at].1 = until;
            return true;
        }
        // Forget lapsed holds while here, so the list stays short.
        if held.len() > 64 {
            held.retain(|(_, lapses)| *lapses > now);
        }
        held.push((key.to_owned(), until));
        true
    }

    fn drop_key(&self, key: &str) {
        let mut held = self.0.borrow_mut();
        if let Some(at) = held.iter().position(|(k, _)| k == key) {
            held.swap_remove(at);
        }
    }
}

/// A [`ReplayStore`] that consults the isolate's [`Held`] keys first.
pub struct LocalGuard<'a, S> {
    inner: S,
    held: &'a Held,
}

impl<'a, S: ReplayStore> LocalGuard<'a, S> {
    pub fn new(inner: S, held: &'a Held) -> Self {
        Self { inner, held }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: ReplayStore> ReplayStore for LocalGuard<'_, S> {
    async fn claim(
        &self,
        key: &str,
        now: i64,
        claim_seconds: u64,
        keep_until: i64,
    ) -> Result<Claim, StoreError> {
        let lapses = now.saturating_add(i64::try_from(claim_seconds).unwrap_or(i64::MAX));
        if !self.held.take(key, now, lapses) {
            return Ok(Claim::InFlight);
        }
        let claim = self.inner.claim(key, now, claim_seconds, keep_until).await;
        if claim != Ok(Claim::Claimed) {
            self.held.drop_key(key);
        }
        claim
    }

    async fn mark_done(&self, key: &str, now: i64, until: i64) -> Result<(), StoreError> {
        let result = self.inner.mark_done(key, now, until).await;
        self.held.drop_key(key);
        result
    }

    async fn hand_off(&self, key: &str, now: i64, until: i64) -> Result<(), StoreError> {
        let result = self.inner.hand_off(key, now, until).await;
        self.held.drop_key(key);
        result
    }

    async fn release(&self, key: &str) -> Result<(), StoreError> {
        let result = self.inner.release(key).await;
        self.held.drop_key(key);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::kv::KvReplayStore;
    use crate::testing::{block_on, FakeKv};

    #[test]
    fn a_second_copy_in_the_same_isolate_waits_without_asking_the_store() {
        let kv = FakeKv::default();
        let held = Held::default();
        let store = LocalGuard::new(KvReplayStore::new(&kv), &held);
        // Both copies' reads would miss in KV (stale reads stand in for the
        // race): only the local hold stops the second.
        kv.stale_reads(true);
        assert_eq!(block_on(store.claim("k", 100, 40, 0)), Ok(Claim::Claimed));
        let calls = kv.calls.borrow().len();
        assert_eq!(block_on(store.claim("k", 100, 40, 0)), Ok(Claim::InFlight));
        assert_eq!(kv.calls.borrow().len(), calls, "the store was not asked");
        block_on(store.mark_done("k", 101, 1_000)).expect("done");
        assert!(held.is_empty());
    }

    #[test]
    fn release_and_failures_free_the_key() {
        let kv = FakeKv::default();
        let held = Held::default();
        let store = LocalGuard::new(KvReplayStore::new(&kv), &held);
        assert_eq!(block_on(store.claim("k", 100, 40, 0)), Ok(Claim::Claimed));
        block_on(store.release("k")).expect("release");
        assert!(held.is_empty());
        kv.fail_gets(true);
        assert_eq!(
            block_on(store.claim("k", 100, 40, 0)),
            Err(StoreError::Unavailable)
        );
        assert!(held.is_empty(), "a failed claim holds nothing");
        kv.fail_gets(false);
        block_on(KvReplayStore::new(&kv).mark_done("k", 100, 1_000)).expect("done");
        assert_eq!(
            block_on(store.claim("k", 100, 40, 0)),
            Ok(Claim::AlreadyDone)
        );
        assert!(held.is_empty(), "a duplicate holds nothing");
    }

    #[test]
    fn a_hold_whose_work_was_cut_short_lapses_with_the_claim() {
        let kv = FakeKv::default();
        let held = Held::default();
        let store = LocalGuard::new(KvReplayStore::new(&kv), &held);
        assert_eq!(block_on(store.claim("k", 100, 40, 0)), Ok(Claim::Claimed));
        // Never settled. Within the claim: held. After it: free again (the
        // KV claim has lapsed by then too).
        assert_eq!(block_on(store.claim("k", 139, 40, 0)), Ok(Claim::InFlight));
        kv.stale_reads(true);
        assert_eq!(block_on(store.claim("k", 140, 40, 0)), Ok(Claim::Claimed));
    }
}
