//! Secret text through every key parser, and signature text through every
//! tag decoder: nothing may panic, and a parsed key is never empty (nor
//! shorter than the minimum, for the base64 schemes).
#![no_main]

use hookgate::keys::{self, SigningKey, MIN_DECODED_KEY_BYTES};
use hookgate::schemes::{quo_legacy, standard_webhooks, Scheme};
use libfuzzer_sys::fuzz_target;

fn check(keys: &[SigningKey], base64: bool) {
    assert!(!keys.is_empty());
    for key in keys {
        assert!(!key.as_bytes().is_empty());
        if base64 {
            assert!(key.as_bytes().len() >= MIN_DECODED_KEY_BYTES);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(keys) = standard_webhooks::parse_keys(&text) {
        check(&keys, true);
    }
    if let Ok(key) = standard_webhooks::parse_key(&text) {
        check(&[key], true);
    }
    if let Ok(keys) = quo_legacy::parse_keys(&text) {
        check(&keys, true);
    }
    if let Ok(key) = SigningKey::base64(&text) {
        check(&[key], true);
    }
    for scheme in Scheme::ALL {
        if let Ok(keys) = scheme.parse_keys(&text) {
            check(
                &keys,
                matches!(scheme, Scheme::StandardWebhooks | Scheme::QuoLegacy),
            );
        }
    }
    if let Some(tag) = keys::tag_from_hex(&text) {
        let mut hex = String::new();
        keys::push_hex(&mut hex, &tag);
        assert_eq!(hex, text, "only lower-case hex is read");
    }
    let _ = keys::tag_from_base64(&text);
    for tag in standard_webhooks::v1_signatures(&text) {
        let _ = keys::fingerprint(&tag);
    }
    let _ = standard_webhooks::id_is_valid(&text);
});
