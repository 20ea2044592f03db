//! The runtime objects the glue uses besides those of `edge.js`: the
//! console, a handler's context, a scheduled event, a Durable Object's
//! request, storage, SQL and alarm, and the module's start. Thin
//! wasm-bindgen externs, in place of the `worker` crate: its wrappers (each
//! request and answer converted to its own types, its error type, and the
//! classes it exports whether used or not: streams, containers, R2 ranges)
//! were a third of the module.
//!
//! Also the executor of every handler's work ([`promise`], [`wait_for`]).
//! The work waits only on JavaScript promises, one at a time, so it needs
//! no wakers or task queue: `drive` in `edge.js` awaits each promise the
//! work hands out and steps the work on with what it settled to. In the
//! CPU profile of a small delivery, wasm-bindgen-futures' way (two closures
//! per awaited promise, a wake, a task queue and a `queueMicrotask`) was
//! about a tenth of the busy time.

use super::local::Local;
use js_sys::{Array, Function, Promise, Uint8Array};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

/// The work of an event.
type Work = Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>>;

/// The promise the work being stepped waits on next.
static WAITING: Local<Cell<Option<Promise>>> = Local::new(Cell::new(None));
/// What the promise the work waited on settled to.
static SETTLED: Local<Cell<Option<Result<JsValue, JsValue>>>> = Local::new(Cell::new(None));
/// Every task not yet finished, by slot; `None` where one was.
static TASKS: Local<RefCell<Vec<Option<Task>>>> = Local::new(RefCell::new(Vec::new()));
/// This instance's part of every task number, drawn at random: after a
/// trap the module is set up again with no tasks, and the steps of a task
/// of the old instance must find nothing, never a new task in the same
/// slot. Drawn at the first use ([`instance`]).
static INSTANCE: Local<Cell<Option<f64>>> = Local::new(Cell::new(None));

/// This instance's part of every task number ([`INSTANCE`]).
fn instance() -> f64 {
    INSTANCE.get_or(|| (js_sys::Math::random() * INSTANCES).floor())
}

/// How many slots a task number holds: tasks at once in one isolate.
const SLOTS: f64 = 1_048_576.0;
/// How many instance parts: 2^32, so that SLOTS × INSTANCES stays within
/// the integers a JavaScript number holds exactly (2^53).
const INSTANCES: f64 = 4_294_967_296.0;

/// A task's number: its slot, in this instance.
fn number_of(slot: usize) -> f64 {
    instance() * SLOTS + slot as f64
}

/// The slot of a task number, if it is one of this instance's.
fn slot_of(number: f64) -> Option<usize> {
    let instance = (number / SLOTS).floor();
    let ours = self::instance() == instance;
    ours.then_some((number - instance * SLOTS) as usize)
}

#[wasm_bindgen(module = "/src/js/edge.js")]
extern "C" {
    fn drive(task: f64) -> Promise;

    #[wasm_bindgen(js_name = useStepper)]
    fn use_stepper(step: &Function, finish: &Function);
}

/// Hands `drive` the module's own [`task_step`] and [`task_finish`]: the
/// entry (src/js/shim.js) calls this once, with them, as it loads. A task
/// is a number rather than an exported class, whose objects wasm-bindgen
/// registers with a `FinalizationRegistry` one by one (3 % of a small
/// delivery's CPU profile).
#[wasm_bindgen(js_name = installStepper)]
pub fn install_stepper(step: &Function, finish: &Function) {
    use_stepper(step, finish);
}

/// Runs `work` as a promise. Every handler's work goes through this one
/// boxed type, rather than an instance (its drop glue) per future type.
/// The work must wait only through [`wait_for`].
pub fn promise(work: impl Future<Output = Result<JsValue, JsValue>> + 'static) -> Promise {
    run_boxed(Box::pin(work))
}

/// The part of [`promise`] every work shares: one copy, not one per future
/// type.
#[inline(never)]
fn run_boxed(work: Work) -> Promise {
    let task = Task::Working(work);
    let slot = TASKS.with_borrow_mut(|tasks| match tasks.iter().position(Option::is_none) {
        Some(free) => {
            tasks[free] = Some(task);
            Some(free)
        }
        None if (tasks.len() as f64) < SLOTS => {
            tasks.push(Some(task));
            Some(tasks.len() - 1)
        }
        None => None,
    });
    match slot {
        Some(slot) => drive(number_of(slot)),
        None => Promise::reject(&JsValue::from_str("hookgate: too many tasks at once")),
    }
}

/// Waits for `promise`: its value, or what it was rejected with.
pub fn wait_for(promise: Promise) -> WaitFor {
    WaitFor(Some(promise))
}

/// The future of [`wait_for`]: first polled, it hands its promise to the
/// step that polled it; polled again, it takes what the promise settled to.
pub struct WaitFor(Option<Promise>);

impl Future for WaitFor {
    type Output = Result<JsValue, JsValue>;

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(promise) = self.0.take() {
            WAITING.set(Some(promise));
            return Poll::Pending;
        }
        match SETTLED.take() {
            Some(settled) => Poll::Ready(settled),
            None => Poll::Pending,
        }
    }
}

/// A handler's work, stepped by `drive` (src/js/edge.js).
enum Task {
    Working(Work),
    /// Being stepped: its work is out of the list, and its number taken.
    Running,
    Finished(Result<JsValue, JsValue>),
}

/// Goes on with task `number`, given what the promise it waited on settled
/// to (`fulfilled`: resolved, else rejected; ignored at the first step).
/// Returns the next promise to wait on, or undefined once it finished.
///
/// The work is taken out of the list while it runs (its number stays
/// taken): a step can start another task, whose first step then runs inside
/// this one, so the list is not borrowed meanwhile, and the two slots are
/// saved and restored.
#[wasm_bindgen(js_name = taskStep)]
pub fn task_step(number: f64, settled: JsValue, fulfilled: bool) -> Option<Promise> {
    let slot = slot_of(number)?;
    let taken = TASKS.with_borrow_mut(|tasks| match tasks.get_mut(slot) {
        Some(task @ Some(Task::Working(_))) => task.replace(Task::Running),
        _ => None,
    });
    // Otherwise finished already, or of an instance set up again after a
    // trap: `task_finish` tells which.
    let Some(Task::Working(mut work)) = taken else {
        return None;
    };
    let settled = if fulfilled { Ok(settled) } else { Err(settled) };
    let outer_settled = SETTLED.replace(Some(settled));
    let outer_waiting = WAITING.take();
    let polled = work.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    SETTLED.set(outer_settled);
    let waiting = WAITING.replace(outer_waiting);
    let (task, next) = match (polled, waiting) {
        (Poll::Pending, Some(next)) => (Task::Working(work), Some(next)),
        (Poll::Ready(result), _) => (Task::Finished(result), None),
        (Poll::Pending, None) => (
            Task::Finished(Err(JsValue::from_str(
                "hookgate: work waited on something other than a promise",
            ))),
            None,
        ),
    };
    TASKS.with_borrow_mut(|tasks| tasks[slot] = Some(task));
    next
}

/// The finished task's value, its number free again; throws what it failed
/// with.
#[wasm_bindgen(js_name = taskFinish)]
pub fn task_finish(number: f64) -> Result<JsValue, JsValue> {
    let taken = slot_of(number).and_then(|slot| {
        TASKS.with_borrow_mut(|tasks| match tasks.get_mut(slot) {
            Some(task @ Some(Task::Finished(_))) => task.take(),
            _ => None,
        })
    });
    match taken {
        Some(Task::Finished(result)) => result,
        _ => Err(JsValue::from_str(
            "hookgate: the work was lost (the module was set up again)",
        )),
    }
}

#[wasm_bindgen]
extern "C" {
    /// `console.error`: a line for the operator (never a secret).
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    pub fn console_error(text: &str);

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
    /// A whole number, as SQLite gives it (an integer, or a float for
    /// large ones).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            SqlStorageValue::Integer(n) => Some(*n),
            SqlStorageValue::Float(f) => Some(*f as i64),
            _ => None,
        }
    }

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

/// The rows every statement run in this isolate wrote, summed (as the
/// runtime counts them on each cursor: what Cloudflare bills a Durable
/// Object's SQLite storage by); [`rows_written_during`] takes the
/// difference.
static ROWS_WRITTEN: Local<Cell<u64>> = Local::new(Cell::new(0));

/// Runs `work`, which must not wait on anything (a Durable Object's SQL
/// calls are synchronous), and returns what it returned with the rows its
/// statements wrote. Nothing else runs in the isolate meanwhile, so the
/// rows are its own even beside other objects' requests.
pub fn rows_written_during<T>(work: impl FnOnce() -> T) -> (T, u64) {
    let before = ROWS_WRITTEN.get();
    let value = work();
    (value, ROWS_WRITTEN.get().wrapping_sub(before))
}

/// The rows a drained cursor wrote, added to the isolate's sum.
fn count_written(cursor: &SqlCursor) -> u64 {
    let written = cursor.rows_written() as u64;
    ROWS_WRITTEN.set(ROWS_WRITTEN.get().wrapping_add(written));
    written
}

impl SqlStorage {
    fn run(&self, query: &str, bindings: &[SqlStorageValue]) -> Result<SqlCursor, SqlFailed> {
        let array = Array::new();
        for value in bindings {
            array.push(&value.to_js());
        }
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
        count_written(&cursor);
        // Pushed, not collected: one loop each, no iterator instances.
        let mut read = Vec::with_capacity(rows.length() as usize);
        for row in rows.iter() {
            let row = row.unchecked_into::<Array>();
            let mut columns = Vec::with_capacity(row.length() as usize);
            for value in row.iter() {
                columns.push(SqlStorageValue::from_js(value));
            }
            read.push(columns);
        }
        Ok(read)
    }

    /// Runs one statement to the end; how many rows it wrote.
    pub fn written(&self, query: &str, bindings: &[SqlStorageValue]) -> Result<u64, SqlFailed> {
        let cursor = self.run(query, bindings)?;
        drop(Array::from(&cursor.raw()));
        Ok(count_written(&cursor))
    }
}

/// Set up once per instance: a panic is logged with where it happened
/// (file and line, which find its cause) before the module traps, and after
/// a trap the instance is made again before the next event (with
/// `--force-enable-abort-handler`, see scripts/build.sh). Written piece by
/// piece: formatting the whole panic info linked std's formatter of it.
#[wasm_bindgen(start)]
fn start() {
    std::panic::set_hook(Box::new(|info| {
        let mut text = String::from("hookgate: Rust panic");
        if let Some(location) = info.location() {
            text.push_str(" at ");
            text.push_str(location.file());
            text.push(':');
            text.push_str(&u64::from(location.line()).to_string());
        }
        console_error(&text);
    }));
    wasm_bindgen::handler::set_on_abort(wasm_bindgen::handler::schedule_reinit);
}

/// The module's allocator: talc, whose wasm build is about 5 KB smaller than
/// std's dlmalloc (the upload's size), and measured no slower on small
/// deliveries. Workers run one thread per isolate, as `TalckWasm` assumes.
#[global_allocator]
static ALLOCATOR: talc::TalckWasm = unsafe { talc::TalckWasm::new_global() };
