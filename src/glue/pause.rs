//! The paused routes as this isolate knows them ([`crate::pause`], kept in
//! its [`Prepared`]): read from the log's first shard at most once per
//! [`crate::pause::PAUSE_TTL_MS`] before a request or a queued message
//! needs them, one read at a time however many want it, and replaced at
//! once by this isolate's own pause or resume. Nothing is read without the
//! log or without `ADMIN_TOKEN` (nobody can pause or resume then).

use super::delivery_log::LogClient;
use super::io::answer_of;
use super::runtime::wait_for;
use super::settings::Prepared;
use crate::log::command::LogCommand;
use crate::ports::Pauses;
use js_sys::Promise;
use wasm_bindgen::JsValue;

/// Sends `command` (a read, a pause or a resume) to the first shard and
/// keeps what it answers: the paused routes, each path ended by a newline,
/// or `None` when the log did not answer.
pub async fn ask(prepared: &Prepared, log: &LogClient, command: &LogCommand) -> Option<String> {
    keep(prepared, wait_for(log.ask_promise(0, command)).await)
}

fn keep(prepared: &Prepared, settled: Result<JsValue, JsValue>) -> Option<String> {
    let paused = &mut prepared.paused.borrow_mut().0;
    // A log that did not answer leaves what was known standing for another
    // while: it costs one request per isolate per while, not one per
    // delivery.
    paused.read_ms = js_sys::Date::now() as i64;
    let Some((200, routes)) = settled.ok().and_then(answer_of) else {
        return None;
    };
    paused.routes.clone_from(&routes);
    Some(routes)
}

/// The read to wait for (then hand to [`read`]) before the paused routes
/// are trusted, when what this isolate knows is stale: the one under way,
/// or a new one.
pub fn due(prepared: &Prepared, log: Option<&LogClient>) -> Option<Promise> {
    let log = log.filter(|_| prepared.config.observe.admin_token.is_some())?;
    let paused = &mut *prepared.paused.borrow_mut();
    if paused.0.fresh(js_sys::Date::now() as i64) {
        return None;
    }
    let command = LogCommand::Paused {
        route: None,
        on: false,
    };
    Some(
        paused
            .1
            .get_or_insert_with(|| log.ask_promise(0, &command))
            .clone(),
    )
}

/// Keeps what a [`due`] read settled to.
pub fn read(prepared: &Prepared, settled: Result<JsValue, JsValue>) {
    prepared.paused.borrow_mut().1 = None;
    keep(prepared, settled);
}

impl Pauses for Prepared {
    fn paused(&self, route: &str) -> bool {
        self.paused.borrow().0.holds(route)
    }
}
