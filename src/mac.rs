//! Who computes the HMACs: a trait, so the Worker can hand large bodies to
//! the runtime's native WebCrypto while the pure core and its tests use the
//! `hmac`/`sha2` crates.
//!
//! Every scheme signs `prefix || body`; an implementation is free to hold
//! the body wherever it is cheapest (wasm memory, a JS buffer). Keys are
//! named by route and use, so the Worker can keep them imported into
//! WebCrypto once per isolate.

use crate::config::Config;
use crate::keys::{SigningKey, Tag};

/// The HMAC could not be computed. Only a platform HMAC (WebCrypto) can
/// fail; the software path never does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacError {
    /// The runtime's crypto rejected the key or the data.
    Unavailable,
}

/// Which of a route's keys to sign with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUse {
    /// The keys the sender signs with (several during a rotation).
    Sender,
    /// The route's `origin_secret`, for re-signing forwards.
    Origin,
}

/// Computes HMAC-SHA256 tags over a body of type `B`.
#[allow(async_fn_in_trait)] // Workers run on one thread; no Send bound is wanted.
pub trait Mac<B> {
    /// One tag per key of route `route`'s `use_` keys, in their order, over
    /// `prefix || body`.
    async fn tags(
        &self,
        route: usize,
        use_: KeyUse,
        prefix: &[u8],
        body: &B,
    ) -> Result<Vec<Tag>, MacError>;
}

/// The keys of one route and use; empty when the route has none.
pub fn keys_of(config: &Config, route: usize, use_: KeyUse) -> &[SigningKey] {
    let Some(route) = config.routes.get(route) else {
        return &[];
    };
    match use_ {
        KeyUse::Sender => &route.keys,
        KeyUse::Origin => route.origin_key.as_slice(),
    }
}

/// HMAC in Rust over bytes the program holds.
pub struct SoftwareMac<'a> {
    config: &'a Config,
}

impl<'a> SoftwareMac<'a> {
    pub fn new(config: &'a Config) -> Self {
        Self { config }
    }

    pub fn tags_of(&self, route: usize, use_: KeyUse, prefix: &[u8], body: &[u8]) -> Vec<Tag> {
        keys_of(self.config, route, use_)
            .iter()
            .map(|key| key.tag(prefix, body))
            .collect()
    }
}

impl<B: AsRef<[u8]>> Mac<B> for SoftwareMac<'_> {
    async fn tags(
        &self,
        route: usize,
        use_: KeyUse,
        prefix: &[u8],
        body: &B,
    ) -> Result<Vec<Tag>, MacError> {
        Ok(self.tags_of(route, use_, prefix, body.as_ref()))
    }
}
