//! What hookgate sends to the origin, and the trait that sends it.
//!
//! Building the request is pure and lives here; sending it (fetch, abort on
//! timeout, no redirects) is the Worker glue's job behind [`Origin`]. Only an
//! allowlist of headers is forwarded: `content-type` and the sender's own
//! headers that the route's scheme names. Whatever else a request carries
//! (cookies, authorization, `cf-*`, hop-by-hop headers) never reaches the
//! origin, so the gate cannot be used to smuggle credentials past it.

use crate::keys::Tag;
use crate::mac::{KeyUse, Mac};
use crate::ports::Clock;
use crate::route::Route;
use crate::schemes::{standard_webhooks, Scheme};
use std::borrow::Cow;

/// A header's name: one hookgate knows (`'static`), or one an `hmac` route's
/// settings name.
pub type HeaderName = Cow<'static, str>;

/// The request hookgate makes to the origin: always a POST to the route's
/// origin URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward<B> {
    pub url: String,
    pub headers: Vec<(HeaderName, String)>,
    pub body: B,
}

/// hookgate's own Standard Webhooks signature of a forward: the replay key
/// as `webhook-id`, stamped at the forward, and the tag under the route's
/// `origin_secret`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resigned {
    pub id: String,
    pub timestamp: i64,
    pub tag: Tag,
}

/// Why a forward got no usable answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginError {
    /// No answer within the route's origin timeout; the fetch was aborted.
    Timeout,
    /// The connection failed (refused, reset, DNS) before any answer.
    Unreachable,
}

/// Sends a forward and reports the origin's status. Implementations must not
/// follow redirects: a 3xx is an answer, and a failed one.
#[allow(async_fn_in_trait)] // Workers run on one thread; no Send bound is wanted.
pub trait Origin<B> {
    async fn send(&self, forward: Forward<B>, timeout_ms: u64) -> Result<u16, OriginError>;
}

/// Builds the forward for a verified delivery: the exact body, its
/// `content-type`, and `sender_headers` (the scheme's own headers as
/// received). With `resigned`, hookgate's Standard Webhooks headers are added
/// so every origin, whatever the sender, verifies one scheme with one
/// library and a key that never left the operator's hands; on a Standard
/// Webhooks route they replace the sender's (an origin verifying with its
/// own key must not find the sender's signature first), and on an `hmac`
/// route any sender header of the same name as one of them is dropped (a
/// route may describe a Standard Webhooks sender as `hmac`).
pub fn build_forward<B, N: Into<HeaderName>>(
    route: &Route,
    content_type: Option<String>,
    sender_headers: Vec<(N, String)>,
    body: B,
    resigned: Option<Resigned>,
) -> Forward<B> {
    let mut headers = Vec::with_capacity(sender_headers.len() + 4);
    if let Some(content_type) = content_type {
        headers.push((Cow::Borrowed("content-type"), content_type));
    }
    let replaced = resigned.is_some() && route.scheme == Scheme::StandardWebhooks;
    // Pushed one by one: no iterator adapter instances for these.
    if !replaced {
        for (name, value) in sender_headers {
            let name: HeaderName = name.into();
            if resigned.is_some() && standard_webhooks::RESIGNED.contains(&&*name) {
                continue;
            }
            headers.push((name, value));
        }
    }
    if let Some(resigned) = resigned {
        let ours = standard_webhooks::headers_for(&resigned.id, resigned.timestamp, &resigned.tag);
        for (name, value) in ours {
            headers.push((Cow::Borrowed(name), value));
        }
    }
    Forward {
        url: route.origin_url.clone(),
        headers,
        body,
    }
}

/// hookgate's own signature for the origin, stamped when the forward
/// leaves (not when the request arrived: a slow body would make it stale),
/// when the route has an `origin_secret`.
pub async fn resign<B, M: Mac<B>, C: Clock>(
    route: &Route,
    index: usize,
    mac: &M,
    clock: &C,
    key: &str,
    body: &B,
) -> Result<Option<Resigned>, ()> {
    if route.origin_key.is_none() {
        return Ok(None);
    }
    let timestamp = clock.now_ms().div_euclid(1000);
    let prefix = standard_webhooks::prefix(key, timestamp);
    match mac.tags(index, KeyUse::Origin, &prefix, body, b"").await {
        Ok(tags) => match tags.first() {
            Some(tag) => Ok(Some(Resigned {
                id: key.to_owned(),
                timestamp,
                tag: *tag,
            })),
            None => Err(()),
        },
        Err(_) => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::schemes::standard_webhooks::{parse_keys, prefix, verify};
    use crate::testing::{ORIGIN_KEY, VECTOR_KEY as KEY};

    fn route(origin_secret: Option<&str>) -> Route {
        Config::from_settings(|name| match name {
            "WEBHOOK_SECRET" => Some(KEY.to_owned()),
            "ORIGIN_URL" => Some("http://127.0.0.1:9/in".to_owned()),
            "ORIGIN_SECRET" => origin_secret.map(str::to_owned),
            _ => None,
        })
        .expect("test settings are valid")
        .routes
        .remove(0)
    }

    fn sender() -> Vec<(&'static str, String)> {
        vec![
            ("webhook-id", "msg_1".to_owned()),
            ("webhook-timestamp", "1700000000".to_owned()),
            ("webhook-signature", "v1,c2VuZGVy".to_owned()),
        ]
    }

    fn header<'a>(forward: &'a Forward<Vec<u8>>, name: &str) -> Option<&'a str> {
        forward
            .headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn passes_the_senders_headers_and_exact_bytes() {
        let body = vec![0xff, b'{', b'}'];
        let forward = build_forward(
            &route(None),
            Some("application/json".into()),
            sender(),
            body,
            None,
        );
        assert_eq!(forward.url, "http://127.0.0.1:9/in");
        assert_eq!(forward.body, vec![0xff, b'{', b'}']);
        assert_eq!(header(&forward, "webhook-timestamp"), Some("1700000000"));
        assert_eq!(header(&forward, "webhook-signature"), Some("v1,c2VuZGVy"));
        assert_eq!(header(&forward, "content-type"), Some("application/json"));
        assert_eq!(forward.headers.len(), 4);
    }

    #[test]
    fn resigns_with_the_origin_key_when_set() {
        let now = 1_700_000_100;
        let route = route(Some(ORIGIN_KEY));
        let body = vec![0xff, b'{', b'}'];
        let tag = route
            .origin_key
            .as_ref()
            .expect("set")
            .tag(&prefix("msg_1", now), &body);
        let resigned = Resigned {
            id: "msg_1".into(),
            timestamp: now,
            tag,
        };
        let forward = build_forward(&route, None, sender(), body, Some(resigned));
        assert_eq!(
            forward.headers.len(),
            3,
            "the sender's three replaced: {:?}",
            forward.headers
        );
        assert_eq!(header(&forward, "webhook-id"), Some("msg_1"));
        assert_eq!(header(&forward, "webhook-timestamp"), Some("1700000100"));
        let signature = header(&forward, "webhook-signature").expect("signed");
        let check = |keys: &str| {
            verify(
                &parse_keys(keys).expect("key"),
                "msg_1",
                "1700000100",
                signature,
                &forward.body,
                now,
                300,
            )
        };
        assert_eq!(check(ORIGIN_KEY), Ok(()));
        assert!(check(KEY).is_err());
    }

    #[test]
    fn other_schemes_keep_their_headers_beside_the_resignature() {
        let mut route = route(Some(ORIGIN_KEY));
        route.scheme = Scheme::Github;
        let github = vec![
            ("x-hub-signature-256", "sha256=ab".to_owned()),
            ("x-github-event", "push".to_owned()),
        ];
        let resigned = Resigned {
            id: "sig_1".into(),
            timestamp: 1,
            tag: [0; 32].into(),
        };
        let forward = build_forward(&route, None, github, b"{}".to_vec(), Some(resigned));
        let names: Vec<_> = forward.headers.iter().map(|(n, _)| n.as_ref()).collect();
        assert_eq!(
            names,
            [
                "x-hub-signature-256",
                "x-github-event",
                "webhook-id",
                "webhook-timestamp",
                "webhook-signature"
            ]
        );
    }

    #[test]
    fn no_content_type_is_invented() {
        let forward = build_forward(&route(None), None, sender(), Vec::new(), None);
        assert_eq!(header(&forward, "content-type"), None);
    }
}
