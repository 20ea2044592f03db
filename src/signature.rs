//! Standard Webhooks v1 (HMAC-SHA256) signatures: keys, the `webhook-signature`
//! header, signing and verification.
//!
//! Pure: no clock, no I/O. The caller passes `now` because `SystemTime::now()`
//! panics on wasm32, and because tests need to pin time. The signed content is
//! `{webhook-id}.{webhook-timestamp}.{raw body bytes}`; the body is never
//! decoded, so non-UTF-8 bodies verify exactly like any other.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Senders differ on whether they pad base64, so both forms are accepted
/// when reading; `sign` always writes the padded form, as the spec does.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

const KEY_PREFIX: &str = "whsec_";
const SIGNATURE_LEN: usize = 32;

/// A raw v1 signature: the HMAC-SHA256 of the signed content.
pub type Tag = [u8; SIGNATURE_LEN];

/// Why a signing key from the settings was refused. The key's value is never
/// carried, so these can be logged safely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// No key at all: the setting is empty or only whitespace.
    Empty,
    /// A key is not `whsec_` followed by base64.
    NotBase64,
    /// A key decodes to zero bytes (`whsec_` alone).
    ZeroLength,
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyError::Empty => "no key given",
            KeyError::NotBase64 => "a key is not base64 (expected whsec_ followed by base64)",
            KeyError::ZeroLength => "a key decodes to zero bytes",
        })
    }
}

/// One HMAC signing key. Its bytes never leave this type: `Debug` is redacted
/// so a key cannot reach a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    bytes: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl SigningKey {
    /// Reads `whsec_<base64>`. The prefix is optional because some dashboards
    /// show the bare base64; padding is optional for the same reason.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(KeyError::Empty);
        }
        let encoded = text.strip_prefix(KEY_PREFIX).unwrap_or(text);
        let bytes = BASE64.decode(encoded).map_err(|_| KeyError::NotBase64)?;
        if bytes.is_empty() {
            return Err(KeyError::ZeroLength);
        }
        Ok(Self { bytes })
    }

    /// Raw key bytes, for code that hands the key to another HMAC
    /// implementation (WebCrypto). Callers must not log them.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        match HmacSha256::new_from_slice(&self.bytes) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC-SHA256 takes keys of any length"),
        }
    }

    /// The raw 32-byte v1 signature of one message.
    pub fn tag(&self, id: &str, timestamp: i64, body: &[u8]) -> Tag {
        let mut mac = self.mac();
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }

    /// The `webhook-signature` value (`v1,<base64>`) for one message.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format_v1(&self.tag(id, timestamp, body))
    }
}

/// The `webhook-signature` entry for a tag: `v1,<base64>`.
pub fn format_v1(tag: &Tag) -> String {
    format!("v1,{}", BASE64.encode(tag))
}

/// The keys a delivery may be signed with. Several keys let a sender rotate:
/// during the overlap, a signature by either key is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRing {
    keys: Vec<SigningKey>,
}

impl KeyRing {
    /// Reads whitespace-separated keys. Any bad key fails the whole ring: a
    /// typo in one rotation key must be found at once, not the day the other
    /// key is retired.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let keys = text
            .split_whitespace()
            .map(SigningKey::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(Self { keys })
    }

    pub fn keys(&self) -> &[SigningKey] {
        &self.keys
    }
}

/// Why a delivery's signature was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyError {
    /// `webhook-timestamp` is not a whole number of seconds.
    BadTimestamp,
    /// The timestamp is further in the past than the tolerance allows.
    StaleTimestamp,
    /// The timestamp is further in the future than the tolerance allows.
    FutureTimestamp,
    /// No `v1` entry of the header matches any key.
    BadSignature,
}

/// Parses `webhook-timestamp`: ASCII digits only, as senders write it. A sign,
/// spaces or a fraction are refused instead of guessed at.
pub fn parse_timestamp(text: &str) -> Result<i64, VerifyError> {
    if text.is_empty() || text.len() > 18 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::BadTimestamp);
    }
    text.parse::<i64>().map_err(|_| VerifyError::BadTimestamp)
}

/// Checks the timestamp window on both sides. Widening to i128 keeps the
/// arithmetic exact for any i64 inputs, so no clock or header can overflow it.
pub fn check_timestamp(timestamp: i64, now: i64, tolerance: u64) -> Result<(), VerifyError> {
    let skew = i128::from(now) - i128::from(timestamp);
    let tolerance = i128::from(tolerance);
    if skew > tolerance {
        Err(VerifyError::StaleTimestamp)
    } else if -skew > tolerance {
        Err(VerifyError::FutureTimestamp)
    } else {
        Ok(())
    }
}

/// The `v1` signatures of a `webhook-signature` header, decoded. Entries of
/// other versions (`v1a`, future ones) and malformed entries are skipped, so a
/// sender can add schemes without breaking receivers.
pub fn v1_signatures(header: &str) -> impl Iterator<Item = Tag> + '_ {
    header.split(' ').filter_map(|entry| {
        let (version, encoded) = entry.split_once(',')?;
        if version != "v1" {
            return None;
        }
        let bytes = BASE64.decode(encoded).ok()?;
        bytes.try_into().ok()
    })
}

/// True when any `v1` entry of `header` is the signature of `expected`.
/// Every comparison is constant-time and every entry is compared, so timing
/// reveals neither how much of a guess was right nor which entry matched.
pub fn header_matches(header: &str, expected: &[Tag]) -> bool {
    let mut matched = subtle::Choice::from(0);
    for candidate in v1_signatures(header) {
        for tag in expected {
            matched |= candidate.ct_eq(tag);
        }
    }
    matched.into()
}

/// Verifies one delivery: the timestamp window first (cheap), then the
/// signature.
pub fn verify(
    keys: &KeyRing,
    id: &str,
    timestamp: &str,
    signature_header: &str,
    body: &[u8],
    now: i64,
    tolerance: u64,
) -> Result<(), VerifyError> {
    let timestamp = parse_timestamp(timestamp)?;
    check_timestamp(timestamp, now, tolerance)?;
    verify_signature(keys, id, timestamp, signature_header, body)
}

/// The HMAC of each key over the signed content, compared to every `v1`
/// entry of the header. The window is the caller's to check first.
pub fn verify_signature(
    keys: &KeyRing,
    id: &str,
    timestamp: i64,
    signature_header: &str,
    body: &[u8],
) -> Result<(), VerifyError> {
    let expected: Vec<Tag> = keys
        .keys()
        .iter()
        .map(|key| key.tag(id, timestamp, body))
        .collect();
    if header_matches(signature_header, &expected) {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::VECTOR_KEY as KEY;
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn ring(text: &str) -> KeyRing {
        KeyRing::parse(text).expect("test key parses")
    }

    #[test]
    fn signs_the_published_vector() {
        assert_eq!(ring(KEY).keys()[0].sign(ID, TS, BODY), SIG);
    }

    #[test]
    fn verifies_inside_the_window_on_both_sides() {
        let keys = ring(KEY);
        for now in [TS - 300, TS, TS + 300] {
            assert_eq!(verify(&keys, ID, "1614265330", SIG, BODY, now, 300), Ok(()));
        }
        assert_eq!(
            verify(&keys, ID, "1614265330", SIG, BODY, TS + 301, 300),
            Err(VerifyError::StaleTimestamp)
        );
        assert_eq!(
            verify(&keys, ID, "1614265330", SIG, BODY, TS - 301, 300),
            Err(VerifyError::FutureTimestamp)
        );
    }

    #[test]
    fn window_arithmetic_cannot_overflow() {
        assert_eq!(check_timestamp(i64::MAX, i64::MIN, u64::MAX), Ok(()));
        assert_eq!(
            check_timestamp(i64::MAX, i64::MIN, 300),
            Err(VerifyError::FutureTimestamp)
        );
        assert_eq!(
            check_timestamp(i64::MIN, i64::MAX, 300),
            Err(VerifyError::StaleTimestamp)
        );
        assert_eq!(check_timestamp(0, 0, 0), Ok(()));
    }

    #[test]
    fn timestamps_must_be_plain_digits() {
        for bad in [
            "",
            " 1614265330",
            "1614265330 ",
            "+1614265330",
            "-1",
            "1.5",
            "0x10",
            "１２",
        ] {
            assert_eq!(
                parse_timestamp(bad),
                Err(VerifyError::BadTimestamp),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_timestamp("99999999999999999999"),
            Err(VerifyError::BadTimestamp)
        );
        assert_eq!(parse_timestamp("0001614265330"), Ok(TS));
    }

    #[test]
    fn keys_with_or_without_padding_or_prefix_are_the_same_key() {
        let padded = KEY;
        let unpadded_source = "whsec_dGVzdA"; // "test", padding removed
        assert_eq!(
            SigningKey::parse(padded),
            SigningKey::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        );
        assert_eq!(
            SigningKey::parse(unpadded_source),
            SigningKey::parse("whsec_dGVzdA==")
        );
        assert_eq!(
            SigningKey::parse("whsec_dGVzdA==").map(|k| k.bytes),
            Ok(b"test".to_vec())
        );
    }

    #[test]
    fn bad_keys_are_settings_errors() {
        assert_eq!(KeyRing::parse(""), Err(KeyError::Empty));
        assert_eq!(KeyRing::parse("   \n "), Err(KeyError::Empty));
        assert_eq!(KeyRing::parse("whsec_"), Err(KeyError::ZeroLength));
        assert_eq!(KeyRing::parse("whsec_!!!"), Err(KeyError::NotBase64));
        assert_eq!(
            KeyRing::parse(&format!("{KEY} whsec_%%")),
            Err(KeyError::NotBase64)
        );
    }

    #[test]
    fn any_key_of_the_ring_may_match() {
        let keys = ring(&format!("whsec_dGVzdA== {KEY}"));
        assert_eq!(keys.keys().len(), 2);
        assert_eq!(verify(&keys, ID, "1614265330", SIG, BODY, TS, 300), Ok(()));
    }

    #[test]
    fn debug_output_never_shows_key_bytes() {
        let text = format!("{:?}", ring(KEY));
        assert!(!text.contains("MfKQ"), "{text}");
        assert!(text.contains("redacted"));
    }

    #[test]
    fn malformed_entries_are_skipped_without_panicking() {
        let keys = ring(KEY);
        for header in [
            "",
            " ",
            ",",
            "v1",
            "v1,",
            ",,,,",
            "v1,,",
            "v1,====",
            "v1,\u{0}",
            "v1,ÿÿÿÿ",
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE",
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=AAAA",
        ] {
            let result = verify(&keys, ID, "1614265330", header, BODY, TS, 300);
            // The unpadded form of the right signature is the one header here that must pass.
            if header == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE" {
                assert_eq!(result, Ok(()));
            } else {
                assert_eq!(result, Err(VerifyError::BadSignature), "{header:?}");
            }
        }
    }

    #[test]
    fn a_signature_for_other_content_fails() {
        let keys = ring(KEY);
        let bad = |id: &str, ts: &str, body: &[u8]| verify(&keys, id, ts, SIG, body, TS, 300);
        assert_eq!(
            bad("msg_other", "1614265330", BODY),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(bad(ID, "1614265331", BODY), Err(VerifyError::BadSignature));
        assert_eq!(
            bad(ID, "1614265330", b"{\"test\": 2432232315}"),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn non_utf8_bodies_are_signed_as_bytes() {
        let body = [0xff, 0xfe, 0x00, 0x80, b'{'];
        let header = ring(KEY).keys()[0].sign(ID, TS, &body);
        assert_eq!(
            verify(&ring(KEY), ID, "1614265330", &header, &body, TS, 300),
            Ok(())
        );
        assert_eq!(
            verify(&ring(KEY), ID, "1614265330", &header, &body[..4], TS, 300),
            Err(VerifyError::BadSignature)
        );
    }
}
