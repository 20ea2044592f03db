//! Pausing a route while its origin is under maintenance: where the state
//! lives, how long an isolate may trust what it read, and how long a held
//! queued event waits before it is looked at again.
//!
//! The paused routes live in the delivery log's first shard (one table, a
//! row per paused route, written only by the admin API). An isolate reads
//! them at most once per [`PAUSE_TTL_MS`], and only for a verified
//! delivery: never per forgery, and never a write, so pausing costs no
//! delivery a KV write or a request of its own to the log.

use crate::queue::backoff;

/// How long an isolate answers from the paused routes it read: a pause or a
/// resume takes effect in other isolates within this long (at once in the
/// isolate that made it).
pub const PAUSE_TTL_MS: i64 = 60_000;

/// What a paused direct route asks its senders to wait (`Retry-After`).
pub const PAUSED_RETRY_AFTER_SECONDS: u64 = 60;

/// The longest a held queued event waits before it is looked at again, so
/// it goes within about this long of a resume.
pub const MAX_HOLD_SECONDS: u64 = 300;

/// The paused routes as an isolate last read them, and when.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PausedRoutes {
    pub read_ms: i64,
    /// Their paths, as the log answers them: each ended by a newline (a
    /// route path holds no control character).
    pub routes: String,
}

impl PausedRoutes {
    /// Nothing read yet.
    pub const NONE: Self = Self {
        read_ms: i64::MIN,
        routes: String::new(),
    };

    /// Whether this reading may still be trusted at `now_ms`. A clock that
    /// went back counts as stale.
    pub fn fresh(&self, now_ms: i64) -> bool {
        (0..PAUSE_TTL_MS).contains(&now_ms.saturating_sub(self.read_ms))
    }

    /// Whether `route` is paused.
    pub fn holds(&self, route: &str) -> bool {
        self.routes.split('\n').any(|path| path == route)
    }
}

/// How long a queued event of a paused route waits before it is looked at
/// again, its `held`-th hold (from 0): the route's retry base, doubling, up
/// to [`MAX_HOLD_SECONDS`]. Holds cost three queue operations each, so a
/// long pause costs a few a minute per event at most.
pub fn hold_seconds(held: u32, base_seconds: u64) -> u64 {
    backoff(held.saturating_add(1), base_seconds).min(MAX_HOLD_SECONDS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reading_is_trusted_for_a_minute() {
        let read = PausedRoutes {
            read_ms: 10_000,
            routes: "/quo\n/a/b\n".to_owned(),
        };
        assert!(read.fresh(10_000));
        assert!(read.fresh(69_999));
        assert!(!read.fresh(70_000));
        assert!(!read.fresh(9_999), "a clock that went back");
        assert!(read.holds("/quo") && read.holds("/a/b"));
        assert!(!read.holds("/a") && !read.holds("/quo/"));
        assert!(!PausedRoutes::NONE.fresh(1_700_000_000_000));
    }

    #[test]
    fn holds_double_from_the_base_up_to_five_minutes() {
        assert_eq!(hold_seconds(0, 30), 30);
        assert_eq!(hold_seconds(1, 30), 60);
        assert_eq!(hold_seconds(3, 30), 240);
        assert_eq!(hold_seconds(4, 30), 300);
        assert_eq!(hold_seconds(u32::MAX, 30), 300);
        assert_eq!(hold_seconds(0, 1), 1);
    }
}
