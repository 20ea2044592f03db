//! hookgate: verifies webhook deliveries at the edge (Standard Webhooks,
//! Quo's legacy webhooks, GitHub, Stripe, Slack, Shopify), stops replays,
//! and forwards clean events byte for byte to an origin.
//!
//! Everything but the `glue` module is pure and builds natively; the glue
//! adapts the runtime's objects (through small wasm-bindgen externs) to the
//! core's traits and is compiled only for wasm32.

pub mod admin;
pub mod alert;
pub mod body_fields;
pub mod config;
pub mod gate;
pub mod json;
pub mod keys;
pub mod log;
pub mod mac;
pub mod observe;
pub mod origin;
pub mod outcome;
pub mod pace;
pub mod pause;
pub mod ports;
pub mod query;
pub mod queue;
pub mod replay;
pub mod route;
pub mod routes;
pub mod schemes;
pub mod setting;

#[cfg(test)]
mod testing;

#[cfg(target_arch = "wasm32")]
mod glue;
