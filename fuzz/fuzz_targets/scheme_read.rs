//! A delivery's headers and body through a scheme, as the gate reads them:
//! `Scheme::read`, the route's keys, every key's tag over the signed prefix
//! and the body, and `find_match`. Nothing may panic, and what `read` returns
//! must hold together.
//!
//! Input: the first byte picks the scheme; the rest is split on `\n` into
//! one value per header the scheme reads (an empty value is an absent
//! header), then the route's secret text, then the body (raw bytes).
#![no_main]

use hookgate::keys::{find_match, SigningKey, Tag};
use hookgate::schemes::{
    github, quo_legacy, shopify, slack, standard_webhooks, stripe, Scheme, Stamp,
};
use libfuzzer_sys::fuzz_target;

fn headers_of(scheme: Scheme) -> &'static [&'static str] {
    match scheme {
        Scheme::StandardWebhooks => &[
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature",
            "svix-id",
            "svix-timestamp",
            "svix-signature",
        ],
        Scheme::QuoLegacy => &[quo_legacy::HEADER],
        Scheme::Github => &[github::HEADER],
        Scheme::Stripe => &[stripe::HEADER],
        Scheme::Slack => &[slack::SIGNATURE_HEADER, slack::TIMESTAMP_HEADER],
        Scheme::Shopify => &[shopify::HEADER],
        // Read through a route's description (the `hmac` target); without
        // one, nothing is read.
        Scheme::Hmac => &[],
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let scheme = Scheme::ALL[usize::from(pick) % Scheme::ALL.len()];
    let names = headers_of(scheme);
    let mut parts = rest.splitn(names.len() + 2, |&b| b == b'\n');
    let values: Vec<(&str, String)> = names
        .iter()
        .map(|name| {
            (
                *name,
                String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned(),
            )
        })
        .collect();
    let secret = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let body = parts.next().unwrap_or_default();

    let header = |name: &str| {
        values
            .iter()
            .find(|(n, v)| *n == name && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    let keys = scheme.parse_keys(&secret).unwrap_or_else(|_| {
        vec![SigningKey::from_bytes(
            b"hookgate-fuzz-fallback-key".to_vec(),
        )]
    });
    let Ok(signed) = scheme.read(&header) else {
        return;
    };
    let expected: Vec<Tag> = keys
        .iter()
        .map(|key| key.tag(&signed.prefix, body))
        .collect();
    if let Some(index) = find_match(&signed.candidates, &expected) {
        assert!(index < keys.len());
        assert!(signed.candidates.contains(&expected[index]));
    }

    assert_eq!(signed.stamp.is_some(), scheme.has_timestamp());
    match scheme {
        Scheme::StandardWebhooks => {
            let id = signed.id.as_deref().expect("a signed id");
            assert!(standard_webhooks::id_is_valid(id), "{id:?}");
            let Some(Stamp::Seconds(ts)) = signed.stamp else {
                panic!("{:?}", signed.stamp)
            };
            assert_eq!(signed.prefix, standard_webhooks::prefix(id, ts));
        }
        Scheme::QuoLegacy => {
            let Some(Stamp::Millis(ts)) = signed.stamp else {
                panic!("{:?}", signed.stamp)
            };
            assert_eq!(signed.prefix, quo_legacy::prefix(ts));
        }
        Scheme::Stripe => {
            let Some(Stamp::Seconds(ts)) = signed.stamp else {
                panic!("{:?}", signed.stamp)
            };
            assert_eq!(signed.prefix, stripe::prefix(ts));
        }
        Scheme::Slack => {
            let Some(Stamp::Seconds(ts)) = signed.stamp else {
                panic!("{:?}", signed.stamp)
            };
            assert_eq!(signed.prefix, slack::prefix(ts));
            assert!(signed.candidates.len() <= 1);
        }
        Scheme::Github | Scheme::Shopify => {
            assert!(signed.prefix.is_empty());
            assert!(signed.candidates.len() <= 1);
        }
        Scheme::Hmac => panic!("an hmac route without a description read {signed:?}"),
    }
    assert!(
        signed.suffix.is_empty(),
        "the named schemes sign nothing after the body"
    );
    if let Some(stamp) = signed.stamp {
        let _ = stamp.check(1_700_000_000_000, 300);
        let _ = stamp.replayable_until(300);
    }
});
