//! Who computes the HMACs: a trait, so the Worker can hand large bodies to
//! the runtime's native WebCrypto while the pure core and its tests use the
//! `hmac`/`sha2` crates.
//!
//! Signed content is always `{id}.{timestamp}.{body}`; an implementation is
//! free to hold the body wherever it is cheapest (wasm memory, a JS buffer).

use crate::config::Config;
use crate::signature::{KeyRing, SigningKey, Tag};

/// The HMAC could not be computed. Only a platform HMAC (WebCrypto) can
/// fail; the software path never does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacError {
    /// The runtime's crypto rejected the key or the data.
    Unavailable,
}

/// Computes v1 tags over a body of type `B`.
#[allow(async_fn_in_trait)] // Workers run on one thread; no Send bound is wanted.
pub trait Mac<B> {
    /// One tag per `WEBHOOK_SECRET` key, in the keys' order.
    async fn sender_tags(&self, id: &str, timestamp: i64, body: &B) -> Result<Vec<Tag>, MacError>;
    /// The tag under `ORIGIN_SECRET`. Called only when that key is set.
    async fn origin_tag(&self, id: &str, timestamp: i64, body: &B) -> Result<Tag, MacError>;
}

/// HMAC in Rust over bytes the program holds.
pub struct SoftwareMac<'a> {
    keys: &'a KeyRing,
    origin_key: Option<&'a SigningKey>,
}

impl<'a> SoftwareMac<'a> {
    pub fn new(config: &'a Config) -> Self {
        Self {
            keys: &config.keys,
            origin_key: config.origin_key.as_ref(),
        }
    }

    pub fn sender_tags_of(&self, id: &str, timestamp: i64, body: &[u8]) -> Vec<Tag> {
        self.keys
            .keys()
            .iter()
            .map(|key| key.tag(id, timestamp, body))
            .collect()
    }

    pub fn origin_tag_of(&self, id: &str, timestamp: i64, body: &[u8]) -> Result<Tag, MacError> {
        self.origin_key
            .map(|key| key.tag(id, timestamp, body))
            .ok_or(MacError::Unavailable)
    }
}

impl<B: AsRef<[u8]>> Mac<B> for SoftwareMac<'_> {
    async fn sender_tags(&self, id: &str, timestamp: i64, body: &B) -> Result<Vec<Tag>, MacError> {
        Ok(self.sender_tags_of(id, timestamp, body.as_ref()))
    }

    async fn origin_tag(&self, id: &str, timestamp: i64, body: &B) -> Result<Tag, MacError> {
        self.origin_tag_of(id, timestamp, body.as_ref())
    }
}
