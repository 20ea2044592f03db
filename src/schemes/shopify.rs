//! Shopify: `x-shopify-hmac-sha256: <base64>`, HMAC-SHA256 of the raw body
//! with the app's secret as raw UTF-8 text.
//!
//! As with GitHub nothing but the body is signed (`X-Shopify-Webhook-Id` is
//! not), so the replay key is the signature together with the topic (one
//! order's `orders/create` and `orders/paid` can carry the same body), and a
//! captured delivery can be replayed once its key is forgotten, or under
//! another topic.

use super::signed::{present, HeaderFn, KeySource, Rejection, Signed};
use crate::keys::{encode_base64, tag_from_base64, SigningKey, Tag};

pub const HEADER: &str = "x-shopify-hmac-sha256";

/// The topic (`orders/create`, …), for the delivery log and the replay key.
pub const EVENT_HEADER: &str = "x-shopify-topic";

pub const FORWARDED: &[&str] = &[
    HEADER,
    EVENT_HEADER,
    "x-shopify-shop-domain",
    "x-shopify-api-version",
    "x-shopify-webhook-id",
    "x-shopify-event-id",
    "x-shopify-triggered-at",
];

pub const KEY_SOURCE: KeySource<'static> = KeySource::SignatureAndHeader(EVENT_HEADER);

pub const MISSING_HEADER: &str = "x-shopify-hmac-sha256 is required.";

/// Reads the signature: the padded base64 of one tag, exactly as Shopify
/// writes it. Shopify's libraries compare that text with the base64 they
/// compute, so an unpadded or otherwise re-spelled copy of the right tag
/// that passed here would fail at an origin that verifies again.
pub fn read(header: HeaderFn<'_>) -> Result<Signed, Rejection> {
    let value = present(header, HEADER).ok_or(Rejection::MissingHeader)?;
    let candidates = tag_from_base64(&value)
        .filter(|tag| encode_base64(tag) == value)
        .map(Tag::from)
        .into_iter()
        .collect();
    Ok(Signed {
        stamp: None,
        prefix: Vec::new(),
        suffix: Vec::new(),
        candidates,
        id: None,
    })
}

/// The header value for a body, as Shopify writes it.
pub fn sign(key: &SigningKey, body: &[u8]) -> String {
    encode_base64(&key.tag(b"", body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::find_match;
    use crate::schemes::tests::headers;

    // tests/vectors/shopify.json (shopify-api-php).
    const SECRET: &str = "steffi";
    const BODY: &[u8] = br#"{"foo":"bar"}"#;
    const SIGNATURE: &str = "/Redz4YXHLnSmmSN8grr5/Jl/Ua3d7yX3iWbjb8R8wo=";

    fn verifies(value: &str, secret: &str, body: &[u8]) -> Result<(), Rejection> {
        let signed = read(&headers(&[(HEADER, value)]))?;
        let key = SigningKey::raw(secret).expect("key");
        find_match(&signed.candidates, &[key.tag(&signed.prefix, body)])
            .map(drop)
            .ok_or(Rejection::BadSignature)
    }

    #[test]
    fn the_published_vector() {
        assert_eq!(verifies(SIGNATURE, SECRET, BODY), Ok(()));
        assert_eq!(
            sign(&SigningKey::raw(SECRET).expect("key"), BODY),
            SIGNATURE
        );
    }

    #[test]
    fn forgeries_fail() {
        assert_eq!(
            verifies(SIGNATURE, "steffi2", BODY),
            Err(Rejection::BadSignature)
        );
        assert_eq!(
            verifies(SIGNATURE, SECRET, br#"{"foo":"baz"}"#),
            Err(Rejection::BadSignature)
        );
        for bad in [
            "abc",
            "sha256=/Redz4YXHLnSmmSN8grr5/Jl/Ua3d7yX3iWbjb8R8wo=",
            "////",
        ] {
            assert_eq!(
                verifies(bad, SECRET, BODY),
                Err(Rejection::BadSignature),
                "{bad}"
            );
        }
        assert_eq!(read(&headers(&[])), Err(Rejection::MissingHeader));
    }

    /// The right tag spelled otherwise than Shopify spells it: unpadded,
    /// padded by a space.
    #[test]
    fn only_shopifys_own_spelling_of_the_tag_verifies() {
        for bad in [
            SIGNATURE.trim_end_matches('='),
            &format!("{SIGNATURE} "),
            &format!(" {SIGNATURE}"),
        ] {
            assert_eq!(
                verifies(bad, SECRET, BODY),
                Err(Rejection::BadSignature),
                "{bad:?}"
            );
        }
    }
}
