//! HMAC keys and tags, shared by every sender scheme.
//!
//! Every scheme hookgate verifies signs `prefix || body || suffix` with an
//! HMAC: the named schemes with SHA-256 and an empty suffix, an `hmac` route
//! with the hash its settings name ([`Algorithm`]). They differ only in what
//! surrounds the body, the header the tag travels in and how the key is
//! written down. So the key is plain bytes here, each scheme parses its own
//! key format into it (see `schemes/`), and one function computes every tag.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

/// Length of an HMAC-SHA256 tag, the named schemes' only kind.
pub const TAG_LEN: usize = 32;

/// The longest tag: HMAC-SHA512's.
pub const MAX_TAG_LEN: usize = 64;

/// The hash an HMAC is computed with. The named schemes all use SHA-256; an
/// `hmac` route names its sender's (`algorithm`), and SHA-1 is there only
/// because senders still sign with it (Intercom, Vercel, Trello): HMAC-SHA1
/// is not broken the way SHA-1's collision resistance is, since forging a
/// tag needs the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Sha256,
    Sha1,
    Sha512,
}

impl Algorithm {
    /// Every algorithm, in the order the docs list them.
    pub const ALL: [Algorithm; 3] = [Algorithm::Sha256, Algorithm::Sha1, Algorithm::Sha512];

    /// The name an `hmac` route gives in `algorithm`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha1 => "sha1",
            Algorithm::Sha512 => "sha512",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The length of its tags, in bytes.
    pub fn tag_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 32,
            Algorithm::Sha1 => 20,
            Algorithm::Sha512 => 64,
        }
    }

    /// Its name in WebCrypto's `HmacImportParams.hash`.
    pub fn webcrypto_name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha1 => "SHA-1",
            Algorithm::Sha512 => "SHA-512",
        }
    }
}

/// A raw HMAC tag of any [`Algorithm`], held inline (no allocation, `Copy`)
/// with its length: 32 bytes for SHA-256, 20 for SHA-1, 64 for SHA-512. Two
/// tags of different lengths are never equal, in [`find_match`] as here.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Tag {
    len: u8,
    bytes: [u8; MAX_TAG_LEN],
}

impl Tag {
    /// A tag of these bytes; `None` when they are longer than any tag.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let mut tag = Tag {
            len: u8::try_from(bytes.len()).ok()?,
            bytes: [0; MAX_TAG_LEN],
        };
        tag.bytes.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(tag)
    }
}

impl From<[u8; TAG_LEN]> for Tag {
    fn from(bytes: [u8; TAG_LEN]) -> Self {
        let mut tag = Tag {
            len: TAG_LEN as u8,
            bytes: [0; MAX_TAG_LEN],
        };
        tag.bytes[..TAG_LEN].copy_from_slice(&bytes);
        tag
    }
}

impl std::ops::Deref for Tag {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl AsRef<[u8]> for Tag {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl std::fmt::Debug for Tag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Tag").field(&&**self).finish()
    }
}

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
    /// A key that must be hex (an `hmac` route's `key_encoding = "hex"`) is
    /// not an even number of hex digits.
    NotHex,
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
            KeyError::NotHex => "a key is not hex (expected an even number of the digits 0-9 and a-f)",
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

    /// A key written in hex (either case), checked for a useful length as
    /// base64 keys are.
    pub fn hex(encoded: &str) -> Result<Self, KeyError> {
        let bytes = decode_hex(encoded, true).ok_or(KeyError::NotHex)?;
        if bytes.is_empty() {
            return Err(KeyError::ZeroLength);
        }
        if bytes.len() < MIN_DECODED_KEY_BYTES {
            return Err(KeyError::TooShort);
        }
        Ok(Self::from_bytes(bytes))
    }

    /// The keys of a secret that holds several separated by spaces, each
    /// read by `one`; any bad one fails the whole secret, and none is
    /// [`KeyError::Empty`]. One loop for every encoding that takes a list.
    pub fn list(
        text: &str,
        one: fn(&str) -> Result<SigningKey, KeyError>,
    ) -> Result<Vec<SigningKey>, KeyError> {
        let mut keys = Vec::new();
        for word in text.split_whitespace() {
            keys.push(one(word)?);
        }
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(keys)
    }

    /// HMAC-SHA256 over `prefix || body`, the named schemes' tag.
    pub fn tag(&self, prefix: &[u8], body: &[u8]) -> Tag {
        self.sha256(prefix, body, b"")
    }

    /// HMAC-SHA256 over `prefix || body || suffix`. Apart from [`Self::mac`]
    /// so that code which only ever needs SHA-256 (the Worker's software
    /// path, see `glue/edge.rs`) links neither SHA-1 nor SHA-512.
    pub fn sha256(&self, prefix: &[u8], body: &[u8], suffix: &[u8]) -> Tag {
        hmac_of::<Hmac<Sha256>>(&self.bytes, &[prefix, body, suffix])
    }

    /// The HMAC of `algorithm` over `prefix || body || suffix`.
    pub fn mac(&self, algorithm: Algorithm, prefix: &[u8], body: &[u8], suffix: &[u8]) -> Tag {
        let parts = [prefix, body, suffix];
        match algorithm {
            Algorithm::Sha256 => self.sha256(prefix, body, suffix),
            Algorithm::Sha1 => hmac_of::<Hmac<Sha1>>(&self.bytes, &parts),
            Algorithm::Sha512 => hmac_of::<Hmac<Sha512>>(&self.bytes, &parts),
        }
    }
}

/// One HMAC (`M`, an `Hmac<hash>`) over the parts, in order.
fn hmac_of<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Tag {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match <M as KeyInit>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    for part in parts {
        Mac::update(&mut mac, part);
    }
    match Tag::from_slice(&mac.finalize().into_bytes()) {
        Some(tag) => tag,
        None => unreachable!("no hash here is longer than MAX_TAG_LEN"),
    }
}

/// Which key matched which candidate, if any. Every candidate is compared
/// with every expected tag in constant time, so timing reveals neither how
/// much of a forged tag was right nor which entry of a header matched.
/// Returns the index of the first key (of `expected`) that some candidate
/// matched.
pub fn find_match<T: AsRef<[u8]>>(candidates: &[T], expected: &[T]) -> Option<usize> {
    let mut first = None;
    for (index, tag) in expected.iter().enumerate() {
        let mut matched = subtle::Choice::from(0);
        for candidate in candidates {
            // Slices of different lengths compare unequal at once: a tag's
            // length is the algorithm's, never a secret.
            matched |= candidate.as_ref().ct_eq(tag.as_ref());
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
pub fn fingerprint(tag: &[u8]) -> String {
    fingerprint_with(tag, b"")
}

/// [`fingerprint`] of a signature together with `context`: SHA-256 over
/// the tag, then `context`. A route's tags all have one length (its
/// algorithm's), and replay keys are kept per route, so two contexts never
/// make the same input; an empty context is the tag's own fingerprint
/// (keys made before a context was added stay what they were).
pub fn fingerprint_with(tag: &[u8], context: &[u8]) -> String {
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

/// Decodes exactly 64 lower-case hex digits into a SHA-256 tag. Lower case only:
/// GitHub, Stripe and Slack write it so, and their own libraries compare the
/// hex text with what they compute (`@octokit/webhooks-methods`, `stripe`,
/// Slack's SDKs), so an upper-case signature that passed here would be
/// forwarded to an origin that refuses it.
pub fn tag_from_hex(text: &str) -> Option<[u8; TAG_LEN]> {
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

/// Decodes hex: an even number of digits, lower case only unless
/// `any_case` (keys may be written either way; signatures are compared as
/// their senders write them, see [`tag_from_hex`]).
pub fn decode_hex(text: &str, any_case: bool) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' if any_case => Some(c - b'A' + 10),
        _ => None,
    };
    let mut decoded = Vec::with_capacity(bytes.len() / 2);
    for pair in bytes.chunks_exact(2) {
        decoded.push(nibble(pair[0])? << 4 | nibble(pair[1])?);
    }
    Some(decoded)
}

/// A tag of exactly `len` bytes in lower-case hex, as Node's
/// `digest('hex')` and the senders using it write one (GitHub, Linear,
/// Intercom, Vercel, Paystack).
pub fn tag_of_hex(text: &str, len: usize) -> Option<Tag> {
    if text.len() != len * 2 {
        return None;
    }
    Tag::from_slice(&decode_hex(text, false)?)
}

/// A tag of exactly `len` bytes in standard base64, padded, exactly as
/// Node's `digest('base64')` writes it (Shopify, Square, Typeform, Trello):
/// a re-spelling of the right tag (unpadded, other trailing bits) passes
/// nowhere that compares the text, so it passes nowhere here.
pub fn tag_of_base64(text: &str, len: usize) -> Option<Tag> {
    let bytes = decode_base64(text)?;
    (bytes.len() == len && encode_base64(&bytes) == text).then(|| Tag::from_slice(&bytes))?
}

/// A tag of exactly `len` bytes in URL-safe base64 without padding, exactly
/// as Node's `digest('base64url')` writes it.
/// The text is spelt again in the standard alphabet and read by the one
/// unpadded standard decoder the module has (a second alphabet's decoder
/// would link its own copy of base64ct's code); `+`, `/` and `=` are refused
/// first, so only the URL alphabet's spelling is taken, and base64ct's
/// decoder refuses other trailing bits itself.
pub fn tag_of_base64url(text: &str, len: usize) -> Option<Tag> {
    use base64ct::Encoding;
    // The longest tag's text: 64 bytes are 86 characters.
    let mut standard = [0u8; (MAX_TAG_LEN * 4).div_ceil(3)];
    let spelt = standard.get_mut(..text.len())?;
    for (to, &from) in spelt.iter_mut().zip(text.as_bytes()) {
        *to = match from {
            b'-' => b'+',
            b'_' => b'/',
            b'+' | b'/' | b'=' => return None,
            other => other,
        };
    }
    // As text, as `decode_base64` reads it: the same instance of the decoder.
    let spelt = std::str::from_utf8(spelt).ok()?;
    let mut bytes = [0u8; MAX_TAG_LEN];
    let bytes = base64ct::Base64Unpadded::decode(spelt, &mut bytes).ok()?;
    (bytes.len() == len).then(|| Tag::from_slice(bytes))?
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

/// Standard base64, padded. Written by the unpadded encoder, which the
/// decoder's canonical check already links, and padded here: the padded
/// encoder would be a second copy of base64ct's code.
pub fn encode_base64(bytes: &[u8]) -> String {
    use base64ct::Encoding;
    let mut text = base64ct::Base64Unpadded::encode_string(bytes);
    while text.len() % 4 != 0 {
        text.push('=');
    }
    text
}

/// Decodes base64 that must hold exactly one SHA-256 tag.
pub fn tag_from_base64(text: &str) -> Option<[u8; TAG_LEN]> {
    decode_base64(text)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_tags_round_trip_in_lower_case_only() {
        let tag: [u8; TAG_LEN] = core::array::from_fn(|i| (i * 7) as u8);
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

    /// RFC 4231 test case 2 (SHA-256, SHA-512) and RFC 2202 test case 2
    /// (SHA-1): the published HMAC vectors, whatever way the signed content
    /// is split into prefix, body and suffix.
    #[test]
    fn every_algorithm_matches_its_rfc_vector_in_any_split() {
        let key = SigningKey::raw("Jefe").expect("raw");
        let data: &[u8] = b"what do ya want for nothing?";
        for (algorithm, expected) in [
            (
                Algorithm::Sha256,
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (Algorithm::Sha1, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
            (
                Algorithm::Sha512,
                "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
                 9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
            ),
        ] {
            for (a, b) in [(0, 0), (4, 4), (4, 20), (0, 28), (28, 28)] {
                let tag = key.mac(algorithm, &data[..a], &data[a..b], &data[b..]);
                let mut hex = String::new();
                push_hex(&mut hex, &tag);
                assert_eq!(hex, expected, "{algorithm:?} split at {a}, {b}");
                assert_eq!(tag.len(), algorithm.tag_len());
                assert_eq!(tag_of_hex(&hex, algorithm.tag_len()), Some(tag));
            }
        }
        assert_eq!(key.tag(b"what do ya ", b"want for nothing?"), {
            key.mac(Algorithm::Sha256, b"", data, b"")
        });
    }

    #[test]
    fn algorithm_names_round_trip() {
        for algorithm in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(algorithm.name()), Some(algorithm));
        }
        for bad in ["SHA256", "sha-256", "md5", ""] {
            assert_eq!(Algorithm::from_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn tags_hold_up_to_64_bytes_and_differ_by_length() {
        assert!(Tag::from_slice(&[1; 64]).is_some());
        assert_eq!(Tag::from_slice(&[1; 65]), None);
        let short = Tag::from_slice(&[1; 20]).expect("20");
        let long = Tag::from_slice(&[1; 32]).expect("32");
        assert_ne!(short, long);
        assert_eq!(find_match(&[short], &[long]), None);
        assert_eq!(find_match(&[long], &[long]), Some(0));
        assert_eq!(&*Tag::from([7; 32]), &[7; 32][..]);
    }

    #[test]
    fn tag_encodings_are_read_only_as_node_writes_them() {
        use base64::Engine;
        let bytes = [0xfbu8; 20];
        let tag = Tag::from_slice(&bytes).expect("tag");
        let padded = BASE64.encode(bytes);
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        assert_eq!(tag_of_base64(&padded, 20), Some(tag));
        assert_eq!(tag_of_base64url(&url, 20), Some(tag));
        assert!(padded.contains('+') || padded.contains('/'), "{padded}");
        assert!(url.contains('-') || url.contains('_'), "{url}");
        for (bad, why) in [
            (padded.trim_end_matches('=').to_owned(), "unpadded"),
            (format!("{padded} "), "a space after"),
            (url.clone(), "the URL alphabet"),
        ] {
            assert_eq!(tag_of_base64(&bad, 20), None, "{why}");
        }
        // The last of 27 characters carries 2 bits past the tag's 160:
        // another value of them spells the same 20 bytes otherwise.
        const URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut other_bits = url.clone().into_bytes();
        let last = other_bits.len() - 1;
        let value = URL
            .iter()
            .position(|&c| c == other_bits[last])
            .expect("URL-safe");
        other_bits[last] = URL[value ^ 1];
        let other_bits = String::from_utf8(other_bits).expect("ASCII");
        let lenient = base64::engine::GeneralPurpose::new(
            &base64::alphabet::URL_SAFE,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_allow_trailing_bits(true)
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone),
        );
        assert_eq!(
            lenient.decode(&other_bits).ok().as_deref(),
            Some(&bytes[..]),
            "a lenient reader takes it for the same tag"
        );
        for (bad, why) in [
            (format!("{url}="), "padded"),
            (padded.clone(), "the standard alphabet"),
            (other_bits, "other trailing bits"),
        ] {
            assert_eq!(tag_of_base64url(&bad, 20), None, "{why}");
        }
        assert_eq!(tag_of_base64(&padded, 32), None, "the wrong length");
        assert_eq!(tag_of_base64url(&url, 64), None, "the wrong length");
        let mut hex = String::new();
        push_hex(&mut hex, &bytes);
        assert_eq!(tag_of_hex(&hex, 20), Some(tag));
        assert_eq!(tag_of_hex(&hex.to_ascii_uppercase(), 20), None);
        assert_eq!(tag_of_hex(&hex, 32), None);
        assert_eq!(tag_of_hex(&hex[1..], 20), None);
    }

    #[test]
    fn hex_keys_take_either_case_and_a_useful_length() {
        let key = SigningKey::hex("00FFab00ffAB00ff00ffab00ffab00ff").expect("hex");
        assert_eq!(key.as_bytes()[..3], [0x00, 0xff, 0xab]);
        assert_eq!(key.as_bytes().len(), 16);
        assert_eq!(SigningKey::hex("00ff"), Err(KeyError::TooShort));
        assert_eq!(SigningKey::hex(""), Err(KeyError::ZeroLength));
        assert_eq!(SigningKey::hex("0g"), Err(KeyError::NotHex));
        assert_eq!(SigningKey::hex("abc"), Err(KeyError::NotHex));
        assert_eq!(decode_hex("ABcd", false), None);
        assert_eq!(decode_hex("abcd", false), Some(vec![0xab, 0xcd]));
    }

    #[test]
    fn debug_output_never_shows_key_bytes() {
        let key = SigningKey::raw("hunter2-hunter2").expect("raw");
        assert_eq!(format!("{key:?}"), "SigningKey(<redacted>)");
    }
}
