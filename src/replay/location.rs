//! Copies of one delivery that reach different isolates of one location at
//! the same moment are held back here, in the location's cache, before the
//! store is asked; and the duplicates that follow a delivery are answered
//! here from a copy of its `done` mark.
//!
//! KV bills every write (1,000 a day on the free plan), so the KV store
//! writes only what must outlive a forward: the `done` mark. The claim that
//! holds a key while it is forwarded lives in the isolate
//! ([`super::local`]) and here, in the Cache API: free, shared by the
//! isolates of a location, and gone by itself when the claim would have
//! lapsed. Copies at two locations at once can still both forward, as they
//! could when the claim was a KV write (KV takes up to a minute to show a
//! write elsewhere); the Durable Object store closes that race, and in front
//! of it this guard only saves requests: what decides is still the shard's
//! atomic claim, and a cached `done` is only ever a copy of one the origin's
//! 2xx made.

use super::{Claim, LocationCache, ReplayStore, StoreError};
use crate::keys::hashed_name;
use std::cell::RefCell;

/// A [`ReplayStore`] that keeps its in-flight claims in the location's cache.
pub struct LocationGuard<S, C> {
    inner: S,
    cache: C,
}

impl<S: ReplayStore, C: LocationCache> LocationGuard<S, C> {
    pub fn new(inner: S, cache: C) -> Self {
        Self { inner, cache }
    }
}

/// The cache entry of a replay text: a fixed-length hash of it, so any key
/// fits in a URL and none can address another entry. One entry per text
/// holds whichever applies: the in-flight hold, the queued or `done` mark,
/// or the cool-down after a failed forward (`super::cooldown`), so the
/// checks before a claim cost one cache read.
pub fn claim_key(text: &str) -> String {
    hashed_name("claim/v1/", text)
}

/// The location's cache as one request's work sees it: the entry read last
/// answers the next read of the same entry once more (the cool-down check
/// and the claim read one entry one after the other, with nothing between
/// them that could change it; each read is a step of the task and a cache
/// lookup), and a delete is held back until the request writes something
/// else or ends, so that a write of the same entry that follows it takes
/// its place.
///
/// That matters after a failed forward: the claim's hold is released and
/// the cool-down written in its place. Deleted first, the entry would be
/// empty for as long as the two writes take, and a copy in another isolate
/// that read it then would hold the key and forward, its hold overwritten
/// by the cool-down a moment later: a third copy, once the cool-down
/// lapsed, would forward again while the second still was. As one write,
/// the hold turns into the cool-down with no moment between.
pub struct RequestCache<C: LocationCache> {
    cache: C,
    last: RefCell<Option<(String, Option<String>)>>,
    deleting: RefCell<Option<String>>,
    released: std::cell::Cell<bool>,
}

impl<C: LocationCache> RequestCache<C> {
    pub fn new(cache: C) -> Self {
        Self {
            cache,
            last: RefCell::new(None),
            deleting: RefCell::new(None),
            released: std::cell::Cell::new(false),
        }
    }

    /// Whether this request cleared or replaced a hold: it released a claim
    /// or its claim failed. Its answer then waits for the cache (see
    /// [`RequestCache::settle`]).
    pub fn released(&self) -> bool {
        self.released.get()
    }

    /// Makes the delete held back now. A request that released a hold
    /// calls this before it answers, and waits for its writes to land: the
    /// sender's retry that follows the answer must find the hold gone (or
    /// the cool-down in its place), not a 409 for a forward that is over.
    pub fn settle(&self) {
        self.flush(None);
    }

    /// Makes the delete held back, unless it is of `except`.
    fn flush(&self, except: Option<&str>) {
        let mut deleting = self.deleting.borrow_mut();
        if deleting.as_deref().is_some_and(|key| Some(key) != except) {
            if let Some(key) = deleting.take() {
                self.cache.delete(&key);
            }
        }
    }
}

impl<C: LocationCache> Drop for RequestCache<C> {
    fn drop(&mut self) {
        self.flush(None);
    }
}

impl<C: LocationCache> LocationCache for &RequestCache<C> {
    async fn get(&self, key: &str) -> Option<String> {
        // What this request deleted is gone, as far as it knows.
        if self.deleting.borrow().as_deref() == Some(key) {
            return None;
        }
        let kept = self.last.borrow_mut().take();
        if let Some((kept_key, value)) = kept {
            if kept_key == key {
                return value;
            }
        }
        let value = self.cache.get(key).await;
        *self.last.borrow_mut() = Some((key.to_owned(), value.clone()));
        value
    }

    fn put(&self, key: &str, value: &str, ttl_seconds: u64) {
        self.last.borrow_mut().take();
        self.flush(Some(key));
        // A delete of this entry held back is replaced by this write.
        self.deleting.borrow_mut().take();
        self.cache.put(key, value, ttl_seconds);
    }

    fn delete(&self, key: &str) {
        self.last.borrow_mut().take();
        self.flush(Some(key));
        self.released.set(true);
        *self.deleting.borrow_mut() = Some(key.to_owned());
    }
}

/// An in-flight claim: copies wait (409) until it is settled or lapses.
const HELD: &str = "in-flight";
/// A queued event's mark: its copies are duplicates.
const QUEUED: &str = "queued";
/// A delivered event's mark: `done:<until, Unix seconds>`.
const DONE_PREFIX: &str = "done:";

fn done_until(value: &str) -> Option<i64> {
    value.strip_prefix(DONE_PREFIX)?.parse().ok()
}

impl<S: ReplayStore, C: LocationCache> ReplayStore for LocationGuard<S, C> {
    async fn claim(
        &self,
        text: &str,
        now: i64,
        claim_seconds: u64,
        keep_until: i64,
    ) -> Result<Claim, StoreError> {
        let key = claim_key(text);
        let cached = self.cache.get(&key).await;
        match cached.as_deref() {
            Some(HELD) => return Ok(Claim::InFlight),
            Some(QUEUED) => return Ok(Claim::AlreadyDone),
            // A duplicate whose own window ends within the mark's life is
            // answered here; one that could outlive it goes to the store,
            // which keeps the mark longer.
            Some(value) if done_until(value).is_some_and(|until| until >= keep_until) => {
                return Ok(Claim::AlreadyDone)
            }
            _ => {}
        }
        let delivered = cached.as_deref().is_some_and(|v| done_until(v).is_some());
        if delivered {
            return self.inner.claim(text, now, claim_seconds, keep_until).await;
        }
        // Held before the store is asked, so a copy in another isolate that
        // arrives while this one waits for the store finds the hold.
        self.cache.put(&key, HELD, claim_seconds);
        let claim = self.inner.claim(text, now, claim_seconds, keep_until).await;
        if claim != Ok(Claim::Claimed) {
            self.cache.delete(&key);
        }
        claim
    }

    /// The store's mark, and a copy of it in the location's cache, so the
    /// duplicates that follow a delivery (a sender's retry, a replay) are
    /// answered without asking the store. Cached even when the store refused
    /// the write: the origin has the event either way.
    async fn mark_done(&self, text: &str, now: i64, until: i64) -> Result<(), StoreError> {
        let result = self.inner.mark_done(text, now, until).await;
        let ttl = u64::try_from(until.saturating_sub(now)).unwrap_or(0);
        if ttl > 0 {
            let value = format!("{DONE_PREFIX}{until}");
            self.cache.put(&claim_key(text), &value, ttl);
        } else {
            self.cache.delete(&claim_key(text));
        }
        result
    }

    /// No KV write for a queued event: the consumer's `done` mark of its
    /// forward is the one write. The location's cache answers copies here
    /// as duplicates; one that misses it (another location, an evicted
    /// entry) is queued again, and the consumer finds the forward done.
    async fn hand_off(&self, text: &str, now: i64, until: i64) -> Result<(), StoreError> {
        let ttl = u64::try_from(until.saturating_sub(now)).unwrap_or(0).max(1);
        self.cache.put(&claim_key(text), QUEUED, ttl);
        Ok(())
    }

    async fn release(&self, text: &str) -> Result<(), StoreError> {
        let result = self.inner.release(text).await;
        self.cache.delete(&claim_key(text));
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::kv::KvReplayStore;
    use crate::testing::{block_on, FakeCache, FakeKv};

    #[test]
    fn a_copy_in_another_isolate_of_the_location_waits_without_asking_kv() {
        let kv = FakeKv::default();
        let cache = FakeCache::default();
        let here = LocationGuard::new(KvReplayStore::new(&kv), &cache);
        let there = LocationGuard::new(KvReplayStore::new(&kv), &cache);
        assert_eq!(block_on(here.claim("k", 100, 40, 0)), Ok(Claim::Claimed));
        assert_eq!(cache.ttl_of(&claim_key("k")), Some(40));
        let calls = kv.calls.borrow().len();
        assert_eq!(block_on(there.claim("k", 100, 40, 0)), Ok(Claim::InFlight));
        assert_eq!(kv.calls.borrow().len(), calls, "KV was not asked");
        block_on(here.mark_done("k", 101, 1_000)).expect("done");
        assert_eq!(
            cache.ttl_of(&claim_key("k")),
            Some(899),
            "the claim became the done mark"
        );
        let calls = kv.calls.borrow().len();
        assert_eq!(
            block_on(there.claim("k", 102, 40, 0)),
            Ok(Claim::AlreadyDone)
        );
        assert_eq!(
            kv.calls.borrow().len(),
            calls,
            "a duplicate: KV was not asked"
        );
    }

    #[test]
    fn a_delivered_event_reads_the_location_cache_once() {
        use crate::replay::cooldown::{CoolDown, CoolDowns, Cooled};
        let kv = FakeKv::default();
        let cache = FakeCache::default();
        let cooled = Cooled::default();
        let view = RequestCache::new(&cache);
        let store = LocationGuard::new(KvReplayStore::new(&kv), &view);
        let cool = CoolDowns::new(&cooled, &view, 10);
        assert_eq!(block_on(cool.cooling_until("k", 100)), None);
        assert_eq!(block_on(store.claim("k", 100, 40, 0)), Ok(Claim::Claimed));
        assert_eq!(cache.reads(), 1, "the claim used the cool-down's read");
        block_on(store.mark_done("k", 101, 1_000)).expect("done");
        cool.delivered("k");
        assert_eq!(cache.reads(), 1);
        assert_eq!(
            cache.value_of(&claim_key("k")).as_deref(),
            Some("done:1000")
        );
        // A later read of the entry asks the cache again.
        let next = RequestCache::new(&cache);
        let again = LocationGuard::new(KvReplayStore::new(&kv), &next);
        assert_eq!(
            block_on(again.claim("k", 102, 40, 0)),
            Ok(Claim::AlreadyDone)
        );
        assert_eq!(cache.reads(), 2);
    }

    #[test]
    fn a_delete_is_held_back_until_another_write_or_the_end_of_the_request() {
        let cache = FakeCache::default();
        (&cache).put("a", "in-flight", 40);
        (&cache).put("b", "in-flight", 40);
        cache.writes.borrow_mut().clear();
        {
            let view = RequestCache::new(&cache);
            assert!(!view.released());
            (&view).delete("a");
            assert!(view.released(), "its answer waits for the cache");
            assert!(cache.writes.borrow().is_empty(), "held back");
            assert_eq!(
                block_on((&view).get("a")),
                None,
                "gone, as the request sees it"
            );
            assert_eq!(cache.reads(), 0);
            // Another entry's write makes it first.
            (&view).put("b", "done:9", 10);
            assert_eq!(*cache.writes.borrow(), ["delete a", "put b done:9"]);
            (&view).delete("b");
            view.settle();
            assert_eq!(cache.writes.borrow().len(), 3, "made before the answer");
        }
        assert_eq!(
            *cache.writes.borrow(),
            ["delete a", "put b done:9", "delete b"],
            "made when the request ends"
        );
        assert_eq!(cache.value_of("b"), None);
    }

    #[test]
    fn a_kept_read_answers_once_and_a_write_forgets_it() {
        let cache = FakeCache::default();
        let view = RequestCache::new(&cache);
        assert_eq!(block_on((&view).get("a")), None);
        assert_eq!(block_on((&view).get("a")), None);
        assert_eq!(cache.reads(), 1);
        assert_eq!(block_on((&view).get("a")), None);
        assert_eq!(cache.reads(), 2, "answered once, then read again");
        (&view).put("a", "in-flight", 40);
        assert_eq!(block_on((&view).get("a")).as_deref(), Some("in-flight"));
        assert_eq!(cache.reads(), 3, "a write forgets what was read");
        assert_eq!(block_on((&view).get("b")), None);
        assert_eq!(cache.reads(), 4, "another entry is read");
    }

    #[test]
    fn a_failed_forward_leaves_its_cool_down_in_the_entry_for_the_next_isolate() {
        use crate::replay::cooldown::{CoolDown, CoolDowns, Cooled};
        let kv = FakeKv::default();
        let cache = FakeCache::default();
        let (here, there) = (Cooled::default(), Cooled::default());
        {
            let view = RequestCache::new(&cache);
            let store = LocationGuard::new(KvReplayStore::new(&kv), &view);
            let cool = CoolDowns::new(&here, &view, 10);
            assert_eq!(block_on(cool.cooling_until("k", 100)), None);
            assert_eq!(block_on(store.claim("k", 100, 40, 0)), Ok(Claim::Claimed));
            block_on(store.release("k")).expect("release");
            block_on(cool.failed("k", 101));
        }
        assert_eq!(
            cache.value_of(&claim_key("k")).as_deref(),
            Some("cool:111:1")
        );
        // The hold became the cool-down in one write: never an empty entry
        // that a copy in another isolate could claim in between.
        let key = claim_key("k");
        assert_eq!(
            *cache.writes.borrow(),
            [
                format!("put {key} in-flight"),
                format!("put {key} cool:111:1")
            ]
        );

        let view = RequestCache::new(&cache);
        let other = CoolDowns::new(&there, &view, 10);
        assert_eq!(block_on(other.cooling_until("k", 105)), Some(111));
        // Once it lapses, the entry is neither a hold nor a mark: the
        // sender's retry is claimed and forwarded.
        let view = RequestCache::new(&cache);
        let store = LocationGuard::new(KvReplayStore::new(&kv), &view);
        let other = CoolDowns::new(&there, &view, 10);
        assert_eq!(block_on(other.cooling_until("k", 112)), None);
        assert_eq!(block_on(store.claim("k", 112, 40, 0)), Ok(Claim::Claimed));
        assert_eq!(cache.reads(), 3, "each request read the entry once");
    }

    #[test]
    fn a_release_frees_the_key_for_the_next_copy() {
        let kv = FakeKv::default();
        let cache = FakeCache::default();
        let store = LocationGuard::new(KvReplayStore::new(&kv), &cache);
        assert_eq!(block_on(store.claim("k", 100, 40, 0)), Ok(Claim::Claimed));
        block_on(store.release("k")).expect("release");
        assert_eq!(block_on(store.claim("k", 100, 40, 0)), Ok(Claim::Claimed));
    }

    #[test]
    fn a_cache_that_fails_leaves_kv_to_decide() {
        let kv = FakeKv::default();
        let cache = FakeCache::failing();
        let store = LocationGuard::new(KvReplayStore::new(&kv), &cache);
        assert_eq!(block_on(store.claim("k", 100, 40, 0)), Ok(Claim::Claimed));
        block_on(store.mark_done("k", 101, 1_000)).expect("done");
        assert_eq!(
            block_on(store.claim("k", 102, 40, 0)),
            Ok(Claim::AlreadyDone)
        );
    }

    #[test]
    fn a_delivered_event_costs_one_kv_write() {
        let kv = FakeKv::default();
        let cache = FakeCache::default();
        let store = LocationGuard::new(KvReplayStore::new(&kv), &cache);
        assert_eq!(block_on(store.claim("k", 100, 40, 0)), Ok(Claim::Claimed));
        block_on(store.mark_done("k", 101, 1_000)).expect("done");
        assert_eq!(
            block_on(store.claim("k", 200, 40, 0)),
            Ok(Claim::AlreadyDone)
        );
        let calls = kv.calls.borrow();
        let writes = calls.iter().filter(|c| !c.starts_with("get ")).count();
        let reads = calls.len() - writes;
        assert_eq!(
            (reads, writes),
            (1, 1),
            "the duplicate asked nothing: {calls:?}"
        );
    }

    #[test]
    fn a_queued_event_costs_no_kv_write_and_its_copies_are_duplicates() {
        let kv = FakeKv::default();
        let cache = FakeCache::default();
        let store = LocationGuard::new(KvReplayStore::new(&kv), &cache);
        assert_eq!(block_on(store.claim("k", 100, 40, 0)), Ok(Claim::Claimed));
        block_on(store.hand_off("k", 101, 1_000)).expect("queued");
        assert_eq!(cache.ttl_of(&claim_key("k")), Some(899));
        assert_eq!(
            block_on(store.claim("k", 102, 40, 0)),
            Ok(Claim::AlreadyDone)
        );
        let calls = kv.calls.borrow();
        assert!(
            calls.iter().all(|c| c.starts_with("get ")),
            "no KV write: {calls:?}"
        );
    }

    #[test]
    fn a_duplicate_that_could_outlive_the_cached_mark_asks_the_store() {
        let kv = FakeKv::default();
        let cache = FakeCache::default();
        let store = LocationGuard::new(KvReplayStore::new(&kv), &cache);
        assert_eq!(block_on(store.claim("k", 100, 40, 0)), Ok(Claim::Claimed));
        block_on(store.mark_done("k", 100, 1_000)).expect("done");
        let calls = kv.calls.borrow().len();
        assert_eq!(
            block_on(store.claim("k", 900, 40, 1_000)),
            Ok(Claim::AlreadyDone)
        );
        assert_eq!(kv.calls.borrow().len(), calls, "within the mark's life");
        assert_eq!(
            block_on(store.claim("k", 950, 40, 1_301)),
            Ok(Claim::AlreadyDone)
        );
        assert_eq!(
            kv.value_of(&crate::replay::kv::key_for("k")).as_deref(),
            Some("done:1301"),
            "the store kept the mark longer"
        );
    }

    #[test]
    fn a_done_mark_the_store_refused_is_still_cached() {
        let kv = FakeKv::default();
        let cache = FakeCache::default();
        let store = LocationGuard::new(KvReplayStore::new(&kv), &cache);
        kv.fail_puts(true);
        assert_eq!(block_on(store.claim("k", 100, 40, 0)), Ok(Claim::Claimed));
        assert!(block_on(store.mark_done("k", 100, 1_000)).is_err());
        assert_eq!(
            block_on(store.claim("k", 101, 40, 0)),
            Ok(Claim::AlreadyDone)
        );
    }
}
