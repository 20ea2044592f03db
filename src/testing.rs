//! Fakes and fixtures shared by the native unit tests.

use crate::origin::{Forward, Origin, OriginError};
use crate::ports::Clock;
use crate::ports::{DeliveryQueue, QueueError, Queued};
use crate::replay::kv::KvBackend;
use crate::replay::LocationCache;
use crate::replay::StoreError;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// The key of the published Standard Webhooks vector ("sign function works"
/// in the reference libraries), so fixtures can be checked against it.
pub const VECTOR_KEY: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A second sender key, as during a rotation.
pub const ROTATED_KEY: &str = "whsec_cm90YXRlZC1zZW5kZXIta2V5LWZvci10ZXN0cw==";

/// A key the gate re-signs forwards with in tests (ORIGIN_SECRET).
pub const ORIGIN_KEY: &str = "whsec_b3JpZ2luLWtleS1mb3ItdW5pdC10ZXN0cw==";

/// Runs a future whose fakes never wait. A pending poll means a test wired
/// something real in by mistake, so it fails loudly instead of spinning.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("a fake future was pending"),
    }
}

/// An in-memory location cache (Cache API) that can fail every call.
#[derive(Default)]
pub struct FakeCache {
    entries: RefCell<HashMap<String, (String, u64)>>,
    failing: bool,
    reads: std::cell::Cell<usize>,
    /// Every write, in order: `put KEY VALUE` or `delete KEY`.
    pub writes: RefCell<Vec<String>>,
}

impl FakeCache {
    /// How many reads reached the cache.
    pub fn reads(&self) -> usize {
        self.reads.get()
    }
    pub fn value_of(&self, key: &str) -> Option<String> {
        self.entries.borrow().get(key).map(|(v, _)| v.clone())
    }
    pub fn failing() -> Self {
        Self {
            failing: true,
            ..Self::default()
        }
    }
    pub fn ttl_of(&self, key: &str) -> Option<u64> {
        self.entries.borrow().get(key).map(|(_, ttl)| *ttl)
    }
}

impl LocationCache for &FakeCache {
    async fn get(&self, key: &str) -> Option<String> {
        self.reads.set(self.reads.get() + 1);
        if self.failing {
            return None;
        }
        self.entries.borrow().get(key).map(|(v, _)| v.clone())
    }
    fn put(&self, key: &str, value: &str, ttl_seconds: u64) {
        self.writes.borrow_mut().push(format!("put {key} {value}"));
        if !self.failing {
            self.entries
                .borrow_mut()
                .insert(key.to_owned(), (value.to_owned(), ttl_seconds));
        }
    }
    fn delete(&self, key: &str) {
        self.writes.borrow_mut().push(format!("delete {key}"));
        if !self.failing {
            self.entries.borrow_mut().remove(key);
        }
    }
}

/// An in-memory KV that can fail each kind of call and answer stale reads.
#[derive(Default)]
pub struct FakeKv {
    entries: RefCell<HashMap<String, (String, u64)>>,
    fail_gets: Cell<bool>,
    fail_puts: Cell<bool>,
    fail_deletes: Cell<bool>,
    stale_reads: Cell<bool>,
    rejected_value: RefCell<Option<String>>,
    pub calls: RefCell<Vec<String>>,
}

impl FakeKv {
    pub fn fail_gets(&self, on: bool) {
        self.fail_gets.set(on);
    }
    pub fn fail_puts(&self, on: bool) {
        self.fail_puts.set(on);
    }
    pub fn fail_deletes(&self, on: bool) {
        self.fail_deletes.set(on);
    }
    /// Reads miss every entry, as a KV location that has not seen a write yet.
    pub fn stale_reads(&self, on: bool) {
        self.stale_reads.set(on);
    }
    /// Writes of values starting with this fail; others succeed.
    pub fn reject_writes_of(&self, value: &str) {
        *self.rejected_value.borrow_mut() = Some(value.to_owned());
    }
    pub fn insert(&self, key: &str, value: &str) {
        self.entries
            .borrow_mut()
            .insert(key.to_owned(), (value.to_owned(), 0));
    }
    pub fn value_of(&self, key: &str) -> Option<String> {
        self.entries.borrow().get(key).map(|(v, _)| v.clone())
    }
    pub fn ttl_of(&self, key: &str) -> Option<u64> {
        self.entries.borrow().get(key).map(|(_, ttl)| *ttl)
    }
    pub fn len(&self) -> usize {
        self.entries.borrow().len()
    }
}

impl KvBackend for &FakeKv {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.calls.borrow_mut().push(format!("get {key}"));
        if self.fail_gets.get() {
            return Err(StoreError::Unavailable);
        }
        if self.stale_reads.get() {
            return Ok(None);
        }
        Ok(self.value_of(key))
    }
    async fn put(&self, key: &str, value: &str, ttl_seconds: u64) -> Result<(), StoreError> {
        self.calls.borrow_mut().push(format!("put {key} {value}"));
        if self.fail_puts.get()
            || self
                .rejected_value
                .borrow()
                .as_deref()
                .is_some_and(|v| value.starts_with(v))
        {
            return Err(StoreError::Unavailable);
        }
        self.entries
            .borrow_mut()
            .insert(key.to_owned(), (value.to_owned(), ttl_seconds));
        Ok(())
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.calls.borrow_mut().push(format!("delete {key}"));
        if self.fail_deletes.get() {
            return Err(StoreError::Unavailable);
        }
        self.entries.borrow_mut().remove(key);
        Ok(())
    }
}

/// An origin that records what it was sent and answers as told.
pub struct FakeOrigin {
    pub answer: Cell<Result<u16, OriginError>>,
    pub received: RefCell<Vec<Forward<Vec<u8>>>>,
}

impl FakeOrigin {
    pub fn answering(answer: Result<u16, OriginError>) -> Self {
        Self {
            answer: Cell::new(answer),
            received: RefCell::new(Vec::new()),
        }
    }
}

impl Origin<Vec<u8>> for &FakeOrigin {
    async fn send(&self, forward: Forward<Vec<u8>>, _timeout_ms: u64) -> Result<u16, OriginError> {
        self.received.borrow_mut().push(forward);
        self.answer.get()
    }
}

/// A clock the test moves; clones share the time, so a fake request can
/// advance it while its body "arrives".
#[derive(Clone, Default)]
pub struct FakeClock(Rc<Cell<i64>>);

impl FakeClock {
    pub fn at_seconds(seconds: i64) -> Self {
        Self(Rc::new(Cell::new(seconds * 1000)))
    }
    pub fn advance_ms(&self, ms: i64) {
        self.0.set(self.0.get() + ms);
    }
    pub fn set_ms(&self, ms: i64) {
        self.0.set(ms);
    }
}

impl Clock for FakeClock {
    fn now_ms(&self) -> i64 {
        self.0.get()
    }
}

/// A delivery queue that records what it is sent, or refuses it.
#[derive(Default)]
pub struct FakeQueue {
    pub refuse: Cell<bool>,
    pub sent: RefCell<Vec<Queued<Vec<u8>>>>,
}

impl DeliveryQueue<Vec<u8>> for &FakeQueue {
    async fn send(&self, message: &Queued<Vec<u8>>) -> Result<(), QueueError> {
        if self.refuse.get() {
            return Err(QueueError);
        }
        self.sent.borrow_mut().push(message.clone());
        Ok(())
    }
}
