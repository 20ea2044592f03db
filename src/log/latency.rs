//! Origin latency as a small fixed histogram, so the dashboard can show a
//! route's median and 95th percentile without the log keeping every
//! sample: exact percentiles would need each attempt's duration, read back
//! on every look. Instead each attempt that reached the origin counts one
//! in its duration's bucket, per route and hour, as a count cell
//! ([`super::counts`]) under the reason `latency:<bound>`: the cells are
//! written with the other counts (one row per bucket used per route, hour
//! and flush, not one per delivery) and add up across isolates and shards
//! as any count does.
//!
//! The price is precision: a percentile is known to lie in one bucket, and
//! is read linearly within it (as if its samples were spread evenly), so
//! it is off by at most that bucket's width. The bounds go 1, 2, 3, 5, 7,
//! 10, 15, 20, 30, 50, 70, 100 ms and on alike to 30 s: from 2 ms on, each
//! bucket is at most two thirds of its lower bound wide (30–50 ms,
//! 1–1.5 s), so a figure is within 40% of the true one; beyond 30 s a
//! percentile reads as 30 s.

use super::Attempt;

/// The buckets' upper bounds, inclusive, in milliseconds; one more bucket
/// holds everything above the last.
pub const BOUNDS_MS: [u32; 27] = [
    1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 700, 1_000, 1_500, 2_000,
    3_000, 5_000, 7_000, 10_000, 15_000, 20_000, 30_000,
];

/// The start of a latency cell's reason; no outcome's reason code has it.
pub const PREFIX: &str = "latency:";

/// The reason of the bucket above the last bound.
const OVER: &str = "latency:over";

/// Whether an attempt tells how long the origin took: it answered, or it
/// did not within the route's timeout. Attempts the gate refused, or
/// handed to the queue, never reached it.
pub fn timed(attempt: &Attempt) -> bool {
    attempt.origin_status.is_some() || attempt.outcome == "origin-timeout"
}

/// The reason a duration's bucket is counted under.
pub fn reason_of(duration_ms: u32) -> String {
    match BOUNDS_MS.iter().find(|bound| duration_ms <= **bound) {
        Some(bound) => {
            let mut reason = String::from(PREFIX);
            reason.push_str(&u64::from(*bound).to_string());
            reason
        }
        None => OVER.to_owned(),
    }
}

/// Counts per bucket, [`BOUNDS_MS`] and the one above.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    counts: [u64; BOUNDS_MS.len() + 1],
}

impl Histogram {
    /// Adds a cell's count; whether `reason` is a latency reason at all. A
    /// bound that is not one of ours (another version's) is dropped.
    pub fn add(&mut self, reason: &str, count: u64) -> bool {
        let Some(bound) = reason.strip_prefix(PREFIX) else {
            return false;
        };
        let at = if reason == OVER {
            Some(BOUNDS_MS.len())
        } else {
            crate::query::whole::<u32>(bound).and_then(|b| BOUNDS_MS.iter().position(|x| *x == b))
        };
        if let Some(at) = at {
            self.counts[at] = self.counts[at].saturating_add(count);
        }
        true
    }

    /// The samples counted.
    pub fn samples(&self) -> u64 {
        self.counts.iter().fold(0, |sum, c| sum.saturating_add(*c))
    }

    /// The duration below which `percent` of the samples lie, read
    /// linearly within its bucket; `None` without samples.
    pub fn percentile(&self, percent: u64) -> Option<u32> {
        let samples = self.samples();
        if samples == 0 {
            return None;
        }
        // The rank of the sample wanted, 1-based: the 50th of 100 is the
        // 50th, of 3 the 2nd (rounded up, so a single sample is its own).
        let rank = samples
            .saturating_mul(percent.min(100))
            .div_ceil(100)
            .max(1);
        let mut below = 0u64;
        for (at, count) in self.counts.iter().enumerate() {
            if *count == 0 || below + count < rank {
                below += count;
                continue;
            }
            let low = if at == 0 { 0 } else { BOUNDS_MS[at - 1] };
            let Some(high) = BOUNDS_MS.get(at) else {
                return Some(low);
            };
            let into = u64::from(high - low) * (rank - below) / count;
            return Some(low + u32::try_from(into).unwrap_or(high - low));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(durations: &[u32]) -> Histogram {
        let mut histogram = Histogram::default();
        for ms in durations {
            assert!(histogram.add(&reason_of(*ms), 1));
        }
        histogram
    }

    #[test]
    fn a_duration_falls_in_the_first_bucket_whose_bound_holds_it() {
        assert_eq!(reason_of(0), "latency:1");
        assert_eq!(reason_of(1), "latency:1");
        assert_eq!(reason_of(2), "latency:2");
        assert_eq!(reason_of(41), "latency:50");
        assert_eq!(reason_of(100), "latency:100");
        assert_eq!(reason_of(101), "latency:150");
        assert_eq!(reason_of(30_000), "latency:30000");
        assert_eq!(reason_of(30_001), "latency:over");
        assert_eq!(reason_of(u32::MAX), "latency:over");
    }

    #[test]
    fn each_bucket_is_at_most_two_thirds_of_its_lower_bound_wide_from_2_ms() {
        for pair in BOUNDS_MS.windows(2) {
            assert!(pair[0] < pair[1]);
            if pair[0] >= 2 {
                assert!(pair[1] * 3 <= pair[0] * 5, "{pair:?}");
            }
        }
    }

    #[test]
    fn other_reasons_are_not_latency_and_unknown_bounds_are_dropped() {
        let mut histogram = Histogram::default();
        assert!(!histogram.add("delivered", 3));
        assert!(histogram.add("latency:42", 3), "another version's bound");
        assert!(histogram.add("latency:x", 3));
        assert_eq!(histogram.samples(), 0);
        assert_eq!(histogram.percentile(50), None);
    }

    #[test]
    fn percentiles_are_read_within_their_bucket() {
        // 100 samples: 90 of 40 ms (the 30–50 bucket), 10 of 400 ms (300–500).
        let mut durations = vec![40; 90];
        durations.extend([400; 10]);
        let histogram = of(&durations);
        assert_eq!(histogram.samples(), 100);
        // The 50th of 90 in 30–50: 30 + 20 × 50/90.
        assert_eq!(histogram.percentile(50), Some(41));
        // The 95th is the 5th of 10 in 300–500: 300 + 200 × 5/10.
        assert_eq!(histogram.percentile(95), Some(400));
        assert_eq!(histogram.percentile(100), Some(500));
        // Within the bucket's width of the exact figure.
        let exact = |p: usize| durations[p - 1];
        for (p, width) in [(50, 20), (95, 200)] {
            let read = histogram.percentile(p as u64).expect("samples");
            assert!(read.abs_diff(exact(p)) <= width, "p{p}: {read}");
        }
    }

    #[test]
    fn one_sample_is_every_percentile_and_beyond_the_last_bound_reads_as_it() {
        assert_eq!(of(&[0]).percentile(50), Some(1));
        assert_eq!(of(&[0]).percentile(0), Some(1), "the first sample");
        assert_eq!(of(&[60_000]).percentile(95), Some(30_000));
    }

    #[test]
    fn histograms_add_up_across_shards_as_counts() {
        // The same samples split over two shards' cells, added in any
        // order, read as the samples of one.
        let one = of(&[3, 8, 8, 12, 250, 900]);
        let mut merged = Histogram::default();
        for (reason, count) in [
            ("latency:3", 1),
            ("latency:10", 1),
            ("latency:300", 1),
            ("latency:10", 1),
            ("latency:15", 1),
            ("latency:1000", 1),
        ] {
            merged.add(reason, count);
        }
        assert_eq!(merged, one);
        assert_eq!(merged.percentile(50), one.percentile(50));
    }

    #[test]
    fn only_attempts_that_reached_the_origin_are_timed() {
        let attempt = |outcome: &str, status| Attempt {
            route: "/quo".into(),
            key: "k".into(),
            scheme: "standard-webhooks".into(),
            event_type: None,
            at_ms: 0,
            outcome: outcome.into(),
            origin_status: status,
            duration_ms: 5,
        };
        assert!(timed(&attempt("delivered", Some(200))));
        assert!(timed(&attempt("origin-failed", Some(503))));
        assert!(timed(&attempt("origin-timeout", None)));
        assert!(!timed(&attempt("queued", None)));
        assert!(!timed(&attempt("store-unavailable", None)));
    }
}
