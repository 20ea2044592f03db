//! The paused routes as this isolate knows them ([`crate::pause`], kept in
//! its [`Prepared`]): read from the log's first shard at most once per
//! [`crate::pause::PAUSE_TTL_MS`] before a request or a queued message
//! needs them, and replaced at once by this isolate's own pause or resume.
//! Nothing is read without the log or without `ADMIN_TOKEN` (nobody can
//! pause or resume then).

use super::delivery_log::LogClient;
use super::io::answer_of;
use super::runtime::wait_for;
use super::settings::Prepared;
use crate::log::command::LogCommand;
use crate::ports::Pauses;
use wasm_bindgen::JsValue;

/// The paused routes as a delivery's gate asks them: brought up to date
/// first when what this isolate read is stale ([`refresh`]).
pub struct PauseReader<'a> {
    pub prepared: &'a Prepared,
    pub log: Option<&'a LogClient>,
}

impl Pauses for PauseReader<'_> {
    async fn paused(&self, route: &str) -> bool {
        refresh(self.prepared, self.log).await;
        self.prepared.paused.borrow().holds(route)
    }
}

/// Reads the paused routes again when what this isolate read is stale:
/// one request to the first shard, which every request or queued message
/// that needs them meanwhile waits for too. Trusting the stale reading
/// instead would forward to a route paused meanwhile, and in an isolate
/// that just started, to every paused route (it knows of none yet).
pub async fn refresh(prepared: &Prepared, log: Option<&LogClient>) {
    let Some(log) = log.filter(|_| prepared.config.observe.admin_token.is_some()) else {
        return;
    };
    let now = js_sys::Date::now() as i64;
    if prepared.paused.borrow().fresh(now) {
        return;
    }
    let read = prepared
        .pause_read
        .borrow_mut()
        .get_or_insert_with(|| {
            log.ask_promise(
                0,
                &LogCommand::Paused {
                    route: None,
                    on: false,
                },
            )
        })
        .clone();
    let settled = wait_for(read.clone()).await;
    // The first to wake keeps it; a pause or a resume this isolate made
    // meanwhile took the read's place, and what the read saw is older.
    let current = prepared
        .pause_read
        .borrow()
        .as_ref()
        .is_some_and(|pending| js_sys::Object::is(pending, &read));
    if current {
        keep(prepared, settled);
    }
}

/// Keeps what a read, a pause or a resume sent to the first shard
/// ([`LogClient::ask_promise`]) settled to: the paused routes, each path
/// ended by a newline. `false` when the log did not answer; what was known
/// then stands for another while, so a log that is down costs one request
/// per isolate per while, not one per delivery.
pub fn keep(prepared: &Prepared, settled: Result<JsValue, JsValue>) -> bool {
    prepared.pause_read.borrow_mut().take();
    let paused = &mut prepared.paused.borrow_mut();
    paused.read_ms = js_sys::Date::now() as i64;
    let Some((200, routes)) = settled.ok().and_then(answer_of) else {
        return false;
    };
    paused.routes = routes;
    true
}
