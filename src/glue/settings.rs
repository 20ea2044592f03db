//! Settings and bindings, read from `env`, checked, and kept for the life of
//! the isolate: reading and checking them costs more than a whole small
//! delivery. Keyed by the `env` object (the runtime passes the same one to
//! every request of an isolate) and, when that changes, by every setting the
//! config read, so a changed setting is picked up at once.

use super::io::import_hmac_key;
use super::local::Local;
use super::runtime::wait_for;
use crate::alert::Memory;
use crate::config::Config;
use crate::keys::Algorithm;
use crate::keys::SigningKey;
use crate::mac::{algorithm_of, keys_of, KeyUse, MacError};
use crate::pause::PausedRoutes;
use crate::replay::cooldown::Cooled;
use crate::replay::local::Held;
use js_sys::{Object, Uint8Array};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

/// The bindings hookgate uses, looked up once per `env`.
pub struct Bindings {
    pub replay_kv: Option<JsValue>,
    pub replay_do: Option<JsValue>,
    pub delivery_queue: Option<JsValue>,
    pub delivery_log: Option<JsValue>,
    pub metrics: Option<JsValue>,
}

impl Bindings {
    /// Looks the bindings up (also when the settings do not parse, so a
    /// settings error can still be counted in the delivery log).
    pub fn of(env: &JsValue) -> Self {
        Self {
            replay_kv: binding(env, "REPLAY_KV"),
            replay_do: binding(env, "REPLAY_DO"),
            delivery_queue: binding(env, "DELIVERY_QUEUE"),
            delivery_log: binding(env, "DELIVERY_LOG"),
            metrics: binding(env, "METRICS"),
        }
    }
}

/// A binding that is an object (a namespace, a queue, a dataset).
fn binding(env: &JsValue, name: &str) -> Option<JsValue> {
    js_sys::Reflect::get(env, &JsValue::from_str(name))
        .ok()
        .filter(JsValue::is_object)
}

/// One route's keys of one use, as WebCrypto `CryptoKey`s.
pub type ImportedKeys = Rc<Vec<JsValue>>;

/// What an isolate keeps between requests.
pub struct Prepared {
    /// The `env` these were read from.
    env: RefCell<JsValue>,
    /// Every setting the config read, with the text it held.
    read: Vec<(String, Option<String>)>,
    pub config: Config,
    pub bindings: RefCell<Rc<Bindings>>,
    /// Keys imported into WebCrypto, by route and use, on first need.
    imported: RefCell<Vec<((usize, bool), ImportedKeys)>>,
    /// Replay keys this isolate is working on.
    pub held: Held,
    /// Replay keys whose forward failed lately, and until when they wait.
    pub cooled: Cooled,
    /// Failure windows and quiet periods of alerts (`crate::alert`); a
    /// change of settings starts them afresh.
    pub alerts: RefCell<Memory>,
    /// [`crate::gate::header_names`], as the JS array `requestFacts` reads.
    pub header_names: JsValue,
    /// The paused routes as this isolate read them (see `super::pause`).
    pub paused: RefCell<PausedRoutes>,
    /// The read of the paused routes under way, which every request or
    /// message that needs them meanwhile waits for (`super::pause`).
    pub pause_read: RefCell<Option<js_sys::Promise>>,
    /// Each route's next free slot to forward in ([`crate::pace`]), across
    /// this isolate's batches: one per route, in the settings' order.
    pub slots: RefCell<Vec<i64>>,
}

static PREPARED: Local<RefCell<Option<Rc<Prepared>>>> = Local::new(RefCell::new(None));

/// The isolate's settings for `env`, read and checked when they are new.
/// The error is the config's message: it names the setting, never a value.
pub fn prepare(env: &JsValue) -> Result<Rc<Prepared>, String> {
    let cached = PREPARED.borrow().clone();
    if let Some(prepared) = &cached {
        if Object::is(&prepared.env.borrow(), env) {
            return Ok(prepared.clone());
        }
        if prepared
            .read
            .iter()
            .all(|(name, value)| setting(env, name) == *value)
        {
            *prepared.env.borrow_mut() = env.clone();
            *prepared.bindings.borrow_mut() = Rc::new(Bindings::of(env));
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
    // The route's alert URL is its alert_url, else ALERT_URL (a gate has a
    // route whenever its settings are valid).
    for route in &config.routes {
        let alert_url = route.alert_url.as_ref().or(config.alerts.url.as_ref());
        let unparsed = |url: &String| WebUrl::new(url).is_err();
        if unparsed(&route.origin_url) || alert_url.is_some_and(unparsed) {
            return Err(format!(
                "the origin or alert URL of route {} does not parse as a URL",
                crate::setting::shown_path(&route.path)
            ));
        }
    }
    // The location's cache is the zone's, shared with any other gate on the
    // zone: this gate's entries are named under a hash of its routes'
    // origins, so another gate's can neither answer for them nor replace
    // or delete them (two gates that forward to the same origins may well
    // share them). Hashed: any origins make one short, URL-safe name.
    let mut origins = String::new();
    for route in &config.routes {
        origins.push_str(&route.origin_url);
        origins.push(' ');
    }
    use_cache_scope(&crate::keys::hashed_name("", &origins));
    let header_names = js_sys::Array::new();
    for name in crate::gate::header_names(&config) {
        header_names.push(&JsValue::from_str(name));
    }
    let slots = RefCell::new(vec![0; config.routes.len()]);
    let prepared = Rc::new(Prepared {
        header_names: header_names.into(),
        env: RefCell::new(env.clone()),
        read: read.into_inner(),
        config,
        bindings: RefCell::new(Rc::new(Bindings::of(env))),
        imported: RefCell::new(Vec::new()),
        held: Held::default(),
        cooled: Cooled::default(),
        alerts: RefCell::new(Memory::new()),
        paused: RefCell::new(PausedRoutes::NONE),
        pause_read: RefCell::new(None),
        slots,
    });
    *PREPARED.borrow_mut() = Some(prepared.clone());
    Ok(prepared)
}

impl Prepared {
    pub fn bindings(&self) -> Rc<Bindings> {
        self.bindings.borrow().clone()
    }

    /// A route's keys of one use, imported into WebCrypto on first need,
    /// each for the hash of that route and use ([`algorithm_of`]).
    pub async fn imported(&self, route: usize, use_: KeyUse) -> Result<ImportedKeys, MacError> {
        let slot = (route, use_ == KeyUse::Origin);
        if let Some((_, keys)) = self.imported.borrow().iter().find(|(s, _)| *s == slot) {
            return Ok(keys.clone());
        }
        let algorithm = algorithm_of(&self.config, route, use_);
        let mut keys = Vec::new();
        for key in keys_of(&self.config, route, use_) {
            let imported = import_key(key, algorithm).await;
            keys.push(imported.map_err(|_| MacError::Unavailable)?);
        }
        let keys = Rc::new(keys);
        let mut imported = self.imported.borrow_mut();
        // Another request may have imported them meanwhile; keep one copy.
        imported.retain(|(s, _)| *s != slot);
        imported.push((slot, keys.clone()));
        Ok(keys)
    }
}

/// A setting's text. Vars from wrangler.toml may be numbers
/// (`TOLERANCE_SECONDS = 300`) or tables (`[vars.ROUTES]`) as well as
/// strings: numbers are read as text and tables as JSON text; anything else
/// reaches the config check as text it will refuse.
fn setting(env: &JsValue, name: &str) -> Option<String> {
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

#[wasm_bindgen(module = "/src/js/edge.js")]
extern "C" {
    /// What this gate's entries in the location's cache are marked with.
    #[wasm_bindgen(js_name = useCacheScope)]
    fn use_cache_scope(scope: &str);
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = URL)]
    type WebUrl;

    #[wasm_bindgen(constructor, js_class = "URL", catch)]
    fn new(url: &str) -> Result<WebUrl, JsValue>;
}

async fn import_key(key: &SigningKey, algorithm: Algorithm) -> Result<JsValue, JsValue> {
    let raw = Uint8Array::from(key.as_bytes());
    wait_for(import_hmac_key(&raw, algorithm.webcrypto_name())).await
}
