//! Remembering which webhook-ids were delivered, so each reaches the origin
//! once.
//!
//! A delivery is claimed before it is forwarded and marked done only after the
//! origin answered 2xx; a failed forward releases the claim. That order is
//! what keeps events from being lost: the sender's retry of a failed delivery
//! finds no mark and goes through.

pub mod durable;
pub mod kv;
pub mod ledger;

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

/// The store could not be read or written. Callers fail closed: nothing is
/// forwarded without a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreError {
    /// The backing store refused or failed the operation.
    Unavailable,
}

/// A replay store, keyed by webhook-id. TTLs are the store's own business,
/// set when it is built.
#[allow(async_fn_in_trait)] // Workers run on one thread; no Send bound is wanted.
pub trait ReplayStore {
    /// Looks the id up and, when it is unknown, claims it.
    async fn claim(&self, id: &str) -> Result<Claim, StoreError>;
    /// Records the id as delivered, for the dedupe TTL.
    async fn mark_done(&self, id: &str) -> Result<(), StoreError>;
    /// Gives up a claim so a retry can deliver the id.
    async fn release(&self, id: &str) -> Result<(), StoreError>;
}
