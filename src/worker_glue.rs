//! The Worker entry: `Env` to [`Config`], `Request` to [`Incoming`], KV to
//! [`KvBackend`], fetch to [`Origin`], [`Outcome`] to `Response`. Glue only:
//! every decision is made in the pure modules.

use crate::config::Config;
use crate::gate::{self, BodyError, Handled, Incoming};
use crate::origin::{Forward, Origin, OriginError};
use crate::outcome::Outcome;
use crate::replay::kv::{KvBackend, KvReplayStore};
use crate::replay::StoreError;
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use std::pin::pin;
use std::time::Duration;
use wasm_bindgen::JsValue;
use worker::kv::KvStore;
use worker::{
    console_error, console_log, console_warn, event, AbortController, Context, Date, Delay, Env,
    Fetch, Headers, Method, Request, RequestInit, RequestRedirect, Response,
};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let now = i64::try_from(Date::now().as_millis() / 1000).unwrap_or(i64::MAX);
    let config = match Config::from_settings(|name| setting(&env, name)) {
        Ok(config) => config,
        Err(error) => {
            console_error!("hookgate: misconfigured: {error}");
            return respond(Outcome::Misconfigured);
        }
    };
    let Ok(kv) = env.kv("REPLAY_KV") else {
        console_error!("hookgate: misconfigured: binding REPLAY_KV is missing (declare it under [[kv_namespaces]])");
        return respond(Outcome::Misconfigured);
    };
    let store = KvReplayStore::new(
        WorkerKv(kv),
        config.dedupe_ttl_seconds,
        config.origin_timeout_ms,
    );
    let mut incoming = WorkerIncoming {
        method: req.method().to_string(),
        path: req.path(),
        req,
    };
    let handled = gate::handle(&config, &mut incoming, &store, &FetchOrigin, now).await;
    log(&handled);
    respond(handled.outcome)
}

/// Vars from wrangler.toml may be numbers (`TOLERANCE_SECONDS = 300`) as well
/// as strings, so both are read as text; anything else reaches the config
/// check as text it will refuse.
fn setting(env: &Env, name: &str) -> Option<String> {
    let value = js_sys::Reflect::get(env, &JsValue::from_str(name)).ok()?;
    if value.is_undefined() || value.is_null() {
        None
    } else if let Some(text) = value.as_string() {
        Some(text)
    } else if let Some(number) = value.as_f64() {
        Some(
            js_sys::Number::from(number)
                .to_string_with_radix(10)
                .ok()?
                .into(),
        )
    } else {
        Some("[not text]".to_owned())
    }
}

fn log(handled: &Handled) {
    let id = handled.id.as_deref().unwrap_or("-");
    let reason = handled.outcome.reason();
    if handled.incidents.is_empty() {
        console_log!("hookgate: {reason} webhook-id={id}");
    } else {
        console_warn!(
            "hookgate: {reason} webhook-id={id} incidents={:?}",
            handled.incidents
        );
    }
}

fn respond(outcome: Outcome) -> worker::Result<Response> {
    let answer = outcome.answer();
    let headers = Headers::new();
    headers.set("content-type", answer.content_type)?;
    headers.set("cache-control", "no-store")?;
    for (name, value) in &answer.headers {
        headers.set(name, value)?;
    }
    Ok(Response::ok(answer.body)?
        .with_status(answer.status)
        .with_headers(headers))
}

struct WorkerIncoming {
    req: Request,
    method: String,
    path: String,
}

impl Incoming for WorkerIncoming {
    fn method(&self) -> &str {
        &self.method
    }

    fn path(&self) -> &str {
        &self.path
    }

    fn header(&self, name: &str) -> Option<String> {
        self.req.headers().get(name).ok().flatten()
    }

    async fn read_body(&mut self, limit: usize) -> Result<Vec<u8>, BodyError> {
        // With a Content-Length (already checked against the limit), one
        // arrayBuffer read is the cheapest copy; the runtime holds the body
        // to that length. Without one, read chunk by chunk and stop at the cap.
        if self.header("content-length").is_some() {
            let body = self.req.bytes().await.map_err(|_| BodyError::Unreadable)?;
            return if body.len() > limit {
                Err(BodyError::TooLarge)
            } else {
                Ok(body)
            };
        }
        let Ok(mut stream) = self.req.stream() else {
            return Ok(Vec::new()); // no body at all
        };
        let mut body = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| BodyError::Unreadable)?;
            if body.len() + chunk.len() > limit {
                return Err(BodyError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

struct WorkerKv(KvStore);

impl KvBackend for WorkerKv {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.0
            .get(key)
            .text()
            .await
            .map_err(|_| StoreError::Unavailable)
    }

    async fn put(&self, key: &str, value: &str, ttl_seconds: u64) -> Result<(), StoreError> {
        self.0
            .put(key, value)
            .map_err(|_| StoreError::Unavailable)?
            .expiration_ttl(ttl_seconds)
            .execute()
            .await
            .map_err(|_| StoreError::Unavailable)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.0
            .delete(key)
            .await
            .map_err(|_| StoreError::Unavailable)
    }
}

struct FetchOrigin;

impl Origin for FetchOrigin {
    async fn send(&self, forward: Forward, timeout_ms: u64) -> Result<u16, OriginError> {
        let headers = Headers::new();
        for (name, value) in &forward.headers {
            headers
                .set(name, value)
                .map_err(|_| OriginError::Unreachable)?;
        }
        let body = js_sys::Uint8Array::from(forward.body.as_slice());
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(headers)
            .with_redirect(RequestRedirect::Manual)
            .with_body(Some(body.into()));
        let request =
            Request::new_with_init(&forward.url, &init).map_err(|_| OriginError::Unreachable)?;

        let controller = AbortController::default();
        let signal = controller.signal();
        let fetch = Fetch::Request(request);
        let sending = pin!(fetch.send_with_signal(&signal));
        let deadline = pin!(Delay::from(Duration::from_millis(timeout_ms)));
        match select(sending, deadline).await {
            Either::Left((Ok(response), _)) => Ok(response.status_code()),
            Either::Left((Err(_), _)) => Err(OriginError::Unreachable),
            Either::Right(((), _)) => {
                controller.abort();
                Err(OriginError::Timeout)
            }
        }
    }
}
