//! The numbers behind the dashboard's chart (`GET /_hookgate/stats/series`):
//! per route, its counts per reason for each of the last 60 minutes and
//! the last 24 hours, its deliveries and failed attempts over the day, and
//! its origin latency ([`super::latency`]). All of it comes from the count
//! cells the log already keeps per minute ([`super::counts`]): a shard sums
//! its cells by minute within the last hour and by hour before it, and the
//! cells of every shard add up here, so a chart costs no row written.

use super::counts::Count;
use super::latency::Histogram;

/// Minutes in the chart of the last hour, the current one last.
pub const MINUTES: usize = 60;
/// Hours in the chart of the last day, the current one last.
pub const HOURS: usize = 24;

/// The reasons a success rate counts as failed attempts: the origin
/// refused or did not answer, or the gate could not get the event there.
/// Rejections and duplicates are no attempt at a delivery; `queued` is a
/// hand-off, its consumer's attempts count.
pub const FAILED: [&str; 7] = [
    "origin-failed",
    "origin-timeout",
    "retrying",
    "dead",
    "store-unavailable",
    "queue-unavailable",
    "internal-error",
];

/// The minutes and hours charted: those ending with the one `now` is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The first charted minute, Unix minutes.
    pub first_minute: i64,
    /// The first charted hour, Unix hours.
    pub first_hour: i64,
}

impl Window {
    pub fn ending(now_ms: i64) -> Self {
        Self {
            first_minute: now_ms.div_euclid(60_000) - (MINUTES as i64 - 1),
            first_hour: now_ms.div_euclid(3_600_000) - (HOURS as i64 - 1),
        }
    }
}

/// One route's numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSeries {
    pub route: String,
    /// Per reason, the count of each minute of the window ([`MINUTES`]).
    pub minutes: Vec<(String, Vec<u64>)>,
    /// Per reason, the count of each hour of the window ([`HOURS`]).
    pub hours: Vec<(String, Vec<u64>)>,
    pub latency: Histogram,
}

impl RouteSeries {
    /// Deliveries and failed attempts ([`FAILED`]) over the hours charted.
    pub fn outcomes(&self) -> (u64, u64) {
        let (mut delivered, mut failed) = (0u64, 0u64);
        for (reason, counts) in &self.hours {
            let sum = counts.iter().sum::<u64>();
            if reason == "delivered" {
                delivered += sum;
            } else if FAILED.contains(&reason.as_str()) {
                failed += sum;
            }
        }
        (delivered, failed)
    }
}

/// Every route's numbers, in the order the cells first named them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub window: Window,
    pub routes: Vec<RouteSeries>,
}

/// Adds `count` at `at` to the row of `reason` (of `len` slots), added
/// when new.
fn add_to(rows: &mut Vec<(String, Vec<u64>)>, reason: &str, len: usize, at: usize, count: u64) {
    let row = match rows.iter().position(|(r, _)| r == reason) {
        Some(row) => row,
        None => {
            rows.push((reason.to_owned(), vec![0; len]));
            rows.len() - 1
        }
    };
    rows[row].1[at] += count;
}

impl Series {
    pub fn new(window: Window) -> Self {
        Self {
            window,
            routes: Vec::new(),
        }
    }

    /// Adds a cell a shard answered (by minute in the last hour, by the
    /// hour's first minute before it); one outside the window is dropped.
    pub fn add(&mut self, cell: &Count) {
        let hour = cell.minute.div_euclid(60) - self.window.first_hour;
        let Some(hour) = usize::try_from(hour).ok().filter(|h| *h < HOURS) else {
            return;
        };
        let at = match self.routes.iter().position(|r| r.route == cell.route) {
            Some(at) => at,
            None => {
                self.routes.push(RouteSeries {
                    route: cell.route.clone(),
                    minutes: Vec::new(),
                    hours: Vec::new(),
                    latency: Histogram::default(),
                });
                self.routes.len() - 1
            }
        };
        let route = &mut self.routes[at];
        if route.latency.add(&cell.reason, cell.count) {
            return;
        }
        add_to(&mut route.hours, &cell.reason, HOURS, hour, cell.count);
        let minute = cell.minute - self.window.first_minute;
        if let Some(minute) = usize::try_from(minute).ok().filter(|m| *m < MINUTES) {
            add_to(
                &mut route.minutes,
                &cell.reason,
                MINUTES,
                minute,
                cell.count,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::latency::reason_of;

    #[test]
    fn failed_is_every_failed_attempt_of_the_gate_and_of_the_consumer() {
        use crate::outcome::Outcome;
        use crate::queue::Consumed;
        // A failed attempt is one the log records (`log::records` places
        // every outcome, or fails to compile) that got the event to neither
        // the origin nor the queue.
        for outcome in crate::outcome::tests::ALL {
            let failed = crate::log::records(outcome)
                && !matches!(outcome, Outcome::Delivered | Outcome::Queued);
            assert_eq!(
                FAILED.contains(&outcome.reason()),
                failed,
                "{}",
                outcome.reason()
            );
        }
        let consumed = [
            Consumed::Delivered,
            Consumed::AlreadyDelivered,
            Consumed::InFlight,
            Consumed::Retrying,
            Consumed::Dead,
        ];
        for attempt in consumed {
            let failed = match attempt {
                Consumed::Retrying | Consumed::Dead => true,
                Consumed::Delivered | Consumed::AlreadyDelivered | Consumed::InFlight => false,
            };
            assert_eq!(
                FAILED.contains(&attempt.reason()),
                failed,
                "{}",
                attempt.reason()
            );
        }
        // Nothing else: seven reasons, each one of the above.
        assert_eq!(FAILED.len(), 5 + 2);
    }

    /// 2026-12-02 14:37:30 UTC.
    const NOW: i64 = 1_796_222_250_000;

    fn cell(minute: i64, route: &str, reason: &str, count: u64) -> Count {
        Count {
            minute,
            route: route.into(),
            reason: reason.into(),
            count,
        }
    }

    #[test]
    fn the_window_ends_with_the_current_minute_and_hour() {
        let window = Window::ending(NOW);
        assert_eq!(window.first_minute, NOW / 60_000 - 59);
        assert_eq!(window.first_hour, NOW / 3_600_000 - 23);
    }

    #[test]
    fn cells_of_every_shard_add_up_per_minute_and_hour() {
        let window = Window::ending(NOW);
        let now_minute = NOW / 60_000;
        let hour_start = now_minute - now_minute % 60;
        let mut series = Series::new(window);
        // Two shards' cells of the current minute, one of a minute ago, and
        // an older hour's sum (a shard sums by hour before the last hour).
        series.add(&cell(now_minute, "/quo", "delivered", 2));
        series.add(&cell(now_minute, "/quo", "delivered", 3));
        series.add(&cell(now_minute - 1, "/quo", "origin-failed", 1));
        series.add(&cell(hour_start - 120, "/quo", "delivered", 7));
        series.add(&cell(now_minute, "/github", "bad-signature", 4));
        // Outside the window: a day and more ago.
        series.add(&cell(window.first_hour * 60 - 60, "/quo", "delivered", 100));
        let quo = &series.routes[0];
        assert_eq!(quo.route, "/quo");
        let minutes = |reason: &str| {
            quo.minutes
                .iter()
                .find(|(r, _)| r == reason)
                .map(|(_, c)| c.clone())
        };
        let delivered = minutes("delivered").expect("delivered");
        assert_eq!(delivered[MINUTES - 1], 5);
        assert_eq!(
            delivered.iter().sum::<u64>(),
            5,
            "the older hour is not a minute"
        );
        assert_eq!(minutes("origin-failed").expect("failed")[MINUTES - 2], 1);
        let hours = &quo
            .hours
            .iter()
            .find(|(r, _)| r == "delivered")
            .expect("hours")
            .1;
        assert_eq!(hours[HOURS - 1], 5);
        assert_eq!(hours[HOURS - 3], 7);
        assert_eq!(hours.iter().sum::<u64>(), 12);
        assert_eq!(quo.outcomes(), (12, 1));
        assert_eq!(series.routes[1].route, "/github");
        assert_eq!(
            series.routes[1].outcomes(),
            (0, 0),
            "rejections are no attempts"
        );
    }

    #[test]
    fn latency_cells_make_the_routes_histogram_not_a_reason() {
        let now_minute = NOW / 60_000;
        let hour = now_minute - now_minute % 60;
        let mut series = Series::new(Window::ending(NOW));
        for (ms, count) in [(40, 80), (400, 10)] {
            series.add(&cell(hour, "/quo", &reason_of(ms), count));
        }
        series.add(&cell(hour - 60, "/quo", &reason_of(40), 10));
        let quo = &series.routes[0];
        assert!(quo.minutes.is_empty() && quo.hours.is_empty());
        assert_eq!(quo.latency.samples(), 100);
        assert_eq!(quo.latency.percentile(50), Some(41));
        assert_eq!(quo.latency.percentile(95), Some(400));
    }
}
