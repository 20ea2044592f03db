//! Remembering which replay keys were delivered, so each event reaches the
//! origin once.
//!
//! A delivery is claimed before it is forwarded and marked done only after the
//! origin answered 2xx; a failed forward releases the claim. That order is
//! what keeps events from being lost: the sender's retry of a failed delivery
//! finds no mark and goes through.

pub mod cooldown;
pub mod durable;
pub mod kv;
pub mod ledger;
pub mod local;
pub mod location;

/// Seconds an in-flight claim outlives the origin timeout, so a claim never
/// expires while its forward may still be running.
const CLAIM_MARGIN_SECONDS: u64 = 30;

/// How long an in-flight claim lives, in either store.
pub fn claim_ttl_seconds(origin_timeout_ms: u64) -> u64 {
    origin_timeout_ms.div_ceil(1000) + CLAIM_MARGIN_SECONDS
}

/// What a claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Nobody had this id: the caller now holds it and must forward, then
    /// mark it done or release it.
    Claimed,
    /// The id was already delivered.
    AlreadyDone,
    /// Another request holds the id and is forwarding it now.
    InFlight,
}

/// The location's cache (the Cache API: free, shared by the isolates of one
/// location), for what need not outlive a few minutes: in-flight claims and
/// cool-downs. Best-effort by contract: a read that fails is a miss, a write
/// or delete that fails is dropped. Writes are started, not waited on (the
/// Worker finishes them before its work ends, in the order they were made):
/// nothing waits on a write's result, and each wait costs a step of the
/// task.
#[allow(async_fn_in_trait)] // Workers run on one thread; no Send bound is wanted.
pub trait LocationCache {
    async fn get(&self, key: &str) -> Option<String>;
    fn put(&self, key: &str, value: &str, ttl_seconds: u64);
    fn delete(&self, key: &str);
}

/// The store could not be read or written. Callers fail closed: nothing is
/// forwarded without a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreError {
    /// The backing store refused or failed the operation.
    Unavailable,
}

/// A replay store, keyed by the text a route gives a replay key (see
/// `Route::replay_text`). Times are Unix seconds, passed in, so the store
/// holds no clock and a slow body cannot leave it with a stale one.
#[allow(async_fn_in_trait)] // Workers run on one thread; no Send bound is wanted.
pub trait ReplayStore {
    /// Looks the key up and, when it is unknown, claims it for
    /// `claim_seconds`. A duplicate of a delivered key is remembered at least
    /// until `keep_until`: the copy just answered could be captured and
    /// replayed until its own timestamp leaves the window.
    async fn claim(
        &self,
        key: &str,
        now: i64,
        claim_seconds: u64,
        keep_until: i64,
    ) -> Result<Claim, StoreError>;
    /// Records the key as delivered, remembered until `until`.
    async fn mark_done(&self, key: &str, now: i64, until: i64) -> Result<(), StoreError>;
    /// The event is in the delivery queue: copies are duplicates until
    /// `until`. The queue consumer marks its forward done under a key of its
    /// own, so a store may keep this mark somewhere cheaper than a `done`
    /// (the KV store keeps it in the location's cache: a copy that misses it
    /// is queued again, and the consumer forwards the event once all the
    /// same). By default it is a `done` mark.
    async fn hand_off(&self, key: &str, now: i64, until: i64) -> Result<(), StoreError> {
        self.mark_done(key, now, until).await
    }
    /// Gives up a claim so a retry can deliver the key.
    async fn release(&self, key: &str) -> Result<(), StoreError>;
}

/// A store lent out: one store serves many guards (a queue batch shares one).
impl<S: ReplayStore + ?Sized> ReplayStore for &S {
    async fn claim(
        &self,
        key: &str,
        now: i64,
        claim_seconds: u64,
        keep_until: i64,
    ) -> Result<Claim, StoreError> {
        (**self).claim(key, now, claim_seconds, keep_until).await
    }

    async fn mark_done(&self, key: &str, now: i64, until: i64) -> Result<(), StoreError> {
        (**self).mark_done(key, now, until).await
    }

    async fn hand_off(&self, key: &str, now: i64, until: i64) -> Result<(), StoreError> {
        (**self).hand_off(key, now, until).await
    }

    async fn release(&self, key: &str) -> Result<(), StoreError> {
        (**self).release(key).await
    }
}
