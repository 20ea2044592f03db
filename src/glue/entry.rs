//! The Worker's handlers: `fetch` (every delivery, and the admin API) and
//! `scheduled` (the delivery log's clean-up).
//!
//! Both are exported with plain wasm-bindgen (no `worker` crate: its event
//! macro converts each request into its own type, reading `request.cf` among
//! others, and each answer back, which showed in the profile of a small
//! delivery and in the module's size); here the request goes to `edge.js`
//! once.

use super::admin;
use super::alerts;
use super::delivery_log::to_every_shard;
use super::edge::{
    cache_written, delivery_queue, discard_body, replay_store, EdgeMac, FetchOrigin, RuntimeClock,
    WorkerCache, WorkerIncoming,
};
use super::io::respond;
use super::observe::Sinks;
use super::pause::PauseReader;
use super::runtime::{console_error, promise, wait_for, ScheduledController};
use super::settings::{prepare, Bindings};
use crate::alert::Seen;
use crate::config::{Config, DEFAULT_STATS_FLUSH_SECONDS};
use crate::gate::{self, Handled, Incoming, Ports};
use crate::log::command::LogCommand;
use crate::log::counts::NO_ROUTE;
use crate::observe::{encode_line, Value};
use crate::outcome::{challenge_answer, Answer, Outcome};
use crate::replay::cooldown::CoolDowns;
use crate::replay::local::LocalGuard;
use crate::replay::location::{LocationGuard, RequestCache};
use crate::route::Route;
use crate::setting::is_admin_path;
use js_sys::{Function, Promise};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

/// The answer for a request the gate handled on `config`'s routes.
fn answer_for(handled: &Handled, config: &Config) -> Answer {
    match (&handled.outcome, &handled.challenge) {
        (Outcome::Challenge, Some(challenge)) => challenge_answer(challenge),
        (outcome, _) => {
            let route = handled.route.and_then(|index| config.routes.get(index));
            outcome.answer_to(route.map(Route::sender), handled.retry_after)
        }
    }
}

/// Hands the runtime `answer`, through the entry's `settle`.
fn answer_with(settle: &Function, answer: &Answer) {
    let _ = settle.call1(&JsValue::UNDEFINED, &respond(answer));
}

/// Answers that the settings are wrong, then counts it under `route` (the
/// request's route when the settings were read, or no route), writing every
/// `flush_seconds`: the only work left to wait for.
fn misconfigured(
    settle: &Function,
    sinks: Sinks,
    flush_seconds: u64,
    route: String,
    now: i64,
) -> Option<Promise> {
    answer_with(settle, &Outcome::Misconfigured.answer(None));
    let reason = Outcome::Misconfigured.reason();
    Some(promise(async move {
        sinks
            .count_refusal(flush_seconds, now, &route, reason)
            .await;
        Ok(JsValue::UNDEFINED)
    }))
}

/// Every request. Returns the request's work, which the entry runs under
/// waitUntil (`None` when the answer was settled at once): if the sender hangs up
/// while the origin is still answering, the runtime cancels the request's
/// own work, and a claim left unsettled would turn the sender's retry into a
/// 409 and then a second forward. Under waitUntil the forward is marked done
/// or released all the same (within the runtime's 30 s grace). The answer
/// is handed over as soon as it is known, through `settle` (the entry's
/// promise, which it answers 500 itself if the work traps); what is said
/// about the delivery (log, metrics, records) follows it, so it never delays
/// or changes it.
#[wasm_bindgen]
pub fn fetch(request: JsValue, env: JsValue, settle: Function) -> Option<Promise> {
    let started = js_sys::Date::now() as i64;
    let prepared = match prepare(&env) {
        Ok(prepared) => prepared,
        Err(error) => {
            console_error(&format!("hookgate: misconfigured: {error}"));
            // Counted all the same, with the default interval (the
            // settings that would say otherwise did not parse).
            let sinks = Sinks::of(&Bindings::of(&env));
            let flush = DEFAULT_STATS_FLUSH_SECONDS;
            return misconfigured(&settle, sinks, flush, NO_ROUTE.to_owned(), started);
        }
    };
    let mut incoming = WorkerIncoming::new(request, &prepared.header_names);
    let path = incoming.path();
    if is_admin_path(path) {
        let work = promise(async move {
            let (action, answered) = admin::answer(&incoming, &prepared, started).await;
            let (status, mut counted) = match answered {
                Ok(answer) => {
                    answer_with(&settle, &answer);
                    (answer.status, None)
                }
                Err(refused) => {
                    let answer = refused.answer();
                    answer_with(&settle, &answer);
                    (answer.status, Some(refused.counted_as()))
                }
            };
            // A refusal is counted, or a done action (never both: a
            // refused one answers 4xx or 5xx).
            if let Some(action) = action {
                counted = counted.or(admin::record(action, status));
            }
            if let Some(counted) = counted {
                admin::count(&prepared, counted, started).await;
            }
            Ok(JsValue::UNDEFINED)
        });
        return Some(work);
    }
    let bindings = prepared.bindings();
    let sinks = Sinks::of(&bindings);
    // A missing binding is counted under the request's route.
    let flush = prepared.config.observe.stats_flush_seconds;
    let route = || {
        let found = prepared.config.route_for(path);
        found
            .map_or(NO_ROUTE, |(_, route)| route.path.as_str())
            .to_owned()
    };
    let Some(store) = replay_store(&bindings, &prepared.config) else {
        return misconfigured(&settle, sinks, flush, route(), started);
    };
    let Some(queue) = delivery_queue(&bindings, &prepared.config) else {
        return misconfigured(&settle, sinks, flush, route(), started);
    };
    let work = promise(async move {
        let config = &prepared.config;
        let mac = EdgeMac(&prepared);
        // One view of the location's cache for the store and the
        // cool-downs: their checks read one entry, once.
        let cache = RequestCache::new(WorkerCache);
        let store = LocalGuard::new(LocationGuard::new(&store, &cache), &prepared.held);
        let cool_down = CoolDowns::new(&prepared.cooled, &cache, config.failure_cool_down_seconds);
        let ports = Ports {
            store: &store,
            mac: &mac,
            origin: &FetchOrigin,
            queue: &queue,
            clock: &RuntimeClock,
            cool_down: &cool_down,
            paused: &PauseReader {
                prepared: &prepared,
                log: sinks.log.as_ref(),
            },
        };
        let handled = gate::handle(config, &mut incoming, &ports).await;
        if cache.released() {
            cache.settle();
            let _ = wait_for(cache_written()).await;
        }
        if handled.body_bytes.is_none() {
            // Refused before the body was read: read it away (bounded), or
            // the client's kept-alive connection breaks under the next
            // request in workerd and `wrangler dev`.
            let _ = wait_for(discard_body(&incoming.request)).await;
        }
        answer_with(&settle, &answer_for(&handled, config));
        sinks.observe(config, &handled, started).await;
        if let Some(route) = handled.route.and_then(|index| config.routes.get(index)) {
            let now = js_sys::Date::now() as i64;
            alerts::raise(
                &prepared,
                &route.path,
                Some(route),
                Seen::Request(&handled),
                now,
            );
        }
        Ok(JsValue::UNDEFINED)
    });
    Some(work)
}

/// The scheduled clean-up: deletes records (their parts, in every shard of
/// the log) and counts older than `LOG_RETENTION_DAYS`, counted from the
/// trigger's scheduled time.
#[wasm_bindgen]
pub fn scheduled(controller: ScheduledController, env: JsValue, _ctx: JsValue) -> Promise {
    let scheduled_ms = controller.scheduled_time() as i64;
    promise(async move {
        clean_up(scheduled_ms, &env).await;
        Ok(JsValue::UNDEFINED)
    })
}

async fn clean_up(scheduled_ms: i64, env: &JsValue) {
    let prepared = match prepare(env) {
        Ok(prepared) => prepared,
        Err(error) => {
            console_error(&format!("hookgate: misconfigured: {error}"));
            return;
        }
    };
    let Some(log) = Sinks::of(&prepared.bindings()).log else {
        return;
    };
    let days = i64::try_from(prepared.config.observe.log_retention_days).unwrap_or(i64::MAX);
    let before_ms = scheduled_ms.saturating_sub(days.saturating_mul(86_400_000));
    // Every shard, at once; what one deleted is logged even when another
    // failed (it runs again at the next trigger).
    let mut deleted = 0i64;
    let mut failed = 0u32;
    for answer in log
        .send_each(to_every_shard(&LogCommand::Purge { before_ms }))
        .await
    {
        match answer {
            Ok((200, text)) => deleted = deleted.saturating_add(text.parse().unwrap_or(0)),
            _ => failed += 1,
        }
    }
    super::edge::log_object(
        "log",
        &encode_line(&[
            ("hookgate", Value::Text("retention".into())),
            ("before_ms", Value::Number(before_ms)),
            ("deleted", Value::Number(deleted)),
        ]),
    );
    if failed > 0 {
        console_error(&format!(
            "hookgate: the delivery log's clean-up failed in {failed} of its shards; it runs again at the next trigger"
        ));
    }
}
