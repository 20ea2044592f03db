//! What is said about each request and each queue attempt: the structured
//! log line (always), an Analytics Engine data point (with `METRICS`), the
//! count per route and reason and the delivery record (with
//! `DELIVERY_LOG`). It runs after the answer, under waitUntil, and a failure
//! here is itself only logged.

use super::delivery_log::LogClient;
use super::edge::{log_object, write_point};
use super::runtime::console_error;
use super::settings::Bindings;
use crate::config::Config;
use crate::gate::Handled;
use crate::log::command::LogCommand;
use crate::log::counts::{Count, CountBuffer};
use crate::observe::{encode_line, Forwarded, Observation};
use std::cell::RefCell;
use wasm_bindgen::JsValue;

thread_local! {
    /// This isolate's counts per route and reason, written in batches.
    static COUNTS: RefCell<CountBuffer> = RefCell::new(CountBuffer::default());
}

/// Where what the gate says goes, from the isolate's bindings.
pub struct Sinks {
    pub log: Option<LogClient>,
    /// The Analytics Engine dataset binding.
    metrics: Option<JsValue>,
}

impl Sinks {
    pub fn of(bindings: &Bindings) -> Self {
        Self {
            log: bindings.delivery_log.clone().map(LogClient),
            metrics: bindings.metrics.clone(),
        }
    }

    /// Logs, measures, counts and records one request.
    pub async fn observe(&self, config: &Config, handled: &Handled, started: i64) {
        let finished = js_sys::Date::now() as i64;
        let seen = Observation {
            config,
            handled,
            finished_ms: finished,
            duration_ms: u32::try_from(finished.saturating_sub(started)).unwrap_or(u32::MAX),
        };
        let level = if handled.incidents.is_empty() {
            "log"
        } else {
            "warn"
        };
        log_object(level, &encode_line(&seen.log_fields()));
        if self.metrics.is_some() {
            let (blobs, doubles, index) = seen.metrics_point();
            self.point(&blobs, doubles, index);
        }
        let Some(log) = &self.log else {
            return;
        };
        if let Some(attempt) = seen.attempt() {
            if log.write(&LogCommand::Attempt(attempt)).await.is_err() {
                console_error(
                    "hookgate: the delivery log did not take an attempt; the answer stood",
                );
            }
        }
        self.count(
            log,
            config,
            finished,
            seen.route(),
            handled.outcome.reason(),
        )
        .await;
    }

    /// Logs, measures, counts and records one queue consumer attempt.
    pub async fn observe_forward(&self, config: &Config, seen: &Forwarded<'_>) {
        log_object("log", &encode_line(&seen.log_fields()));
        if self.metrics.is_some() {
            let doubles = [
                f64::from(seen.origin_status.unwrap_or(0)),
                f64::from(seen.duration_ms),
                0.0,
            ];
            self.point(&[seen.route, seen.scheme, seen.reason], doubles, seen.route);
        }
        let Some(log) = &self.log else {
            return;
        };
        // Dead letters were recorded with their letter already.
        if seen.reason != "dead" {
            if let Some(attempt) = seen.attempt() {
                if log.write(&LogCommand::Attempt(attempt)).await.is_err() {
                    console_error("hookgate: the delivery log did not take a queue attempt");
                }
            }
        }
        self.count(log, config, seen.finished_ms, seen.route, seen.reason)
            .await;
    }

    fn point(&self, blobs: &[&str; 3], doubles: [f64; 3], index: &str) {
        let Some(metrics) = &self.metrics else {
            return;
        };
        let [b1, b2, b3] = *blobs;
        let [d1, d2, d3] = doubles;
        if !write_point(metrics, b1, b2, b3, d1, d2, d3, index) {
            console_error("hookgate: the METRICS data point was not written");
        }
    }

    async fn count(&self, log: &LogClient, config: &Config, now: i64, route: &str, reason: &str) {
        count_every(log, config.observe.stats_flush_seconds, now, route, reason).await;
    }

    /// Counts a request refused before the gate handled it (an admin
    /// request, a settings error), writing the batch when one is due, as
    /// the gate's own counts are: a flood of them costs one write per
    /// interval (`flush_seconds`, `STATS_FLUSH_SECONDS`), and a quiet
    /// gate's first one shows at once.
    pub async fn count_refusal(&self, flush_seconds: u64, now: i64, route: &str, reason: &str) {
        if let Some(log) = &self.log {
            count_every(log, flush_seconds, now, route, reason).await;
        }
    }
}

/// Counts one request; writes the isolate's pending counts when due.
async fn count_every(log: &LogClient, flush_seconds: u64, now: i64, route: &str, reason: &str) {
    let interval = i64::try_from(flush_seconds)
        .unwrap_or(60)
        .saturating_mul(1000);
    let batch = COUNTS.with(|counts| {
        let mut counts = counts.borrow_mut();
        counts.add(now, route, reason);
        counts.take_due(now, interval)
    });
    if let Some(batch) = batch {
        write_counts(log, batch).await;
    }
}

/// Writes this isolate's pending counts now (before a stats request, so
/// what was just counted here shows at once).
pub async fn flush_counts(log: &LogClient, now: i64) {
    let batch = COUNTS.with(|counts| counts.borrow_mut().take_all(now));
    if !batch.is_empty() {
        write_counts(log, batch).await;
    }
}

/// Writes a batch of counts; on failure they wait for the next batch.
async fn write_counts(log: &LogClient, batch: Vec<Count>) {
    if log.write(&LogCommand::Counts(batch.clone())).await.is_err() {
        COUNTS.with(|counts| counts.borrow_mut().restore(batch));
        console_error(
            "hookgate: the delivery log did not take a batch of counts; it goes with the next",
        );
    }
}
