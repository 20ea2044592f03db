//! The runtime objects the glue uses besides those of `edge.js`: the
//! console, a handler's context, a scheduled event, a Durable Object's
//! request, storage, SQL and alarm, and the module's start. Thin
//! wasm-bindgen externs, in place of the `worker` crate: its wrappers (each
//! request and answer converted to its own types, its error type, and the
//! classes it exports whether used or not: streams, containers, R2 ranges)
//! were a third of the module.

use js_sys::{Array, Promise, Uint8Array};
use std::future::Future;
use std::pin::Pin;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

/// The work of an event.
type Work = Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>>;

/// Runs `work` as a promise. Every handler's work goes through this one
/// boxed instance of `future_to_promise`, rather than an instance (its
/// closures, task and drop glue) per future type.
pub fn promise(work: impl Future<Output = Result<JsValue, JsValue>> + 'static) -> Promise {
    wasm_bindgen_futures::future_to_promise(Box::pin(work) as Work)
}

#[wasm_bindgen]
extern "C" {
    /// `console.error`: a line for the operator (never a secret).
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    pub fn console_error(text: &str);

    /// A handler's context.
    pub type ExecutionContext;

    #[wasm_bindgen(method, js_name = waitUntil)]
    pub fn wait_until(this: &ExecutionContext, promise: &Promise);

    /// The event a cron trigger hands to `scheduled`.
    pub type ScheduledController;

    /// When the trigger was due, in milliseconds since the epoch.
    #[wasm_bindgen(method, getter, js_name = scheduledTime)]
    pub fn scheduled_time(this: &ScheduledController) -> f64;

    /// A request a Durable Object receives from its stub.
    pub type ObjectRequest;

    #[wasm_bindgen(method, getter)]
    pub fn url(this: &ObjectRequest) -> String;

    #[wasm_bindgen(method)]
    pub fn text(this: &ObjectRequest) -> Promise;

    /// A Durable Object's state.
    pub type DurableObjectState;

    #[wasm_bindgen(method, getter)]
    pub fn storage(this: &DurableObjectState) -> ObjectStorage;

    /// A Durable Object's storage.
    pub type ObjectStorage;

    #[wasm_bindgen(method, getter)]
    fn sql(this: &ObjectStorage) -> SqlStorage;

    /// Resolves to the alarm's time in milliseconds since the epoch, or null.
    #[wasm_bindgen(method, catch, js_name = getAlarm)]
    pub fn get_alarm(this: &ObjectStorage) -> Result<Promise, JsValue>;

    /// Sets the alarm for a time in milliseconds since the epoch.
    #[wasm_bindgen(method, catch, js_name = setAlarm)]
    pub fn set_alarm(this: &ObjectStorage, at_ms: f64) -> Result<Promise, JsValue>;

    /// A Durable Object's SQLite storage.
    #[derive(Clone)]
    pub type SqlStorage;

    #[wasm_bindgen(method, catch, variadic)]
    fn exec(this: &SqlStorage, query: &str, bindings: &Array) -> Result<SqlCursor, JsValue>;

    type SqlCursor;

    #[wasm_bindgen(method)]
    fn raw(this: &SqlCursor) -> JsValue;

    #[wasm_bindgen(method, getter, js_name = rowsWritten)]
    fn rows_written(this: &SqlCursor) -> f64;
}

impl ObjectStorage {
    pub fn sql_storage(&self) -> SqlStorage {
        self.sql()
    }
}

/// A value in or out of SQLite.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlStorageValue {
    Null,
    Integer(i64),
    Float(f64),
    String(String),
    Blob(Vec<u8>),
}

impl From<i64> for SqlStorageValue {
    fn from(value: i64) -> Self {
        SqlStorageValue::Integer(value)
    }
}

impl From<&str> for SqlStorageValue {
    fn from(value: &str) -> Self {
        SqlStorageValue::String(value.to_owned())
    }
}

impl SqlStorageValue {
    fn to_js(&self) -> JsValue {
        match self {
            SqlStorageValue::Null => JsValue::NULL,
            SqlStorageValue::Integer(n) => JsValue::from_f64(*n as f64),
            SqlStorageValue::Float(f) => JsValue::from_f64(*f),
            SqlStorageValue::String(text) => JsValue::from_str(text),
            SqlStorageValue::Blob(bytes) => Uint8Array::from(bytes.as_slice()).into(),
        }
    }

    fn from_js(value: JsValue) -> Self {
        if let Some(text) = value.as_string() {
            SqlStorageValue::String(text)
        } else if let Some(n) = value.as_f64() {
            if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_991.0 {
                SqlStorageValue::Integer(n as i64)
            } else {
                SqlStorageValue::Float(n)
            }
        } else if value.is_instance_of::<Uint8Array>()
            || value.is_instance_of::<js_sys::ArrayBuffer>()
        {
            SqlStorageValue::Blob(Uint8Array::new(&value).to_vec())
        } else {
            SqlStorageValue::Null
        }
    }
}

/// A statement failed.
pub struct SqlFailed;

impl SqlStorage {
    fn run(&self, query: &str, bindings: &[SqlStorageValue]) -> Result<SqlCursor, SqlFailed> {
        let array: Array = bindings.iter().map(SqlStorageValue::to_js).collect();
        self.exec(query, &array).map_err(|_| SqlFailed)
    }

    /// Runs one statement; its rows, each a list of columns.
    pub fn rows(
        &self,
        query: &str,
        bindings: &[SqlStorageValue],
    ) -> Result<Vec<Vec<SqlStorageValue>>, SqlFailed> {
        let cursor = self.run(query, bindings)?;
        let rows = Array::from(&cursor.raw());
        Ok(rows
            .iter()
            .map(|row| {
                row.unchecked_into::<Array>()
                    .iter()
                    .map(SqlStorageValue::from_js)
                    .collect()
            })
            .collect())
    }

    /// Runs one statement to the end; how many rows it wrote.
    pub fn written(&self, query: &str, bindings: &[SqlStorageValue]) -> Result<u64, SqlFailed> {
        let cursor = self.run(query, bindings)?;
        drop(Array::from(&cursor.raw()));
        Ok(cursor.rows_written() as u64)
    }
}

/// Set up once per instance: a panic is logged with its message before the
/// module traps, and after a trap the instance is made again before the next
/// event (with `--force-enable-abort-handler`, see scripts/build.sh).
#[wasm_bindgen(start)]
fn start() {
    std::panic::set_hook(Box::new(|info| {
        console_error(&format!("hookgate: Rust panic: {info}"));
    }));
    wasm_bindgen::handler::set_on_abort(wasm_bindgen::handler::schedule_reinit);
}

/// The module's allocator: talc, whose wasm build is about 5 KB smaller than
/// std's dlmalloc (the upload's size), and measured no slower on small
/// deliveries. Workers run one thread per isolate, as `TalckWasm` assumes.
#[global_allocator]
static ALLOCATOR: talc::TalckWasm = unsafe { talc::TalckWasm::new_global() };
