//! A cool-down after a failed forward: copies of the same replay key that
//! arrive soon after are answered 503 with `Retry-After`, before the store
//! is asked, so they cost no store write and no origin request.
//!
//! A claim is released when its forward fails, so that the sender's retry
//! goes through. Without a pause, anyone holding one captured delivery could
//! replay it as fast as they like for as long as the origin refuses (forever
//! on GitHub and Shopify, which sign no timestamp), and every copy would cost
//! a claim, a release, a log write and an origin request. The cool-down
//! starts at `FAILURE_COOL_DOWN_SECONDS` and doubles with each failure in a
//! row, up to [`MAX_COOL_DOWN_SECONDS`]; a sender's own retries are spaced
//! further apart than that, so at most one of them meets it.
//!
//! It is kept in the isolate and in the location's cache (Cache API: free,
//! shared by the isolates of one location), both best-effort: a lost entry
//! costs one more forward attempt, never an event.

use super::location::claim_key as cache_key;
use super::LocationCache;
use std::cell::RefCell;

/// The longest cool-down, however many failures in a row.
pub const MAX_COOL_DOWN_SECONDS: u64 = 300;

/// How many failures in a row a key has had, and until when its copies
/// wait (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cooling {
    pub failures: u32,
    pub until: i64,
}

impl Cooling {
    /// The cool-down after one more failure at `now`. A failure that follows
    /// soon after the last cool-down (within its own length again) counts as
    /// one more in a row; later ones start again from `first_seconds`.
    pub fn after_failure(previous: Option<Cooling>, now: i64, first_seconds: u64) -> Cooling {
        let failures = match previous {
            Some(previous) if now < previous.forget_at(first_seconds) => {
                previous.failures.saturating_add(1)
            }
            _ => 1,
        };
        Cooling {
            failures,
            until: now.saturating_add(seconds_for(failures, first_seconds) as i64),
        }
    }

    /// When this entry stops mattering: a cool-down's length after it ends.
    fn forget_at(self, first_seconds: u64) -> i64 {
        self.until
            .saturating_add(seconds_for(self.failures, first_seconds) as i64)
    }

    /// As the location's cache keeps it, in the replay text's one entry
    /// (beside the holds and marks of [`super::location`]):
    /// `cool:until:failures`.
    pub fn encode(self) -> String {
        format!("{COOL_PREFIX}{}:{}", self.until, self.failures)
    }

    /// Reads what [`Cooling::encode`] wrote; `None` for anything else (a
    /// hold or a mark included).
    pub fn parse(text: &str) -> Option<Cooling> {
        let (until, failures) = text.strip_prefix(COOL_PREFIX)?.split_once(':')?;
        Some(Cooling {
            until: until.parse().ok()?,
            failures: failures.parse().ok()?,
        })
    }
}

/// The cool-down after `failures` in a row: doubling, capped.
fn seconds_for(failures: u32, first_seconds: u64) -> u64 {
    let doublings = failures.saturating_sub(1).min(16);
    first_seconds
        .saturating_mul(1u64 << doublings)
        .min(MAX_COOL_DOWN_SECONDS)
}

/// What starts a cool-down's value in the cache.
const COOL_PREFIX: &str = "cool:";

/// The cool-downs this isolate knows of, by replay text. A short list, like
/// [`super::local::Held`]: it holds the keys that failed in the last few
/// minutes in one isolate.
#[derive(Default)]
pub struct Cooled(RefCell<Vec<(String, Cooling)>>);

impl Cooled {
    fn get(&self, text: &str) -> Option<Cooling> {
        let cooled = self.0.borrow();
        cooled.iter().find(|(k, _)| k == text).map(|(_, c)| *c)
    }

    fn set(&self, text: &str, cooling: Cooling, now: i64) {
        let mut cooled = self.0.borrow_mut();
        if let Some(entry) = cooled.iter_mut().find(|(k, _)| k == text) {
            entry.1 = cooling;
            return;
        }
        if cooled.len() > 64 {
            cooled.retain(|(_, c)| c.forget_at(MAX_COOL_DOWN_SECONDS) > now);
        }
        cooled.push((text.to_owned(), cooling));
    }

    fn remove(&self, text: &str) {
        let mut cooled = self.0.borrow_mut();
        if let Some(at) = cooled.iter().position(|(k, _)| k == text) {
            cooled.swap_remove(at);
        }
    }

    /// How many keys are known (for tests).
    pub fn len(&self) -> usize {
        self.0.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the gate asks about failed keys.
#[allow(async_fn_in_trait)] // Workers run on one thread; no Send bound is wanted.
pub trait CoolDown {
    /// When copies of this key may try again, if they must wait now.
    async fn cooling_until(&self, text: &str, now: i64) -> Option<i64>;
    /// A forward of this key failed at `now`: its copies wait.
    async fn failed(&self, text: &str, now: i64);
    /// The key was delivered: this isolate forgets its cool-down.
    fn delivered(&self, text: &str);
}

/// The cool-downs of one isolate ([`Cooled`]) and its location's cache.
pub struct CoolDowns<'a, C> {
    cooled: &'a Cooled,
    cache: C,
    /// The first cool-down; 0 turns cool-downs off.
    first_seconds: u64,
}

impl<'a, C: LocationCache> CoolDowns<'a, C> {
    pub fn new(cooled: &'a Cooled, cache: C, first_seconds: u64) -> Self {
        Self {
            cooled,
            cache,
            first_seconds,
        }
    }

    /// The latest word on a key: this isolate's own entry while it is still
    /// cooling, else the location's (another isolate may have failed since),
    /// else the isolate's lapsed entry, which still counts for the streak.
    async fn known(&self, text: &str, now: i64) -> Option<Cooling> {
        let own = self.cooled.get(text);
        if own.is_some_and(|cooling| cooling.until > now) {
            return own;
        }
        let cached = self.cache.get(&cache_key(text)).await;
        match cached.as_deref().and_then(Cooling::parse) {
            Some(cooling) if own.is_none_or(|own| cooling.until > own.until) => {
                self.cooled.set(text, cooling, now);
                Some(cooling)
            }
            _ => own,
        }
    }
}

impl<C: LocationCache> CoolDown for CoolDowns<'_, C> {
    async fn cooling_until(&self, text: &str, now: i64) -> Option<i64> {
        if self.first_seconds == 0 {
            return None;
        }
        let cooling = self.known(text, now).await?;
        (cooling.until > now).then_some(cooling.until)
    }

    async fn failed(&self, text: &str, now: i64) {
        if self.first_seconds == 0 {
            return;
        }
        let previous = self.known(text, now).await;
        let cooling = Cooling::after_failure(previous, now, self.first_seconds);
        self.cooled.set(text, cooling, now);
        let ttl = u64::try_from(cooling.forget_at(self.first_seconds).saturating_sub(now))
            .unwrap_or(0)
            .max(1);
        self.cache.put(&cache_key(text), &cooling.encode(), ttl);
    }

    fn delivered(&self, text: &str) {
        self.cooled.remove(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{block_on, FakeCache};

    #[test]
    fn each_failure_in_a_row_doubles_the_wait_up_to_the_cap() {
        let mut cooling = Cooling::after_failure(None, 1_000, 10);
        assert_eq!(
            cooling,
            Cooling {
                failures: 1,
                until: 1_010
            }
        );
        let mut waits = vec![10];
        for _ in 0..8 {
            let now = cooling.until;
            cooling = Cooling::after_failure(Some(cooling), now, 10);
            waits.push(cooling.until - now);
        }
        assert_eq!(waits, [10, 20, 40, 80, 160, 300, 300, 300, 300]);
    }

    #[test]
    fn a_failure_long_after_the_last_starts_again() {
        let cooling = Cooling::after_failure(None, 1_000, 10);
        // Forgotten a cool-down's length after it ended.
        let later = Cooling::after_failure(Some(cooling), 1_020, 10);
        assert_eq!(
            later,
            Cooling {
                failures: 1,
                until: 1_030
            }
        );
        let soon = Cooling::after_failure(Some(cooling), 1_019, 10);
        assert_eq!(soon.failures, 2);
    }

    #[test]
    fn the_cache_value_round_trips_and_junk_is_no_cool_down() {
        let cooling = Cooling {
            failures: 3,
            until: 1_234,
        };
        assert_eq!(Cooling::parse(&cooling.encode()), Some(cooling));
        assert!(cooling.encode().starts_with("cool:"));
        // The entry is shared with holds and marks, none a cool-down; nor
        // the unprefixed value of the entry's first version.
        for junk in [
            "",
            "1234",
            ":3",
            "1234:",
            "x:1",
            "1:-1",
            "cool:1:-1",
            "1234:3",
            "in-flight",
            "queued",
            "done:1234",
        ] {
            assert_eq!(Cooling::parse(junk), None, "{junk}");
        }
    }

    #[test]
    fn copies_wait_until_the_cool_down_ends_and_another_isolate_sees_it() {
        let cache = FakeCache::default();
        let here = Cooled::default();
        let cool = CoolDowns::new(&here, &cache, 10);
        assert_eq!(block_on(cool.cooling_until("/gh key", 1_000)), None);
        block_on(cool.failed("/gh key", 1_000));
        assert_eq!(block_on(cool.cooling_until("/gh key", 1_009)), Some(1_010));
        assert_eq!(block_on(cool.cooling_until("/gh key", 1_010)), None);
        assert_eq!(block_on(cool.cooling_until("/gh other", 1_005)), None);

        // Another isolate of the location: nothing of its own, the cache's.
        let there = Cooled::default();
        let other = CoolDowns::new(&there, &cache, 10);
        assert_eq!(block_on(other.cooling_until("/gh key", 1_005)), Some(1_010));
        // Its next failure continues the streak it read from the cache.
        block_on(other.failed("/gh key", 1_012));
        // This isolate's own entry has lapsed: the cache has the newer word.
        assert_eq!(block_on(cool.cooling_until("/gh key", 1_013)), Some(1_032));
        assert_eq!(block_on(other.cooling_until("/gh key", 1_013)), Some(1_032));
        let ttl = cache.ttl_of(&cache_key("/gh key"));
        assert_eq!(ttl, Some(40), "kept a cool-down's length after it ends");
    }

    #[test]
    fn a_delivery_forgets_the_isolates_entry() {
        let cache = FakeCache::default();
        let here = Cooled::default();
        let cool = CoolDowns::new(&here, &cache, 10);
        block_on(cool.failed("k", 1_000));
        assert_eq!(here.len(), 1);
        cool.delivered("k");
        assert!(here.is_empty());
    }

    #[test]
    fn zero_seconds_turns_cool_downs_off() {
        let cache = FakeCache::default();
        let here = Cooled::default();
        let cool = CoolDowns::new(&here, &cache, 0);
        block_on(cool.failed("k", 1_000));
        assert_eq!(block_on(cool.cooling_until("k", 1_000)), None);
        assert!(here.is_empty());
        assert_eq!(cache.ttl_of(&cache_key("k")), None);
    }

    #[test]
    fn a_cache_that_fails_only_costs_the_other_isolates() {
        let cache = FakeCache::failing();
        let here = Cooled::default();
        let cool = CoolDowns::new(&here, &cache, 10);
        block_on(cool.failed("k", 1_000));
        assert_eq!(block_on(cool.cooling_until("k", 1_001)), Some(1_010));
        let there = Cooled::default();
        let other = CoolDowns::new(&there, &cache, 10);
        assert_eq!(block_on(other.cooling_until("k", 1_001)), None);
    }
}
