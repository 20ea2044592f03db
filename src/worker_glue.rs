//! The Worker entry: `Env` to [`Config`], `Request` to [`Incoming`], KV to
//! [`KvBackend`], fetch to [`Origin`], [`Outcome`] to `Response`. Glue only:
//! every decision is made in the pure modules.

use crate::config::{Config, ConfigError, StoreKind};
use crate::durable_glue::DurableShards;
use crate::gate::{self, BodyError, Handled, Incoming};
use crate::mac::{Mac, MacError, SoftwareMac};
use crate::origin::{Forward, Origin, OriginError};
use crate::outcome::Outcome;
use crate::replay::durable::DurableReplayStore;
use crate::replay::kv::{KvBackend, KvReplayStore};
use crate::replay::{Claim, ReplayStore, StoreError};
use crate::signature::{SigningKey, Tag};
use futures_channel::oneshot;
use futures_util::StreamExt;
use js_sys::{Array, Object, Promise, Uint8Array};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{
    console_error, console_log, console_warn, event, Context, Date, Env, Headers, Request, Response,
};

/// Every setting the config reads, in one order: their raw text is the key of
/// the per-isolate cache below.
const SETTINGS: [&str; 9] = [
    "WEBHOOK_SECRET",
    "ORIGIN_URL",
    "ORIGIN_SECRET",
    "WEBHOOK_PATH",
    "TOLERANCE_SECONDS",
    "MAX_BODY_BYTES",
    "DEDUPE_TTL_SECONDS",
    "ORIGIN_TIMEOUT_MS",
    "REPLAY_STORE",
];

/// Bodies up to this size are hashed in wasm; larger ones by WebCrypto
/// (native code, about four times faster than `sha2` in wasm), without ever
/// being copied into wasm memory. Below a few KB the hash is a few
/// microseconds either way, and the benchmark could not tell the two paths
/// apart under local KV's noise (see the README); staying in wasm there
/// spares small deliveries WebCrypto's promise round-trips.
const SOFTWARE_MAC_MAX_BYTES: usize = 4096;

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let now = i64::try_from(Date::now().as_millis() / 1000).unwrap_or(i64::MAX);
    let prepared = match prepare(&env).await {
        Ok(prepared) => prepared,
        Err(error) => {
            console_error!("hookgate: misconfigured: {error}");
            return respond(Outcome::Misconfigured);
        }
    };
    let Some(store) = replay_store(&env, &prepared.config, now) else {
        return respond(Outcome::Misconfigured);
    };
    let mut incoming = WorkerIncoming {
        method: req.method().to_string(),
        path: req.path(),
        req,
    };
    // The delivery runs under waitUntil: if the sender hangs up while the
    // origin is still answering, the runtime cancels the request's own work,
    // and a claim left unsettled would turn the sender's retry into a 409
    // and then a second forward. Under waitUntil the forward is marked done
    // or released all the same (within the runtime's 30 s grace).
    let (answer, verdict) = oneshot::channel();
    ctx.wait_until(async move {
        let config = &prepared.config;
        let mac = EdgeMac(&prepared);
        let handled = gate::handle(config, &mut incoming, &store, &mac, &FetchOrigin, now).await;
        log(&handled);
        let _ = answer.send(handled.outcome);
    });
    respond(verdict.await.unwrap_or(Outcome::Internal))
}

/// Settings checked and keys imported into WebCrypto, kept for the life of
/// the isolate: both cost more than a whole small delivery. Keyed by the
/// settings' raw text, so a changed setting is picked up at once.
#[derive(Clone)]
struct Prepared {
    /// The `env` object these were read from: the runtime passes the same
    /// object to every request of an isolate, so seeing it again means
    /// nothing can have changed and the settings need not be read at all.
    env: JsValue,
    fingerprint: Vec<Option<String>>,
    config: Config,
    sender_keys: Vec<JsValue>,
    origin_key: Option<JsValue>,
}

thread_local! {
    static PREPARED: RefCell<Option<Rc<Prepared>>> = const { RefCell::new(None) };
}

async fn prepare(env: &Env) -> Result<Rc<Prepared>, String> {
    let cached = PREPARED.with(|cell| cell.borrow().clone());
    if let Some(prepared) = cached.as_ref().filter(|p| js_sys::Object::is(&p.env, env)) {
        return Ok(prepared.clone());
    }
    let fingerprint: Vec<Option<String>> = SETTINGS.iter().map(|name| setting(env, name)).collect();
    if let Some(prepared) = cached.filter(|p| p.fingerprint == fingerprint) {
        let prepared = Rc::new(Prepared {
            env: env.into(),
            ..(*prepared).clone()
        });
        PREPARED.with(|cell| *cell.borrow_mut() = Some(prepared.clone()));
        return Ok(prepared);
    }
    let config = Config::from_settings(|name| {
        SETTINGS
            .iter()
            .position(|known| *known == name)
            .and_then(|i| fingerprint[i].clone())
    })
    .map_err(|error: ConfigError| error.to_string())?;
    // The full URL check, by the same parser fetch will use.
    if WebUrl::new(&config.origin_url).is_err() {
        return Err(ConfigError::BadOriginUrl.to_string());
    }
    let mut sender_keys = Vec::with_capacity(config.keys.keys().len());
    for key in config.keys.keys() {
        sender_keys.push(
            import_key(key)
                .await
                .map_err(|_| "WebCrypto refused setting WEBHOOK_SECRET".to_owned())?,
        );
    }
    let origin_key = match &config.origin_key {
        Some(key) => Some(
            import_key(key)
                .await
                .map_err(|_| "WebCrypto refused setting ORIGIN_SECRET".to_owned())?,
        ),
        None => None,
    };
    let prepared = Rc::new(Prepared {
        env: env.into(),
        fingerprint,
        config,
        sender_keys,
        origin_key,
    });
    PREPARED.with(|cell| *cell.borrow_mut() = Some(prepared.clone()));
    Ok(prepared)
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

/// A request body, kept in JS memory: it goes to WebCrypto and on to the
/// origin from there, so a large body is never copied through wasm.
struct EdgeBody(Uint8Array);

/// HMAC over an [`EdgeBody`]: in wasm for small bodies, WebCrypto otherwise.
struct EdgeMac<'a>(&'a Prepared);

impl EdgeMac<'_> {
    fn software(&self) -> SoftwareMac<'_> {
        SoftwareMac::new(&self.0.config)
    }

    async fn webcrypto_tags(
        &self,
        keys: &[JsValue],
        id: &str,
        timestamp: i64,
        body: &EdgeBody,
    ) -> Result<Vec<Tag>, MacError> {
        // WebCrypto takes one buffer, so the short prefix and the body are
        // joined once, in JS, and that buffer is signed with every key.
        let prefix = format!("{id}.{timestamp}.");
        let content = Uint8Array::new_with_length((prefix.len() + body.0.length() as usize) as u32);
        content
            .subarray(0, prefix.len() as u32)
            .copy_from(prefix.as_bytes());
        content.set(&body.0, prefix.len() as u32);
        let mut tags = Vec::with_capacity(keys.len());
        for key in keys {
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

impl Mac<EdgeBody> for EdgeMac<'_> {
    async fn sender_tags(
        &self,
        id: &str,
        timestamp: i64,
        body: &EdgeBody,
    ) -> Result<Vec<Tag>, MacError> {
        if body.0.length() as usize <= SOFTWARE_MAC_MAX_BYTES {
            return Ok(self
                .software()
                .sender_tags_of(id, timestamp, &body.0.to_vec()));
        }
        self.webcrypto_tags(&self.0.sender_keys, id, timestamp, body)
            .await
    }

    async fn origin_tag(&self, id: &str, timestamp: i64, body: &EdgeBody) -> Result<Tag, MacError> {
        if body.0.length() as usize <= SOFTWARE_MAC_MAX_BYTES {
            return self
                .software()
                .origin_tag_of(id, timestamp, &body.0.to_vec());
        }
        let key = self.0.origin_key.as_ref().ok_or(MacError::Unavailable)?;
        let tags = self
            .webcrypto_tags(std::slice::from_ref(key), id, timestamp, body)
            .await?;
        tags.into_iter().next().ok_or(MacError::Unavailable)
    }
}

/// The replay store `REPLAY_STORE` names, on its binding.
enum EdgeStore {
    Kv(KvReplayStore<WorkerKv>),
    Durable(DurableReplayStore<DurableShards>),
}

fn replay_store(env: &Env, config: &Config, now: i64) -> Option<EdgeStore> {
    let (ttl, timeout) = (config.dedupe_ttl_seconds, config.origin_timeout_ms);
    let keep = config.tolerance_seconds.saturating_mul(2);
    match config.store {
        StoreKind::Kv => {
            let Some(kv) = binding(env, "REPLAY_KV") else {
                console_error!("hookgate: misconfigured: binding REPLAY_KV is missing (declare it under [[kv_namespaces]])");
                return None;
            };
            let store =
                KvReplayStore::new(WorkerKv(kv.unchecked_into()), ttl, timeout).at(now, keep);
            Some(EdgeStore::Kv(store))
        }
        StoreKind::DurableObject => {
            let Some(namespace) = binding(env, "REPLAY_DO") else {
                console_error!(
                    "hookgate: misconfigured: binding REPLAY_DO is missing (REPLAY_STORE=durable-object needs [[durable_objects.bindings]])"
                );
                return None;
            };
            let shards = DurableShards(namespace.unchecked_into());
            Some(EdgeStore::Durable(
                DurableReplayStore::new(shards, ttl, timeout).keeping(keep),
            ))
        }
    }
}

impl ReplayStore for EdgeStore {
    async fn claim(&self, id: &str) -> Result<Claim, StoreError> {
        match self {
            EdgeStore::Kv(store) => store.claim(id).await,
            EdgeStore::Durable(store) => store.claim(id).await,
        }
    }

    async fn mark_done(&self, id: &str) -> Result<(), StoreError> {
        match self {
            EdgeStore::Kv(store) => store.mark_done(id).await,
            EdgeStore::Durable(store) => store.mark_done(id).await,
        }
    }

    async fn release(&self, id: &str) -> Result<(), StoreError> {
        match self {
            EdgeStore::Kv(store) => store.release(id).await,
            EdgeStore::Durable(store) => store.release(id).await,
        }
    }
}

/// A binding that is an object (KV namespace, Durable Object namespace).
fn binding(env: &Env, name: &str) -> Option<JsValue> {
    js_sys::Reflect::get(env, &JsValue::from_str(name))
        .ok()
        .filter(JsValue::is_object)
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

/// One line per request that did not end in a clean delivery; the runtime
/// already logs every request with its status, so a line per success would
/// only repeat it.
fn log(handled: &Handled) {
    let id = handled.id.as_deref().unwrap_or("-");
    let reason = handled.outcome.reason();
    if !handled.incidents.is_empty() {
        console_warn!(
            "hookgate: {reason} webhook-id={id} incidents={:?}",
            handled.incidents
        );
    } else if handled.outcome != Outcome::Delivered {
        console_log!("hookgate: {reason} webhook-id={id}");
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

    async fn read_body(
        &mut self,
        declared: Option<u64>,
        limit: usize,
    ) -> Result<EdgeBody, BodyError> {
        // With a valid Content-Length (the gate checked it against the
        // limit), one arrayBuffer read: the runtime holds the body to that
        // length. Otherwise read chunk by chunk and stop at the cap.
        if declared.is_some() {
            let promise = self
                .req
                .inner()
                .array_buffer()
                .map_err(|_| BodyError::Unreadable)?;
            let buffer = JsFuture::from(promise)
                .await
                .map_err(|_| BodyError::Unreadable)?;
            let body = Uint8Array::new(&buffer);
            return if body.length() as usize > limit {
                Err(BodyError::TooLarge)
            } else {
                Ok(EdgeBody(body))
            };
        }
        let Ok(mut stream) = self.req.stream() else {
            return Ok(EdgeBody(Uint8Array::new_with_length(0))); // no body at all
        };
        let mut body = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| BodyError::Unreadable)?;
            if body.len() + chunk.len() > limit {
                return Err(BodyError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(EdgeBody(Uint8Array::from(body.as_slice())))
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
        js_sys::Reflect::set(&init, &"body".into(), &forward.body.0)?;
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
