//! HMAC-SHA256 keys and tags, shared by every sender scheme.
//!
//! Every scheme hookgate verifies signs `prefix || body` with HMAC-SHA256;
//! they differ only in the prefix, the header the tag travels in and how the
//! key is written down. So the key is plain bytes here, each scheme parses
//! its own key format into it (see `schemes/`), and one function computes
//! every tag.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Length of an HMAC-SHA256 tag.
pub const TAG_LEN: usize = 32;

/// A raw HMAC-SHA256 tag.
pub type Tag = [u8; TAG_LEN];

/// Standard base64 as the `base64` crate reads and writes it. Senders differ
/// on padding, so both forms are read; hookgate writes the padded form, as
/// the Standard Webhooks spec does. The module itself reads and writes with
/// [`decode_base64`] and [`encode_base64`] (base64ct, about 6 KB smaller in
/// wasm); this stays as their reference, which the property tests and the
/// fuzz targets hold them to.
pub const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a signing key from the settings was refused. The key's value is never
/// carried, so these can be logged safely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// No key at all: the secret is empty or only whitespace.
    Empty,
    /// A key that must be base64 is not.
    NotBase64,
    /// A key decodes to zero bytes.
    ZeroLength,
    /// A decoded key is shorter than [`MIN_DECODED_KEY_BYTES`]: too short to
    /// be a real signing secret (the Standard Webhooks spec asks for 24 to 64
    /// bytes), so most likely a truncated paste.
    TooShort,
    /// Several keys where the setting takes exactly one.
    SeveralKeys,
}

/// The shortest decoded key accepted for the schemes that carry keys in
/// base64 (Standard Webhooks, Quo's legacy webhooks).
pub const MIN_DECODED_KEY_BYTES: usize = 16;

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyError::Empty => "no key given",
            KeyError::NotBase64 => "a key is not base64 (expected whsec_ followed by base64)",
            KeyError::ZeroLength => "a key decodes to zero bytes",
            KeyError::TooShort => {
                "a key decodes to fewer than 16 bytes, too short to be a signing secret (the Standard Webhooks spec asks for 24 to 64)"
            }
            KeyError::SeveralKeys => "it holds several keys separated by spaces, but takes exactly one",
        })
    }
}

/// One HMAC key. Its bytes never leave this type except through
/// [`SigningKey::as_bytes`]; `Debug` is redacted so a key cannot reach a log
/// by accident.
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
    /// A key from its raw bytes. Callers have already refused empty keys.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self { bytes }
    }

    /// A secret used as raw UTF-8 text (GitHub, Stripe, Slack, Shopify): the
    /// whole text, spaces included, never decoded or split.
    pub fn raw(text: &str) -> Result<Self, KeyError> {
        if text.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(Self::from_bytes(text.as_bytes().to_vec()))
    }

    /// A key written in base64, checked for a useful length.
    pub fn base64(encoded: &str) -> Result<Self, KeyError> {
        let bytes = decode_base64(encoded).ok_or(KeyError::NotBase64)?;
        if bytes.is_empty() {
            return Err(KeyError::ZeroLength);
        }
        if bytes.len() < MIN_DECODED_KEY_BYTES {
            return Err(KeyError::TooShort);
        }
        Ok(Self::from_bytes(bytes))
    }

    /// Raw key bytes, for code that hands the key to another HMAC
    /// implementation (WebCrypto). Callers must not log them.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// HMAC-SHA256 over `prefix || body`.
    pub fn tag(&self, prefix: &[u8], body: &[u8]) -> Tag {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = match HmacSha256::new_from_slice(&self.bytes) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC-SHA256 takes keys of any length"),
        };
        mac.update(prefix);
        mac.update(body);
        mac.finalize().into_bytes().into()
    }
}

/// Which key matched which candidate, if any. Every candidate is compared
/// with every expected tag in constant time, so timing reveals neither how
/// much of a forged tag was right nor which entry of a header matched.
/// Returns the index of the first key (of `expected`) that some candidate
/// matched.
pub fn find_match(candidates: &[Tag], expected: &[Tag]) -> Option<usize> {
    let mut first = None;
    for (index, tag) in expected.iter().enumerate() {
        let mut matched = subtle::Choice::from(0);
        for candidate in candidates {
            matched |= candidate.ct_eq(tag);
        }
        if bool::from(matched) && first.is_none() {
            first = Some(index);
        }
    }
    first
}

/// A short, stable name for a signature, for schemes whose replay key is the
/// signature itself (no signed id): the first 16 bytes of SHA-256 over the
/// tag, in hex, after `sig_`. It identifies the signed content without
/// carrying the signature, so it can be stored and shown.
pub fn fingerprint(tag: &Tag) -> String {
    fingerprint_with(tag, b"")
}

/// [`fingerprint`] of a signature together with `context`: SHA-256 over
/// the tag, then `context`. A tag has a fixed length, so two contexts never
/// make the same input, and an empty context is the tag's own fingerprint
/// (keys made before a context was added stay what they were).
pub fn fingerprint_with(tag: &Tag, context: &[u8]) -> String {
    let digest = Sha256::new()
        .chain_update(tag)
        .chain_update(context)
        .finalize();
    let mut text = String::with_capacity(4 + 32);
    text.push_str("sig_");
    push_hex(&mut text, &digest[..16]);
    text
}

/// A short, stable name for an event id that cannot serve as a
/// `webhook-id` as it is (it holds a `.`, a byte outside printable ASCII or
/// a space at either end, or is too long): `id_` and the first 16 bytes of
/// SHA-256 over the id, in hex. The same id is always the same name, so a
/// sender's retries of the event still find its mark, and the name is a
/// valid `webhook-id` of fixed length for the re-signed forward, the log and
/// the store, whatever the id held.
pub fn id_fingerprint(id: &str) -> String {
    let digest = Sha256::digest(id.as_bytes());
    let mut text = String::with_capacity(3 + 32);
    text.push_str("id_");
    push_hex(&mut text, &digest[..16]);
    text
}

/// Lowercase hex of `bytes`, appended to `text`.
/// `prefix` followed by the hex SHA-256 of `text`: a fixed-length name for
/// a store or cache entry, whatever the replay key (a sender's choice) holds,
/// that can address no other entry.
pub fn hashed_name(prefix: &str, text: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(text.as_bytes());
    let mut name = String::with_capacity(prefix.len() + 64);
    name.push_str(prefix);
    push_hex(&mut name, &digest);
    name
}

pub fn push_hex(text: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
}

/// Decodes exactly 64 lower-case hex digits into a tag. Lower case only:
/// GitHub, Stripe and Slack write it so, and their own libraries compare the
/// hex text with what they compute (`@octokit/webhooks-methods`, `stripe`,
/// Slack's SDKs), so an upper-case signature that passed here would be
/// forwarded to an origin that refuses it.
pub fn tag_from_hex(text: &str) -> Option<Tag> {
    let bytes = text.as_bytes();
    if bytes.len() != TAG_LEN * 2 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut tag = [0u8; TAG_LEN];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        tag[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(tag)
}

/// Decodes standard base64, padded or not, with no more `=` than the
/// canonical padding (what [`BASE64`] accepts).
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64ct::Encoding;
    let body = text.trim_end_matches('=');
    let padding = text.len() - body.len();
    let canonical = match body.len() % 4 {
        0 => 0,
        2 => 2,
        3 => 1,
        _ => return None,
    };
    if padding > canonical {
        return None;
    }
    base64ct::Base64Unpadded::decode_vec(body).ok()
}

/// Standard base64, padded.
pub fn encode_base64(bytes: &[u8]) -> String {
    use base64ct::Encoding;
    base64ct::Base64::encode_string(bytes)
}

/// Decodes base64 that must hold exactly one tag.
pub fn tag_from_base64(text: &str) -> Option<Tag> {
    decode_base64(text)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_tags_round_trip_in_lower_case_only() {
        let tag: Tag = core::array::from_fn(|i| (i * 7) as u8);
        let mut lower = String::new();
        push_hex(&mut lower, &tag);
        assert_eq!(tag_from_hex(&lower), Some(tag));
        assert_eq!(tag_from_hex(&lower.to_ascii_uppercase()), None);
        assert_eq!(tag_from_hex(&lower.replacen('a', "A", 1)), None);
        for bad in [
            "",
            "00",
            &lower[1..],
            &format!("{lower}0"),
            &lower.replace('0', "g"),
        ] {
            assert_eq!(tag_from_hex(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn base64_tags_must_be_exactly_32_bytes() {
        use base64::Engine;
        let tag = [9u8; TAG_LEN];
        assert_eq!(tag_from_base64(&BASE64.encode(tag)), Some(tag));
        assert_eq!(tag_from_base64(&BASE64.encode([9u8; 31])), None);
        assert_eq!(tag_from_base64("not base64!"), None);
    }

    #[test]
    fn find_match_names_the_first_key_that_matched() {
        let (a, b, c) = ([1u8; 32], [2u8; 32], [3u8; 32]);
        assert_eq!(find_match(&[c, b], &[a, b]), Some(1));
        assert_eq!(find_match(&[a, b], &[b, a]), Some(0));
        assert_eq!(find_match(&[c], &[a, b]), None);
        assert_eq!(find_match(&[], &[a]), None);
    }

    #[test]
    fn base64_keys_must_be_long_enough() {
        assert_eq!(SigningKey::base64("dGVzdA=="), Err(KeyError::TooShort));
        assert_eq!(SigningKey::base64(""), Err(KeyError::ZeroLength));
        assert_eq!(SigningKey::base64("***"), Err(KeyError::NotBase64));
        assert!(SigningKey::base64("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
    }

    #[test]
    fn raw_keys_keep_their_spaces() {
        let key = SigningKey::raw(" It's a Secret ").expect("raw");
        assert_eq!(key.as_bytes(), b" It's a Secret ");
        assert_eq!(SigningKey::raw(""), Err(KeyError::Empty));
    }

    #[test]
    fn fingerprints_are_stable_and_carry_no_tag_bytes() {
        let tag = [0xabu8; 32];
        let print = fingerprint(&tag);
        assert_eq!(print.len(), 36);
        assert!(print.starts_with("sig_"));
        assert!(!print.contains("abab"));
        assert_eq!(print, fingerprint(&tag));
        assert_ne!(print, fingerprint(&[0xacu8; 32]));
    }

    #[test]
    fn id_fingerprints_are_stable_fixed_length_webhook_ids() {
        let print = id_fingerprint("evt_1.retry");
        assert_eq!(print.len(), 35);
        assert!(print.starts_with("id_"));
        assert!(print[3..].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(print, id_fingerprint("evt_1.retry"));
        assert_ne!(print, id_fingerprint("evt_1.retrz"));
    }

    #[test]
    fn a_context_makes_another_fingerprint_and_none_keeps_the_old_one() {
        let tag = [0xabu8; 32];
        // The fingerprint as it was computed before contexts: SHA-256 of the tag.
        let mut old = String::from("sig_");
        push_hex(&mut old, &Sha256::digest(tag)[..16]);
        assert_eq!(fingerprint_with(&tag, b""), old);
        assert_eq!(fingerprint(&tag), old);
        let create = fingerprint_with(&tag, b"orders/create");
        let paid = fingerprint_with(&tag, b"orders/paid");
        assert_ne!(create, paid);
        assert_ne!(create, old);
        assert_eq!(create.len(), 36);
        assert_eq!(create, fingerprint_with(&tag, b"orders/create"));
    }

    #[test]
    fn debug_output_never_shows_key_bytes() {
        let key = SigningKey::raw("hunter2-hunter2").expect("raw");
        assert_eq!(format!("{key:?}"), "SigningKey(<redacted>)");
    }
}
