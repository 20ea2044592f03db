//! The paused routes as this isolate knows them ([`crate::pause`], kept in
//! its [`Prepared`]): read from the log's first shard at most once per
//! [`crate::pause::PAUSE_TTL_MS`] before a request or a queued message
//! needs them, and replaced at once by this isolate's own pause or resume.
//! Nothing is read without the log or without `ADMIN_TOKEN` (nobody can
//! pause or resume then).

use super::delivery_log::LogClient;
use super::io::answer_of;
use super::settings::Prepared;
use crate::log::command::LogCommand;
use crate::ports::Pauses;
use js_sys::Promise;
use wasm_bindgen::JsValue;

/// The read to wait for (then hand to [`keep`]) before the paused routes
/// are trusted, when what this isolate knows is stale. The stale reading
/// is trusted again meanwhile, so requests that arrive while the read is
/// under way do not make reads of their own.
pub fn due(prepared: &Prepared, log: Option<&LogClient>) -> Option<Promise> {
    let log = log.filter(|_| prepared.config.observe.admin_token.is_some())?;
    let paused = &mut prepared.paused.borrow_mut();
    let now = js_sys::Date::now() as i64;
    if paused.fresh(now) {
        return None;
    }
    paused.read_ms = now;
    Some(log.ask_promise(
        0,
        &LogCommand::Paused {
            route: None,
            on: false,
        },
    ))
}

/// Keeps what a read, a pause or a resume sent to the first shard
/// ([`LogClient::ask_promise`]) settled to: the paused routes, each path
/// ended by a newline. `false` when the log did not answer; what was known
/// then stands for another while, so a log that is down costs one request
/// per isolate per while, not one per delivery.
pub fn keep(prepared: &Prepared, settled: Result<JsValue, JsValue>) -> bool {
    let paused = &mut prepared.paused.borrow_mut();
    paused.read_ms = js_sys::Date::now() as i64;
    let Some((200, routes)) = settled.ok().and_then(answer_of) else {
        return false;
    };
    paused.routes = routes;
    true
}

impl Pauses for Prepared {
    fn paused(&self, route: &str) -> bool {
        self.paused.borrow().holds(route)
    }
}
