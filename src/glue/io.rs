//! The calls into `src/js/edge.js` that several parts of the glue share:
//! answers ([`respond`], and [`plain`] for the Durable Objects), calls to a
//! Durable Object by name (one, or several at once), a timer, importing an
//! HMAC key into WebCrypto, and the string encoding those calls exchange.
//!
//! A floor of its own so that the request path ([`super::edge`]), the
//! objects ([`super::replay_shard`], [`super::delivery_log`]) and the
//! isolate's settings ([`super::settings`]) all use it and none of them
//! owns it.

use super::runtime::wait_for;
use crate::outcome::Answer;
use js_sys::{Array, Promise, Uint8Array};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

/// Separates fields in the strings exchanged with `edge.js`.
pub const SEP: char = '\0';

#[wasm_bindgen(module = "/src/js/edge.js")]
extern "C" {
    #[wasm_bindgen(js_name = respond)]
    fn respond_js(status: u16, content_type: &str, body: &str, extra: &str) -> JsValue;

    #[wasm_bindgen(js_name = setCount)]
    fn set_count(response: &JsValue, name: &str, count: f64);

    #[wasm_bindgen(js_name = callObject)]
    fn call_object_js(namespace: &JsValue, name: &str, url: &str, body: Option<&str>) -> Promise;

    #[wasm_bindgen(js_name = importHmacKey)]
    pub fn import_hmac_key(raw: &Uint8Array, hash: &str) -> Promise;

    #[wasm_bindgen(js_name = callObjects)]
    fn call_objects_js(namespace: &JsValue, calls: &Array) -> Promise;

    /// Resolves after `ms` milliseconds.
    pub fn sleep(ms: f64) -> Promise;
}

/// Joins `name, value` pairs as `edge.js` reads them.
pub fn joined<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut text = String::new();
    for (i, (name, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            text.push(SEP);
        }
        text.push_str(name);
        text.push(SEP);
        text.push_str(value);
    }
    text
}

/// Reads pairs as [`joined`] writes them, from what is left of `parts`.
pub fn split_pairs<'a>(mut parts: impl Iterator<Item = &'a str>) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    while let (Some(name), Some(value)) = (parts.next(), parts.next()) {
        pairs.push((name.to_owned(), value.to_owned()));
    }
    pairs
}

/// The runtime's answer for an [`Answer`].
pub fn respond(answer: &Answer) -> JsValue {
    let extra = joined(answer.headers.iter().map(|(n, v)| (*n, v.as_str())));
    respond_js(answer.status, answer.content_type, &answer.body, &extra)
}

/// A plain-text answer: how the Durable Objects reply to their callers.
pub fn plain(status: u16, body: String) -> JsValue {
    respond(&Answer {
        status,
        content_type: "text/plain; charset=utf-8",
        body,
        headers: Vec::new(),
    })
}

/// Why the objects say what SQLite rows they wrote: Cloudflare bills a
/// Durable Object's SQLite storage by rows written, so the test meter
/// (`meter` in tests/e2e/harness.mjs) counts them instead of estimating.
/// Internal headers on the objects' answers, each a whole number: the
/// Worker reads only an object's status and body, so no sender or admin
/// ever sees them.
///
/// On every answer: the rows its request wrote.
pub const ROWS_WRITTEN: &str = "x-hookgate-rows-written";
/// On the objects' test paths (`/rows`, `/meta`): the rows the instance's
/// start-up wrote (a new object's tables; none once they exist).
pub const START_ROWS_WRITTEN: &str = "x-hookgate-start-rows-written";
/// On a replay shard's `/rows`: the alarms this instance ran (each billed
/// as a request)...
pub const ALARMS: &str = "x-hookgate-alarms";
/// ...and the rows they wrote.
pub const ALARM_ROWS_WRITTEN: &str = "x-hookgate-alarm-rows-written";

/// `response` (an object's answer, made by [`respond`]) with a header
/// holding `count`.
pub fn with_count(response: JsValue, name: &str, count: u64) -> JsValue {
    set_count(&response, name, count as f64);
    response
}

/// Calls a Durable Object by name (a POST of `body`, or a GET without
/// one): its status and body text, or `None` when it could not be reached.
pub async fn call_object(
    namespace: &JsValue,
    name: &str,
    url: &str,
    body: Option<&str>,
) -> Option<(u16, String)> {
    answer_of(
        wait_for(call_object_js(namespace, name, url, body))
            .await
            .ok()?,
    )
}

/// The promise of a call to a Durable Object, for a caller that keeps it
/// (others may wait for the same call); [`answer_of`] reads what it
/// resolves to.
pub fn call_object_promise(namespace: &JsValue, name: &str, url: &str, body: &str) -> Promise {
    call_object_js(namespace, name, url, Some(body))
}

/// A call's status and body text, from what its promise resolved to.
pub fn answer_of(answer: JsValue) -> Option<(u16, String)> {
    let answer = answer.as_string()?;
    let (status, text) = answer.split_once(SEP)?;
    Some((crate::query::whole(status)?, text.to_owned()))
}

/// Calls several Durable Objects at once (POSTs of `(name, url, body)`):
/// each one's status and body, in order, `None` where it could not be
/// reached. One crossing into `edge.js` for them all.
pub async fn call_objects(
    namespace: &JsValue,
    calls: &[(String, String, String)],
) -> Vec<Option<(u16, String)>> {
    let list = Array::new();
    for (name, url, body) in calls {
        list.push(&Array::of3(
            &JsValue::from_str(name),
            &JsValue::from_str(url),
            &JsValue::from_str(body),
        ));
    }
    let mut answers = Vec::with_capacity(calls.len());
    match wait_for(call_objects_js(namespace, &list)).await {
        Ok(settled) => {
            for answer in Array::from(&settled).iter() {
                answers.push(answer_of(answer));
            }
        }
        Err(_) => {
            for _ in calls {
                answers.push(None);
            }
        }
    }
    answers
}
