//! Standard Webhooks v1 (Quo's webhooks, Svix, Clerk, Resend, …).
//!
//! Signed content is `{webhook-id}.{webhook-timestamp}.{raw body bytes}`;
//! the key is `whsec_` followed by base64, decoded. `svix-id`,
//! `svix-timestamp` and `svix-signature` are aliases: as in Svix's own
//! libraries, each `svix-*` header, when present, is used instead of its
//! `webhook-*` twin, header by header.

use super::signed::{parse_digits, HeaderFn, Rejection, Signed, Stamp};
use crate::keys::{find_match, tag_from_base64, KeyError, SigningKey, Tag};

const KEY_PREFIX: &str = "whsec_";

/// The longest webhook-id accepted; it also bounds what the store hashes.
pub const MAX_ID_BYTES: usize = 256;

/// Headers the origin needs, forwarded as received when present.
pub const FORWARDED: &[&str] = &[
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "svix-id",
    "svix-timestamp",
    "svix-signature",
];

pub const MISSING_HEADER: &str =
    "webhook-id, webhook-timestamp and webhook-signature (or their svix-* aliases) are all required.";

/// The problem detail of a `bad-id` answer.
pub const BAD_ID: &str =
    "webhook-id must be 1 to 256 printable ASCII characters, without '.' or spaces at either end.";

/// Reads one `whsec_<base64>` key. The prefix is optional because some
/// dashboards show the bare base64; padding is optional for the same reason.
pub fn parse_key(text: &str) -> Result<SigningKey, KeyError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(KeyError::Empty);
    }
    if text.split_whitespace().nth(1).is_some() {
        return Err(KeyError::SeveralKeys);
    }
    SigningKey::base64(text.strip_prefix(KEY_PREFIX).unwrap_or(text))
}

/// Reads whitespace-separated keys (rotation). Any bad key fails the whole
/// secret: a typo in one rotation key must be found at once, not the day the
/// other key is retired.
pub fn parse_keys(text: &str) -> Result<Vec<SigningKey>, KeyError> {
    SigningKey::list(text, parse_key)
}

/// Ids are visible ASCII without `.`, and without spaces at either end: the
/// signed content joins id, timestamp and body with dots; the runtime trims
/// a header's outer spaces when it forwards it, so an id with them would
/// reach the origin as another string than the one verified and deduped;
/// and a bounded, printable id is safe to log.
pub fn id_is_valid(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_BYTES
        && id.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'.')
        && !id.starts_with(' ')
        && !id.ends_with(' ')
}

/// The signed prefix: `{id}.{timestamp}.`
pub fn prefix(id: &str, timestamp: i64) -> Vec<u8> {
    format!("{id}.{timestamp}.").into_bytes()
}

/// The `v1` tags of a `webhook-signature` header, decoded. Entries of other
/// versions (`v1a`, future ones) and malformed entries are skipped, so a
/// sender can add schemes without breaking receivers. The runtime joins
/// repeated header lines with `", "`, so an entry's trailing comma is the
/// seam between two lines, not part of its base64.
pub fn v1_signatures(header: &str) -> impl Iterator<Item = Tag> + '_ {
    header.split(' ').filter_map(|entry| {
        let entry = entry.strip_suffix(',').unwrap_or(entry);
        let (version, encoded) = entry.split_once(',')?;
        if version != "v1" {
            return None;
        }
        tag_from_base64(encoded).map(Tag::from)
    })
}

/// [`v1_signatures`] in a list, pushed in one loop.
fn v1_tags(header: &str) -> Vec<Tag> {
    let mut tags = Vec::new();
    for tag in v1_signatures(header) {
        tags.push(tag);
    }
    tags
}

/// The alias rule of Svix's libraries: `svix-*` when present, else `webhook-*`.
fn either(header: HeaderFn<'_>, svix: &str, standard: &str) -> Option<String> {
    header(svix).or_else(|| header(standard))
}

/// Each `svix-*` alias and its `webhook-*` twin.
const TWINS: [(&str, &str); 3] = [
    ("svix-id", "webhook-id"),
    ("svix-timestamp", "webhook-timestamp"),
    ("svix-signature", "webhook-signature"),
];

/// Whether `name` is a header [`read`] passed over: a `webhook-*` header
/// whose `svix-*` twin is present, and so was read (and verified) instead.
/// Such a header was never checked, so it must not reach the origin: beside
/// the verified `svix-id` it would show whatever id its sender chose.
pub fn passed_over(name: &str, header: HeaderFn<'_>) -> bool {
    TWINS
        .iter()
        .any(|(svix, standard)| *standard == name && header(svix).is_some())
}

pub fn read(header: HeaderFn<'_>) -> Result<Signed, Rejection> {
    // An empty webhook-id is a malformed id (400), as the contract says; an
    // empty timestamp or signature is as good as none (401).
    let id = either(header, "svix-id", "webhook-id");
    let timestamp = either(header, "svix-timestamp", "webhook-timestamp").filter(|v| !v.is_empty());
    let signature = either(header, "svix-signature", "webhook-signature").filter(|v| !v.is_empty());
    let (Some(id), Some(timestamp), Some(signature)) = (id, timestamp, signature) else {
        return Err(Rejection::MissingHeader);
    };
    if !id_is_valid(&id) {
        return Err(Rejection::BadId);
    }
    let seconds = parse_digits(&timestamp)?;
    Ok(Signed {
        stamp: Some(Stamp::Seconds(seconds)),
        prefix: prefix(&id, seconds),
        suffix: Vec::new(),
        candidates: v1_tags(&signature),
        id: Some(id),
    })
}

/// The `webhook-signature` entry for a tag: `v1,<base64>`.
pub fn format_v1(tag: &Tag) -> String {
    format!("v1,{}", crate::keys::encode_base64(tag))
}

/// The names of the headers [`headers_for`] writes.
pub const RESIGNED: [&str; 3] = ["webhook-id", "webhook-timestamp", "webhook-signature"];

/// The three headers of a message signed with `tag`, for forwards hookgate
/// re-signs.
pub fn headers_for(id: &str, timestamp: i64, tag: &Tag) -> [(&'static str, String); 3] {
    let [id_name, timestamp_name, signature_name] = RESIGNED;
    [
        (id_name, id.to_owned()),
        (timestamp_name, timestamp.to_string()),
        (signature_name, format_v1(tag)),
    ]
}

/// The `webhook-signature` value (`v1,<base64>`) of one message.
pub fn sign(key: &SigningKey, id: &str, timestamp: i64, body: &[u8]) -> String {
    format_v1(&key.tag(&prefix(id, timestamp), body))
}

/// Verifies one message with explicit inputs, as the reference libraries'
/// `verify` does: the window first (cheap), then every `v1` entry against
/// every key. `now` is Unix seconds.
pub fn verify(
    keys: &[SigningKey],
    id: &str,
    timestamp: &str,
    signature_header: &str,
    body: &[u8],
    now: i64,
    tolerance: u64,
) -> Result<(), Rejection> {
    let seconds = parse_digits(timestamp)?;
    Stamp::Seconds(seconds).check(now.saturating_mul(1000), tolerance)?;
    let prefix = prefix(id, seconds);
    let mut expected = Vec::with_capacity(keys.len());
    for key in keys {
        expected.push(key.tag(&prefix, body));
    }
    let candidates = v1_tags(signature_header);
    find_match(&candidates, &expected)
        .map(drop)
        .ok_or(Rejection::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schemes::tests::headers;
    use crate::testing::VECTOR_KEY as KEY;

    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn keys(text: &str) -> Vec<SigningKey> {
        parse_keys(text).expect("test key parses")
    }

    fn check(header: &str) -> Result<(), Rejection> {
        verify(&keys(KEY), ID, "1614265330", header, BODY, TS, 300)
    }

    #[test]
    fn signs_the_published_vector() {
        assert_eq!(sign(&keys(KEY)[0], ID, TS, BODY), SIG);
    }

    #[test]
    fn verifies_inside_the_window_on_both_sides() {
        let keys = keys(KEY);
        for now in [TS - 300, TS, TS + 300] {
            assert_eq!(verify(&keys, ID, "1614265330", SIG, BODY, now, 300), Ok(()));
        }
        assert_eq!(
            verify(&keys, ID, "1614265330", SIG, BODY, TS + 301, 300),
            Err(Rejection::StaleTimestamp)
        );
        assert_eq!(
            verify(&keys, ID, "1614265330", SIG, BODY, TS - 301, 300),
            Err(Rejection::FutureTimestamp)
        );
    }

    #[test]
    fn keys_with_or_without_padding_or_prefix_are_the_same_key() {
        assert_eq!(
            parse_key(KEY),
            parse_key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        );
        let padded = "whsec_aG9va2dhdGUtdGVzdC1rZXktMTY=";
        assert_eq!(parse_key(padded), parse_key(padded.trim_end_matches('=')));
    }

    #[test]
    fn bad_keys_are_settings_errors() {
        assert_eq!(parse_keys(""), Err(KeyError::Empty));
        assert_eq!(parse_keys("   \n "), Err(KeyError::Empty));
        assert_eq!(parse_keys("whsec_"), Err(KeyError::ZeroLength));
        assert_eq!(parse_keys("whsec_!!!"), Err(KeyError::NotBase64));
        assert_eq!(
            parse_keys(&format!("{KEY} whsec_%%")),
            Err(KeyError::NotBase64)
        );
        // One byte, and fifteen: too short to be anyone's signing secret.
        assert_eq!(parse_keys("whsec_QQ=="), Err(KeyError::TooShort));
        assert_eq!(
            parse_keys("whsec_MDEyMzQ1Njc4OWFiY2Rl"),
            Err(KeyError::TooShort)
        );
        assert!(parse_keys("whsec_MDEyMzQ1Njc4OWFiY2RlZg==").is_ok());
    }

    #[test]
    fn one_key_means_one() {
        assert_eq!(
            parse_key(&format!("{KEY} {KEY}")),
            Err(KeyError::SeveralKeys)
        );
        assert!(parse_key(&format!("  {KEY}\n")).is_ok());
    }

    #[test]
    fn any_key_may_match() {
        let ring = keys(&format!("whsec_c2Vjb25kLWtleS1mb3Itcm90YXRpb24= {KEY}"));
        assert_eq!(ring.len(), 2);
        assert_eq!(verify(&ring, ID, "1614265330", SIG, BODY, TS, 300), Ok(()));
    }

    #[test]
    fn malformed_entries_are_skipped_without_panicking() {
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
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=AAAA",
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=,,",
        ] {
            assert_eq!(check(header), Err(Rejection::BadSignature), "{header:?}");
        }
        // The unpadded form of the right signature passes.
        assert_eq!(
            check("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE"),
            Ok(())
        );
    }

    #[test]
    fn a_signature_on_any_of_several_header_lines_verifies() {
        // Two `webhook-signature` lines reach the Worker joined by ", ".
        let decoy = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
        assert_eq!(check(&format!("{SIG}, {decoy}")), Ok(()));
        assert_eq!(check(&format!("{decoy}, {SIG}")), Ok(()));
        assert_eq!(check(&format!("{decoy} v1a,xyz, {SIG}")), Ok(()));
        assert_eq!(
            check(&format!("{decoy}, {decoy}")),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn a_signature_for_other_content_fails() {
        let keys = keys(KEY);
        let bad = |id: &str, ts: &str, body: &[u8]| verify(&keys, id, ts, SIG, body, TS, 300);
        assert_eq!(
            bad("msg_other", "1614265330", BODY),
            Err(Rejection::BadSignature)
        );
        assert_eq!(bad(ID, "1614265331", BODY), Err(Rejection::BadSignature));
        assert_eq!(
            bad(ID, "1614265330", b"{\"test\": 2432232315}"),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn non_utf8_bodies_are_signed_as_bytes() {
        let keys = keys(KEY);
        let body = [0xff, 0xfe, 0x00, 0x80, b'{'];
        let header = sign(&keys[0], ID, TS, &body);
        assert_eq!(
            verify(&keys, ID, "1614265330", &header, &body, TS, 300),
            Ok(())
        );
        assert_eq!(
            verify(&keys, ID, "1614265330", &header, &body[..4], TS, 300),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn ids_are_printable_without_dots_or_outer_spaces() {
        let long = "x".repeat(MAX_ID_BYTES + 1);
        for id in [
            "",
            "a.b",
            "tab\there",
            "nul\0",
            "é",
            &long,
            "msg_x ",
            " msg_x",
            " ",
        ] {
            assert!(!id_is_valid(id), "{id:?}");
        }
        assert!(id_is_valid(&"x".repeat(MAX_ID_BYTES)));
        assert!(id_is_valid("msg_2fDk Zz-~"));
    }

    #[test]
    fn reads_webhook_headers() {
        let lookup = headers(&[
            ("webhook-id", ID),
            ("webhook-timestamp", "1614265330"),
            ("webhook-signature", SIG),
        ]);
        let signed = read(&lookup).expect("reads");
        assert_eq!(signed.id.as_deref(), Some(ID));
        assert_eq!(signed.stamp, Some(Stamp::Seconds(TS)));
        assert_eq!(signed.prefix, format!("{ID}.{TS}.").into_bytes());
        assert_eq!(signed.candidates.len(), 1);
    }

    #[test]
    fn svix_headers_are_aliases_and_win_header_by_header() {
        let svix_only = headers(&[
            ("svix-id", ID),
            ("svix-timestamp", "1614265330"),
            ("svix-signature", SIG),
        ]);
        assert_eq!(read(&svix_only).expect("reads").id.as_deref(), Some(ID));
        // Both families: svix-* wins, as in Svix's libraries.
        let both = headers(&[
            ("svix-id", ID),
            ("webhook-id", "msg_other"),
            ("webhook-timestamp", "1614265330"),
            ("svix-signature", SIG),
            ("webhook-signature", "v1,AAAA"),
        ]);
        let signed = read(&both).expect("reads");
        assert_eq!(signed.id.as_deref(), Some(ID));
        assert_eq!(signed.candidates.len(), 1);
        // A mix of families is read header by header.
        let mixed = headers(&[
            ("svix-id", ID),
            ("webhook-timestamp", "1614265330"),
            ("webhook-signature", SIG),
        ]);
        assert!(read(&mixed).is_ok());
    }

    #[test]
    fn missing_or_malformed_headers() {
        let full = [
            ("webhook-id", ID),
            ("webhook-timestamp", "1614265330"),
            ("webhook-signature", SIG),
        ];
        for skip in 0..3 {
            let pairs: Vec<_> = full
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, p)| *p)
                .collect();
            assert_eq!(read(&headers(&pairs)), Err(Rejection::MissingHeader));
        }
        let empty_id = headers(&[
            ("webhook-id", ""),
            ("webhook-timestamp", "1614265330"),
            ("webhook-signature", SIG),
        ]);
        assert_eq!(read(&empty_id), Err(Rejection::BadId));
        let empty_ts = headers(&[
            ("webhook-id", ID),
            ("webhook-timestamp", ""),
            ("webhook-signature", SIG),
        ]);
        assert_eq!(read(&empty_ts), Err(Rejection::MissingHeader));
        let bad_ts = headers(&[
            ("webhook-id", ID),
            ("webhook-timestamp", "soon"),
            ("webhook-signature", SIG),
        ]);
        assert_eq!(read(&bad_ts), Err(Rejection::BadTimestamp));
        // Svix's Ruby library signs the header's own text: a zero put
        // before the same number would verify here and not there.
        let leading_zero = headers(&[
            ("webhook-id", ID),
            ("webhook-timestamp", "01614265330"),
            ("webhook-signature", SIG),
        ]);
        assert_eq!(read(&leading_zero), Err(Rejection::BadTimestamp));
        let trailing_space = headers(&[
            ("webhook-id", "msg_x "),
            ("webhook-timestamp", "1614265330"),
            ("webhook-signature", SIG),
        ]);
        assert_eq!(read(&trailing_space), Err(Rejection::BadId));
    }
}
