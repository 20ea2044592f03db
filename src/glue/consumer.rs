//! The queue consumer, for both queues: the delivery queue (forward with
//! retries, see [`crate::queue`]) and the dead-letter queue (keep in the
//! delivery log for a retry). Exported with plain wasm-bindgen; the entry
//! (src/js/shim.js) hands the runtime's `queue` event to it.

use super::alerts;
use super::edge::{
    parse_message, replay_store, retry_message, EdgeMac, EdgeStore, FetchOrigin, RuntimeClock,
    WorkerCache,
};
use super::io::sleep;
use super::observe::{flush_queue_batch, Sinks};
use super::pause;
use super::runtime::{console_error, promise, wait_for};
use super::settings::{prepare, Prepared};
use crate::alert::Seen;
use crate::config::DEAD_LETTER_QUEUE;
use crate::log::command::LogCommand;
use crate::log::Letter;
use crate::observe::Forwarded;
use crate::pace::{before_forward, BeforeForward};
use crate::queue::{self as queued, Consumed, Verdict};
use crate::replay::local::LocalGuard;
use crate::replay::location::{LocationGuard, RequestCache};
use crate::route::{Delivery, QueuePolicy};
use js_sys::{Array, Promise};
use std::rc::Rc;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

#[wasm_bindgen]
extern "C" {
    /// A batch handed to the queue consumer.
    type MessageBatchJs;

    #[wasm_bindgen(method, getter)]
    fn queue(this: &MessageBatchJs) -> String;

    #[wasm_bindgen(method, getter)]
    fn messages(this: &MessageBatchJs) -> Array;

    /// One message of a batch.
    type QueueMessage;

    #[wasm_bindgen(method)]
    fn ack(this: &QueueMessage);

}

#[wasm_bindgen(module = "/src/js/edge.js")]
extern "C" {
    #[wasm_bindgen(js_name = holdMessage)]
    fn hold_message(queue: &JsValue, message: &QueueMessage, delay_seconds: f64) -> Promise;
}

#[wasm_bindgen]
pub fn queue(batch: JsValue, env: JsValue, _ctx: JsValue) -> Promise {
    promise(consume(batch.unchecked_into(), env))
}

async fn consume(batch: MessageBatchJs, env: JsValue) -> Result<JsValue, JsValue> {
    let prepared = match prepare(&env) {
        Ok(prepared) => prepared,
        Err(error) => {
            // Thrown: the whole batch is retried once the settings are fixed.
            console_error(&format!("hookgate: misconfigured: {error}"));
            return Err(JsValue::from_str(
                "hookgate is misconfigured; the batch will be retried",
            ));
        }
    };
    let bindings = prepared.bindings();
    let sinks = Sinks::of(&bindings);
    let dead_letters = batch.queue() == DEAD_LETTER_QUEUE;
    let store = replay_store(&bindings, &prepared.config);
    let shared = Rc::new((prepared, sinks, store));
    // The messages run side by side, joined by the runtime's Promise.all;
    // one message's failure never holds back the others of its batch.
    let work = Array::new();
    for message in batch.messages().iter() {
        let message: QueueMessage = message.unchecked_into();
        let shared = shared.clone();
        work.push(&promise(async move {
            let (prepared, sinks, store) = &*shared;
            consume_one(prepared, sinks, store.as_ref(), &message, dead_letters).await;
            Ok(JsValue::UNDEFINED)
        }));
    }
    wait_for(Promise::all(&work)).await?;
    // The log's records and counts of the whole batch, in one request.
    let (prepared, sinks, _) = &*shared;
    if let Some(log) = &sinks.log {
        flush_queue_batch(log, prepared.config.observe.stats_flush_seconds).await;
    }
    Ok(JsValue::UNDEFINED)
}

/// One message: forwarded (or kept as a dead letter), then acknowledged or
/// retried.
async fn consume_one(
    prepared: &Prepared,
    sinks: &Sinks,
    store: Option<&EdgeStore>,
    message: &QueueMessage,
    dead_letters: bool,
) {
    let config = &prepared.config;
    let Some((queued, attempt, held)) = parse_message(message) else {
        console_error(
            "hookgate: a queue message that hookgate did not write was acknowledged and dropped",
        );
        message.ack();
        return;
    };
    let attempt = attempt.max(1);
    let found = config.route_for(&queued.route);
    if let (Some((index, route)), false) = (found, dead_letters) {
        let policy = match route.delivery {
            Delivery::Queue(policy) => policy,
            Delivery::Direct => QueuePolicy::DEFAULT,
        };
        pause::refresh(prepared, sinks.log.as_ref()).await;
        let paused = prepared.paused.borrow().holds(&route.path);
        let now = js_sys::Date::now() as i64;
        let before = before_forward(
            &policy,
            paused,
            held,
            prepared.slots.borrow_mut().get_mut(index),
            now,
        );
        match before {
            BeforeForward::Hold { delay_seconds } => {
                // Held, not attempted: it comes back once the route is resumed.
                let queue = prepared
                    .bindings()
                    .delivery_queue
                    .clone()
                    .unwrap_or(JsValue::NULL);
                let _ = wait_for(hold_message(&queue, message, delay_seconds as f64)).await;
                return;
            }
            BeforeForward::Wait { ms } if ms > 0 => {
                let _ = wait_for(sleep(ms as f64)).await;
            }
            BeforeForward::Wait { .. } => {}
        }
    }
    // The attempt's duration starts here, after a pause's read and a paced
    // route's wait: it is the origin's latency in the chart and history.
    let started = js_sys::Date::now() as i64;
    let scheme = found.map_or("", |(_, route)| route.scheme.name());
    if found.is_none() {
        // Kept as a dead letter below; the admin API shows its route as gone
        // and refuses a retry until a route has that path again.
        console_error(&format!(
            "hookgate: a queued event's route {} is gone (the settings changed since it was accepted); it is kept as a dead letter",
            crate::setting::shown_path(&queued.route)
        ));
    }
    let kept = Letter {
        content_type: queued.content_type.clone(),
        headers: queued.headers.clone(),
        event_type: queued.event_type.clone(),
        body: Vec::new(),
    };
    let (route, key) = (queued.route.clone(), queued.key.clone());
    let body = queued.body.js.clone();
    let attempted = if dead_letters {
        queued::Attempted {
            consumed: Consumed::Dead,
            verdict: Verdict::DeadLetter,
            route: None,
            origin_status: None,
            store_refused: None,
        }
    } else {
        let Some(store) = store else {
            retry(message, 60);
            return;
        };
        let cache = RequestCache::new(WorkerCache);
        let store = LocalGuard::new(LocationGuard::new(store, &cache), &prepared.held);
        let mac = EdgeMac(prepared);
        queued::consume(
            config,
            queued,
            attempt,
            &store,
            &mac,
            &FetchOrigin,
            &RuntimeClock,
        )
        .await
    };
    let finished = js_sys::Date::now() as i64;
    let mut seen = Forwarded {
        route: &route,
        key: &key,
        scheme,
        event_type: kept.event_type.as_deref(),
        reason: attempted.consumed.reason(),
        attempt,
        origin_status: attempted.origin_status,
        finished_ms: finished,
        duration_ms: u32::try_from(finished.saturating_sub(started)).unwrap_or(u32::MAX),
    };
    let mut attempted = attempted;
    if attempted.verdict == Verdict::DeadLetter {
        let kept_letter = match (&sinks.log, seen.attempt()) {
            (Some(log), Some(record)) => {
                let letter = Letter {
                    body: body.to_vec(),
                    ..kept.clone()
                };
                log.write(&LogCommand::DeadLetter(record, letter))
                    .await
                    .is_ok()
            }
            _ => false,
        };
        if !kept_letter {
            console_error("hookgate: a dead letter could not be kept in the delivery log; the message stays queued");
            attempted = attempted.not_kept();
            seen.reason = attempted.consumed.reason();
        }
    }
    match attempted.verdict {
        // A dead letter reaches here only once the log kept it.
        Verdict::Ack | Verdict::DeadLetter => message.ack(),
        Verdict::Retry { delay_seconds } => retry(message, delay_seconds),
    }
    sinks.observe_forward(&seen);
    let found = found.map(|(_, route)| route);
    alerts::raise(prepared, &route, found, Seen::Attempt(&attempted), finished);
}

fn retry(message: &QueueMessage, delay_seconds: u64) {
    retry_message(message, delay_seconds as f64);
}
