//! hookgate: verifies Standard Webhooks deliveries at the edge, stops replays,
//! and forwards clean events byte for byte to an origin.
//!
//! Everything but `worker_glue` is pure and builds natively; the glue adapts
//! `worker` types to the gate's traits and is compiled only for wasm32.

pub mod config;
pub mod gate;
pub mod mac;
pub mod origin;
pub mod outcome;
pub mod replay;
pub mod signature;

#[cfg(test)]
mod testing;

#[cfg(target_arch = "wasm32")]
mod durable_glue;
#[cfg(target_arch = "wasm32")]
mod worker_glue;
