//! Property tests of the pure parsers and signers, through the public API
//! only: whatever a sender, a query string or a setting holds, no parser
//! panics; every scheme's signature verifies what it signed and nothing
//! else; the encodings hookgate writes read back to what was written.
//!
//! Case counts are proptest's default (256) unless a test says otherwise;
//! the whole file runs in a few seconds. `npm run fuzz` (fuzz/) explores
//! the same parsers coverage-guided.

use base64::Engine;
use hookgate::admin;
use hookgate::body_fields;
use hookgate::config::Config;
use hookgate::json;
use hookgate::keys::{self, find_match, fingerprint, SigningKey, Tag, BASE64};
use hookgate::log::buffer::Batch;
use hookgate::log::command::{decode_parts, encode_parts, LogCommand, Scan, MAX_SCAN};
use hookgate::log::counts::Count;
use hookgate::log::partial::Partial;
use hookgate::log::{render, Attempt, Cursor, DeliveryRecord, Letter};
use hookgate::query;
use hookgate::queue::backoff;
use hookgate::route::{Delivery, MAX_RETRY_DELAY_SECONDS};
use hookgate::schemes::{
    github, quo_legacy, shopify, slack, standard_webhooks, stripe, Rejection, Scheme, Signed, Stamp,
};
use hookgate::setting::{check_origin_url, check_path};
use proptest::prelude::*;
use proptest::sample::Index;
use std::collections::HashMap;

/// Proptest's defaults (256 cases), without its failure files: a failure
/// found here becomes a named regression test instead (see the end).
fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------
// Generators

/// Text a header, a query or a setting may hold: anything at all, printable
/// ASCII, or pieces of the syntax the parsers look for, so generated values
/// get past the first check often enough to reach the later ones.
fn texty() -> impl Strategy<Value = String> {
    const PIECES: &[&str] = &[
        "v1,",
        "v1a,",
        "v1",
        ",",
        ", ",
        " ",
        ";",
        "=",
        "hmac;1;",
        "hmac;2;",
        "t=",
        "v1=",
        "v0=",
        "sha256=",
        "whsec_",
        "%",
        "%2",
        "%2e",
        "%C3%A9",
        "+",
        "&",
        ".",
        "..",
        "/",
        "/_hookgate",
        "-",
        "0",
        "1",
        "9",
        "1614265330",
        "1639710054089",
        "99999999999999999999",
        "s",
        "m",
        "h",
        "d",
        "é",
        "🦀",
        "\u{0}",
        "\t",
        "\n",
        "AAAA",
        "====",
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    ];
    prop_oneof![
        any::<String>(),
        "[ -~]{0,80}",
        prop::collection::vec(prop::sample::select(PIECES), 0..12).prop_map(|p| p.concat()),
    ]
}

/// A Standard Webhooks id that [`standard_webhooks::id_is_valid`] accepts.
fn valid_id() -> impl Strategy<Value = String> {
    "[!-\\-/-~]([ -\\-/-~]{0,60}[!-\\-/-~])?"
}

/// Key bytes of a useful length for the base64 schemes.
fn key_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), keys::MIN_DECODED_KEY_BYTES..=64)
}

/// A raw text secret (GitHub, Stripe, Slack, Shopify): any non-empty text.
fn raw_secret() -> impl Strategy<Value = String> {
    any::<String>().prop_filter("non-empty", |s| !s.is_empty())
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..512)
}

/// A timestamp the senders could write: at most 18 digits, as parsed.
fn timestamp() -> impl Strategy<Value = i64> {
    prop_oneof![
        0i64..=999_999_999_999_999_999,
        1_600_000_000i64..1_800_000_000
    ]
}

/// Unix seconds whose milliseconds fit an i64, so they can be "now" too.
fn seconds() -> impl Strategy<Value = i64> {
    prop_oneof![0i64..=i64::MAX / 1000, 1_600_000_000i64..1_800_000_000]
}

/// A header lookup over fixed pairs, as the Worker's `Headers.get` answers.
fn lookup(pairs: Vec<(String, String)>) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs.into_iter().collect();
    move |name: &str| map.get(name).cloned()
}

/// Every header any scheme reads.
const SCHEME_HEADERS: &[&str] = &[
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    quo_legacy::HEADER,
    github::HEADER,
    stripe::HEADER,
    slack::SIGNATURE_HEADER,
    slack::TIMESTAMP_HEADER,
    shopify::HEADER,
];

/// Some of the scheme headers, each with any value.
fn any_headers() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(
        (prop::sample::select(SCHEME_HEADERS), texty()).prop_map(|(n, v)| (n.to_owned(), v)),
        0..8,
    )
}

fn any_scheme() -> impl Strategy<Value = Scheme> {
    prop::sample::select(Scheme::ALL.to_vec())
}

/// What the gate does with a delivery, up to the store: read the headers,
/// compute each key's tag over the signed prefix and the body, and look for
/// a match. `Ok(index)` names the key that matched.
fn gate_verify(
    scheme: Scheme,
    headers: &dyn Fn(&str) -> Option<String>,
    keys: &[SigningKey],
    body: &[u8],
) -> Result<usize, Rejection> {
    let signed = scheme.read(headers)?;
    let expected: Vec<Tag> = keys.iter().map(|k| k.tag(&signed.prefix, body)).collect();
    find_match(&signed.candidates, &expected).ok_or(Rejection::BadSignature)
}

/// `text` with the byte at `at` replaced by another ASCII byte.
fn change_ascii_byte(text: &str, at: Index, by: u8) -> String {
    assert!(text.is_ascii());
    let mut bytes = text.as_bytes().to_vec();
    let i = at.index(bytes.len());
    let new = (bytes[i] ^ by.max(1)) & 0x7f;
    bytes[i] = if new == bytes[i] { bytes[i] ^ 1 } else { new };
    String::from_utf8(bytes).expect("ASCII")
}

/// `body` with one byte changed.
fn change_byte(body: &[u8], at: Index, by: u8) -> Vec<u8> {
    let mut changed = body.to_vec();
    let i = at.index(changed.len());
    changed[i] ^= by.max(1);
    changed
}

fn whsec(bytes: &[u8]) -> String {
    format!("whsec_{}", BASE64.encode(bytes))
}

/// Two keys that HMAC tells apart: HMAC zero-pads keys of up to a block, so
/// keys that differ only in trailing zero bytes are one key to it.
fn distinct_hmac_keys(a: &[u8], b: &[u8]) -> bool {
    let trim = |k: &[u8]| {
        let end = k.iter().rposition(|&x| x != 0).map_or(0, |i| i + 1);
        k[..end].to_vec()
    };
    a.len() <= 64 && b.len() <= 64 && trim(a) != trim(b)
}

// ---------------------------------------------------------------------------
// No parser panics

proptest! {
    #![proptest_config(config())]

    /// Every scheme reads any headers without panicking, and what it reads
    /// holds together whatever the input.
    #[test]
    fn schemes_read_any_headers(scheme in any_scheme(), headers in any_headers(), body in body()) {
        let header = lookup(headers);
        let keys = [SigningKey::from_bytes(b"some key".to_vec())];
        let _ = gate_verify(scheme, &header, &keys, &body);
        if let Ok(Signed { stamp, prefix, suffix, candidates, id }) = scheme.read(&header) {
            prop_assert_eq!(stamp.is_some(), scheme.has_timestamp());
            // The named schemes sign nothing after the body.
            prop_assert!(suffix.is_empty());
            match scheme {
                Scheme::StandardWebhooks => {
                    let id = id.expect("a signed id");
                    prop_assert!(standard_webhooks::id_is_valid(&id));
                    let Some(Stamp::Seconds(ts)) = stamp else { panic!("{stamp:?}") };
                    prop_assert_eq!(prefix, standard_webhooks::prefix(&id, ts));
                }
                Scheme::Github | Scheme::Shopify => {
                    prop_assert!(candidates.len() <= 1);
                    prop_assert!(prefix.is_empty());
                    prop_assert_eq!(id, None);
                }
                Scheme::Slack => prop_assert!(candidates.len() <= 1),
                Scheme::QuoLegacy | Scheme::Stripe => prop_assert_eq!(id, None),
                // Read through its route's description; without one, nothing is read.
                Scheme::Hmac => prop_assert!(false, "an hmac route without a description read {candidates:?}"),
            }
        }
    }

    /// The same, with every header of the scheme set to anything: more
    /// inputs get past "missing header" this way.
    #[test]
    fn schemes_read_any_values_of_their_own_headers(
        scheme in any_scheme(),
        values in prop::collection::vec(texty(), SCHEME_HEADERS.len()),
    ) {
        let pairs = SCHEME_HEADERS.iter().map(|n| n.to_string()).zip(values).collect();
        let header = lookup(pairs);
        let keys = [SigningKey::from_bytes(vec![7; 32])];
        let _ = gate_verify(scheme, &header, &keys, b"{}");
    }

    #[test]
    fn keys_parse_from_any_text(scheme in any_scheme(), text in texty()) {
        if let Ok(keys) = scheme.parse_keys(&text) {
            prop_assert!(!keys.is_empty());
            for key in &keys {
                prop_assert!(!key.as_bytes().is_empty());
                if matches!(scheme, Scheme::StandardWebhooks | Scheme::QuoLegacy) {
                    prop_assert!(key.as_bytes().len() >= keys::MIN_DECODED_KEY_BYTES);
                }
            }
        }
        let _ = standard_webhooks::parse_key(&text);
        let _ = SigningKey::base64(&text);
        let _ = SigningKey::raw(&text);
        let _ = keys::tag_from_hex(&text);
        let _ = keys::tag_from_base64(&text);
        let _ = standard_webhooks::v1_signatures(&text).count();
        let _ = standard_webhooks::id_is_valid(&text);
    }

    #[test]
    fn standard_webhooks_verify_takes_any_strings(
        id in texty(), ts in texty(), header in texty(), body in body(),
        now in any::<i64>(), tolerance in any::<u64>(),
    ) {
        let keys = [SigningKey::from_bytes(vec![1; 24])];
        let _ = standard_webhooks::verify(&keys, &id, &ts, &header, &body, now, tolerance);
    }

    #[test]
    fn paths_and_origin_urls_are_checked_without_panicking(text in texty()) {
        let _ = check_path(&text);
        let _ = check_origin_url(&text);
        if check_path(&text).is_ok() {
            prop_assert!(text.starts_with('/') && !text.contains(' ') && !text.contains('?'));
        }
    }

    #[test]
    fn body_fields_read_any_bytes(body in body()) {
        let _ = body_fields::read(&body);
    }

    #[test]
    fn body_fields_read_any_json_object(fields in prop::collection::vec(
        (prop::sample::select(&["id", "event_id", "type", "challenge", "other"][..]), json_value()),
        0..6,
    )) {
        let mut text = String::from("{");
        for (i, (name, value)) in fields.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            json::push_str(&mut text, name);
            text.push(':');
            value.render(&mut text);
        }
        text.push('}');
        let read = body_fields::read(text.as_bytes()).expect("an object");
        // The last string value of each field counts, as in JSON.parse.
        let last = |wanted: &str| fields.iter().rev().find(|(n, _)| *n == wanted).and_then(|(_, v)| match v {
            Json::Text(t) => Some(t.clone()),
            _ => None,
        });
        prop_assert_eq!(read.id, last("id"));
        prop_assert_eq!(read.event_id, last("event_id"));
        prop_assert_eq!(read.kind, last("type"));
        prop_assert_eq!(read.challenge, last("challenge"));
    }

    #[test]
    fn queries_decode_without_panicking(text in texty()) {
        let _ = query::decode(&text);
        let _ = query::pairs(&text);
    }

    /// The admin API parses whatever a client with the token sends, and
    /// without it answers nothing but the dashboard's files and 401.
    #[test]
    fn admin_requests_parse_without_panicking(
        method in prop::sample::select(&["GET", "HEAD", "POST", "PUT", "get", ""][..]),
        tail in texty(),
        query in prop_oneof![
            texty(),
            (prop::sample::select(&["since", "limit", "cursor", "route", "outcome"][..]), texty())
                .prop_map(|(name, value)| format!("{name}={}", query::encode(&value))),
        ],
        now in any::<i64>(),
        authorization in proptest::option::of(texty()),
    ) {
        for path in [
            format!("/_hookgate/{tail}"),
            format!("/_hookgate/deliveries/{tail}"),
            format!("/_hookgate/deliveries/{tail}/retry"),
            "/_hookgate/deliveries".to_owned(),
            "/_hookgate/stats".to_owned(),
            tail.clone(),
        ] {
            let _ = admin::parse(method, &path, &query, now);
            let token = "0123456789abcdef";
            let decided = admin::request(method, &path, &query, now, authorization.as_deref(), token);
            if !admin::authorized(authorization.as_deref(), token) {
                prop_assert!(
                    matches!(
                        decided,
                        Ok(admin::AdminRequest::Dashboard | admin::AdminRequest::Asset(_))
                            | Err(admin::AdminError::Unauthorized)
                    ),
                    "{method} {path}: {decided:?}"
                );
            }
        }
    }

    #[test]
    fn since_parses_any_text(text in texty(), now in any::<i64>()) {
        let _ = admin::parse_since(&text, now);
    }

    #[test]
    fn since_reads_milliseconds_and_spans(
        n in 0i64..1_000_000_000,
        unit in prop::sample::select(&[("s", 1_000i64), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)][..]),
        now in 0i64..4_000_000_000_000,
    ) {
        prop_assert_eq!(admin::parse_since(&n.to_string(), now), Some(n));
        prop_assert_eq!(admin::parse_since(&format!("{n}{}", unit.0), now), Some(now - n * unit.1));
    }

    #[test]
    fn log_commands_decode_anything(path in prop::sample::select(&[
        "/batch", "/dead-letter", "/take-letter", "/requeued", "/drop-letter", "/scan", "/lookup",
        "/stats", "/purge", "/meta", "/other",
    ][..]), body in texty()) {
        let _ = LogCommand::decode(path, &body);
    }

    #[test]
    fn cursors_decode_anything(text in texty()) {
        if let Some(cursor) = Cursor::decode(&text) {
            prop_assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        }
    }
}

// ---------------------------------------------------------------------------
// ROUTES

/// A JSON value, rendered by hand so a table may repeat a key.
#[derive(Debug, Clone)]
enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    List(Vec<Json>),
    Table(Vec<(String, Json)>),
}

impl Json {
    fn render(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(&b.to_string()),
            Json::Int(n) => out.push_str(&n.to_string()),
            Json::Float(x) if x.is_finite() => out.push_str(&format!("{x:?}")),
            Json::Float(_) => out.push('0'),
            Json::Text(t) => json::push_str(out, t),
            Json::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.render(out);
                }
                out.push(']');
            }
            Json::Table(entries) => {
                out.push('{');
                for (i, (name, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    json::push_str(out, name);
                    out.push(':');
                    value.render(out);
                }
                out.push('}');
            }
        }
    }
}

/// Secrets the route tests bind, by name. Their values must never appear in
/// an error message.
const SECRETS: &[(&str, &str)] = &[
    (
        "SW_SECRET",
        "whsec_cm90YXRlZC1zZW5kZXIta2V5LWZvci10ZXN0cw==",
    ),
    ("SW_NEXT", "whsec_c2Vjb25kLWtleS1mb3Itcm90YXRpb24="),
    ("QUO_SECRET", "R2ZLM2o0bFhBNVpyUnU2NG9mYXQ1MHNyR3pvSUhIVVg="),
    ("RAW_SECRET", "It's a Secret to Everybody"),
    ("SHORT_SECRET", "whsec_QQ=="),
    ("origin_key", "whsec_b3JpZ2luLWtleS1mb3ItdW5pdC10ZXN0cw=="),
];

fn json_value() -> impl Strategy<Value = Json> {
    let scalars = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        prop_oneof![any::<i64>(), 0i64..700_000].prop_map(Json::Int),
        any::<f64>().prop_map(Json::Float),
        prop_oneof![
            texty(),
            prop::sample::select(
                &[
                    "standard-webhooks",
                    "quo-legacy",
                    "github",
                    "stripe",
                    "slack",
                    "shopify",
                    "GitHub",
                    "SW_SECRET",
                    "SW_NEXT",
                    "QUO_SECRET",
                    "RAW_SECRET",
                    "SHORT_SECRET",
                    "origin_key",
                    "UNBOUND",
                    "9LIVES",
                    "not a name",
                    "http://127.0.0.1:8788/in",
                    "https://api.example.com/hooks?x=1",
                    "https://u:p@x/",
                    "http://x/#f",
                    "ftp://x/",
                    "queue",
                    "direct",
                    "300",
                    " 60 ",
                    "-1",
                ][..],
            )
            .prop_map(str::to_owned),
        ]
        .prop_map(Json::Text),
    ];
    scalars.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Json::List),
            prop::collection::vec((texty(), inner), 0..4).prop_map(Json::Table),
        ]
    })
}

fn route_fields() -> impl Strategy<Value = Json> {
    // Every field, and one typo of one.
    let fields: Vec<&str> = hookgate::setting::FIELDS
        .iter()
        .copied()
        .chain(["sheme"])
        .collect();
    prop::collection::vec(
        (
            prop::sample::select(fields).prop_map(str::to_owned),
            json_value(),
        ),
        0..9,
    )
    .prop_map(Json::Table)
}

/// ROUTES text: a JSON object of routes, sometimes cut short or with a
/// value that is not a table, or any text at all.
fn routes_text() -> impl Strategy<Value = String> {
    let path = prop_oneof![
        prop::sample::select(
            &[
                "/",
                "/a",
                "/github",
                "/_hookgate/x",
                "/a/../b",
                "a",
                "/a b",
                "/é"
            ][..]
        )
        .prop_map(str::to_owned),
        texty(),
    ];
    let routes = prop::collection::vec(
        (path, prop_oneof![8 => route_fields(), 1 => json_value()]),
        0..4,
    )
    .prop_map(Json::Table);
    prop_oneof![
        6 => routes.prop_map(|r| { let mut t = String::new(); r.render(&mut t); t }),
        1 => (routes_text_cut(), any::<Index>()).prop_map(|(t, at)| {
            let cut = at.index(t.len() + 1);
            let cut = (0..=cut).rev().find(|&i| t.is_char_boundary(i)).unwrap_or(0);
            t[..cut].to_owned()
        }),
        1 => texty(),
    ]
}

fn routes_text_cut() -> impl Strategy<Value = String> {
    prop::collection::vec((texty(), route_fields()), 1..3).prop_map(|routes| {
        let mut text = String::new();
        Json::Table(routes).render(&mut text);
        text
    })
}

fn plain_settings() -> impl Strategy<Value = Vec<(&'static str, String)>> {
    const NAMES: &[&str] = &[
        "TOLERANCE_SECONDS",
        "MAX_BODY_BYTES",
        "DEDUPE_TTL_SECONDS",
        "ORIGIN_TIMEOUT_MS",
        "REPLAY_STORE",
        "ADMIN_TOKEN",
        "LOG_RETENTION_DAYS",
        "STATS_FLUSH_SECONDS",
        "QUEUE_MAX_ATTEMPTS",
        "QUEUE_RETRY_BASE_SECONDS",
        "WEBHOOK_SECRET",
        "ORIGIN_URL",
        "ORIGIN_SECRET",
        "WEBHOOK_PATH",
        "DELIVERY",
    ];
    prop::collection::vec(
        (
            prop::sample::select(NAMES),
            prop_oneof![
                texty(),
                prop::sample::select(
                    &[
                        "0",
                        "1",
                        "60",
                        "300",
                        "600",
                        "durable-object",
                        "kv",
                        "queue"
                    ][..]
                )
                .prop_map(str::to_owned),
            ],
        ),
        0..4,
    )
}

proptest! {
    #![proptest_config(config())]

    /// Any ROUTES text, beside any plain settings: no panic, and a config
    /// that is accepted keeps every promise the gate relies on.
    #[test]
    fn routes_parse_from_any_text(routes in proptest::option::of(routes_text()), plain in plain_settings()) {
        let mut settings: HashMap<String, String> =
            SECRETS.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        // The single route's settings only without ROUTES, where they apply
        // (beside ROUTES they are refused, and `plain` may still add them).
        if routes.is_none() {
            settings.insert("WEBHOOK_SECRET".into(), SECRETS[0].1.into());
            settings.insert("ORIGIN_URL".into(), "http://127.0.0.1:8788/hooks".into());
        }
        for (name, value) in plain {
            settings.insert(name.into(), value);
        }
        if let Some(routes) = routes {
            settings.insert("ROUTES".into(), routes);
        }
        match Config::from_settings(|name| settings.get(name).cloned()) {
            Ok(config) => {
                prop_assert!(!config.routes.is_empty());
                for (i, route) in config.routes.iter().enumerate() {
                    prop_assert_eq!(check_path(&route.path), Ok(()));
                    prop_assert_eq!(check_origin_url(&route.origin_url), Ok(()));
                    prop_assert!(!route.keys.is_empty());
                    prop_assert!(route.limits.dedupe_ttl_seconds >= 2 * route.limits.tolerance_seconds);
                    prop_assert!(route.limits.max_body_bytes >= 1);
                    prop_assert_eq!(config.route_for(&route.path).map(|(index, _)| index), Some(i));
                    if let Delivery::Queue(policy) = route.delivery {
                        prop_assert!(route.origin_key.is_some());
                        prop_assert!(policy.max_attempts >= 1);
                        prop_assert!(policy.retry_base_seconds <= MAX_RETRY_DELAY_SECONDS);
                    }
                }
            }
            Err(error) => {
                let text = error.to_string();
                for (_, value) in SECRETS {
                    prop_assert!(!text.contains(value), "{text}");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Sign, then verify: every scheme, and only what was signed

proptest! {
    #![proptest_config(config())]

    #[test]
    fn standard_webhooks_round_trip(
        keys in prop::collection::vec(key_bytes(), 1..4),
        signer in any::<Index>(),
        id in valid_id(),
        ts in seconds(),
        body in body(),
        svix in any::<bool>(),
    ) {
        let secret = keys.iter().map(|k| whsec(k)).collect::<Vec<_>>().join(" ");
        let ring = Scheme::StandardWebhooks.parse_keys(&secret).expect("keys parse");
        prop_assert_eq!(ring.len(), keys.len());
        let signer = signer.index(ring.len());
        let signature = standard_webhooks::sign(&ring[signer], &id, ts, &body);
        let family = if svix { "svix" } else { "webhook" };
        let headers = lookup(vec![
            (format!("{family}-id"), id.clone()),
            (format!("{family}-timestamp"), ts.to_string()),
            (format!("{family}-signature"), signature.clone()),
        ]);
        let matched = gate_verify(Scheme::StandardWebhooks, &headers, &ring, &body).expect("verifies");
        // The first key that signs alike: the signer, or an equal key before it.
        prop_assert!(matched <= signer);
        prop_assert_eq!(ring[matched].tag(b"x", b""), ring[signer].tag(b"x", b""));
        prop_assert_eq!(
            standard_webhooks::verify(&ring, &id, &ts.to_string(), &signature, &body, ts, 0),
            Ok(())
        );
        let signed = Scheme::StandardWebhooks.read(&headers).expect("reads");
        prop_assert_eq!(signed.id.as_deref(), Some(id.as_str()));
        prop_assert_eq!(signed.stamp, Some(Stamp::Seconds(ts)));
    }

    #[test]
    fn standard_webhooks_refuse_any_changed_byte(
        key in key_bytes(),
        id in valid_id(),
        ts in timestamp(),
        body in prop::collection::vec(any::<u8>(), 1..512),
        at in any::<Index>(),
        by in any::<u8>(),
    ) {
        let ring = standard_webhooks::parse_keys(&whsec(&key)).expect("key");
        let signature = standard_webhooks::sign(&ring[0], &id, ts, &body);
        let ts_text = ts.to_string();
        let verify = |id: &str, ts: &str, body: &[u8]| {
            let headers = lookup(vec![
                ("webhook-id".into(), id.to_owned()),
                ("webhook-timestamp".into(), ts.to_owned()),
                ("webhook-signature".into(), signature.clone()),
            ]);
            gate_verify(Scheme::StandardWebhooks, &headers, &ring, body)
        };
        prop_assert_eq!(verify(&id, &ts_text, &body), Ok(0));
        prop_assert!(verify(&id, &ts_text, &change_byte(&body, at, by)).is_err());
        prop_assert!(verify(&change_ascii_byte(&id, at, by), &ts_text, &body).is_err());
        prop_assert!(verify(&id, &change_ascii_byte(&ts_text, at, by), &body).is_err());
    }

    #[test]
    fn standard_webhooks_refuse_another_key(a in key_bytes(), b in key_bytes(), id in valid_id(), ts in seconds(), body in body()) {
        prop_assume!(distinct_hmac_keys(&a, &b));
        let signer = SigningKey::from_bytes(a);
        let other = standard_webhooks::parse_keys(&whsec(&b)).expect("key");
        let signature = standard_webhooks::sign(&signer, &id, ts, &body);
        prop_assert_eq!(
            standard_webhooks::verify(&other, &id, &ts.to_string(), &signature, &body, ts, 300),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn quo_legacy_round_trip_and_changed_bytes(
        keys in prop::collection::vec(key_bytes(), 1..4),
        signer in any::<Index>(),
        ts in timestamp(),
        body in prop::collection::vec(any::<u8>(), 1..512),
        at in any::<Index>(),
        by in any::<u8>(),
    ) {
        let secret = keys.iter().map(|k| BASE64.encode(k)).collect::<Vec<_>>().join(" ");
        let ring = Scheme::QuoLegacy.parse_keys(&secret).expect("keys parse");
        let signer = signer.index(ring.len());
        let value = quo_legacy::sign(&ring[signer], ts, &body);
        let verify = |value: &str, body: &[u8]| {
            let headers = lookup(vec![(quo_legacy::HEADER.into(), value.to_owned())]);
            gate_verify(Scheme::QuoLegacy, &headers, &ring, body)
        };
        let matched = verify(&value, &body).expect("verifies");
        prop_assert!(matched <= signer);
        let signed = Scheme::QuoLegacy.read(&lookup(vec![(quo_legacy::HEADER.into(), value.clone())])).expect("reads");
        prop_assert_eq!(signed.stamp, Some(Stamp::Millis(ts)));
        prop_assert!(verify(&value, &change_byte(&body, at, by)).is_err());
        // The timestamp is the third field: change one of its bytes.
        let ts_text = ts.to_string();
        let changed = format!("hmac;1;{};{}", change_ascii_byte(&ts_text, at, by), value.rsplit(';').next().expect("tag"));
        prop_assert!(verify(&changed, &body).is_err());
    }

    #[test]
    fn github_round_trip_and_changed_bytes(
        secret in raw_secret(),
        body in prop::collection::vec(any::<u8>(), 1..512),
        at in any::<Index>(),
        by in any::<u8>(),
    ) {
        let ring = Scheme::Github.parse_keys(&secret).expect("any text is a key");
        prop_assert_eq!(ring.len(), 1);
        let value = github::sign(&ring[0], &body);
        let verify = |body: &[u8]| {
            let headers = lookup(vec![(github::HEADER.into(), value.clone())]);
            gate_verify(Scheme::Github, &headers, &ring, body)
        };
        prop_assert_eq!(verify(&body), Ok(0));
        prop_assert!(verify(&change_byte(&body, at, by)).is_err());
    }

    #[test]
    fn stripe_round_trip_and_changed_bytes(
        secret in raw_secret(),
        ts in timestamp(),
        body in prop::collection::vec(any::<u8>(), 1..512),
        at in any::<Index>(),
        by in any::<u8>(),
    ) {
        let ring = Scheme::Stripe.parse_keys(&secret).expect("any text is a key");
        let value = stripe::sign(&ring[0], ts, &body);
        let verify = |value: &str, body: &[u8]| {
            let headers = lookup(vec![(stripe::HEADER.into(), value.to_owned())]);
            gate_verify(Scheme::Stripe, &headers, &ring, body)
        };
        prop_assert_eq!(verify(&value, &body), Ok(0));
        prop_assert!(verify(&value, &change_byte(&body, at, by)).is_err());
        let (t, v1) = value.split_once(',').expect("t=…,v1=…");
        let t = t.strip_prefix("t=").expect("t=");
        let changed = format!("t={},{v1}", change_ascii_byte(t, at, by));
        prop_assert!(verify(&changed, &body).is_err());
    }

    #[test]
    fn slack_round_trip_and_changed_bytes(
        secret in raw_secret(),
        ts in timestamp(),
        body in prop::collection::vec(any::<u8>(), 1..512),
        at in any::<Index>(),
        by in any::<u8>(),
    ) {
        let ring = Scheme::Slack.parse_keys(&secret).expect("any text is a key");
        let value = slack::sign(&ring[0], ts, &body);
        let verify = |ts: &str, body: &[u8]| {
            let headers = lookup(vec![
                (slack::SIGNATURE_HEADER.into(), value.clone()),
                (slack::TIMESTAMP_HEADER.into(), ts.to_owned()),
            ]);
            gate_verify(Scheme::Slack, &headers, &ring, body)
        };
        let ts_text = ts.to_string();
        prop_assert_eq!(verify(&ts_text, &body), Ok(0));
        prop_assert!(verify(&ts_text, &change_byte(&body, at, by)).is_err());
        prop_assert!(verify(&change_ascii_byte(&ts_text, at, by), &body).is_err());
    }

    #[test]
    fn shopify_round_trip_and_changed_bytes(
        secret in raw_secret(),
        body in prop::collection::vec(any::<u8>(), 1..512),
        at in any::<Index>(),
        by in any::<u8>(),
    ) {
        let ring = Scheme::Shopify.parse_keys(&secret).expect("any text is a key");
        let value = shopify::sign(&ring[0], &body);
        let verify = |body: &[u8]| {
            let headers = lookup(vec![(shopify::HEADER.into(), value.clone())]);
            gate_verify(Scheme::Shopify, &headers, &ring, body)
        };
        prop_assert_eq!(verify(&body), Ok(0));
        prop_assert!(verify(&change_byte(&body, at, by)).is_err());
    }

    /// The raw-text schemes: a signature made with one secret never verifies
    /// under another.
    #[test]
    fn raw_text_schemes_refuse_another_secret(
        a in raw_secret(), b in raw_secret(), ts in timestamp(), body in body(),
    ) {
        prop_assume!(distinct_hmac_keys(a.as_bytes(), b.as_bytes()));
        let key = SigningKey::raw(&a).expect("key");
        let other = [SigningKey::raw(&b).expect("key")];
        let cases: [(Scheme, Vec<(String, String)>); 4] = [
            (Scheme::Github, vec![(github::HEADER.into(), github::sign(&key, &body))]),
            (Scheme::Stripe, vec![(stripe::HEADER.into(), stripe::sign(&key, ts, &body))]),
            (Scheme::Slack, vec![
                (slack::SIGNATURE_HEADER.into(), slack::sign(&key, ts, &body)),
                (slack::TIMESTAMP_HEADER.into(), ts.to_string()),
            ]),
            (Scheme::Shopify, vec![(shopify::HEADER.into(), shopify::sign(&key, &body))]),
        ];
        for (scheme, headers) in cases {
            prop_assert_eq!(gate_verify(scheme, &lookup(headers), &other, &body), Err(Rejection::BadSignature));
        }
    }

    /// Whatever a body's event id holds, its fingerprint is a valid
    /// webhook-id, so a re-signed forward can carry it.
    #[test]
    fn id_fingerprints_are_valid_webhook_ids(id in any::<String>()) {
        let print = keys::id_fingerprint(&id);
        prop_assert_eq!(print.len(), 35);
        prop_assert!(standard_webhooks::id_is_valid(&print));
        prop_assert_eq!(print, keys::id_fingerprint(&id));
    }

    #[test]
    fn fingerprints_are_stable_names(tag in any::<[u8; 32]>()) {
        let print = fingerprint(&tag);
        prop_assert_eq!(print.len(), 36);
        prop_assert!(print.starts_with("sig_"));
        prop_assert!(print[4..].bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        let mut hex = String::new();
        keys::push_hex(&mut hex, &tag);
        prop_assert_eq!(keys::tag_from_hex(&hex), Some(tag));
        // Upper case is never read: the senders' libraries compare lower-case text.
        prop_assert_eq!(keys::tag_from_hex(&hex.to_ascii_uppercase()), (hex == hex.to_ascii_uppercase()).then_some(tag));
        prop_assert_eq!(keys::tag_from_base64(&BASE64.encode(tag)), Some(tag));
    }
}

// ---------------------------------------------------------------------------
// The replay window

fn any_stamp() -> impl Strategy<Value = Stamp> {
    prop_oneof![
        any::<i64>().prop_map(Stamp::Seconds),
        any::<i64>().prop_map(Stamp::Millis),
        (-1_000_000_000_000i64..4_000_000_000_000).prop_map(Stamp::Millis),
        (-1_000_000_000i64..4_000_000_000).prop_map(Stamp::Seconds),
    ]
}

fn any_tolerance() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..=86_400, any::<u64>()]
}

proptest! {
    #![proptest_config(config())]

    /// Nothing at or after `replayable_until` passes the window, for any
    /// stamp, tolerance and instant (compared without overflow).
    #[test]
    fn nothing_passes_once_replayable_until_has_come(
        stamp in any_stamp(),
        tolerance in any_tolerance(),
        now_ms in any::<i64>(),
        near in -5_000i64..5_000,
    ) {
        let until_ms = i128::from(stamp.replayable_until(tolerance)) * 1000;
        let mut instants = vec![now_ms];
        if let Ok(near) = i64::try_from(until_ms + i128::from(near)) {
            instants.push(near);
        }
        for now in instants {
            if stamp.check(now, tolerance).is_ok() {
                prop_assert!(i128::from(now) < until_ms, "{stamp:?} {tolerance} {now}");
            }
        }
    }

    /// …and it is tight: the last millisecond before it passes (for stamps
    /// and tolerances whose window fits in an i64).
    #[test]
    fn replayable_until_is_no_later_than_needed(
        stamp in prop_oneof![
            (0i64..4_000_000_000).prop_map(Stamp::Seconds),
            (0i64..4_000_000_000_000).prop_map(Stamp::Millis),
        ],
        tolerance in 0u64..=86_400,
    ) {
        let until_ms = stamp.replayable_until(tolerance) * 1000;
        let last_passing = match stamp {
            Stamp::Seconds(_) => until_ms - 1,
            Stamp::Millis(ts) => ts + tolerance as i64 * 1000,
        };
        prop_assert!(last_passing >= until_ms - 1000 && last_passing < until_ms);
        prop_assert_eq!(stamp.check(last_passing, tolerance), Ok(()));
        prop_assert!(stamp.check(until_ms, tolerance).is_err());
    }

    #[test]
    fn the_window_is_symmetric_and_holds_the_stamp_itself(stamp in any_stamp(), tolerance in any_tolerance()) {
        let at = match stamp {
            Stamp::Seconds(ts) => ts.checked_mul(1000),
            Stamp::Millis(ts) => Some(ts),
        };
        if let Some(at) = at {
            prop_assert_eq!(stamp.check(at, tolerance), Ok(()));
        }
    }
}

// ---------------------------------------------------------------------------
// Encodings read back to what was written

fn opt_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(any::<String>())
}

fn attempt() -> impl Strategy<Value = Attempt> {
    (
        any::<String>(),
        any::<String>(),
        any::<String>(),
        opt_text(),
        any::<i64>(),
        any::<String>(),
        any::<Option<u16>>(),
        any::<u32>(),
    )
        .prop_map(
            |(route, key, scheme, event_type, at_ms, outcome, origin_status, duration_ms)| {
                Attempt {
                    route,
                    key,
                    scheme,
                    event_type,
                    at_ms,
                    outcome,
                    origin_status,
                    duration_ms,
                }
            },
        )
}

fn letter() -> impl Strategy<Value = Letter> {
    (
        opt_text(),
        // Header names never hold ':' (the letter joins name and value with it).
        prop::collection::vec(("[^:]{0,20}", any::<String>()), 0..4),
        opt_text(),
        prop::collection::vec(any::<u8>(), 0..256),
    )
        .prop_map(|(content_type, headers, event_type, body)| Letter {
            content_type,
            headers,
            event_type,
            body,
        })
}

/// Cursors as the log makes them: a time and a row, neither negative.
fn cursor() -> impl Strategy<Value = Cursor> {
    (
        0i64..=999_999_999_999_999_999,
        0i64..=999_999_999_999_999_999,
    )
        .prop_map(|(last_seen, row)| Cursor { last_seen, row })
}

fn count() -> impl Strategy<Value = Count> {
    (any::<i64>(), any::<String>(), any::<String>(), any::<u64>()).prop_map(
        |(minute, route, reason, count)| Count {
            minute,
            route,
            reason,
            count,
        },
    )
}

fn log_command() -> impl Strategy<Value = LogCommand> {
    prop_oneof![
        (
            prop::collection::vec(attempt(), 0..4),
            prop::collection::vec(count(), 0..4)
        )
            .prop_map(|(attempts, counts)| LogCommand::Batch(Batch { attempts, counts })),
        (attempt(), letter()).prop_map(|(a, l)| LogCommand::DeadLetter(a, l)),
        (any::<String>(), any::<String>())
            .prop_map(|(route, key)| LogCommand::TakeLetter { route, key }),
        (
            any::<String>(),
            any::<String>(),
            any::<String>(),
            any::<i64>()
        )
            .prop_map(|(route, key, scheme, at_ms)| LogCommand::Requeued {
                route,
                key,
                scheme,
                at_ms
            }),
        (any::<String>(), any::<String>())
            .prop_map(|(route, key)| LogCommand::DropLetter { route, key }),
        (
            opt_text(),
            opt_text(),
            any::<Option<i64>>(),
            any::<Option<(i64, i64)>>(),
            1..=MAX_SCAN,
        )
            .prop_map(|(route, outcome, since_ms, before, limit)| {
                LogCommand::Scan(Scan {
                    route,
                    outcome,
                    since_ms,
                    before,
                    limit,
                })
            }),
        prop::collection::vec((any::<String>(), any::<String>()), 0..4)
            .prop_map(|keys| LogCommand::Lookup { keys }),
        (any::<i64>(), any::<i64>(), any::<i64>()).prop_map(|(since_minute, by_minute, span)| {
            LogCommand::Stats {
                since_minute,
                by_minute,
                span,
            }
        }),
        any::<i64>().prop_map(|before_ms| LogCommand::Purge { before_ms }),
        Just(LogCommand::Meta),
    ]
}

/// Parts as a shard holds them: any texts, attempts folded in any order.
fn part() -> impl Strategy<Value = Partial> {
    (
        prop::collection::vec(attempt(), 1..5),
        any::<i64>(),
        any::<bool>(),
    )
        .prop_map(|(attempts, tie, dead_letter)| {
            let mut part = Partial::of(&attempts[0]);
            for attempt in &attempts[1..] {
                part.add(&Attempt {
                    route: part.route.clone(),
                    key: part.key.clone(),
                    ..attempt.clone()
                });
            }
            part.tie = tie;
            part.dead_letter = dead_letter;
            part
        })
}

fn record() -> impl Strategy<Value = DeliveryRecord> {
    (attempt(), any::<u32>(), any::<bool>(), any::<i64>()).prop_map(
        |(a, attempts, dead_letter, first)| {
            let mut record = DeliveryRecord::merge(None, &a);
            record.attempts = attempts;
            record.dead_letter = dead_letter;
            record.first_seen = first.min(record.last_seen);
            record
        },
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn log_commands_round_trip(command in log_command()) {
        let (path, body) = command.encode();
        prop_assert!(body.is_ascii());
        prop_assert_eq!(LogCommand::decode(path, &body), Some(command));
    }

    #[test]
    fn parts_round_trip(parts in prop::collection::vec(part(), 0..4)) {
        let text = encode_parts(&parts);
        prop_assert!(text.is_ascii());
        prop_assert_eq!(decode_parts(&text), Some(parts));
    }

    #[test]
    fn json_strings_parse_back_to_the_same_text(text in any::<String>()) {
        let encoded = json::string(&text);
        prop_assert!(encoded.is_ascii());
        prop_assert!(!encoded.contains('<') && !encoded.contains('>') && !encoded.contains('&'));
        let decoded: String = serde_json::from_str(&encoded).expect("valid JSON");
        prop_assert_eq!(decoded, text);
    }

    /// What the admin API answers with is JSON whatever the records hold.
    #[test]
    fn rendered_records_are_json(records in prop::collection::vec(record(), 0..3), next in proptest::option::of(cursor())) {
        let routes: Vec<String> = records.iter().take(1).map(|r| r.route.clone()).collect();
        let page = render::page(&records, next, &routes);
        let value: serde_json::Value = serde_json::from_str(&page).expect("valid JSON");
        let listed = value["deliveries"].as_array().expect("a list");
        prop_assert_eq!(listed.len(), records.len());
        for (shown, record) in listed.iter().zip(&records) {
            prop_assert_eq!(shown["key"].as_str(), Some(record.key.as_str()));
            prop_assert_eq!(shown["route"].as_str(), Some(record.route.as_str()));
            prop_assert_eq!(shown["route_gone"].as_bool(), Some(!routes.contains(&record.route)));
        }
    }

    #[test]
    fn queries_round_trip(text in any::<String>()) {
        let encoded = query::encode(&text);
        prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~/%".contains(&b)));
        prop_assert_eq!(query::decode(&encoded), Some(text));
    }

    #[test]
    fn query_pairs_round_trip(pairs in prop::collection::vec((any::<String>(), any::<String>()), 0..6)) {
        let text = pairs
            .iter()
            .map(|(name, value)| format!("{}={}", query::encode(name), query::encode(value)))
            .collect::<Vec<_>>()
            .join("&");
        prop_assert_eq!(query::pairs(&text), Some(pairs));
    }

    #[test]
    fn cursors_round_trip(cursor in cursor()) {
        prop_assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
    }

    /// Merging attempts counts each one, keeps the record's span, and never
    /// lets a later failure hide that the event was delivered.
    #[test]
    fn records_merge_attempts(attempts in prop::collection::vec(
        (attempt(), prop::sample::select(&["delivered", "origin-failed", "queued", "origin-timeout"][..])),
        1..6,
    )) {
        let mut record: Option<DeliveryRecord> = None;
        for (i, (mut attempt, outcome)) in attempts.iter().cloned().enumerate() {
            attempt.outcome = outcome.to_owned();
            if let Some(first) = &record {
                attempt.route = first.route.clone();
                attempt.key = first.key.clone();
            }
            let was_delivered = record.as_ref().is_some_and(|r| r.outcome == "delivered");
            let merged = DeliveryRecord::merge(record.take(), &attempt);
            prop_assert_eq!(merged.attempts as usize, i + 1);
            prop_assert!(merged.first_seen <= attempt.at_ms && attempt.at_ms <= merged.last_seen);
            prop_assert!(merged.first_seen <= merged.last_seen);
            if was_delivered || outcome == "delivered" {
                prop_assert_eq!(merged.outcome.as_str(), "delivered");
            } else {
                prop_assert_eq!(merged.outcome.as_str(), outcome);
            }
            record = Some(merged);
        }
    }

    /// Retry delays double from the base, never shrink from one attempt to
    /// the next, and never pass the cap.
    #[test]
    fn backoff_is_bounded_and_monotonic(attempt in any::<u32>(), base in prop_oneof![1u64..=21_600, any::<u64>()]) {
        let delay = backoff(attempt, base);
        prop_assert!(delay <= MAX_RETRY_DELAY_SECONDS);
        prop_assert!(delay >= base.min(MAX_RETRY_DELAY_SECONDS));
        prop_assert!(backoff(attempt.saturating_add(1), base) >= delay);
        prop_assert_eq!(backoff(1, base), base.min(MAX_RETRY_DELAY_SECONDS));
    }
}

proptest! {
    #![proptest_config(config())]

    /// The module's own base64 (base64ct, smaller in wasm) reads exactly
    /// what the base64 crate's padding-indifferent decoder reads, and writes
    /// what it writes.
    #[test]
    fn base64_matches_the_base64_crate(
        text in "[A-Za-z0-9+/=]{0,12}|[A-Za-z0-9+/]{0,64}={0,3}|\\PC{0,16}",
        bytes in proptest::collection::vec(any::<u8>(), 0..80),
    ) {
        prop_assert_eq!(keys::decode_base64(&text), BASE64.decode(&text).ok());
        let encoded = BASE64.encode(&bytes);
        prop_assert_eq!(keys::encode_base64(&bytes), encoded.clone());
        prop_assert_eq!(keys::decode_base64(&encoded), Some(bytes.clone()));
        prop_assert_eq!(keys::decode_base64(encoded.trim_end_matches('=')), Some(bytes));
    }
}
