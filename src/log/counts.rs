//! Counts per route and reason, gathered in the isolate and written in
//! batches (with the attempts of [`super::buffer`]): a flood of N forged
//! requests costs one storage write per flush interval per isolate, not N.
//!
//! The first count an isolate sees is written at once (so a quiet gate's
//! rare rejection shows up without waiting); after that, pending counts go
//! out with the first request once the interval has passed since the last
//! write (or with the batch of attempts written then). Counts of an
//! isolate that is evicted before that are lost: the stats are a close
//! count, as the records are across an eviction (see [`super::buffer`]).

/// The route name rejections get when no route matched (the request's own
/// path is not used: it is the sender's choice, and would let anyone create
/// rows).
pub const NO_ROUTE: &str = "(none)";

/// The "route" KV writes are counted under (`KV_WRITE`, `KV_WRITE_REFUSED`):
/// the writes the gate made are what the free plan limits (1,000 a day), so
/// a team sees the wall before it hits it.
pub const KV_ROUTE: &str = "(kv)";
/// A KV write the gate made (a `done` mark, or one kept longer).
pub const KV_WRITE: &str = "write";
/// A KV write KV refused (its daily limit, say): the event was delivered all
/// the same, and its mark is lost.
pub const KV_WRITE_REFUSED: &str = "write-refused";

/// How many counts (route, reason, minute) one isolate may hold before it
/// writes regardless of the interval; bounds its memory.
const MAX_PENDING: usize = 512;

/// One counted cell: `count` requests on `route` ended with `reason` during
/// the minute starting at `minute` (Unix minutes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    pub minute: i64,
    pub route: String,
    pub reason: String,
    pub count: u64,
}

/// The isolate's pending counts: a short list (a few routes and reasons
/// per minute, at most [`MAX_PENDING`]), searched in order; a map would
/// weigh more in wasm than it saves.
#[derive(Debug, Default)]
pub struct CountBuffer {
    pending: Vec<Count>,
    last_write_ms: Option<i64>,
}

impl CountBuffer {
    /// Counts one request.
    pub fn add(&mut self, now_ms: i64, route: &str, reason: &str) {
        self.add_count(now_ms.div_euclid(60_000), route, reason, 1);
    }

    /// Counts an attempt's origin latency in its bucket
    /// ([`super::latency`]), per route and hour: under the hour's first
    /// minute, so that a busy hour costs a row per bucket used and flush,
    /// not per minute too.
    pub fn time(&mut self, attempt: &super::Attempt) {
        if super::latency::timed(attempt) {
            let minute = attempt.at_ms.div_euclid(3_600_000) * 60;
            let reason = super::latency::reason_of(attempt.duration_ms);
            self.add_count(minute, &attempt.route, &reason, 1);
        }
    }

    fn add_count(&mut self, minute: i64, route: &str, reason: &str, count: u64) {
        let cell = self
            .pending
            .iter_mut()
            .find(|c| c.minute == minute && c.route == route && c.reason == reason);
        match cell {
            Some(cell) => cell.count += count,
            None => self.pending.push(Count {
                minute,
                route: route.to_owned(),
                reason: reason.to_owned(),
                count,
            }),
        }
    }

    /// Whether a write of the pending counts is due: the isolate's first,
    /// or `interval_ms` after the last, or when too many are pending.
    pub fn is_due(&self, now_ms: i64, interval_ms: i64) -> bool {
        if self.pending.is_empty() {
            return false;
        }
        match self.last_write_ms {
            None => true,
            Some(last) => {
                now_ms.saturating_sub(last) >= interval_ms || self.pending.len() >= MAX_PENDING
            }
        }
    }

    /// The pending counts, when a write is due ([`Self::is_due`]).
    pub fn take_due(&mut self, now_ms: i64, interval_ms: i64) -> Option<Vec<Count>> {
        self.is_due(now_ms, interval_ms)
            .then(|| self.take_all(now_ms))
    }

    /// Every pending count, now (for a stats request, which wants its own
    /// isolate's counts included).
    pub fn take_all(&mut self, now_ms: i64) -> Vec<Count> {
        self.last_write_ms = Some(now_ms);
        std::mem::take(&mut self.pending)
    }

    /// Puts counts back after a failed write, so they go with the next one.
    pub fn restore(&mut self, counts: Vec<Count>) {
        for count in counts {
            self.add_count(count.minute, &count.route, &count.reason, count.count);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_costs_one_write_per_interval() {
        let mut buffer = CountBuffer::default();
        let mut writes = 0;
        let mut counted = 0;
        // 10,000 forged requests over 150 s, 60 s interval.
        for i in 0..10_000i64 {
            let now = 1_700_000_000_000 + i * 15;
            buffer.add(now, "/quo", "bad-signature");
            if let Some(batch) = buffer.take_due(now, 60_000) {
                writes += 1;
                counted += batch.iter().map(|c| c.count).sum::<u64>();
            }
        }
        counted += buffer.take_all(0).iter().map(|c| c.count).sum::<u64>();
        assert_eq!(counted, 10_000, "nothing lost");
        assert!(writes <= 4, "{writes} writes for 150 s");
    }

    #[test]
    fn counts_are_kept_per_minute_route_and_reason() {
        let mut buffer = CountBuffer::default();
        buffer.add(60_000, "/a", "bad-signature");
        let first = buffer
            .take_due(60_000, 60_000)
            .expect("the first is written at once");
        assert_eq!(first.len(), 1);
        buffer.add(61_000, "/a", "bad-signature");
        buffer.add(62_000, "/a", "bad-signature");
        buffer.add(62_000, "/b", "delivered");
        buffer.add(125_000, "/a", "bad-signature");
        assert_eq!(buffer.take_due(125_000, 60_000).map(|b| b.len()), Some(3));
        assert!(
            buffer.take_due(125_000, 60_000).is_none(),
            "nothing pending"
        );
    }

    #[test]
    fn a_failed_write_is_retried_with_the_next() {
        let mut buffer = CountBuffer::default();
        buffer.add(0, "/a", "bad-id");
        let batch = buffer.take_due(0, 60_000).expect("due");
        buffer.restore(batch);
        buffer.add(1, "/a", "bad-id");
        let again = buffer.take_all(60_000);
        assert_eq!(again[0].count, 2);
    }

    #[test]
    fn too_many_pending_counts_are_written_early() {
        let mut buffer = CountBuffer::default();
        buffer.add(0, "/a", "x");
        buffer.take_due(0, 60_000).expect("first");
        for minute in 0..MAX_PENDING as i64 {
            buffer.add(minute * 60_000 + 1, "/a", "x");
        }
        assert!(buffer.take_due(1, 60_000).is_some());
    }
}
