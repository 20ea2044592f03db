//! Who computes the HMACs: a trait, so the Worker can hand large bodies to
//! the runtime's native WebCrypto while the pure core and its tests use the
//! `hmac`/`sha1`/`sha2` crates.
//!
//! Every scheme signs `prefix || body || suffix` (the suffix is empty but on
//! `hmac` routes whose template signs something after the body); an
//! implementation is free to hold the body wherever it is cheapest (wasm
//! memory, a JS buffer). Keys are named by route and use, and so is the hash
//! ([`algorithm_of`]), so the Worker can keep them imported into WebCrypto
//! once per isolate, each with its hash.

use crate::config::Config;
use crate::keys::{Algorithm, SigningKey, Tag};

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

/// Computes HMAC tags over a body of type `B`.
#[allow(async_fn_in_trait)] // Workers run on one thread; no Send bound is wanted.
pub trait Mac<B> {
    /// One tag per key of route `route`'s `use_` keys, in their order, over
    /// `prefix || body || suffix`, with the hash [`algorithm_of`] names.
    async fn tags(
        &self,
        route: usize,
        use_: KeyUse,
        prefix: &[u8],
        body: &B,
        suffix: &[u8],
    ) -> Result<Vec<Tag>, MacError>;
}

/// The hash of one route's keys of one use: the sender's (SHA-256 but on an
/// `hmac` route that names another), and always SHA-256 for the origin's
/// key, which signs hookgate's own Standard Webhooks signature.
pub fn algorithm_of(config: &Config, route: usize, use_: KeyUse) -> Algorithm {
    match (use_, config.routes.get(route)) {
        (KeyUse::Sender, Some(route)) => route.sender().algorithm(),
        _ => Algorithm::Sha256,
    }
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

    pub fn tags_of(
        &self,
        route: usize,
        use_: KeyUse,
        prefix: &[u8],
        body: &[u8],
        suffix: &[u8],
    ) -> Vec<Tag> {
        let algorithm = algorithm_of(self.config, route, use_);
        let keys = keys_of(self.config, route, use_);
        let mut tags = Vec::with_capacity(keys.len());
        for key in keys {
            tags.push(key.mac(algorithm, prefix, body, suffix));
        }
        tags
    }

    /// [`Self::tags_of`] for a route and use whose hash is SHA-256, else
    /// `None`: for callers that leave the other hashes to someone else (the
    /// Worker, to WebCrypto), so they link only SHA-256.
    pub fn sha256_tags_of(
        &self,
        route: usize,
        use_: KeyUse,
        prefix: &[u8],
        body: &[u8],
        suffix: &[u8],
    ) -> Option<Vec<Tag>> {
        if algorithm_of(self.config, route, use_) != Algorithm::Sha256 {
            return None;
        }
        let keys = keys_of(self.config, route, use_);
        let mut tags = Vec::with_capacity(keys.len());
        for key in keys {
            tags.push(key.sha256(prefix, body, suffix));
        }
        Some(tags)
    }
}

impl<B: AsRef<[u8]>> Mac<B> for SoftwareMac<'_> {
    async fn tags(
        &self,
        route: usize,
        use_: KeyUse,
        prefix: &[u8],
        body: &B,
        suffix: &[u8],
    ) -> Result<Vec<Tag>, MacError> {
        Ok(self.tags_of(route, use_, prefix, body.as_ref(), suffix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// The Worker hashes small bodies in wasm only where the route's hash is
    /// SHA-256; the others are left to WebCrypto, and must never get a
    /// SHA-256 tag by mistake.
    #[test]
    fn only_sha256_routes_are_hashed_by_the_sha256_path() {
        let routes = r#"{
            "/a": {"scheme": "hmac", "secret": "S", "origin": "http://o/", "signature_header": "x-sig"},
            "/b": {"scheme": "hmac", "secret": "S", "origin": "http://o/", "signature_header": "x-sig", "algorithm": "sha1"},
            "/c": {"scheme": "github", "secret": "S", "origin": "http://o/", "origin_secret": "O"}
        }"#;
        let settings = HashMap::from([
            ("ROUTES", routes.to_owned()),
            ("S", "a secret".to_owned()),
            ("O", crate::testing::ORIGIN_KEY.to_owned()),
        ]);
        let config = Config::from_settings(|name| settings.get(name).cloned()).expect("valid");
        let software = SoftwareMac::new(&config);
        let all = |route, use_| software.tags_of(route, use_, b"p", b"body", b"s");
        let sha256 = |route, use_| software.sha256_tags_of(route, use_, b"p", b"body", b"s");
        assert_eq!(sha256(0, KeyUse::Sender), Some(all(0, KeyUse::Sender)));
        assert_eq!(sha256(1, KeyUse::Sender), None);
        assert_eq!(all(1, KeyUse::Sender)[0].len(), 20, "SHA-1");
        assert_eq!(sha256(2, KeyUse::Sender), Some(all(2, KeyUse::Sender)));
        assert_eq!(sha256(2, KeyUse::Origin), Some(all(2, KeyUse::Origin)));
        assert_eq!(algorithm_of(&config, 1, KeyUse::Origin), Algorithm::Sha256);
        assert_eq!(algorithm_of(&config, 9, KeyUse::Sender), Algorithm::Sha256);
    }
}
