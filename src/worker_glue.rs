//! The Worker entry: `Env` to [`Config`], `Request` to [`Incoming`], KV to
//! [`KvBackend`], fetch to [`Origin`], [`Outcome`] to `Response`. Glue only:
//! every decision is made in the pure modules.

use crate::admin::{self, AdminError, AdminRequest, Asset};
use crate::config::{Config, Delivery, StoreKind, ADMIN_PREFIX};
use crate::durable_glue::DurableShards;
use crate::gate::{self, BodyBytes, BodyError, Clock, Handled, Incoming, Ports};
use crate::keys::{SigningKey, Tag};
use crate::log::command::{decode_letter, LogCommand};
use crate::log::counts::CountBuffer;
use crate::log::Letter;
use crate::log_glue::LogClient;
use crate::mac::{keys_of, KeyUse, Mac, MacError, SoftwareMac};
use crate::observe::{Forwarded, Observation, Value};
use crate::origin::{Forward, Origin, OriginError};
use crate::outcome::{challenge_answer, Answer, Outcome};
use crate::queue::{self as queued, Consumed, DeliveryQueue, QueueError, Queued, Verdict};
use crate::replay::durable::DurableReplayStore;
use crate::replay::kv::{KvBackend, KvReplayStore};
use crate::replay::local::{Held, LocalGuard};
use crate::replay::{Claim, ReplayStore, StoreError};
use futures_channel::oneshot;
use js_sys::{Array, Object, Promise, Uint8Array};
use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{
    console_error, event, Context, Env, Headers, Request, Response, ScheduleContext, ScheduledEvent,
};

/// Bodies up to this size are hashed in wasm; larger ones by WebCrypto
/// (native code, about four times faster than `sha2` in wasm), without ever
/// being copied into wasm memory. Below a few KB the hash is a few
/// microseconds either way, and staying in wasm spares small deliveries
/// WebCrypto's promise round-trips (see the benchmark page of the docs).
const SOFTWARE_MAC_MAX_BYTES: usize = 4096;

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let started = js_sys::Date::now() as i64;
    let prepared = match prepare(&env) {
        Ok(prepared) => prepared,
        Err(error) => {
            console_error!("hookgate: misconfigured: {error}");
            return respond(Outcome::Misconfigured.answer(None));
        }
    };
    let path = req.path();
    if path == ADMIN_PREFIX || path.starts_with("/_hookgate/") {
        return admin_api(&req, &env, &prepared, started).await;
    }
    let Some(store) = replay_store(&env, &prepared.config) else {
        return respond(Outcome::Misconfigured.answer(None));
    };
    let Some(queue) = delivery_queue(&env, &prepared.config) else {
        return respond(Outcome::Misconfigured.answer(None));
    };
    let sinks = Sinks::of(&env);
    let mut incoming = WorkerIncoming {
        method: req.method().to_string(),
        path,
        req,
    };
    // The delivery runs under waitUntil: if the sender hangs up while the
    // origin is still answering, the runtime cancels the request's own work,
    // and a claim left unsettled would turn the sender's retry into a 409
    // and then a second forward. Under waitUntil the forward is marked done
    // or released all the same (within the runtime's 30 s grace). What is
    // said about the delivery (log, metrics, records) follows the answer, so
    // it never delays or changes it.
    let (answer, verdict) = oneshot::channel();
    ctx.wait_until(async move {
        let config = &prepared.config;
        let mac = EdgeMac(&prepared);
        let store = LocalGuard::new(store, &prepared.held);
        let ports = Ports {
            store: &store,
            mac: &mac,
            origin: &FetchOrigin,
            queue: &queue,
            clock: &RuntimeClock,
        };
        let handled = gate::handle(config, &mut incoming, &ports).await;
        if handled.body_bytes.is_none() {
            // Refused before the body was read: read it away (bounded), or
            // the client's kept-alive connection breaks under the next
            // request in workerd and `wrangler dev`.
            let _ = JsFuture::from(discard_body_js(incoming.req.inner())).await;
        }
        let _ = answer.send(answer_for(&handled));
        sinks.observe(config, &handled, started).await;
    });
    respond(
        verdict
            .await
            .unwrap_or_else(|_| Outcome::Internal.answer(None)),
    )
}

/// The scheduled clean-up: deletes records and counts older than
/// `LOG_RETENTION_DAYS`, counted from the trigger's scheduled time.
#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let prepared = match prepare(&env) {
        Ok(prepared) => prepared,
        Err(error) => {
            console_error!("hookgate: misconfigured: {error}");
            return;
        }
    };
    let Some(log) = Sinks::of(&env).log else {
        return;
    };
    let days = i64::try_from(prepared.config.observe.log_retention_days).unwrap_or(i64::MAX);
    let before_ms = (event.schedule() as i64).saturating_sub(days.saturating_mul(86_400_000));
    let line = Object::new();
    set_field(&line, "hookgate", &Value::Text("retention".to_owned()));
    set_field(&line, "before_ms", &Value::Number(before_ms as f64));
    match log.send(&LogCommand::Purge { before_ms }).await {
        Ok((200, deleted)) => {
            set_field(
                &line,
                "deleted",
                &Value::Number(deleted.parse().unwrap_or(0.0)),
            );
            console_log_value(&line);
        }
        _ => console_error!(
            "hookgate: the delivery log's clean-up failed; it runs again at the next trigger"
        ),
    }
}

thread_local! {
    /// This isolate's counts per route and reason, written in batches.
    static COUNTS: RefCell<CountBuffer> = RefCell::new(CountBuffer::default());
}

/// Where what the gate says about a request goes: the delivery log
/// (`DELIVERY_LOG`, a Durable Object) and Analytics Engine (`METRICS`),
/// when bound; the structured log line always.
struct Sinks {
    log: Option<LogClient>,
    metrics: Option<AnalyticsDataset>,
}

impl Sinks {
    fn of(env: &Env) -> Self {
        Self {
            log: binding(env, "DELIVERY_LOG").map(|b| LogClient(b.unchecked_into())),
            metrics: binding(env, "METRICS").map(JsCast::unchecked_into),
        }
    }

    /// Logs, measures, counts and records one request. Runs after the
    /// answer; a failure here is itself only logged.
    async fn observe(&self, config: &Config, handled: &Handled, started: i64) {
        let finished = js_sys::Date::now() as i64;
        let seen = Observation {
            config,
            handled,
            finished_ms: finished,
            duration_ms: u32::try_from(finished.saturating_sub(started)).unwrap_or(u32::MAX),
        };
        let line = Object::new();
        for (name, value) in seen.log_fields() {
            set_field(&line, name, &value);
        }
        if handled.incidents.is_empty() {
            console_log_value(&line);
        } else {
            console_warn_value(&line);
        }
        if let Some(metrics) = &self.metrics {
            let (blobs, doubles, index) = seen.metrics_point();
            let point = Object::new();
            let _ = js_sys::Reflect::set(
                &point,
                &"blobs".into(),
                &blobs.iter().map(JsValue::from).collect::<Array>(),
            );
            let _ = js_sys::Reflect::set(
                &point,
                &"doubles".into(),
                &doubles
                    .iter()
                    .map(|d| JsValue::from_f64(*d))
                    .collect::<Array>(),
            );
            let _ = js_sys::Reflect::set(&point, &"indexes".into(), &Array::of1(&index.into()));
            if metrics.write_data_point(&point).is_err() {
                console_error!("hookgate: the METRICS data point was not written");
            }
        }
        let Some(log) = &self.log else {
            return;
        };
        if let Some(attempt) = seen.attempt() {
            if log.write(&LogCommand::Attempt(attempt)).await.is_err() {
                console_error!(
                    "hookgate: the delivery log did not take an attempt; the answer stood"
                );
            }
        }
        let interval = i64::try_from(config.observe.stats_flush_seconds).unwrap_or(60) * 1000;
        let batch = COUNTS.with(|counts| {
            let mut counts = counts.borrow_mut();
            counts.add(finished, seen.route(), handled.outcome.reason());
            counts.take_due(finished, interval)
        });
        if let Some(batch) = batch {
            write_counts(log, batch).await;
        }
    }
}

impl Sinks {
    /// Logs, measures, counts and records one queue consumer attempt.
    async fn observe_forward(&self, seen: &Forwarded<'_>, config: &Config) {
        let line = Object::new();
        for (name, value) in seen.log_fields() {
            set_field(&line, name, &value);
        }
        console_log_value(&line);
        if let Some(metrics) = &self.metrics {
            let point = Object::new();
            let blobs = [seen.route, seen.scheme, seen.reason];
            let _ = js_sys::Reflect::set(
                &point,
                &"blobs".into(),
                &blobs
                    .iter()
                    .map(|b| JsValue::from_str(b))
                    .collect::<Array>(),
            );
            let doubles = [
                f64::from(seen.origin_status.unwrap_or(0)),
                f64::from(seen.duration_ms),
                0.0,
            ];
            let _ = js_sys::Reflect::set(
                &point,
                &"doubles".into(),
                &doubles
                    .iter()
                    .map(|d| JsValue::from_f64(*d))
                    .collect::<Array>(),
            );
            let _ =
                js_sys::Reflect::set(&point, &"indexes".into(), &Array::of1(&seen.route.into()));
            let _ = metrics.write_data_point(&point);
        }
        let Some(log) = &self.log else {
            return;
        };
        // Dead letters were recorded with their letter already.
        if seen.reason != "dead" {
            if let Some(attempt) = seen.attempt() {
                if log.write(&LogCommand::Attempt(attempt)).await.is_err() {
                    console_error!("hookgate: the delivery log did not take a queue attempt");
                }
            }
        }
        let interval = i64::try_from(config.observe.stats_flush_seconds).unwrap_or(60) * 1000;
        let batch = COUNTS.with(|counts| {
            let mut counts = counts.borrow_mut();
            counts.add(seen.finished_ms, seen.route, seen.reason);
            counts.take_due(seen.finished_ms, interval)
        });
        if let Some(batch) = batch {
            write_counts(log, batch).await;
        }
    }
}

/// Writes a batch of counts; on failure they wait for the next batch.
async fn write_counts(log: &LogClient, batch: Vec<crate::log::counts::Count>) {
    if log.write(&LogCommand::Counts(batch.clone())).await.is_err() {
        COUNTS.with(|counts| counts.borrow_mut().restore(batch));
        console_error!(
            "hookgate: the delivery log did not take a batch of counts; it goes with the next"
        );
    }
}

fn set_field(object: &Object, name: &str, value: &Value) {
    let value = match value {
        Value::Text(text) => JsValue::from_str(text),
        Value::Number(number) => JsValue::from_f64(*number),
        Value::Null => JsValue::NULL,
    };
    let _ = js_sys::Reflect::set(object, &name.into(), &value);
}

#[wasm_bindgen]
extern "C" {
    /// One structured log line: an object, so Workers Logs indexes its fields.
    #[wasm_bindgen(js_namespace = console, js_name = log)]
    fn console_log_value(value: &JsValue);

    #[wasm_bindgen(js_namespace = console, js_name = warn)]
    fn console_warn_value(value: &JsValue);

    /// An Analytics Engine dataset binding.
    type AnalyticsDataset;

    #[wasm_bindgen(method, catch, js_name = writeDataPoint)]
    fn write_data_point(this: &AnalyticsDataset, point: &Object) -> Result<(), JsValue>;
}

/// The admin API: 404 for the whole prefix unless `ADMIN_TOKEN` is set; the
/// dashboard's files to anyone then; data only with the token.
async fn admin_api(
    req: &Request,
    env: &Env,
    prepared: &Prepared,
    now: i64,
) -> worker::Result<Response> {
    let Some(token) = &prepared.config.observe.admin_token else {
        return respond(AdminError::Disabled.answer());
    };
    let url = req.inner().url();
    let query = url.split_once('?').map_or("", |(_, query)| query);
    let request = match admin::parse(req.method().as_ref(), &req.path(), query, now) {
        Ok(request) => request,
        Err(error) => return respond(error.answer()),
    };
    let authorization = req.headers().get("authorization").ok().flatten();
    if request.needs_token() && !admin::authorized(authorization.as_deref(), token.as_str()) {
        COUNTS.with(|counts| counts.borrow_mut().add(now, ADMIN_PREFIX, "unauthorized"));
        return respond(AdminError::Unauthorized.answer());
    }
    let log = Sinks::of(env).log;
    let command = match request {
        AdminRequest::Dashboard => return page(admin::DASHBOARD_HTML, "text/html; charset=utf-8"),
        AdminRequest::Asset(Asset::Script) => {
            return page(admin::DASHBOARD_JS, "text/javascript; charset=utf-8")
        }
        AdminRequest::Asset(Asset::Style) => {
            return page(admin::DASHBOARD_CSS, "text/css; charset=utf-8")
        }
        AdminRequest::List {
            filter,
            limit,
            cursor,
        } => LogCommand::List {
            filter,
            limit,
            cursor,
        },
        AdminRequest::Get { route, key } => LogCommand::Get { route, key },
        AdminRequest::Retry { route, key } => {
            let Some(log) = &log else {
                return respond(AdminError::LogUnavailable.answer());
            };
            return respond(match retry_dead_letter(env, log, route, key, now).await {
                Ok(()) => Outcome::Queued.answer(None),
                Err(error) => error.answer(),
            });
        }
        AdminRequest::Stats { since_ms } => {
            // This isolate's own pending counts first, so what was just
            // counted here shows at once.
            if let Some(log) = &log {
                let batch = COUNTS.with(|counts| counts.borrow_mut().take_all(now));
                if !batch.is_empty() {
                    write_counts(log, batch).await;
                }
            }
            LogCommand::Stats { since_ms }
        }
    };
    let Some(log) = log else {
        return respond(AdminError::LogUnavailable.answer());
    };
    match log.send(&command).await {
        Ok((200, body)) => respond(Answer {
            status: 200,
            content_type: "application/json",
            body,
            headers: vec![("x-content-type-options", "nosniff".to_owned())],
        }),
        Ok((404, _)) => respond(AdminError::UnknownDelivery.answer()),
        _ => respond(AdminError::LogUnavailable.answer()),
    }
}

/// Queues a dead letter again: takes it from the log, sends it to the
/// delivery queue, and only then marks the record `queued` (dropping the
/// kept body). If the queue refuses, the letter stays for a later retry.
async fn retry_dead_letter(
    env: &Env,
    log: &LogClient,
    route: String,
    key: String,
    now: i64,
) -> Result<(), AdminError> {
    let letter = match log
        .send(&LogCommand::TakeLetter {
            route: route.clone(),
            key: key.clone(),
        })
        .await
    {
        Ok((200, body)) => crate::query::pairs(&body)
            .and_then(|fields| decode_letter(&fields))
            .ok_or(AdminError::LogUnavailable)?,
        Ok((404, _)) => return Err(AdminError::UnknownDelivery),
        Ok((409, _)) => return Err(AdminError::NotADeadLetter),
        _ => return Err(AdminError::LogUnavailable),
    };
    let queue = EdgeQueue(binding(env, "DELIVERY_QUEUE").map(JsCast::unchecked_into));
    let message = Queued {
        route: route.clone(),
        key: key.clone(),
        content_type: letter.content_type,
        headers: letter.headers,
        event_type: letter.event_type,
        body: EdgeBody::new(Uint8Array::from(letter.body.as_slice())),
    };
    queue
        .send(&message)
        .await
        .map_err(|_| AdminError::QueueUnavailable)?;
    if log
        .write(&LogCommand::Requeued {
            route,
            key,
            at_ms: now,
        })
        .await
        .is_err()
    {
        console_error!(
            "hookgate: a retried dead letter was queued, but its record still says dead"
        );
    }
    Ok(())
}

/// A dashboard file: no data inside, so cacheable would be fine, but it is
/// small and a stale script after an upgrade would be worse.
fn page(body: &str, content_type: &'static str) -> worker::Result<Response> {
    respond(Answer {
        status: 200,
        content_type,
        body: body.to_owned(),
        headers: vec![
            ("content-security-policy", admin::DASHBOARD_CSP.to_owned()),
            ("x-content-type-options", "nosniff".to_owned()),
            ("x-frame-options", "DENY".to_owned()),
            ("referrer-policy", "no-referrer".to_owned()),
        ],
    })
}

fn answer_for(handled: &Handled) -> Answer {
    match (&handled.outcome, &handled.challenge) {
        (Outcome::Challenge, Some(challenge)) => challenge_answer(challenge),
        (outcome, _) => outcome.answer(handled.scheme),
    }
}

/// The runtime's clock. In a Worker it advances with I/O, which is all the
/// gate needs: it reads the clock around the body read and the forward.
struct RuntimeClock;

impl Clock for RuntimeClock {
    fn now_ms(&self) -> i64 {
        js_sys::Date::now() as i64
    }
}

/// Settings checked, kept for the life of the isolate: reading and checking
/// them costs more than a whole small delivery. Keyed by every binding the
/// settings read (routes name secrets by name), so a changed setting is
/// picked up at once.
struct Prepared {
    /// The `env` object these were read from: the runtime passes the same
    /// object to every request of an isolate, so seeing it again means
    /// nothing can have changed and the settings need not be read at all.
    env: RefCell<JsValue>,
    /// Every binding read, with the text it held.
    read: Vec<(String, Option<String>)>,
    config: Config,
    /// Keys imported into WebCrypto, by route and use, on first need.
    imported: RefCell<HashMap<(usize, bool), ImportedKeys>>,
    /// Replay keys this isolate is working on.
    held: Held,
}

/// One route's keys of one use, as WebCrypto `CryptoKey`s.
type ImportedKeys = Rc<Vec<JsValue>>;

thread_local! {
    static PREPARED: RefCell<Option<Rc<Prepared>>> = const { RefCell::new(None) };
}

fn prepare(env: &Env) -> Result<Rc<Prepared>, String> {
    let cached = PREPARED.with(|cell| cell.borrow().clone());
    if let Some(prepared) = &cached {
        if Object::is(&prepared.env.borrow(), env) {
            return Ok(prepared.clone());
        }
        if prepared
            .read
            .iter()
            .all(|(name, value)| setting(env, name) == *value)
        {
            *prepared.env.borrow_mut() = env.into();
            return Ok(prepared.clone());
        }
    }
    let read = RefCell::new(Vec::new());
    let config = Config::from_settings(|name| {
        let value = setting(env, name);
        read.borrow_mut().push((name.to_owned(), value.clone()));
        value
    })
    .map_err(|error| error.to_string())?;
    // The full URL check, by the same parser fetch will use.
    for route in &config.routes {
        if WebUrl::new(&route.origin_url).is_err() {
            return Err(format!(
                "the origin URL of route {:?} does not parse as a URL",
                route.path
            ));
        }
    }
    let prepared = Rc::new(Prepared {
        env: RefCell::new(env.into()),
        read: read.into_inner(),
        config,
        imported: RefCell::new(HashMap::new()),
        held: Held::default(),
    });
    PREPARED.with(|cell| *cell.borrow_mut() = Some(prepared.clone()));
    Ok(prepared)
}

/// A setting's text. Vars from wrangler.toml may be numbers
/// (`TOLERANCE_SECONDS = 300`) or tables (`[vars.ROUTES]`) as well as
/// strings: numbers are read as text and tables as JSON text; anything else
/// reaches the config check as text it will refuse.
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
    } else if value.is_object() && !value.has_type::<js_sys::Function>() && name == "ROUTES" {
        js_sys::JSON::stringify(&value).ok().map(String::from)
    } else {
        Some("[not text]".to_owned())
    }
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = URL)]
    type WebUrl;

    #[wasm_bindgen(constructor, js_class = "URL", catch)]
    fn new(url: &str) -> Result<WebUrl, JsValue>;

    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = importKey)]
    fn subtle_import_key(
        format: &str,
        key: &Uint8Array,
        algorithm: &Object,
        extractable: bool,
        usages: &Array,
    ) -> Promise;

    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = sign)]
    fn subtle_sign(algorithm: &str, key: &JsValue, data: &Uint8Array) -> Promise;
}

async fn import_key(key: &SigningKey) -> Result<JsValue, JsValue> {
    let algorithm = Object::new();
    js_sys::Reflect::set(&algorithm, &"name".into(), &"HMAC".into())?;
    js_sys::Reflect::set(&algorithm, &"hash".into(), &"SHA-256".into())?;
    let usages = Array::of1(&"sign".into());
    let raw = Uint8Array::from(key.as_bytes());
    JsFuture::from(subtle_import_key("raw", &raw, &algorithm, false, &usages)).await
}

/// A request body, kept in JS memory: a large one goes to WebCrypto and on
/// to the origin from there without ever being copied through wasm. The
/// wasm copy is made at most once, when a small body is hashed in wasm or a
/// body's fields are read.
struct EdgeBody {
    js: Uint8Array,
    copy: OnceCell<Vec<u8>>,
}

impl EdgeBody {
    fn new(js: Uint8Array) -> Self {
        Self {
            js,
            copy: OnceCell::new(),
        }
    }

    fn in_wasm(&self) -> &[u8] {
        self.copy.get_or_init(|| self.js.to_vec())
    }
}

impl BodyBytes for EdgeBody {
    fn len(&self) -> usize {
        self.js.length() as usize
    }

    fn bytes(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self.in_wasm())
    }
}

/// HMAC over an [`EdgeBody`]: in wasm for small bodies, WebCrypto otherwise.
struct EdgeMac<'a>(&'a Prepared);

impl EdgeMac<'_> {
    async fn imported(&self, route: usize, use_: KeyUse) -> Result<ImportedKeys, MacError> {
        let slot = (route, use_ == KeyUse::Origin);
        if let Some(keys) = self.0.imported.borrow().get(&slot) {
            return Ok(keys.clone());
        }
        let mut keys = Vec::new();
        for key in keys_of(&self.0.config, route, use_) {
            keys.push(import_key(key).await.map_err(|_| MacError::Unavailable)?);
        }
        let keys = Rc::new(keys);
        self.0.imported.borrow_mut().insert(slot, keys.clone());
        Ok(keys)
    }
}

impl Mac<EdgeBody> for EdgeMac<'_> {
    async fn tags(
        &self,
        route: usize,
        use_: KeyUse,
        prefix: &[u8],
        body: &EdgeBody,
    ) -> Result<Vec<Tag>, MacError> {
        if body.len() <= SOFTWARE_MAC_MAX_BYTES {
            let software = SoftwareMac::new(&self.0.config);
            return Ok(software.tags_of(route, use_, prefix, body.in_wasm()));
        }
        let keys = self.imported(route, use_).await?;
        // WebCrypto takes one buffer, so the short prefix and the body are
        // joined once, in JS, and that buffer is signed with every key.
        let content = Uint8Array::new_with_length((prefix.len() + body.len()) as u32);
        content.subarray(0, prefix.len() as u32).copy_from(prefix);
        content.set(&body.js, prefix.len() as u32);
        let mut tags = Vec::with_capacity(keys.len());
        for key in keys.iter() {
            let digest = JsFuture::from(subtle_sign("HMAC", key, &content))
                .await
                .map_err(|_| MacError::Unavailable)?;
            let digest = Uint8Array::new(&digest);
            let mut tag = [0u8; 32];
            if digest.length() as usize != tag.len() {
                return Err(MacError::Unavailable);
            }
            digest.copy_to(&mut tag);
            tags.push(tag);
        }
        Ok(tags)
    }
}

/// The delivery queue (`DELIVERY_QUEUE`), when a route needs it; `None` (a
/// settings error, logged) when a queue route has no binding.
fn delivery_queue(env: &Env, config: &Config) -> Option<EdgeQueue> {
    let binding = binding(env, "DELIVERY_QUEUE");
    let needed = config
        .routes
        .iter()
        .any(|route| matches!(route.delivery, Delivery::Queue(_)));
    if needed && binding.is_none() {
        console_error!(
            "hookgate: misconfigured: binding DELIVERY_QUEUE is missing (a route has delivery = \"queue\"; declare [[queues.producers]])"
        );
        return None;
    }
    Some(EdgeQueue(binding.map(JsCast::unchecked_into)))
}

#[wasm_bindgen]
extern "C" {
    /// A Queues producer binding.
    type QueueBinding;

    #[wasm_bindgen(method, catch)]
    fn send(this: &QueueBinding, body: &JsValue, options: &Object) -> Result<Promise, JsValue>;

    /// A batch handed to the queue consumer.
    type MessageBatchJs;

    #[wasm_bindgen(method, getter)]
    fn queue(this: &MessageBatchJs) -> String;

    #[wasm_bindgen(method, getter)]
    fn messages(this: &MessageBatchJs) -> Array;

    /// One message of a batch.
    type QueueMessage;

    #[wasm_bindgen(method, getter)]
    fn body(this: &QueueMessage) -> JsValue;

    #[wasm_bindgen(method, getter)]
    fn attempts(this: &QueueMessage) -> Option<f64>;

    #[wasm_bindgen(method)]
    fn ack(this: &QueueMessage);

    #[wasm_bindgen(method)]
    fn retry(this: &QueueMessage, options: &Object);
}

/// The producer, on its binding (absent when no route queues).
struct EdgeQueue(Option<QueueBinding>);

impl DeliveryQueue<EdgeBody> for EdgeQueue {
    async fn send(&self, message: &Queued<EdgeBody>) -> Result<(), QueueError> {
        let queue = self.0.as_ref().ok_or(QueueError)?;
        let object = message_object(message).map_err(|_| QueueError)?;
        // "v8": structured clone, so the body travels as bytes.
        let options = Object::new();
        js_sys::Reflect::set(&options, &"contentType".into(), &"v8".into())
            .map_err(|_| QueueError)?;
        let promise = queue.send(&object, &options).map_err(|_| QueueError)?;
        JsFuture::from(promise)
            .await
            .map(drop)
            .map_err(|_| QueueError)
    }
}

/// A queued event as the JS object a queue message carries.
fn message_object(message: &Queued<EdgeBody>) -> Result<Object, JsValue> {
    let object = Object::new();
    let set =
        |name: &str, value: &JsValue| js_sys::Reflect::set(&object, &name.into(), value).map(drop);
    set("v", &1.into())?;
    set("route", &message.route.as_str().into())?;
    set("key", &message.key.as_str().into())?;
    set(
        "contentType",
        &message
            .content_type
            .as_deref()
            .map_or(JsValue::NULL, JsValue::from),
    )?;
    set(
        "eventType",
        &message
            .event_type
            .as_deref()
            .map_or(JsValue::NULL, JsValue::from),
    )?;
    let headers = Array::new();
    for (name, value) in &message.headers {
        headers.push(&Array::of2(&name.as_str().into(), &value.as_str().into()));
    }
    set("headers", &headers)?;
    set("body", &message.body.js)?;
    Ok(object)
}

/// Reads what [`message_object`] wrote; `None` for anything else.
fn parse_message(value: &JsValue) -> Option<Queued<EdgeBody>> {
    let get = |name: &str| js_sys::Reflect::get(value, &name.into()).ok();
    if get("v")?.as_f64() != Some(1.0) {
        return None;
    }
    let text = |name: &str| get(name).and_then(|v| v.as_string());
    let headers = Array::from(&get("headers")?)
        .iter()
        .map(|pair| {
            let pair = Array::from(&pair);
            Some((pair.get(0).as_string()?, pair.get(1).as_string()?))
        })
        .collect::<Option<Vec<_>>>()?;
    let body = get("body")?.dyn_into::<Uint8Array>().ok()?;
    Some(Queued {
        route: text("route")?,
        key: text("key")?,
        content_type: text("contentType"),
        headers,
        event_type: text("eventType"),
        body: EdgeBody::new(body),
    })
}

/// The name of the queue whose messages are dead letters already.
const DEAD_LETTER_QUEUE: &str = "hookgate-dead-letters";

/// The queue consumer, for both queues: the delivery queue (forward with
/// retries) and the dead-letter queue (keep in the log for a retry).
/// Exported by hand (the `worker` crate's queue types bring serde along);
/// worker-build wires any export named `queue` as the handler.
#[wasm_bindgen]
pub async fn queue(batch: JsValue, env: JsValue, _ctx: JsValue) -> Result<JsValue, JsValue> {
    let env: Env = env.unchecked_into();
    let batch: MessageBatchJs = batch.unchecked_into();
    let prepared = match prepare(&env) {
        Ok(prepared) => prepared,
        Err(error) => {
            // Thrown: the whole batch is retried once the settings are fixed.
            console_error!("hookgate: misconfigured: {error}");
            return Err(JsValue::from_str(
                "hookgate is misconfigured; the batch will be retried",
            ));
        }
    };
    let sinks = Sinks::of(&env);
    let dead_letters = batch.queue() == DEAD_LETTER_QUEUE;
    let store = replay_store(&env, &prepared.config);
    let messages: Vec<QueueMessage> = batch
        .messages()
        .iter()
        .map(JsCast::unchecked_into)
        .collect();
    let work = messages
        .iter()
        .map(|message| consume_one(&prepared, &sinks, store.as_ref(), message, dead_letters));
    futures_util::future::join_all(work).await;
    Ok(JsValue::UNDEFINED)
}

/// One message: forwarded (or kept as a dead letter), then acknowledged or
/// retried. One message's failure never holds back the others of its batch.
async fn consume_one(
    prepared: &Prepared,
    sinks: &Sinks,
    store: Option<&EdgeStore>,
    message: &QueueMessage,
    dead_letters: bool,
) {
    let started = js_sys::Date::now() as i64;
    let config = &prepared.config;
    let Some(queued) = parse_message(&message.body()) else {
        console_error!(
            "hookgate: a queue message that hookgate did not write was acknowledged and dropped"
        );
        message.ack();
        return;
    };
    let attempt = message.attempts().map_or(1, |n| n.max(1.0) as u32);
    let scheme = config
        .route_for(&queued.route)
        .map_or("", |(_, route)| route.scheme.name());
    let kept = Letter {
        content_type: queued.content_type.clone(),
        headers: queued.headers.clone(),
        event_type: queued.event_type.clone(),
        body: Vec::new(),
    };
    let (route, key, event_type) = (
        queued.route.clone(),
        queued.key.clone(),
        queued.event_type.clone(),
    );
    let body = queued.body.js.clone();
    let attempted = if dead_letters {
        queued::Attempted {
            consumed: Consumed::Dead,
            verdict: Verdict::DeadLetter,
            route: None,
            origin_status: None,
        }
    } else {
        let Some(store) = store else {
            retry(message, 60);
            return;
        };
        let store = LocalGuard::new(store, &prepared.held);
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
    let seen = Forwarded {
        route: &route,
        key: &key,
        scheme,
        event_type: event_type.as_deref(),
        reason: attempted.consumed.reason(),
        attempt,
        origin_status: attempted.origin_status,
        finished_ms: finished,
        duration_ms: u32::try_from(finished.saturating_sub(started)).unwrap_or(u32::MAX),
    };
    match attempted.verdict {
        Verdict::Ack => message.ack(),
        Verdict::Retry { delay_seconds } => retry(message, delay_seconds),
        Verdict::DeadLetter => {
            let letter = Letter {
                body: body.to_vec(),
                ..kept
            };
            let stored = match (&sinks.log, seen.attempt()) {
                (Some(log), Some(attempt)) => log
                    .write(&LogCommand::DeadLetter(attempt, letter))
                    .await
                    .is_ok(),
                _ => false,
            };
            if stored {
                message.ack();
            } else {
                // Not kept anywhere yet: stay in the queue (and reach the
                // dead-letter queue once its retries run out).
                console_error!("hookgate: a dead letter could not be kept in the delivery log; the message stays queued");
                retry(message, 300);
            }
        }
    }
    sinks.observe_forward(&seen, config).await;
}

fn retry(message: &QueueMessage, delay_seconds: u64) {
    let options = Object::new();
    let _ = js_sys::Reflect::set(
        &options,
        &"delaySeconds".into(),
        &JsValue::from_f64(delay_seconds as f64),
    );
    message.retry(&options);
}

/// The replay store `REPLAY_STORE` names, on its binding.
enum EdgeStore {
    Kv(KvReplayStore<WorkerKv>),
    Durable(DurableReplayStore<DurableShards>),
}

fn replay_store(env: &Env, config: &Config) -> Option<EdgeStore> {
    match config.store {
        StoreKind::Kv => {
            let Some(kv) = binding(env, "REPLAY_KV") else {
                console_error!("hookgate: misconfigured: binding REPLAY_KV is missing (declare it under [[kv_namespaces]])");
                return None;
            };
            Some(EdgeStore::Kv(KvReplayStore::new(WorkerKv(
                kv.unchecked_into(),
            ))))
        }
        StoreKind::DurableObject => {
            let Some(namespace) = binding(env, "REPLAY_DO") else {
                console_error!(
                    "hookgate: misconfigured: binding REPLAY_DO is missing (REPLAY_STORE=durable-object needs [[durable_objects.bindings]])"
                );
                return None;
            };
            let shards = DurableShards(namespace.unchecked_into());
            Some(EdgeStore::Durable(DurableReplayStore::new(shards)))
        }
    }
}

impl ReplayStore for &EdgeStore {
    async fn claim(
        &self,
        key: &str,
        now: i64,
        claim_seconds: u64,
        keep_until: i64,
    ) -> Result<Claim, StoreError> {
        (*self).claim(key, now, claim_seconds, keep_until).await
    }

    async fn mark_done(&self, key: &str, now: i64, until: i64) -> Result<(), StoreError> {
        (*self).mark_done(key, now, until).await
    }

    async fn release(&self, key: &str) -> Result<(), StoreError> {
        (*self).release(key).await
    }
}

impl ReplayStore for EdgeStore {
    async fn claim(
        &self,
        key: &str,
        now: i64,
        claim_seconds: u64,
        keep_until: i64,
    ) -> Result<Claim, StoreError> {
        match self {
            EdgeStore::Kv(store) => store.claim(key, now, claim_seconds, keep_until).await,
            EdgeStore::Durable(store) => store.claim(key, now, claim_seconds, keep_until).await,
        }
    }

    async fn mark_done(&self, key: &str, now: i64, until: i64) -> Result<(), StoreError> {
        match self {
            EdgeStore::Kv(store) => store.mark_done(key, now, until).await,
            EdgeStore::Durable(store) => store.mark_done(key, now, until).await,
        }
    }

    async fn release(&self, key: &str) -> Result<(), StoreError> {
        match self {
            EdgeStore::Kv(store) => store.release(key).await,
            EdgeStore::Durable(store) => store.release(key).await,
        }
    }
}

/// A binding that is an object (KV namespace, Durable Object namespace).
fn binding(env: &Env, name: &str) -> Option<JsValue> {
    js_sys::Reflect::get(env, &JsValue::from_str(name))
        .ok()
        .filter(JsValue::is_object)
}

fn respond(answer: Answer) -> worker::Result<Response> {
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

#[wasm_bindgen(module = "/src/js/read_body.js")]
extern "C" {
    #[wasm_bindgen(js_name = readBody)]
    fn read_body_js(request: &web_request::Request, limit: f64, deadline_ms: f64) -> Promise;

    #[wasm_bindgen(js_name = discardBody)]
    fn discard_body_js(request: &web_request::Request) -> Promise;
}

mod web_request {
    pub use worker::worker_sys::web_sys::Request;
}

struct WorkerIncoming {
    req: Request,
    method: String,
    path: String,
}

impl Incoming for WorkerIncoming {
    type Body = EdgeBody;

    fn method(&self) -> &str {
        &self.method
    }

    fn path(&self) -> &str {
        &self.path
    }

    fn header(&self, name: &str) -> Option<String> {
        self.req.headers().get(name).ok().flatten()
    }

    async fn read_body(&mut self, limit: usize, deadline_ms: i64) -> Result<EdgeBody, BodyError> {
        let promise = read_body_js(self.req.inner(), limit as f64, deadline_ms as f64);
        let value = JsFuture::from(promise)
            .await
            .map_err(|_| BodyError::Unreadable)?;
        match value.as_string().as_deref() {
            None => Ok(EdgeBody::new(value.unchecked_into())),
            Some("too-large") => Err(BodyError::TooLarge),
            Some("timeout") => Err(BodyError::TimedOut),
            Some(_) => Err(BodyError::Unreadable),
        }
    }
}

/// The KV namespace binding, called directly: three methods need no option
/// builders or serde, which keeps them out of the bundle.
#[wasm_bindgen]
extern "C" {
    type KvNamespace;

    #[wasm_bindgen(method, catch)]
    fn get(this: &KvNamespace, key: &str) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn put(
        this: &KvNamespace,
        key: &str,
        value: &str,
        options: &Object,
    ) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn delete(this: &KvNamespace, key: &str) -> Result<Promise, JsValue>;
}

struct WorkerKv(KvNamespace);

async fn settle(call: Result<Promise, JsValue>) -> Result<JsValue, StoreError> {
    let promise = call.map_err(|_| StoreError::Unavailable)?;
    JsFuture::from(promise)
        .await
        .map_err(|_| StoreError::Unavailable)
}

impl KvBackend for WorkerKv {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(settle(self.0.get(key)).await?.as_string())
    }

    async fn put(&self, key: &str, value: &str, ttl_seconds: u64) -> Result<(), StoreError> {
        let options = Object::new();
        js_sys::Reflect::set(
            &options,
            &"expirationTtl".into(),
            &JsValue::from_f64(ttl_seconds as f64),
        )
        .map_err(|_| StoreError::Unavailable)?;
        settle(self.0.put(key, value, &options)).await.map(drop)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        settle(self.0.delete(key)).await.map(drop)
    }
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch, catch)]
    fn global_fetch(url: &str, init: &Object) -> Result<Promise, JsValue>;

    #[wasm_bindgen(js_namespace = AbortSignal, js_name = timeout, catch)]
    fn abort_signal_timeout(ms: f64) -> Result<JsValue, JsValue>;

    type FetchResponse;

    #[wasm_bindgen(method, getter)]
    fn status(this: &FetchResponse) -> u16;

    #[wasm_bindgen(method, getter)]
    fn body(this: &FetchResponse) -> Option<ResponseBody>;

    type ResponseBody;

    #[wasm_bindgen(method)]
    fn cancel(this: &ResponseBody) -> Promise;
}

struct FetchOrigin;

impl FetchOrigin {
    fn init(forward: &Forward<EdgeBody>, timeout_ms: u64) -> Result<Object, JsValue> {
        let headers = Object::new();
        for (name, value) in &forward.headers {
            js_sys::Reflect::set(&headers, &(*name).into(), &value.into())?;
        }
        let init = Object::new();
        js_sys::Reflect::set(&init, &"method".into(), &"POST".into())?;
        js_sys::Reflect::set(&init, &"headers".into(), &headers)?;
        js_sys::Reflect::set(&init, &"body".into(), &forward.body.js)?;
        js_sys::Reflect::set(&init, &"redirect".into(), &"manual".into())?;
        // The runtime's own timer aborts the fetch: no timer or closure in wasm.
        js_sys::Reflect::set(
            &init,
            &"signal".into(),
            &abort_signal_timeout(timeout_ms as f64)?,
        )?;
        Ok(init)
    }
}

impl Origin<EdgeBody> for FetchOrigin {
    async fn send(&self, forward: Forward<EdgeBody>, timeout_ms: u64) -> Result<u16, OriginError> {
        let init = Self::init(&forward, timeout_ms).map_err(|_| OriginError::Unreachable)?;
        let call = global_fetch(&forward.url, &init).map_err(|_| OriginError::Unreachable)?;
        match JsFuture::from(call).await {
            Ok(response) => {
                let response: FetchResponse = response.unchecked_into();
                // The origin's body is never read or relayed; cancelling it
                // frees the connection at once.
                if let Some(body) = response.body() {
                    let _ = body.cancel();
                }
                Ok(response.status())
            }
            // AbortSignal.timeout() rejects with a DOMException named TimeoutError.
            Err(error) => match js_sys::Reflect::get(&error, &"name".into())
                .ok()
                .and_then(|n| n.as_string())
            {
                Some(name) if name == "TimeoutError" => Err(OriginError::Timeout),
                _ => Err(OriginError::Unreachable),
            },
        }
    }
}
