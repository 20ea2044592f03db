//! What is said about each request and each queue attempt: the structured
//! log line (always), an Analytics Engine data point (with `METRICS`), the
//! count per route and reason and the delivery record (with
//! `DELIVERY_LOG`). It runs after the answer, under waitUntil, and a failure
//! here is itself only logged.
//!
//! Records and counts go through the isolate's buffer
//! ([`crate::log::buffer`], which decides when a batch is written) to the
//! isolate's shard of the log, one request per batch.

use super::delivery_log::{stored, LogClient};
use super::edge::{log_object, take_kv_writes, write_point};
use super::io::sleep;
use super::local::Local;
use super::runtime::{console_error, wait_for};
use super::settings::Bindings;
use crate::config::Config;
use crate::gate::Handled;
use crate::log::buffer::{Batch, Flush, LogBuffer};
use crate::log::command::LogCommand;
use crate::log::counts::{KV_ROUTE, KV_WRITE, KV_WRITE_REFUSED};
use crate::observe::{encode_line, Forwarded, Observation};
use js_sys::{Object, Promise};
use std::cell::RefCell;
use wasm_bindgen::JsValue;

/// This isolate's attempts and counts, written in batches (the buffer is
/// made at the first use).
static BUFFER: Local<RefCell<Option<LogBuffer>>> = Local::new(RefCell::new(None));
/// Batches being written now: a read of the log waits for them, so that
/// what this isolate saw shows in what it reads.
static IN_FLIGHT: Local<RefCell<Vec<Promise>>> = Local::new(RefCell::new(Vec::new()));

/// Where what the gate says goes, from the isolate's bindings.
pub struct Sinks {
    pub log: Option<LogClient>,
    /// The Analytics Engine dataset binding.
    metrics: Option<JsValue>,
}

/// `STATS_FLUSH_SECONDS` in milliseconds.
fn interval_ms(flush_seconds: u64) -> i64 {
    i64::try_from(flush_seconds)
        .unwrap_or(60)
        .saturating_mul(1000)
}

fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

impl Sinks {
    pub fn of(bindings: &Bindings) -> Self {
        Self {
            log: bindings.delivery_log.clone().map(LogClient::new),
            metrics: bindings.metrics.clone(),
        }
    }

    /// Logs, measures, counts and records one request; waits, when this
    /// request starts a batch, and writes it.
    pub async fn observe(&self, config: &Config, handled: &Handled, started: i64) {
        let finished = now_ms();
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
        let interval = interval_ms(config.observe.stats_flush_seconds);
        let reason = handled.outcome.reason();
        let flush = BUFFER.with_made_mut(|buffer| {
            count_kv_writes(buffer, finished);
            buffer.observe(finished, seen.attempt(), seen.route(), reason, interval)
        });
        carry_out(log, flush, interval).await;
    }

    /// Logs, measures, counts and records one queue consumer attempt. The
    /// record and count wait in the buffer for the end of the queue's
    /// batch ([`flush_queue_batch`]).
    pub fn observe_forward(&self, seen: &Forwarded<'_>) {
        log_object("log", &encode_line(&seen.log_fields()));
        if self.metrics.is_some() {
            let doubles = [
                f64::from(seen.origin_status.unwrap_or(0)),
                f64::from(seen.duration_ms),
                0.0,
            ];
            self.point(&[seen.route, seen.scheme, seen.reason], doubles, seen.route);
        }
        if self.log.is_none() {
            return;
        }
        // Dead letters were recorded with their letter already, at once:
        // only their latency is counted here.
        let mut attempt = seen.attempt();
        BUFFER.with_made_mut(|buffer| {
            count_kv_writes(buffer, seen.finished_ms);
            if seen.reason == "dead" {
                if let Some(dead) = attempt.take() {
                    buffer.time(&dead);
                }
            }
            buffer.add(seen.finished_ms, attempt, seen.route, seen.reason);
        });
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

    /// Counts a request refused before the gate handled it (an admin
    /// request, a settings error), writing the batch when one is due, as
    /// the gate's own counts are: a flood of them costs one write per
    /// interval (`flush_seconds`, `STATS_FLUSH_SECONDS`), and a quiet
    /// gate's first one shows at once.
    pub async fn count_refusal(&self, flush_seconds: u64, now: i64, route: &str, reason: &str) {
        let Some(log) = &self.log else {
            return;
        };
        let interval = interval_ms(flush_seconds);
        let flush =
            BUFFER.with_made_mut(|buffer| buffer.observe(now, None, route, reason, interval));
        carry_out(log, flush, interval).await;
    }
}

/// Counts the KV writes made since the last request, under [`KV_ROUTE`].
fn count_kv_writes(buffer: &mut LogBuffer, now: i64) {
    let (made, refused) = take_kv_writes();
    for (reason, times) in [(KV_WRITE, made), (KV_WRITE_REFUSED, refused)] {
        for _ in 0..times {
            buffer.add(now, None, KV_ROUTE, reason);
        }
    }
}

/// Does what the buffer decided: nothing, a write now, or a wait for the
/// attempts that follow and then the write of the batch.
async fn carry_out(log: &LogClient, flush: Flush, interval: i64) {
    let batch = match flush {
        Flush::Nothing => return,
        Flush::Now => BUFFER.with_made_mut(|buffer| buffer.take(now_ms(), interval, false)),
        Flush::After { wait_ms, batch } => {
            let _ = wait_for(sleep(wait_ms as f64)).await;
            let taken = BUFFER.with_made_mut(|buffer| buffer.take_batch(now_ms(), batch, interval));
            match taken {
                Some(taken) => taken,
                // Written meanwhile (a full buffer, a read of the log).
                None => return,
            }
        }
    };
    write(log, batch).await;
}

/// After a batch of queue messages: writes what they added, in one request
/// (counts when they are due).
pub async fn flush_queue_batch(log: &LogClient, flush_seconds: u64) {
    let batch =
        BUFFER.with_made_mut(|buffer| buffer.take(now_ms(), interval_ms(flush_seconds), false));
    write(log, batch).await;
}

/// Before the admin API reads the log: writes everything this isolate
/// holds, counts included, and waits for its batches under way, so that
/// what it saw shows at once.
pub async fn flush_all(log: &LogClient) {
    let batch = BUFFER.with_made_mut(|buffer| buffer.take(now_ms(), 0, true));
    write(log, batch).await;
    let under_way: Vec<Promise> = IN_FLIGHT.with_borrow(|list| list.clone());
    for promise in under_way {
        let _ = wait_for(promise).await;
    }
}

/// Writes a batch to the isolate's shard; on failure it is kept for the
/// next, and the answers it records stood all the same.
async fn write(log: &LogClient, batch: Batch) {
    if batch.is_empty() {
        return;
    }
    let (path, body) = LogCommand::encode_batch(&batch);
    let promise = log.write_promise(path, &body);
    drop(body);
    IN_FLIGHT.with_borrow_mut(|list| list.push(promise.clone()));
    let settled = wait_for(promise.clone()).await;
    IN_FLIGHT.with_borrow_mut(|list| list.retain(|p| !Object::is(p, &promise)));
    if stored(settled) {
        return;
    }
    let (attempts, counts) = (batch.attempts.len(), batch.counts.len());
    let dropped = BUFFER.with_made_mut(|buffer| buffer.restore(now_ms(), batch));
    if attempts > 0 {
        console_error(&format!(
            "hookgate: the delivery log did not take an attempt; the answer stood \
             (a batch of {attempts} attempts and {counts} counts, kept for the next write)"
        ));
    } else {
        console_error(
            "hookgate: the delivery log did not take a batch of counts; it goes with the next",
        );
    }
    if dropped > 0 {
        console_error(&format!(
            "hookgate: the delivery log is still unavailable: {dropped} attempts were dropped from \
             what this isolate keeps for it (their events are not affected)"
        ));
    }
}
