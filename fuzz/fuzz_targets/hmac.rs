//! An `hmac` route's description and a delivery, both fuzzed: the template
//! parser, the header reader, the MAC over prefix, body and suffix, and
//! `find_match`. Nothing may panic; a template that parses holds `{body}`
//! once; what the description signs verifies, and stops verifying when one
//! byte of the body changes.
//!
//! Input: the first byte picks the algorithm, encoding, timestamp unit and
//! key encoding; the rest is split on `\n` into the template, the signature
//! prefix, the signature, timestamp and id headers' values, the URL, the
//! secret text, and the body (raw bytes).
#![no_main]

use hookgate::keys::{find_match, Algorithm, SigningKey, Tag};
use hookgate::schemes::hmac::{Delivery, Encoding, HmacSpec, KeyEncoding, Part, Template, Unit};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let parts: Vec<&[u8]> = rest.splitn(8, |&b| b == b'\n').collect();
    let part = |i: usize| parts.get(i).copied().unwrap_or_default();
    let text = |i: usize| String::from_utf8_lossy(part(i)).into_owned();
    let (template, prefix, signature, timestamp, id, url, secret) = (
        text(0),
        text(1),
        text(2),
        text(3),
        text(4),
        text(5),
        text(6),
    );
    let body = part(7);

    let Ok(template) = Template::parse(&template) else {
        return;
    };
    let pick = usize::from(pick);
    let spec = HmacSpec {
        signature_prefix: prefix,
        algorithm: Algorithm::ALL[pick % 3],
        encoding: Encoding::ALL[(pick / 3) % 3],
        timestamp_header: template.signs(&Part::Timestamp).then(|| "x-ts".to_owned()),
        timestamp_unit: Unit::ALL[(pick / 9) % 2],
        id_header: template.signs(&Part::Id).then(|| "x-id".to_owned()),
        key_encoding: KeyEncoding::ALL[(pick / 18) % 4],
        template,
        ..HmacSpec::new("x-sig")
    };
    let keys = spec
        .key_encoding
        .parse_keys(&secret)
        .unwrap_or_else(|_| vec![SigningKey::from_bytes(b"hookgate-fuzz-fallback".to_vec())]);
    let read = |signature: &str, body: &[u8]| {
        let pairs = [("x-sig", signature), ("x-ts", &timestamp), ("x-id", &id)];
        let header = |name: &str| {
            pairs
                .iter()
                .find(|(n, v)| *n == name && !v.is_empty())
                .map(|(_, v)| (*v).to_owned())
        };
        let signed = spec.read(&header, &|| url.clone()).ok()?;
        let tags: Vec<Tag> = keys
            .iter()
            .map(|k| k.mac(spec.algorithm, &signed.prefix, body, &signed.suffix))
            .collect();
        find_match(&signed.candidates, &tags).map(|index| (index, signed))
    };

    // Whatever the fuzzer wrote as the signature: no panic, and a candidate
    // is always a tag of the route's hash.
    if let Some((index, signed)) = read(&signature, body) {
        assert!(index < keys.len());
        assert!(signed
            .candidates
            .iter()
            .all(|t| t.len() == spec.algorithm.tag_len()));
    }

    // What the sender signs verifies (when its timestamp is one a sender
    // writes), and a changed body does not.
    let delivery = Delivery {
        timestamp: &timestamp,
        id: &id,
        url: &url,
        body,
    };
    let signed = spec.sign(&keys[0], &delivery);
    // (An id holding the text that ends it is refused: the signed bytes
    // would not show where it ends.)
    let readable = (spec.timestamp_header.is_none()
        || hookgate::schemes::parse_digits(&timestamp).is_ok())
        && (spec.id_header.is_none() || !id.is_empty())
        && spec
            .template
            .id_end()
            .is_none_or(|end| !id.as_bytes().contains(&end));
    if readable {
        assert!(read(&signed, body).is_some(), "{spec:?}: {signed}");
        if !body.is_empty() {
            let mut changed = body.to_vec();
            changed[0] ^= 1;
            assert!(read(&signed, &changed).is_none(), "a changed body verified");
        }
    }
});
