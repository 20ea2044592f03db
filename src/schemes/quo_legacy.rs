//! Quo's legacy webhooks (`openphone-signature`), still used by most
//! existing Quo integrations.
//!
//! The header is `hmac;1;<timestamp>;<base64 signature>`, several entries
//! separated by commas; the timestamp is in **milliseconds**. Signed content
//! is `{timestamp}.{raw body}`, with the signing secret base64-decoded as
//! the key. No id is signed in a header: the replay key is the body's `id`
//! (the event, stable across retries), else the signature.

use super::signed::{parse_digits, present, HeaderFn, KeySource, Rejection, Signed, Stamp};
use crate::keys::{tag_from_base64, KeyError, SigningKey};

pub const HEADER: &str = "openphone-signature";

pub const FORWARDED: &[&str] = &[HEADER];

pub const KEY_SOURCE: KeySource<'static> = KeySource::BodyField("id");

pub const MISSING_HEADER: &str = "openphone-signature is required.";

/// One or more base64 keys separated by spaces (rotation). The secret Quo
/// shows is the base64 text; it is decoded, never used as text.
pub fn parse_keys(text: &str) -> Result<Vec<SigningKey>, KeyError> {
    SigningKey::list(text, SigningKey::base64)
}

/// The signed prefix: `{timestamp}.`
pub fn prefix(timestamp_ms: i64) -> Vec<u8> {
    format!("{timestamp_ms}.").into_bytes()
}

/// Reads the entries. The first `hmac;1` entry's timestamp is the
/// delivery's; entries stamped otherwise sign other content and are skipped,
/// as are other versions and malformed entries.
pub fn read(header: HeaderFn<'_>) -> Result<Signed, Rejection> {
    let value = present(header, HEADER).ok_or(Rejection::MissingHeader)?;
    let mut timestamp: Option<&str> = None;
    let mut candidates = Vec::new();
    for entry in value.split(',') {
        let mut parts = entry.trim().split(';');
        let (Some("hmac"), Some("1"), Some(ts), Some(signature), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            continue;
        };
        match timestamp {
            None => timestamp = Some(ts),
            Some(first) if first != ts => continue,
            Some(_) => {}
        }
        if let Some(tag) = tag_from_base64(signature) {
            candidates.push(tag.into());
        }
    }
    let timestamp = timestamp.ok_or(Rejection::BadSignature)?;
    let millis = parse_digits(timestamp)?;
    Ok(Signed {
        stamp: Some(Stamp::Millis(millis)),
        prefix: prefix(millis),
        suffix: Vec::new(),
        candidates,
        id: None,
    })
}

/// The header value for one message, as Quo writes it.
pub fn sign(key: &SigningKey, timestamp_ms: i64, body: &[u8]) -> String {
    let tag = key.tag(&prefix(timestamp_ms), body);
    format!("hmac;1;{timestamp_ms};{}", crate::keys::encode_base64(&tag))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::find_match;
    use crate::schemes::tests::headers;

    // tests/vectors/quo-legacy.json (computed from Quo's documented algorithm).
    const SECRET: &str = "R2ZLM2o0bFhBNVpyUnU2NG9mYXQ1MHNyR3pvSUhIVVg=";
    const TS: i64 = 1639710054089;
    const BODY: &[u8] =
        br#"{"id":"EVc67ec998b35c41d388af50799aeeba3e","object":"event","type":"message.received"}"#;
    const HEADER_VALUE: &str = "hmac;1;1639710054089;Kbi68VysNDq6oDH3xENTDkbe6R+pCRQQW23h+SJfD5g=";
    const UNDECODED: &str = "HygPXxL3ojyWT3fRMScG8Y2iCwBd3JBu4hPH5i8i/K4=";

    fn verifies(value: &str, secret: &str) -> Result<(), Rejection> {
        let signed = read(&headers(&[(HEADER, value)]))?;
        let keys = parse_keys(secret).expect("keys");
        let expected: Vec<_> = keys.iter().map(|k| k.tag(&signed.prefix, BODY)).collect();
        find_match(&signed.candidates, &expected)
            .map(drop)
            .ok_or(Rejection::BadSignature)
    }

    #[test]
    fn the_vector_verifies_with_the_decoded_key() {
        assert_eq!(verifies(HEADER_VALUE, SECRET), Ok(()));
        assert_eq!(
            sign(&parse_keys(SECRET).expect("key")[0], TS, BODY),
            HEADER_VALUE
        );
    }

    #[test]
    fn the_base64_text_used_as_the_key_is_refused() {
        let wrong = format!("hmac;1;{TS};{UNDECODED}");
        assert_eq!(verifies(&wrong, SECRET), Err(Rejection::BadSignature));
        // …and it is what a raw-text key would have produced.
        let raw = SigningKey::raw(SECRET).expect("raw");
        assert_eq!(sign(&raw, TS, BODY), wrong);
    }

    #[test]
    fn the_timestamp_is_milliseconds() {
        let signed = read(&headers(&[(HEADER, HEADER_VALUE)])).expect("reads");
        assert_eq!(signed.stamp, Some(Stamp::Millis(TS)));
        assert_eq!(signed.prefix, b"1639710054089.".to_vec());
        assert_eq!(signed.id, None);
    }

    #[test]
    fn several_entries_rotation_and_junk() {
        let other = "hmac;1;1639710054089;AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        assert_eq!(verifies(&format!("{other},{HEADER_VALUE}"), SECRET), Ok(()));
        assert_eq!(
            verifies(&format!("{HEADER_VALUE}, {other}"), SECRET),
            Ok(())
        );
        assert_eq!(
            verifies(&format!("hmac;2;1;x,{HEADER_VALUE}"), SECRET),
            Ok(())
        );
        // An entry stamped otherwise signs other content: skipped.
        let later = format!("hmac;1;1639710054090;{UNDECODED}");
        assert_eq!(
            verifies(&format!("{later},{HEADER_VALUE}"), SECRET),
            Err(Rejection::BadSignature)
        );
        let two_keys = format!("cm90YXRlZC1xdW8tbGVnYWN5LWtleQ== {SECRET}");
        assert_eq!(verifies(HEADER_VALUE, &two_keys), Ok(()));
    }

    #[test]
    fn malformed_headers() {
        assert_eq!(read(&headers(&[])), Err(Rejection::MissingHeader));
        assert_eq!(
            read(&headers(&[(HEADER, "")])),
            Err(Rejection::MissingHeader)
        );
        for junk in [
            "garbage",
            "hmac;1",
            "hmac;1;;",
            "hmac;2;1639710054089;abc",
            ";;;",
        ] {
            let result = read(&headers(&[(HEADER, junk)]));
            assert!(
                matches!(
                    result,
                    Err(Rejection::BadSignature | Rejection::BadTimestamp)
                ) || result.as_ref().is_ok_and(|s| s.candidates.is_empty()),
                "{junk:?}: {result:?}"
            );
        }
        assert_eq!(
            read(&headers(&[(HEADER, "hmac;1;soon;abc")])),
            Err(Rejection::BadTimestamp)
        );
        // Quo signs the header's own text: a zero put before the same
        // number would verify here and not at the origin.
        assert_eq!(
            read(&headers(&[(
                HEADER,
                &HEADER_VALUE.replace(";1639", ";01639")
            )])),
            Err(Rejection::BadTimestamp)
        );
        assert_eq!(
            read(&headers(&[(HEADER, "hmac;1;1639710054089;%%%")])).map(|s| s.candidates.len()),
            Ok(0)
        );
    }

    #[test]
    fn keys_are_base64_and_long_enough() {
        assert_eq!(parse_keys(""), Err(KeyError::Empty));
        assert_eq!(parse_keys("not base64!"), Err(KeyError::NotBase64));
        assert_eq!(parse_keys("dGVzdA=="), Err(KeyError::TooShort));
    }
}
