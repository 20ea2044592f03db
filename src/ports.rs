//! The ports the gate and the queue consumer share: the clock, a body
//! wherever the runtime keeps it, and the delivery queue's producer side.
//!
//! A floor beneath both: [`crate::gate`] accepts events and sends them to the
//! queue, [`crate::queue`] forwards what the queue hands back, and each is
//! tested natively with fakes of these traits.

use std::borrow::Cow;

/// Unix time in milliseconds. A trait so tests can move time during a
/// body read; on wasm32 the std clock panics, so the Worker reads the
/// runtime's.
pub trait Clock {
    fn now_ms(&self) -> i64;
}

/// A body, wherever the implementation keeps it.
pub trait BodyBytes {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The bytes, copied out only when they do not already live here.
    fn bytes(&self) -> Cow<'_, [u8]>;
}

impl BodyBytes for Vec<u8> {
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn bytes(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self)
    }
}

/// The largest body that goes through the queue. A queue message holds at
/// most 128 KB, headers and metadata included; larger bodies on a queue
/// route are forwarded directly, as on a direct route.
pub const MAX_QUEUED_BODY_BYTES: usize = 96 * 1024;

/// Which routes are paused (see [`crate::pause`]), as the caller read them
/// before the request: asked only once a delivery verified. Not knowing is
/// `false`: a log that is down never stops deliveries.
#[allow(async_fn_in_trait)] // Workers run on one thread; no Send bound is wanted.
pub trait Pauses {
    async fn paused(&self, route: &str) -> bool;
}

/// A verified event, as it travels in the delivery queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued<B> {
    /// The route's path, looked up again when the event is forwarded.
    pub route: String,
    /// The replay key.
    pub key: String,
    pub content_type: Option<String>,
    /// The sender's headers to forward, as the gate read them; names not on
    /// the route scheme's list are dropped when forwarding.
    pub headers: Vec<(String, String)>,
    pub event_type: Option<String>,
    pub body: B,
}

/// The queue refused the message; the sender is asked to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueError;

/// The producer side of the delivery queue.
#[allow(async_fn_in_trait)] // Workers run on one thread; no Send bound is wanted.
pub trait DeliveryQueue<B> {
    /// Resolves once the queue has durably accepted the message.
    async fn send(&self, message: &Queued<B>) -> Result<(), QueueError>;
}
