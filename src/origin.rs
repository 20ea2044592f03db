//! What hookgate sends to the origin, and the trait that sends it.
//!
//! Building the request is pure and lives here; sending it (fetch, abort on
//! timeout, no redirects) is the Worker glue's job behind [`Origin`]. Only an
//! allowlist of headers is forwarded: whatever else a request carries
//! (cookies, authorization, `cf-*`, hop-by-hop headers) never reaches the
//! origin, so the gate cannot be used to smuggle credentials past it.

use crate::config::Config;
use crate::signature::{format_v1, Tag};

/// A verified delivery, as read from the request. `B` is the body wherever
/// the glue keeps it; the Worker keeps large bodies out of wasm memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified<B> {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub content_type: Option<String>,
    pub body: B,
}

/// The request hookgate makes to the origin: always a POST to `ORIGIN_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward<B> {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: B,
}

/// Why a forward got no usable answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginError {
    /// No answer within `ORIGIN_TIMEOUT_MS`; the fetch was aborted.
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

/// Builds the forward for a verified delivery. `resigned` is hookgate's own
/// signature when `ORIGIN_SECRET` is set: its timestamp and the tag over the
/// same id and bytes, so the origin can verify with any Standard Webhooks
/// library and a key that never left the operator's hands.
pub fn build_forward<B>(
    config: &Config,
    delivery: Verified<B>,
    resigned: Option<(i64, Tag)>,
) -> Forward<B> {
    let (timestamp, signature) = match resigned {
        Some((timestamp, tag)) => (timestamp.to_string(), format_v1(&tag)),
        None => (delivery.timestamp, delivery.signature),
    };
    let mut headers = Vec::with_capacity(4);
    if let Some(content_type) = delivery.content_type {
        headers.push(("content-type", content_type));
    }
    headers.push(("webhook-id", delivery.id));
    headers.push(("webhook-timestamp", timestamp));
    headers.push(("webhook-signature", signature));
    Forward {
        url: config.origin_url.clone(),
        headers,
        body: delivery.body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::{verify, KeyRing};

    use crate::testing::ORIGIN_KEY;
    use crate::testing::VECTOR_KEY as KEY;

    fn config(origin_secret: Option<&str>) -> Config {
        Config::from_settings(|name| match name {
            "WEBHOOK_SECRET" => Some(KEY.to_owned()),
            "ORIGIN_URL" => Some("http://127.0.0.1:9/in".to_owned()),
            "ORIGIN_SECRET" => origin_secret.map(str::to_owned),
            _ => None,
        })
        .expect("test settings are valid")
    }

    fn delivery() -> Verified<Vec<u8>> {
        Verified {
            id: "msg_1".to_owned(),
            timestamp: "1700000000".to_owned(),
            signature: "v1,c2VuZGVy".to_owned(),
            content_type: Some("application/json".to_owned()),
            body: vec![0xff, b'{', b'}'],
        }
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
        let forward = build_forward(&config(None), delivery(), None);
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
        let config = config(Some(ORIGIN_KEY));
        let tag = config
            .origin_key
            .as_ref()
            .expect("set")
            .tag("msg_1", now, &delivery().body);
        let forward = build_forward(&config, delivery(), Some((now, tag)));
        assert_eq!(header(&forward, "webhook-id"), Some("msg_1"));
        assert_eq!(header(&forward, "webhook-timestamp"), Some("1700000100"));
        let signature = header(&forward, "webhook-signature").expect("signed");
        let origin_keys = KeyRing::parse(ORIGIN_KEY).expect("key");
        assert_eq!(
            verify(
                &origin_keys,
                "msg_1",
                "1700000100",
                signature,
                &forward.body,
                now,
                300
            ),
            Ok(())
        );
        let sender_keys = KeyRing::parse(KEY).expect("key");
        assert!(verify(
            &sender_keys,
            "msg_1",
            "1700000100",
            signature,
            &forward.body,
            now,
            300
        )
        .is_err());
    }

    #[test]
    fn no_content_type_is_invented() {
        let mut bare = delivery();
        bare.content_type = None;
        let forward = build_forward(&config(None), bare, None);
        assert_eq!(header(&forward, "content-type"), None);
    }
}
