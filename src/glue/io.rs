//! The calls into `src/js/edge.js` that several parts of the glue share:
//! answers ([`respond`], and [`plain`] for the Durable Objects), calls to a
//! Durable Object by name, importing an HMAC key into WebCrypto, and the
//! string encoding those calls exchange.
//!
//! A floor of its own so that the request path ([`super::edge`]), the
//! objects ([`super::replay_shard`], [`super::delivery_log`]) and the
//! isolate's settings ([`super::settings`]) all use it and none of them
//! owns it.

use super::runtime::{wait_for, SqlRows};
use crate::outcome::Answer;
use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

/// Separates fields in the strings exchanged with `edge.js`.
pub const SEP: char = '\0';

#[wasm_bindgen(module = "/src/js/edge.js")]
extern "C" {
    #[wasm_bindgen(js_name = respond)]
    fn respond_js(status: u16, content_type: &str, body: &str, extra: &str) -> JsValue;

    #[wasm_bindgen(js_name = setRowsHeader)]
    fn set_rows_header(
        response: &JsValue,
        name: &str,
        written: f64,
        read: f64,
        alarms: Option<f64>,
    );

    #[wasm_bindgen(js_name = callObject)]
    fn call_object_js(namespace: &JsValue, name: &str, url: &str, body: Option<&str>) -> Promise;

    #[wasm_bindgen(js_name = importHmacKey)]
    pub fn import_hmac_key(raw: &Uint8Array) -> Promise;
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

/// Why the objects say what SQLite rows they used: Cloudflare bills a
/// Durable Object's SQLite storage by rows written (and read), so the test
/// meter (`meter` in tests/e2e/harness.mjs) counts them instead of
/// estimating. Internal headers on the objects' answers, `written=…,
/// read=…`: the Worker reads only an object's status and body, so no sender
/// or admin ever sees them.
///
/// On every answer: the rows its request wrote and read.
pub const ROWS_HEADER: &str = "x-hookgate-rows";
/// On the objects' test paths (`/rows`, `/meta`): the rows the instance's
/// start-up wrote and read (a new object's tables; none once they exist).
pub const START_ROWS_HEADER: &str = "x-hookgate-start-rows";
/// On a replay shard's `/rows`: the alarms this instance ran, and the rows
/// they wrote and read (`alarms=…, written=…, read=…`).
pub const ALARM_ROWS_HEADER: &str = "x-hookgate-alarm-rows";

/// `response` (an object's answer, made by [`respond`]) with a header of
/// rows, and of the alarms that used them if given.
pub fn with_rows(response: JsValue, name: &str, rows: SqlRows, alarms: Option<u64>) -> JsValue {
    let alarms = alarms.map(|n| n as f64);
    set_rows_header(
        &response,
        name,
        rows.written as f64,
        rows.read as f64,
        alarms,
    );
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
    let answer = wait_for(call_object_js(namespace, name, url, body))
        .await
        .ok()?
        .as_string()?;
    let (status, text) = answer.split_once(SEP)?;
    Some((crate::query::whole(status)?, text.to_owned()))
}
