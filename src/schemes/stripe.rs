//! Stripe: `stripe-signature: t=<seconds>,v1=<hex>[,v1=<hex>…]`, HMAC-SHA256
//! of `{t}.{raw body}`.
//!
//! The whole secret is the key, as raw UTF-8 text: Stripe's secrets start
//! with `whsec_` but, unlike Standard Webhooks keys, are never base64-decoded.
//! Only `v1` entries count (`v0` is Stripe's test-mode scheme), and several
//! may be present while a secret is rolled. The replay key is the body's
//! event `id`: a Stripe retry carries the same event with a new `t`.

use super::signed::{parse_digits, present, HeaderFn, KeySource, Rejection, Signed, Stamp};
use crate::keys::{push_hex, tag_from_hex, SigningKey, Tag};

pub const HEADER: &str = "stripe-signature";

pub const FORWARDED: &[&str] = &[HEADER];

pub const KEY_SOURCE: KeySource<'static> = KeySource::BodyField("id");

pub const MISSING_HEADER: &str = "stripe-signature is required.";

/// The signed prefix: `{t}.`
pub fn prefix(timestamp: i64) -> Vec<u8> {
    format!("{timestamp}.").into_bytes()
}

/// Reads `t` and the `v1` entries. A header without exactly one `t`, or
/// with a `t` that is not plain digits, is a bad timestamp; one without a
/// readable `v1` entry can never verify.
///
/// Entries are split on `,` and named exactly, spaces and all, as Stripe's
/// Node library reads them (`item.split('=')`, then `kv[0] === 'v1'`): an
/// entry ` v1=…` is no signature to it, so it is none here either, and a
/// `v1` is 64 lower-case hex digits, as Stripe writes and its libraries
/// compare. What passes here then passes an origin that verifies again.
pub fn read(header: HeaderFn<'_>) -> Result<Signed, Rejection> {
    let value = present(header, HEADER).ok_or(Rejection::MissingHeader)?;
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for item in value.split(',') {
        let Some((name, content)) = item.split_once('=') else {
            continue;
        };
        match name {
            "t" if timestamp.is_some() => return Err(Rejection::BadTimestamp),
            "t" => timestamp = Some(parse_digits(content)?),
            "v1" => candidates.extend(tag_from_hex(content).map(Tag::from)),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(Rejection::BadTimestamp)?;
    Ok(Signed {
        stamp: Some(Stamp::Seconds(timestamp)),
        prefix: prefix(timestamp),
        suffix: Vec::new(),
        candidates,
        id: None,
    })
}

/// The header value for a body, as Stripe writes it.
pub fn sign(key: &SigningKey, timestamp: i64, body: &[u8]) -> String {
    let mut value = format!("t={timestamp},v1=");
    push_hex(&mut value, &key.tag(&prefix(timestamp), body));
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::find_match;
    use crate::schemes::tests::headers;

    // tests/vectors/stripe.json (stripe-dotnet).
    const SECRET: &str = "webhook_secret";
    const TS: i64 = 1533204620;
    const BODY: &str = "{\n  \"id\": \"evt_123\",\n  \"object\": \"event\",\n  \"account\": \"acct_123\",\n  \"api_version\": \"2017-05-25\",\n  \"created\": 1533204620,\n  \"data\": {\n    \"object\": {\n      \"id\": \"cus_123\",\n      \"object\": \"customer\",\n      \"created\": 123456789,\n      \"email\": \"test@stripe.com\",\n      \"livemode\": false,\n      \"metadata\": {}\n    }\n  },\n  \"livemode\": false,\n  \"pending_webhooks\": 1,\n  \"request\": {\n    \"id\": \"req_123\",\n    \"idempotency_key\": \"idempotency-key-123\"\n  },\n  \"type\": \"customer.created\"\n}\n";
    const V1: &str = "2220f87ef101a04665f11cdf770523143f875572008577fa0f20882ddb9cc3c7";

    fn verifies(value: &str, key: &SigningKey, body: &[u8]) -> Result<(), Rejection> {
        let signed = read(&headers(&[(HEADER, value)]))?;
        find_match(&signed.candidates, &[key.tag(&signed.prefix, body)])
            .map(drop)
            .ok_or(Rejection::BadSignature)
    }

    fn key() -> SigningKey {
        SigningKey::raw(SECRET).expect("key")
    }

    #[test]
    fn the_published_vector() {
        assert_eq!(BODY.len(), 484);
        let value = format!("t={TS},v1={V1}");
        assert_eq!(verifies(&value, &key(), BODY.as_bytes()), Ok(()));
        assert_eq!(sign(&key(), TS, BODY.as_bytes()), value);
    }

    #[test]
    fn several_v1_entries_v0_ignored() {
        let junk = "v1=0000000000000000000000000000000000000000000000000000000000000000";
        for value in [
            format!("t={TS},{junk},v1={V1}"),
            format!("t={TS},v1={V1},{junk},v0=abc"),
            format!("v1={V1},t={TS}"),
        ] {
            assert_eq!(verifies(&value, &key(), BODY.as_bytes()), Ok(()), "{value}");
        }
        // The right tag under v0 is not a v1 signature.
        assert_eq!(
            verifies(&format!("t={TS},v0={V1}"), &key(), BODY.as_bytes()),
            Err(Rejection::BadSignature)
        );
        // An empty v1= is skipped, never a match.
        assert_eq!(
            verifies(&format!("t={TS},v1="), &key(), BODY.as_bytes()),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn a_whsec_secret_is_text_never_decoded() {
        // A Stripe secret looks like a Standard Webhooks key; decoding it
        // (as a Standard Webhooks verifier would) gives another key.
        let secret = "whsec_c3RyaXBlLXN0eWxlLXNpZ25pbmctc2VjcmV0";
        let text_key = SigningKey::raw(secret).expect("raw");
        let value = sign(&text_key, TS, BODY.as_bytes());
        assert_eq!(verifies(&value, &text_key, BODY.as_bytes()), Ok(()));
        let decoded = crate::schemes::standard_webhooks::parse_key(secret).expect("decodes");
        assert_eq!(
            verifies(&value, &decoded, BODY.as_bytes()),
            Err(Rejection::BadSignature)
        );
        assert_eq!(
            crate::schemes::Scheme::Stripe
                .parse_keys(secret)
                .expect("keys"),
            vec![text_key]
        );
    }

    #[test]
    fn timestamps_and_malformed_headers() {
        let value = format!("t={TS},v1={V1}");
        let signed = read(&headers(&[(HEADER, &value)])).expect("reads");
        assert_eq!(signed.stamp, Some(Stamp::Seconds(TS)));
        assert_eq!(read(&headers(&[])), Err(Rejection::MissingHeader));
        for (bad, why) in [
            (format!("v1={V1}"), Rejection::BadTimestamp),
            (format!("t=,v1={V1}"), Rejection::BadTimestamp),
            (format!("t=soon,v1={V1}"), Rejection::BadTimestamp),
            (format!("t={TS},t={TS},v1={V1}"), Rejection::BadTimestamp),
        ] {
            assert_eq!(read(&headers(&[(HEADER, &bad)])), Err(why), "{bad}");
        }
        assert_eq!(
            verifies(&format!("t={},v1={V1}", TS + 1), &key(), BODY.as_bytes()),
            Err(Rejection::BadSignature)
        );
        assert_eq!(
            verifies("garbage", &key(), BODY.as_bytes()),
            Err(Rejection::BadTimestamp)
        );
    }

    /// What Stripe's Node library refuses is refused here, so the gate never
    /// forwards a header an origin verifying again would reject: upper-case
    /// hex, an entry with a space before its name, a `t` with a leading zero
    /// (which Ruby's `Integer` reads as octal).
    #[test]
    fn parsed_as_strictly_as_stripes_own_library() {
        let body = BODY.as_bytes();
        for (value, why) in [
            (
                format!("t={TS},v1={}", V1.to_ascii_uppercase()),
                Rejection::BadSignature,
            ),
            (format!("t={TS}, v1={V1}"), Rejection::BadSignature),
            (format!("t=0{TS},v1={V1}"), Rejection::BadTimestamp),
            (format!("v1={V1}, t={TS}"), Rejection::BadTimestamp),
            (format!(" t={TS},v1={V1}"), Rejection::BadTimestamp),
        ] {
            assert_eq!(verifies(&value, &key(), body), Err(why), "{value}");
        }
        // A valid entry beside a padded one still verifies.
        assert_eq!(
            verifies(&format!("t={TS}, v1=ab,v1={V1}"), &key(), body),
            Ok(())
        );
    }
}
