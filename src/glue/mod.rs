//! The Worker shell, compiled only for wasm32: the runtime's objects to the
//! core's traits and back. Glue only: every decision is made in the pure
//! modules. The I/O itself happens in `src/js/edge.js`, one call from Rust
//! per step (the request's facts, its body, KV, the forward, the answer, the
//! log line), because each call across the JS/wasm boundary copies its
//! strings and was, per request, the larger part of a small delivery's CPU.
//!
//! - `entry`: the `fetch` and `scheduled` handlers;
//! - `settings`: settings and bindings, checked and kept per isolate;
//! - `edge`: the request, body, MAC, origin, KV, queue and answer;
//! - `observe`: the log line, metrics, counts and delivery records;
//! - `admin`: the admin API and the dashboard's files;
//! - `alerts`: sends the alerts `crate::alert` decides;
//! - `consumer`: the queue consumer;
//! - `pause`: the paused routes as an isolate knows them;
//! - `replay_shard`, `delivery_log`: the Durable Objects;
//! - `io`: the calls into `edge.js` the others share (answers, calls to
//!   objects, key import);
//! - `local`: the isolate's values between calls;
//! - `runtime`: the console, contexts, Durable Object storage and SQL, and
//!   the module's start.

mod admin;
mod alerts;
mod consumer;
pub(crate) mod delivery_log;
mod edge;
mod entry;
mod io;
mod local;
mod observe;
mod pause;
pub(crate) mod replay_shard;
mod runtime;
mod settings;
