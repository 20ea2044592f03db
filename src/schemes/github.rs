//! GitHub: `x-hub-signature-256: sha256=<hex>`, HMAC-SHA256 of the raw body
//! with the secret as raw UTF-8 text.
//!
//! Nothing but the body is signed: no timestamp, and the `X-GitHub-Delivery`
//! id is not signed, so whoever replays a captured delivery can change it.
//! The replay key is therefore the signature together with the event name
//! (`X-GitHub-Event`: two events may carry the same body), and a captured
//! delivery can be replayed once its key is forgotten (after
//! `dedupe_ttl_seconds`), or under another event name.

use super::signed::{present, HeaderFn, KeySource, Rejection, Signed};
use crate::keys::{push_hex, tag_from_hex, SigningKey, Tag};

pub const HEADER: &str = "x-hub-signature-256";

/// The event name, for the delivery log and the replay key.
pub const EVENT_HEADER: &str = "x-github-event";

pub const FORWARDED: &[&str] = &[
    HEADER,
    "x-hub-signature",
    EVENT_HEADER,
    "x-github-delivery",
    "x-github-hook-id",
    "x-github-hook-installation-target-id",
    "x-github-hook-installation-target-type",
];

pub const KEY_SOURCE: KeySource<'static> = KeySource::SignatureAndHeader(EVENT_HEADER);

pub const MISSING_HEADER: &str =
    "x-hub-signature-256 is required (the SHA-1 x-hub-signature alone is not accepted).";

pub fn read(header: HeaderFn<'_>) -> Result<Signed, Rejection> {
    let value = present(header, HEADER).ok_or(Rejection::MissingHeader)?;
    let candidates = value
        .strip_prefix("sha256=")
        .and_then(tag_from_hex)
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

/// The header value for a body, as GitHub writes it.
pub fn sign(key: &SigningKey, body: &[u8]) -> String {
    let mut value = String::from("sha256=");
    push_hex(&mut value, &key.tag(b"", body));
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::find_match;
    use crate::schemes::tests::headers;

    // tests/vectors/github.json (GitHub Docs).
    const SECRET: &str = "It's a Secret to Everybody";
    const BODY: &[u8] = b"Hello, World!";
    const SIGNATURE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

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

    /// `@octokit/webhooks-methods` compares the whole header text with the
    /// `sha256=<lower-case hex>` it computes, so nothing else passes here.
    #[test]
    fn parsed_as_strictly_as_octokits_verify() {
        for bad in [
            SIGNATURE.to_ascii_uppercase().replace("SHA256", "sha256"),
            SIGNATURE.replacen('e', "E", 1),
            SIGNATURE.to_ascii_uppercase(),
            format!("{SIGNATURE} "),
            format!(" {SIGNATURE}"),
        ] {
            assert_eq!(
                verifies(&bad, SECRET, BODY),
                Err(Rejection::BadSignature),
                "{bad}"
            );
        }
    }

    #[test]
    fn wrong_key_tampered_body_and_malformed_headers_fail() {
        assert_eq!(
            verifies(SIGNATURE, "It's a secret to everybody", BODY),
            Err(Rejection::BadSignature)
        );
        assert_eq!(
            verifies(SIGNATURE, SECRET, b"Hello, World?"),
            Err(Rejection::BadSignature)
        );
        for bad in [
            "sha1=757107ea",
            "sha256=",
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            "sha256=xyz",
        ] {
            assert_eq!(
                verifies(bad, SECRET, BODY),
                Err(Rejection::BadSignature),
                "{bad}"
            );
        }
        assert_eq!(
            read(&headers(&[("x-hub-signature", "sha1=abc")])),
            Err(Rejection::MissingHeader)
        );
    }

    #[test]
    fn no_timestamp_and_no_id() {
        let signed = read(&headers(&[
            (HEADER, SIGNATURE),
            ("x-github-delivery", "d-1"),
        ]))
        .expect("reads");
        assert_eq!((signed.stamp, signed.id), (None, None));
        assert!(signed.prefix.is_empty());
    }
}
