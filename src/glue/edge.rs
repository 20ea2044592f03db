//! The runtime's objects behind the core's traits: the request
//! ([`Incoming`]), the MAC ([`Mac`]), the origin ([`Origin`]), KV
//! ([`KvBackend`]), the replay stores, the delivery queue, the clock, and the
//! answer. Each step is one call into `src/js/edge.js`.

use super::io::{joined, split_pairs, SEP};
use super::local::Local;
use super::replay_shard::DurableShards;
use super::runtime::{console_error, wait_for, ObjectRequest};
use super::settings::{Bindings, Prepared};
use crate::config::{Binding, Config};
use crate::gate::{BodyError, Incoming};
use crate::keys::Tag;
use crate::mac::{algorithm_of, KeyUse, Mac, MacError, SoftwareMac};
use crate::origin::{Forward, Origin, OriginError};
use crate::ports::{BodyBytes, Clock, DeliveryQueue, QueueError, Queued};
use crate::replay::durable::DurableReplayStore;
use crate::replay::kv::{KvBackend, KvReplayStore};
use crate::replay::{Claim, LocationCache, ReplayStore, StoreError};
use crate::setting::StoreKind;
use js_sys::{Array, Promise, Uint8Array};
use std::borrow::Cow;
use std::cell::{Cell, OnceCell};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

/// Bodies up to this size are hashed in wasm; larger ones by WebCrypto
/// (native code, about four times faster than `sha2` in wasm), without ever
/// being copied into wasm memory. Below a few KB the hash is a few
/// microseconds either way, and staying in wasm spares small deliveries
/// WebCrypto's promise round-trips (see the benchmark page of the docs).
/// Only SHA-256 is hashed in wasm: the SHA-1 and SHA-512 of a few `hmac`
/// routes always go to WebCrypto, since linking them would add about 6 KiB
/// to the gzipped upload (SHA-512's rounds are compiled for speed, with the
/// rest of `sha2`).
const SOFTWARE_MAC_MAX_BYTES: usize = 4096;

#[wasm_bindgen(module = "/src/js/edge.js")]
extern "C" {
    #[wasm_bindgen(js_name = requestFacts)]
    fn request_facts(request: &JsValue, header_names: &JsValue) -> String;

    #[wasm_bindgen(js_name = readBody)]
    fn read_body_js(request: &JsValue, limit: f64, deadline_ms: f64) -> Promise;

    #[wasm_bindgen(js_name = discardBody)]
    pub fn discard_body(request: &JsValue) -> Promise;

    #[wasm_bindgen(js_name = forward)]
    fn forward_js(url: &str, headers: &str, body: &Uint8Array, timeout_ms: f64) -> Promise;

    /// POSTs an alert as `forward` does, unless the location's cache holds
    /// its `mark` (an isolate of the location sent it in this quiet period),
    /// which it writes first (lasting `quiet_seconds`, the rest of the
    /// period); as the task's next write to the cache, which the task's
    /// promise waits for.
    /// Logs, never throws, when its URL does not take it.
    #[wasm_bindgen(js_name = postAlert)]
    pub fn post_alert(
        url: &str,
        headers: &str,
        body: &str,
        mark: &str,
        quiet_seconds: f64,
        cause: &str,
        route: &str,
    );

    #[wasm_bindgen(js_name = kvGet)]
    fn kv_get(namespace: &JsValue, key: &str) -> Promise;

    #[wasm_bindgen(js_name = kvPut)]
    fn kv_put(namespace: &JsValue, key: &str, value: &str, ttl_seconds: f64) -> Promise;

    #[wasm_bindgen(js_name = kvDelete)]
    fn kv_delete(namespace: &JsValue, key: &str) -> Promise;

    #[wasm_bindgen(js_name = logObject)]
    pub fn log_object(level: &str, text: &str);

    #[wasm_bindgen(js_name = cacheGet)]
    fn cache_get(key: &str) -> Promise;

    /// Started, not waited on: see `cacheWrite` in edge.js.
    #[wasm_bindgen(js_name = cachePut)]
    fn cache_put(key: &str, value: &str, ttl_seconds: f64);

    #[wasm_bindgen(js_name = cacheDelete)]
    fn cache_delete(key: &str);

    /// Settles once the current task's cache writes so far have landed.
    #[wasm_bindgen(js_name = cacheWritten)]
    pub fn cache_written() -> Promise;

    #[wasm_bindgen(js_name = queueSend)]
    fn queue_send(
        queue: &JsValue,
        route: &str,
        key: &str,
        content_type: Option<&str>,
        event_type: Option<&str>,
        headers: &str,
        body: &Uint8Array,
    ) -> Promise;

    #[wasm_bindgen(js_name = readMessage)]
    fn read_message(message: &JsValue) -> JsValue;

    #[wasm_bindgen(js_name = retryMessage)]
    pub fn retry_message(message: &JsValue, delay_seconds: f64);

    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(js_name = writePoint)]
    pub fn write_point(
        dataset: &JsValue,
        blob1: &str,
        blob2: &str,
        blob3: &str,
        double1: f64,
        double2: f64,
        double3: f64,
        index: &str,
    ) -> bool;

}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = ["crypto", "subtle"], js_name = sign)]
    fn subtle_sign(algorithm: &str, key: &JsValue, data: &Uint8Array) -> Promise;
}

/// The runtime's clock. In a Worker it advances with I/O, which is all the
/// gate needs: it reads the clock around the body read and the forward.
pub struct RuntimeClock;

impl Clock for RuntimeClock {
    fn now_ms(&self) -> i64 {
        js_sys::Date::now() as i64
    }
}

/// A request body, kept in JS memory: a large one goes to WebCrypto and on
/// to the origin from there without ever being copied through wasm. The
/// wasm copy is made at most once, when a small body is hashed in wasm or a
/// body's fields are read.
#[derive(Clone)]
pub struct EdgeBody {
    pub js: Uint8Array,
    /// The length, read once: a body is never resized, and each read of
    /// `length` is a call into JavaScript.
    len: usize,
    copy: OnceCell<Vec<u8>>,
}

impl EdgeBody {
    pub fn new(js: Uint8Array) -> Self {
        Self {
            len: js.length() as usize,
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
        self.len
    }

    fn bytes(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self.in_wasm())
    }
}

/// A request, with its method, path and the headers hookgate reads
/// ([`crate::gate::header_names`]) read in one call.
pub struct WorkerIncoming {
    pub request: JsValue,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
}

impl WorkerIncoming {
    pub fn new(request: JsValue, header_names: &JsValue) -> Self {
        let facts = request_facts(&request, header_names);
        let mut parts = facts.split(SEP);
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        Self {
            request,
            method,
            path,
            headers: split_pairs(parts),
        }
    }
}

impl Incoming for WorkerIncoming {
    type Body = EdgeBody;

    fn method(&self) -> &str {
        &self.method
    }

    fn path(&self) -> &str {
        &self.path
    }

    fn url(&self) -> String {
        // A request's `url`, read as a Durable Object's request is.
        self.request.unchecked_ref::<ObjectRequest>().url()
    }

    fn header(&self, name: &str) -> Option<String> {
        crate::query::value_of(&self.headers, name)
    }

    async fn read_body(&mut self, limit: usize, deadline_ms: i64) -> Result<EdgeBody, BodyError> {
        let promise = read_body_js(&self.request, limit as f64, deadline_ms as f64);
        let value = wait_for(promise).await.map_err(|_| BodyError::Unreadable)?;
        match value.as_string().as_deref() {
            None => Ok(EdgeBody::new(value.unchecked_into())),
            Some("too-large") => Err(BodyError::TooLarge),
            Some("timeout") => Err(BodyError::TimedOut),
            Some(_) => Err(BodyError::Unreadable),
        }
    }
}

/// HMAC over an [`EdgeBody`]: in wasm for small bodies, WebCrypto otherwise.
pub struct EdgeMac<'a>(pub &'a Prepared);

impl Mac<EdgeBody> for EdgeMac<'_> {
    async fn tags(
        &self,
        route: usize,
        use_: KeyUse,
        prefix: &[u8],
        body: &EdgeBody,
        suffix: &[u8],
    ) -> Result<Vec<Tag>, MacError> {
        if body.len() <= SOFTWARE_MAC_MAX_BYTES {
            let software = SoftwareMac::new(&self.0.config);
            let tags = software.sha256_tags_of(route, use_, prefix, body.in_wasm(), suffix);
            if let Some(tags) = tags {
                return Ok(tags);
            }
        }
        let keys = self.0.imported(route, use_).await?;
        // WebCrypto takes one buffer, so the short prefix and suffix and the
        // body are joined once, in JS, and that buffer is signed with every
        // key.
        let (head, tail) = (prefix.len() as u32, suffix.len() as u32);
        let end = head + body.len() as u32;
        let content = Uint8Array::new_with_length(end + tail);
        content.subarray(0, head).copy_from(prefix);
        content.set(&body.js, head);
        content.subarray(end, end + tail).copy_from(suffix);
        let tag_len = algorithm_of(&self.0.config, route, use_).tag_len();
        let mut tags = Vec::with_capacity(keys.len());
        for key in keys.iter() {
            let digest = wait_for(subtle_sign("HMAC", key, &content))
                .await
                .map_err(|_| MacError::Unavailable)?;
            let digest = Uint8Array::new(&digest);
            let mut tag = [0u8; crate::keys::MAX_TAG_LEN];
            let Some(tag) = tag.get_mut(..tag_len) else {
                return Err(MacError::Unavailable);
            };
            if digest.length() as usize != tag.len() {
                return Err(MacError::Unavailable);
            }
            digest.copy_to(tag);
            tags.push(Tag::from_slice(tag).ok_or(MacError::Unavailable)?);
        }
        Ok(tags)
    }
}

/// The origin, through `fetch` (no redirects, the runtime's own timer).
pub struct FetchOrigin;

impl Origin<EdgeBody> for FetchOrigin {
    async fn send(&self, forward: Forward<EdgeBody>, timeout_ms: u64) -> Result<u16, OriginError> {
        let headers = joined(
            forward
                .headers
                .iter()
                .map(|(n, v)| (n.as_ref(), v.as_str())),
        );
        let call = forward_js(&forward.url, &headers, &forward.body.js, timeout_ms as f64);
        let status = wait_for(call)
            .await
            .ok()
            .and_then(|status| status.as_f64())
            .unwrap_or(-1.0);
        if status == -2.0 {
            Err(OriginError::Timeout)
        } else if (100.0..1000.0).contains(&status) {
            Ok(status as u16)
        } else {
            Err(OriginError::Unreachable)
        }
    }
}

/// KV writes made and refused since the log last took them: counted with
/// the request's own count ([`take_kv_writes`]).
static KV_WRITES: Local<Cell<(u32, u32)>> = Local::new(Cell::new((0, 0)));

fn kv_wrote(ok: bool) {
    let (made, refused) = KV_WRITES.get();
    KV_WRITES.set(if ok {
        (made.saturating_add(1), refused)
    } else {
        (made, refused.saturating_add(1))
    });
}

/// The KV writes made and refused since the last call.
pub fn take_kv_writes() -> (u32, u32) {
    KV_WRITES.replace((0, 0))
}

/// Workers KV, called through `edge.js`.
pub struct WorkerKv(JsValue);

impl KvBackend for WorkerKv {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let value = wait_for(kv_get(&self.0, key))
            .await
            .map_err(|_| StoreError::Unavailable)?;
        if value.is_undefined() {
            return Err(StoreError::Unavailable);
        }
        Ok(value.as_string())
    }

    async fn put(&self, key: &str, value: &str, ttl_seconds: u64) -> Result<(), StoreError> {
        let stored = wait_for(kv_put(&self.0, key, value, ttl_seconds as f64)).await;
        let ok = stored.ok().and_then(|ok| ok.as_bool()) == Some(true);
        kv_wrote(ok);
        if ok {
            Ok(())
        } else {
            Err(StoreError::Unavailable)
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let deleted = wait_for(kv_delete(&self.0, key)).await;
        let ok = deleted.ok().and_then(|ok| ok.as_bool()) == Some(true);
        kv_wrote(ok);
        if ok {
            Ok(())
        } else {
            Err(StoreError::Unavailable)
        }
    }
}

/// The location's cache (`caches.default`), for cool-downs.
pub struct WorkerCache;

impl LocationCache for WorkerCache {
    async fn get(&self, key: &str) -> Option<String> {
        wait_for(cache_get(key)).await.ok()?.as_string()
    }

    fn put(&self, key: &str, value: &str, ttl_seconds: u64) {
        cache_put(key, value, ttl_seconds as f64);
    }

    fn delete(&self, key: &str) {
        cache_delete(key);
    }
}

/// The replay store `REPLAY_STORE` names, on its binding. Each task puts
/// the location's cache in front of it (`LocationGuard`), sharing that
/// cache with its cool-downs.
pub enum EdgeStore {
    /// KV for `done` marks; in-flight claims in the location's cache.
    Kv(KvReplayStore<WorkerKv>),
    /// The shards decide; the location's cache answers the duplicates of a
    /// delivered event and holds queued ones, sparing a shard request each.
    Durable(DurableReplayStore<DurableShards>),
}

/// The replay store, or `None` (a settings error, logged) when its binding
/// is missing.
pub fn replay_store(bindings: &Bindings, config: &Config) -> Option<EdgeStore> {
    match config.store {
        StoreKind::Kv => {
            let Some(kv) = &bindings.replay_kv else {
                missing(Binding::ReplayKv);
                return None;
            };
            Some(EdgeStore::Kv(KvReplayStore::new(WorkerKv(kv.clone()))))
        }
        StoreKind::DurableObject => {
            let Some(namespace) = &bindings.replay_do else {
                missing(Binding::ReplayDo);
                return None;
            };
            let shards = DurableShards(namespace.clone());
            Some(EdgeStore::Durable(DurableReplayStore::new(shards)))
        }
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

    async fn hand_off(&self, key: &str, now: i64, until: i64) -> Result<(), StoreError> {
        match self {
            EdgeStore::Kv(store) => store.hand_off(key, now, until).await,
            EdgeStore::Durable(store) => store.hand_off(key, now, until).await,
        }
    }

    async fn release(&self, key: &str) -> Result<(), StoreError> {
        match self {
            EdgeStore::Kv(store) => store.release(key).await,
            EdgeStore::Durable(store) => store.release(key).await,
        }
    }
}

/// Logs a binding the settings need and `env` lacks (a settings error).
fn missing(binding: Binding) {
    console_error(&format!("hookgate: misconfigured: {}", binding.missing()));
}

/// The producer, on its binding (absent when no route queues).
pub struct EdgeQueue(pub Option<JsValue>);

/// The delivery queue, when a route needs it; `None` (a settings error,
/// logged) when a queue route has no binding.
pub fn delivery_queue(bindings: &Bindings, config: &Config) -> Option<EdgeQueue> {
    if config.queues() && bindings.delivery_queue.is_none() {
        missing(Binding::DeliveryQueue);
        return None;
    }
    Some(EdgeQueue(bindings.delivery_queue.clone()))
}

impl DeliveryQueue<EdgeBody> for EdgeQueue {
    async fn send(&self, message: &Queued<EdgeBody>) -> Result<(), QueueError> {
        let queue = self.0.as_ref().ok_or(QueueError)?;
        let headers = joined(
            message
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str())),
        );
        let sent = queue_send(
            queue,
            &message.route,
            &message.key,
            message.content_type.as_deref(),
            message.event_type.as_deref(),
            &headers,
            &message.body.js,
        );
        match wait_for(sent).await.ok().and_then(|ok| ok.as_bool()) {
            Some(true) => Ok(()),
            _ => Err(QueueError),
        }
    }
}

/// Reads a queue message's event as [`EdgeQueue`] sent it, with the
/// gate's count of attempts at it (from 1) and how often it was held
/// (sent again while its route was paused); `None` for anything else.
pub fn parse_message(message: &JsValue) -> Option<(Queued<EdgeBody>, u32, u32)> {
    let read = read_message(message);
    if read.is_null() {
        return None;
    }
    let read: Array = read.unchecked_into();
    let facts = read.get(0).as_string()?;
    let body: Uint8Array = read.get(1).unchecked_into();
    let mut parts = facts.split(SEP);
    let route = parts.next()?.to_owned();
    let key = parts.next()?.to_owned();
    let mut optional = || Some(parts.next()?.strip_prefix('s').map(str::to_owned));
    let content_type = optional()?;
    let event_type = optional()?;
    let count = |at| read.get(at).as_f64().unwrap_or(0.0) as u32;
    let queued = Queued {
        route,
        key,
        content_type,
        headers: split_pairs(parts),
        event_type,
        body: EdgeBody::new(body),
    };
    Some((queued, count(2), count(3)))
}
