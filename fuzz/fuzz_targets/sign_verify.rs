//! Sign, then verify, in every named scheme, with fuzzed keys, ids,
//! timestamps and bodies: what a scheme signs must verify through
//! `Scheme::read` and `find_match`, and must stop verifying when one byte of
//! the body changes. (`hmac` routes have their own target, `hmac`.)
#![no_main]

use base64::Engine;
use hookgate::keys::{find_match, SigningKey, Tag, BASE64, MIN_DECODED_KEY_BYTES};
use hookgate::schemes::{github, quo_legacy, shopify, slack, standard_webhooks, stripe, Scheme};
use libfuzzer_sys::fuzz_target;

fn verifies(scheme: Scheme, headers: &[(&str, String)], keys: &[SigningKey], body: &[u8]) -> bool {
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    };
    let Ok(signed) = scheme.read(&header) else {
        return false;
    };
    let expected: Vec<Tag> = keys.iter().map(|k| k.tag(&signed.prefix, body)).collect();
    find_match(&signed.candidates, &expected).is_some()
}

fuzz_target!(|input: (u8, Vec<u8>, Vec<u8>, u64, Vec<u8>, usize)| {
    let (pick, key, id, ts, body, flip) = input;
    let named: Vec<Scheme> = Scheme::ALL
        .into_iter()
        .filter(|s| *s != Scheme::Hmac)
        .collect();
    let scheme = named[usize::from(pick) % named.len()];
    // Timestamps as senders write them: at most 18 digits; Standard Webhooks
    // seconds also fit in milliseconds, so they can be checked against now.
    let ts = (ts % 1_000_000_000_000_000_000) as i64;

    let (keys, headers): (Vec<SigningKey>, Vec<(&str, String)>) = match scheme {
        Scheme::StandardWebhooks | Scheme::QuoLegacy => {
            let mut key = key;
            key.truncate(64);
            key.resize(key.len().max(MIN_DECODED_KEY_BYTES), 0x5a);
            let encoded = BASE64.encode(&key);
            if scheme == Scheme::StandardWebhooks {
                let keys = scheme
                    .parse_keys(&format!("whsec_{encoded}"))
                    .expect("a whsec_ key");
                // Any bytes made into a valid id: printable, no '.', 1..=256.
                let mut id: String = id
                    .iter()
                    .take(standard_webhooks::MAX_ID_BYTES)
                    .map(|b| match char::from(0x21 + b % 94) {
                        '.' => '_',
                        c => c,
                    })
                    .collect();
                if id.is_empty() {
                    id.push_str("msg_fuzz");
                }
                assert!(standard_webhooks::id_is_valid(&id));
                let ts = ts % (i64::MAX / 1000);
                let signature = standard_webhooks::sign(&keys[0], &id, ts, &body);
                assert_eq!(
                    standard_webhooks::verify(
                        &keys,
                        &id,
                        &ts.to_string(),
                        &signature,
                        &body,
                        ts,
                        0
                    ),
                    Ok(())
                );
                let headers = vec![
                    ("webhook-id", id),
                    ("webhook-timestamp", ts.to_string()),
                    ("webhook-signature", signature),
                ];
                (keys, headers)
            } else {
                let keys = scheme.parse_keys(&encoded).expect("a base64 key");
                let value = quo_legacy::sign(&keys[0], ts, &body);
                (keys, vec![(quo_legacy::HEADER, value)])
            }
        }
        Scheme::Hmac => unreachable!("not among the named schemes"),
        Scheme::Github | Scheme::Stripe | Scheme::Slack | Scheme::Shopify => {
            let mut secret = String::from_utf8_lossy(&key).into_owned();
            if secret.is_empty() {
                secret.push_str("fuzz-secret");
            }
            let keys = scheme.parse_keys(&secret).expect("any text is a key");
            let key = &keys[0];
            let headers = match scheme {
                Scheme::Github => vec![(github::HEADER, github::sign(key, &body))],
                Scheme::Stripe => vec![(stripe::HEADER, stripe::sign(key, ts, &body))],
                Scheme::Slack => vec![
                    (slack::SIGNATURE_HEADER, slack::sign(key, ts, &body)),
                    (slack::TIMESTAMP_HEADER, ts.to_string()),
                ],
                _ => vec![(shopify::HEADER, shopify::sign(key, &body))],
            };
            (keys, headers)
        }
    };

    assert!(
        verifies(scheme, &headers, &keys, &body),
        "{scheme:?} {headers:?}"
    );
    if !body.is_empty() {
        let mut changed = body.clone();
        let at = flip % changed.len();
        changed[at] ^= 0x01;
        assert!(
            !verifies(scheme, &headers, &keys, &changed),
            "{scheme:?}: a changed body verified"
        );
    }
});
