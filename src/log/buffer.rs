//! What an isolate holds for the delivery log before writing it: attempts
//! and counts, written in batches so that the log costs a fraction of a
//! request per delivery, not one each (one Durable Object takes on the
//! order of a thousand requests a second, and every delivery of the gate
//! went through one).
//!
//! The rule, decided here on a clock the caller passes:
//!
//! - the attempt that finds the buffer without a flush under way starts a
//!   batch: its request waits [`FLUSH_INTERVAL_MS`] (after its answer, under
//!   waitUntil) and then writes everything buffered meanwhile, in one
//!   request;
//! - a buffer of [`MAX_BATCH`] attempts is written at once, by the request
//!   that filled it;
//! - counts keep their own pace ([`super::counts`]: the isolate's first at
//!   once, then at most once per `STATS_FLUSH_SECONDS`) and go with the
//!   batch that is written when they are due;
//! - a batch the log did not take is kept for the next (at most
//!   [`MAX_KEPT`] attempts: beyond that the oldest are dropped, and said
//!   so), and no flush starts again before an interval has passed, so a log
//!   that is down costs one failed request per interval, not one per
//!   delivery.
//!
//! What is buffered when the isolate is evicted or crashes is lost: log
//! lines and counts, never events (the events are the replay store's and
//! the origin's).

use super::counts::{Count, CountBuffer};
use super::Attempt;

/// How long the request that starts a batch waits before writing it.
pub const FLUSH_INTERVAL_MS: i64 = 1_000;

/// A batch this large is written at once.
pub const MAX_BATCH: usize = 100;

/// The most attempts an isolate keeps after failed writes.
pub const MAX_KEPT: usize = 1_000;

/// What the caller does after adding to the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flush {
    /// Nothing: a flush is under way, or nothing is due.
    Nothing,
    /// Write [`LogBuffer::take`] now.
    Now,
    /// Wait `wait_ms`, then write [`LogBuffer::take_batch`] of `batch`.
    After { wait_ms: i64, batch: u64 },
}

/// A batch to write: attempts and counts, one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    pub attempts: Vec<Attempt>,
    pub counts: Vec<Count>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.attempts.is_empty() && self.counts.is_empty()
    }
}

/// The isolate's buffer (see the module's text).
#[derive(Debug, Default)]
pub struct LogBuffer {
    attempts: Vec<Attempt>,
    counts: CountBuffer,
    /// The batch a request is waiting to write, and when it is due.
    waiting: Option<(u64, i64)>,
    /// Batches started so far: each waiting request knows its own.
    started: u64,
    /// No flush starts before this (after a failed write).
    held_until: i64,
}

impl LogBuffer {
    /// One request, observed: its attempt, when it makes a record, and its
    /// count. `counts_interval_ms` is `STATS_FLUSH_SECONDS`.
    pub fn observe(
        &mut self,
        now_ms: i64,
        attempt: Option<Attempt>,
        route: &str,
        reason: &str,
        counts_interval_ms: i64,
    ) -> Flush {
        self.add(now_ms, attempt, route, reason);
        self.decide(now_ms, counts_interval_ms)
    }

    /// Adds without deciding anything: for the queue consumer, which writes
    /// once per batch of messages ([`Self::take`] when the batch is done).
    pub fn add(&mut self, now_ms: i64, attempt: Option<Attempt>, route: &str, reason: &str) {
        if let Some(attempt) = attempt {
            self.time(&attempt);
            self.attempts.push(attempt);
        }
        self.counts.add(now_ms, route, reason);
    }

    /// Counts an attempt's origin latency only: for one recorded apart (a
    /// dead letter, written at once with its letter).
    pub fn time(&mut self, attempt: &Attempt) {
        self.counts.time(attempt);
    }

    fn decide(&mut self, now_ms: i64, counts_interval_ms: i64) -> Flush {
        if now_ms < self.held_until {
            // The last write failed: wait out the interval.
            return match self.waiting {
                None if !self.attempts.is_empty() => self.start(now_ms, self.held_until - now_ms),
                _ => Flush::Nothing,
            };
        }
        if self.attempts.len() >= MAX_BATCH || self.counts.is_due(now_ms, counts_interval_ms) {
            return Flush::Now;
        }
        if self.attempts.is_empty() {
            return Flush::Nothing;
        }
        match self.waiting {
            None => self.start(now_ms, FLUSH_INTERVAL_MS),
            // The waiting request is overdue by a whole interval: the
            // runtime ended it. This one writes instead.
            Some((_, due)) if now_ms >= due.saturating_add(FLUSH_INTERVAL_MS) => Flush::Now,
            Some(_) => Flush::Nothing,
        }
    }

    fn start(&mut self, now_ms: i64, wait_ms: i64) -> Flush {
        self.started += 1;
        self.waiting = Some((self.started, now_ms.saturating_add(wait_ms)));
        Flush::After {
            wait_ms,
            batch: self.started,
        }
    }

    /// What to write now: every attempt, and the counts that are due (all
    /// of them with `all_counts`: before the admin API reads the log, so
    /// what this isolate saw shows at once). Any waiting request then finds
    /// its batch gone.
    pub fn take(&mut self, now_ms: i64, counts_interval_ms: i64, all_counts: bool) -> Batch {
        self.waiting = None;
        let counts = if all_counts {
            self.counts.take_all(now_ms)
        } else {
            self.counts
                .take_due(now_ms, counts_interval_ms)
                .unwrap_or_default()
        };
        Batch {
            attempts: std::mem::take(&mut self.attempts),
            counts,
        }
    }

    /// What the request that waited for `batch` writes: the buffer, unless
    /// it was written meanwhile (by a full buffer, or a read of the log).
    pub fn take_batch(
        &mut self,
        now_ms: i64,
        batch: u64,
        counts_interval_ms: i64,
    ) -> Option<Batch> {
        match self.waiting {
            Some((waiting, _)) if waiting == batch => {
                Some(self.take(now_ms, counts_interval_ms, false))
            }
            _ => None,
        }
    }

    /// Keeps a batch the log did not take, for the next write, and holds
    /// flushes for an interval. Returns how many attempts were dropped to
    /// stay within [`MAX_KEPT`].
    pub fn restore(&mut self, now_ms: i64, batch: Batch) -> usize {
        let mut attempts = batch.attempts;
        attempts.append(&mut self.attempts);
        let dropped = attempts.len().saturating_sub(MAX_KEPT);
        attempts.drain(..dropped);
        self.attempts = attempts;
        self.counts.restore(batch.counts);
        self.held_until = now_ms.saturating_add(FLUSH_INTERVAL_MS);
        dropped
    }

    /// Attempts buffered now.
    pub fn pending(&self) -> usize {
        self.attempts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000_000;
    const MINUTE: i64 = 60_000;

    fn attempt(n: usize, at_ms: i64) -> Attempt {
        Attempt {
            route: "/quo".into(),
            key: format!("msg_{n}"),
            scheme: "standard-webhooks".into(),
            event_type: None,
            at_ms,
            outcome: "delivered".into(),
            origin_status: Some(200),
            duration_ms: 3,
        }
    }

    /// The requests counted by reason, and the latency samples counted.
    fn reasons(counts: &[Count]) -> (u64, u64) {
        let timed = |c: &&Count| c.reason.starts_with(crate::log::latency::PREFIX);
        let sum = |c: &Count| c.count;
        (
            counts.iter().filter(|c| !timed(c)).map(sum).sum(),
            counts.iter().filter(timed).map(sum).sum(),
        )
    }

    #[test]
    fn an_attempt_that_reached_the_origin_counts_in_its_latency_bucket_per_hour() {
        let mut buffer = LogBuffer::default();
        buffer.add(T0, Some(attempt(0, T0)), "/quo", "delivered");
        buffer.add(
            T0 + MINUTE,
            Some(attempt(1, T0 + MINUTE)),
            "/quo",
            "delivered",
        );
        let queued = Attempt {
            outcome: "queued".into(),
            origin_status: None,
            ..attempt(2, T0)
        };
        buffer.add(T0, Some(queued), "/quo", "queued");
        let counts = buffer.take(T0 + MINUTE, MINUTE, true).counts;
        let latency: Vec<_> = counts
            .iter()
            .filter(|c| c.reason.starts_with(crate::log::latency::PREFIX))
            .map(|c| (c.minute, c.reason.as_str(), c.count))
            .collect();
        // Both minutes in one cell, under the hour's first minute.
        let hour = T0.div_euclid(3_600_000) * 60;
        assert_eq!(latency, [(hour, "latency:3", 2)]);
    }

    /// A gate under a fake clock: each request's flush decision played out
    /// (waits resolved in time order), counting the writes and what they
    /// carried.
    #[derive(Default)]
    struct Run {
        buffer: LogBuffer,
        waits: Vec<(i64, u64)>,
        writes: Vec<(i64, Batch)>,
    }

    impl Run {
        fn at(&mut self, now: i64) {
            self.waits.sort();
            while let Some(&(due, batch)) = self.waits.first() {
                if due > now {
                    break;
                }
                self.waits.remove(0);
                if let Some(taken) = self.buffer.take_batch(due, batch, MINUTE) {
                    self.write(due, taken);
                }
            }
        }

        fn write(&mut self, now: i64, batch: Batch) {
            if !batch.is_empty() {
                self.writes.push((now, batch));
            }
        }

        fn request(&mut self, now: i64, attempt: Option<Attempt>, reason: &str) {
            self.at(now);
            match self.buffer.observe(now, attempt, "/quo", reason, MINUTE) {
                Flush::Nothing => {}
                Flush::Now => {
                    let taken = self.buffer.take(now, MINUTE, false);
                    self.write(now, taken);
                }
                Flush::After { wait_ms, batch } => self.waits.push((now + wait_ms, batch)),
            }
        }

        fn attempts_written(&self) -> usize {
            self.writes.iter().map(|(_, b)| b.attempts.len()).sum()
        }

        fn counted(&self) -> u64 {
            self.writes
                .iter()
                .flat_map(|(_, b)| &b.counts)
                .map(|c| c.count)
                .sum()
        }
    }

    #[test]
    fn a_burst_of_100_costs_two_writes() {
        let mut run = Run::default();
        for n in 0..100 {
            run.request(T0 + n as i64 / 10, Some(attempt(n, T0)), "delivered");
        }
        run.at(T0 + 10 * FLUSH_INTERVAL_MS);
        // The isolate's first count goes at once (with the first attempt);
        // the other 99 wait one interval and go together.
        assert_eq!(
            run.writes.len(),
            2,
            "{:?}",
            run.writes
                .iter()
                .map(|(t, b)| (t - T0, b.attempts.len()))
                .collect::<Vec<_>>()
        );
        assert_eq!(run.attempts_written(), 100);
        assert_eq!(
            run.writes[1].0,
            T0 + FLUSH_INTERVAL_MS,
            "written one interval after the batch started"
        );
    }

    #[test]
    fn a_steady_load_costs_a_tenth_of_a_write_per_delivery_or_less() {
        for per_second in [20, 50, 200, 2_000] {
            let mut run = Run::default();
            let deliveries = per_second as usize * 60;
            for n in 0..deliveries {
                let now = T0 + (n as i64) * 1_000 / per_second;
                run.request(now, Some(attempt(n, now)), "delivered");
            }
            run.at(T0 + 120_000);
            let per_delivery = run.writes.len() as f64 / deliveries as f64;
            assert!(
                per_delivery <= 0.1 + 1e-9,
                "{per_second}/s: {per_delivery} writes per delivery"
            );
            assert_eq!(
                run.attempts_written(),
                deliveries,
                "{per_second}/s: nothing lost"
            );
            assert!(run
                .writes
                .iter()
                .all(|(_, b)| b.attempts.len() <= MAX_BATCH));
        }
    }

    #[test]
    fn a_full_buffer_is_written_at_once() {
        let mut buffer = LogBuffer::default();
        buffer.observe(T0, None, "/quo", "delivered", MINUTE);
        buffer.take(T0, MINUTE, false); // the isolate's first count
        let first = buffer.observe(T0, Some(attempt(0, T0)), "/quo", "delivered", MINUTE);
        assert!(matches!(
            first,
            Flush::After {
                wait_ms: FLUSH_INTERVAL_MS,
                ..
            }
        ));
        for n in 1..MAX_BATCH - 1 {
            assert_eq!(
                buffer.observe(T0, Some(attempt(n, T0)), "/quo", "delivered", MINUTE),
                Flush::Nothing
            );
        }
        assert_eq!(
            buffer.observe(T0, Some(attempt(99, T0)), "/quo", "delivered", MINUTE),
            Flush::Now
        );
        let taken = buffer.take(T0, MINUTE, false);
        assert_eq!(taken.attempts.len(), MAX_BATCH);
        assert!(
            taken.counts.is_empty(),
            "counts wait for their own interval"
        );
        let Flush::After { batch, .. } = first else {
            unreachable!()
        };
        assert_eq!(
            buffer.take_batch(T0 + 1_000, batch, MINUTE),
            None,
            "the waiting request finds its batch written"
        );
    }

    #[test]
    fn counts_keep_their_pace_and_ride_with_attempts() {
        let mut run = Run::default();
        // 600 forged requests over 100 s: counted, never recorded.
        for n in 0..600 {
            run.request(T0 + n * 166, None, "bad-signature");
        }
        run.at(T0 + 200_000);
        assert!(run.writes.len() <= 3, "{} writes", run.writes.len());
        let pending = run.buffer.take(T0 + 200_000, MINUTE, true);
        let total = run.counted() + pending.counts.iter().map(|c| c.count).sum::<u64>();
        assert_eq!(total, 600, "every request counted");
    }

    #[test]
    fn a_waiting_request_the_runtime_ended_is_replaced() {
        let mut buffer = LogBuffer::default();
        buffer.observe(T0, None, "/quo", "x", MINUTE);
        buffer.take(T0, MINUTE, false);
        assert!(matches!(
            buffer.observe(T0, Some(attempt(0, T0)), "/quo", "delivered", MINUTE),
            Flush::After { .. }
        ));
        // Its wait never ends (the runtime cancelled it).
        assert_eq!(
            buffer.observe(
                T0 + 1_500,
                Some(attempt(1, T0)),
                "/quo",
                "delivered",
                MINUTE
            ),
            Flush::Nothing
        );
        assert_eq!(
            buffer.observe(
                T0 + 2_000,
                Some(attempt(2, T0)),
                "/quo",
                "delivered",
                MINUTE
            ),
            Flush::Now
        );
        assert_eq!(buffer.take(T0 + 2_000, MINUTE, false).attempts.len(), 3);
    }

    #[test]
    fn a_failed_write_is_kept_for_the_next_and_holds_flushes_an_interval() {
        let mut buffer = LogBuffer::default();
        for n in 0..MAX_BATCH {
            buffer.add(T0, Some(attempt(n, T0)), "/quo", "delivered");
        }
        let batch = buffer.take(T0, MINUTE, true);
        assert_eq!(buffer.restore(T0, batch), 0);
        assert_eq!(buffer.pending(), MAX_BATCH);
        // Full, but the log just failed: the next write waits its interval.
        let next = buffer.observe(T0 + 10, Some(attempt(100, T0)), "/quo", "delivered", MINUTE);
        assert_eq!(
            next,
            Flush::After {
                wait_ms: FLUSH_INTERVAL_MS - 10,
                batch: 1
            }
        );
        assert_eq!(
            buffer.observe(T0 + 20, Some(attempt(101, T0)), "/quo", "delivered", MINUTE),
            Flush::Nothing
        );
        let again = buffer
            .take_batch(T0 + FLUSH_INTERVAL_MS, 1, MINUTE)
            .expect("its batch");
        assert_eq!(again.attempts.len(), MAX_BATCH + 2);
        assert_eq!(again.attempts[0].key, "msg_0", "oldest first");
        let counts = buffer.take(T0 + FLUSH_INTERVAL_MS, MINUTE, true).counts;
        assert_eq!(reasons(&counts), (102, 102), "the counts kept too");
        // A log down for long keeps at most MAX_KEPT.
        let mut long = Batch {
            attempts: (0..MAX_KEPT + 5).map(|n| attempt(n, T0)).collect(),
            counts: Vec::new(),
        };
        assert_eq!(buffer.restore(T0 + 5_000, std::mem::take(&mut long)), 5);
        assert_eq!(buffer.pending(), MAX_KEPT);
    }

    #[test]
    fn the_consumer_adds_and_writes_once_per_batch_of_messages() {
        let mut buffer = LogBuffer::default();
        for n in 0..10 {
            buffer.add(T0, Some(attempt(n, T0)), "/quo", "delivered");
        }
        let batch = buffer.take(T0, MINUTE, false);
        assert_eq!(batch.attempts.len(), 10);
        assert_eq!(
            reasons(&batch.counts),
            (10, 10),
            "the isolate's first counts go at once, with the latency of each"
        );
        for n in 0..10 {
            buffer.add(T0 + 5_000, Some(attempt(n, T0)), "/quo", "retrying");
        }
        let batch = buffer.take(T0 + 5_000, MINUTE, false);
        assert_eq!(
            (batch.attempts.len(), batch.counts.len()),
            (10, 0),
            "counts not due yet"
        );
    }
}
