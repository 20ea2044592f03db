//! The published Standard Webhooks vectors (tests/vectors/standard-webhooks.json,
//! sources in tests/vectors/README.md), checked against the signature module.
//! The file is kept as published; nothing is edited.

use hookgate::schemes::standard_webhooks::{parse_keys, sign, verify};
use hookgate::schemes::Rejection as VerifyError;
use serde_json::Value;

const TOLERANCE: u64 = 300;

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/standard-webhooks.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).expect("vectors are JSON")
}

fn body_of(vector: &Value) -> Vec<u8> {
    if let Some(body) = vector["body"].as_str() {
        return body.as_bytes().to_vec();
    }
    let repeat = &vector["body_repeat"];
    let ch = repeat["char"].as_str().expect("body_repeat.char");
    let count = repeat["count"].as_u64().expect("body_repeat.count") as usize;
    ch.repeat(count).into_bytes()
}

fn str_of<'a>(vector: &'a Value, field: &str) -> &'a str {
    vector[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} in {vector}"))
}

/// The vector the negative and multi cases are written against: the
/// cross-library "sign function works" case.
fn reference() -> Value {
    vectors()["v1"]
        .as_array()
        .expect("v1 list")
        .iter()
        .find(|v| str_of(v, "signature") == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        .cloned()
        .expect("reference vector present")
}

fn check(vector: &Value, signature: &str) -> Result<(), VerifyError> {
    let keys = parse_keys(str_of(vector, "secret")).expect("vector key parses");
    let ts = vector["timestamp"].as_i64().expect("timestamp");
    verify(
        &keys,
        str_of(vector, "id"),
        &ts.to_string(),
        signature,
        &body_of(vector),
        ts,
        TOLERANCE,
    )
}

#[test]
fn every_v1_vector_signs_and_verifies() {
    let all = vectors();
    let list = all["v1"].as_array().expect("v1 list");
    assert!(list.len() >= 5, "expected the published v1 vectors");
    for vector in list {
        let name = str_of(vector, "name");
        let keys = parse_keys(str_of(vector, "secret")).expect("vector key parses");
        let ts = vector["timestamp"].as_i64().expect("timestamp");
        let signed = sign(&keys[0], str_of(vector, "id"), ts, &body_of(vector));
        assert_eq!(signed, str_of(vector, "signature"), "{name}: sign");
        assert_eq!(
            check(vector, str_of(vector, "signature")),
            Ok(()),
            "{name}: verify"
        );
    }
}

#[test]
fn every_negative_vector_is_refused() {
    let reference = reference();
    let all = vectors();
    let list = all["negative"].as_array().expect("negative list");
    assert!(!list.is_empty());
    for case in list {
        assert_eq!(
            check(&reference, str_of(case, "signature")),
            Err(VerifyError::BadSignature),
            "{}",
            str_of(case, "name")
        );
    }
}

#[test]
fn every_multi_vector_gives_its_expected_answer() {
    let reference = reference();
    let all = vectors();
    let list = all["multi"].as_array().expect("multi list");
    assert!(!list.is_empty());
    for case in list {
        let expected = case["valid"].as_bool().expect("valid flag");
        let result = check(&reference, str_of(case, "signature"));
        assert_eq!(result.is_ok(), expected, "{}", str_of(case, "name"));
    }
}

#[test]
fn other_versions_are_skipped_even_when_they_carry_the_right_hmac() {
    // A verifier that matched on the prefix "v1" (or ignored the version)
    // would accept these: the right HMAC, under another version's name.
    let reference = reference();
    let right = str_of(&reference, "signature")
        .trim_start_matches("v1,")
        .to_owned();
    for version in ["v1a", "v2", "V1", "v1 ", "v10", ""] {
        let header = format!("{version},{right}");
        assert_eq!(
            check(&reference, &header),
            Err(VerifyError::BadSignature),
            "{header:?}"
        );
    }
    assert_eq!(check(&reference, &format!("v1,{right}")), Ok(()));
}

#[test]
fn v1a_vectors_do_not_verify_as_v1() {
    let all = vectors();
    for vector in all["v1a"].as_array().expect("v1a list") {
        // The v1a vectors reuse v1 messages; an HMAC verifier must refuse
        // their ed25519 signatures whatever key it holds.
        let reference = reference();
        assert_eq!(
            check(&reference, str_of(vector, "signature")),
            Err(VerifyError::BadSignature),
            "{}",
            str_of(vector, "name")
        );
    }
}

/// Every other sender's published vectors (tests/vectors/<scheme>.json),
/// through the same path the gate takes: the route's scheme parses the
/// secret and reads the headers, and one HMAC over `prefix || body` must
/// match a candidate.
mod senders {
    use hookgate::keys::find_match;
    use hookgate::schemes::{Rejection, Scheme};
    use serde_json::Value;

    fn vectors(scheme: Scheme) -> Vec<Value> {
        let path = format!(
            "{}/tests/vectors/{}.json",
            env!("CARGO_MANIFEST_DIR"),
            scheme.name()
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
        let file: Value = serde_json::from_str(&text).expect("vectors are JSON");
        file["vectors"].as_array().expect("a vectors list").clone()
    }

    /// Verifies `vector` with `headers` (overriding its own) under `scheme`.
    fn check(
        scheme: Scheme,
        vector: &Value,
        replace: Option<(&str, String)>,
    ) -> Result<(), Rejection> {
        let mut headers: Vec<(String, String)> = vector["headers"]
            .as_object()
            .expect("headers")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().expect("text").to_owned()))
            .collect();
        if let Some((name, value)) = replace {
            headers.retain(|(k, _)| k != name);
            headers.push((name.to_owned(), value));
        }
        let lookup = move |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let signed = scheme.read(&lookup)?;
        let keys = scheme
            .parse_keys(vector["secret"].as_str().expect("secret"))
            .expect("the vector's secret parses");
        let body = vector["body"].as_str().expect("body").as_bytes();
        let expected: Vec<_> = keys.iter().map(|k| k.tag(&signed.prefix, body)).collect();
        find_match(&signed.candidates, &expected)
            .map(drop)
            .ok_or(Rejection::BadSignature)
    }

    #[test]
    fn every_published_vector_verifies_under_its_scheme() {
        let mut checked = 0;
        for scheme in [
            Scheme::Github,
            Scheme::Stripe,
            Scheme::Slack,
            Scheme::Shopify,
            Scheme::QuoLegacy,
        ] {
            let list = vectors(scheme);
            assert!(!list.is_empty(), "{}", scheme.name());
            for vector in &list {
                assert_eq!(
                    check(scheme, vector, None),
                    Ok(()),
                    "{}: {}",
                    scheme.name(),
                    vector["source"]
                );
                checked += 1;
            }
        }
        assert!(checked >= 5);
    }

    #[test]
    fn every_vector_fails_under_every_other_scheme() {
        // The route picks the scheme: a sender's valid delivery on another
        // scheme's route never verifies.
        for scheme in [
            Scheme::Github,
            Scheme::Stripe,
            Scheme::Slack,
            Scheme::Shopify,
            Scheme::QuoLegacy,
        ] {
            for vector in vectors(scheme) {
                for other in Scheme::ALL.into_iter().filter(|s| *s != scheme) {
                    let headers = vector["headers"].as_object().expect("headers").clone();
                    let lookup = move |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.as_str())
                            .map(str::to_owned)
                    };
                    let result = other.read(&lookup);
                    assert!(
                        result.is_err() || result.as_ref().is_ok_and(|s| s.candidates.is_empty()),
                        "{} vector read as {}",
                        scheme.name(),
                        other.name()
                    );
                }
            }
        }
    }

    #[test]
    fn the_quo_legacy_negative_vector_is_refused() {
        for vector in vectors(Scheme::QuoLegacy) {
            let negative = vector["negative"]["signature"].as_str().expect("negative");
            let header = vector["headers"]["openphone-signature"]
                .as_str()
                .expect("header");
            let (head, _) = header.rsplit_once(';').expect("entry");
            let forged = format!("{head};{negative}");
            assert_eq!(
                check(
                    Scheme::QuoLegacy,
                    &vector,
                    Some(("openphone-signature", forged))
                ),
                Err(Rejection::BadSignature)
            );
        }
    }

    #[test]
    fn tampered_bodies_fail_for_every_vector() {
        for scheme in [
            Scheme::Github,
            Scheme::Stripe,
            Scheme::Slack,
            Scheme::Shopify,
            Scheme::QuoLegacy,
        ] {
            for mut vector in vectors(scheme) {
                let body = vector["body"].as_str().expect("body").to_owned();
                vector["body"] = Value::String(format!("{body} "));
                assert_eq!(
                    check(scheme, &vector, None),
                    Err(Rejection::BadSignature),
                    "{}",
                    scheme.name()
                );
            }
        }
    }
}

/// Senders described as `scheme = "hmac"` routes (tests/vectors/hmac.json:
/// published vectors, and vectors computed from each sender's documented
/// algorithm). Each goes the gate's way: the route's settings are read and
/// checked, its sender reads the headers, the software MAC signs
/// `prefix || body || suffix` with the route's keys and hash, and one tag
/// must match.
mod hmac {
    use hookgate::body_fields;
    use hookgate::config::Config;
    use hookgate::keys::{find_match, SigningKey};
    use hookgate::mac::{KeyUse, SoftwareMac};
    use hookgate::schemes::hmac::{Encoding, Part};
    use hookgate::schemes::{KeySource, Rejection, Scheme, Sender, Signed};
    use serde_json::{json, Value};
    use std::collections::HashMap;

    fn file() -> Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/hmac.json");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
        serde_json::from_str(&text).expect("vectors are JSON")
    }

    fn list(name: &str) -> Vec<Value> {
        file()[name].as_array().expect("a list").clone()
    }

    fn text<'a>(vector: &'a Value, field: &str) -> &'a str {
        vector[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} in {}", vector["name"]))
    }

    /// The vector's route, read and checked as ROUTES is.
    fn config(vector: &Value) -> Config {
        let mut route =
            json!({"scheme": "hmac", "secret": "SENDER_SECRET", "origin": "http://127.0.0.1:9/in"});
        for (field, value) in vector["route"].as_object().expect("route") {
            route[field] = value.clone();
        }
        let settings = HashMap::from([
            ("ROUTES".to_owned(), json!({ "/hook": route }).to_string()),
            (
                "SENDER_SECRET".to_owned(),
                text(vector, "secret").to_owned(),
            ),
        ]);
        Config::from_settings(|name| settings.get(name).cloned())
            .unwrap_or_else(|e| panic!("{}: {e}", vector["name"]))
    }

    fn lookup(headers: &Value) -> impl Fn(&str) -> Option<String> + '_ {
        move |name: &str| headers[name].as_str().map(str::to_owned)
    }

    /// What `config`'s route makes of a delivery of `headers` and `body`.
    fn verify(
        config: &Config,
        headers: &Value,
        body: &[u8],
        url: &str,
    ) -> Result<Signed, Rejection> {
        let route = &config.routes[0];
        let signed = route.sender().read(&lookup(headers), &|| url.to_owned())?;
        let tags = SoftwareMac::new(config).tags_of(
            0,
            KeyUse::Sender,
            &signed.prefix,
            body,
            &signed.suffix,
        );
        find_match(&signed.candidates, &tags).ok_or(Rejection::BadSignature)?;
        Ok(signed)
    }

    fn url_of(vector: &Value) -> &str {
        vector["url"]
            .as_str()
            .unwrap_or("https://gate.example/hook")
    }

    #[test]
    fn every_hmac_vector_verifies_under_its_route() {
        let vectors = list("vectors");
        assert!(vectors.len() >= 11, "the senders of hmac.json");
        let mut algorithms = Vec::new();
        let mut encodings = Vec::new();
        let mut suffixed = false;
        for vector in &vectors {
            let name = text(vector, "name");
            let config = config(vector);
            let route = &config.routes[0];
            assert_eq!(route.scheme, Scheme::Hmac);
            let Sender::Hmac(spec) = route.sender() else {
                panic!("{name}: not read as hmac");
            };
            let body = text(vector, "body").as_bytes();
            let signed = verify(&config, &vector["headers"], body, url_of(vector))
                .unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!(
                signed.stamp.is_some(),
                vector["timestamp"].is_number(),
                "{name}"
            );
            algorithms.push(spec.algorithm);
            encodings.push(spec.encoding);
            suffixed |= !spec.template.after.is_empty();

            // The replay key: the signed id, the body field, or the
            // signature, as the vector says.
            let expected = text(vector, "replay_key");
            let key = match route.sender().key_source() {
                KeySource::SignedId => signed.id.clone(),
                KeySource::BodyField(field) => body_fields::read_with(body, Some(field))
                    .and_then(|fields| fields.get(field).map(str::to_owned)),
                KeySource::Signature => None,
                KeySource::SignatureAndHeader(_) => panic!("{name}: no unsigned header keys"),
            };
            assert_eq!(key.as_deref().unwrap_or("signature"), expected, "{name}");

            // The secret parses into the key the sender signs with: a
            // signature made with another fails.
            let other = SigningKey::raw("not the sender's secret").expect("key");
            let forged = other.mac(spec.algorithm, &signed.prefix, body, &signed.suffix);
            let mut headers = vector["headers"].clone();
            headers[spec.signature_header.as_str()] = Value::String(format!(
                "{}{}",
                spec.signature_prefix,
                spec.encoding.encode(&forged)
            ));
            assert_eq!(
                verify(&config, &headers, body, url_of(vector)).map(drop),
                Err(Rejection::BadSignature),
                "{name}: another key"
            );
        }
        for algorithm in hookgate::keys::Algorithm::ALL {
            assert!(algorithms.contains(&algorithm), "a vector of {algorithm:?}");
        }
        for encoding in [Encoding::Hex, Encoding::Base64] {
            assert!(encodings.contains(&encoding), "a vector in {encoding:?}");
        }
        assert!(suffixed, "a vector that signs after the body");
    }

    #[test]
    fn tampered_hmac_vectors_and_other_urls_fail() {
        for vector in list("vectors") {
            let name = text(&vector, "name");
            let config = config(&vector);
            let body = format!("{} ", text(&vector, "body"));
            assert_eq!(
                verify(
                    &config,
                    &vector["headers"],
                    body.as_bytes(),
                    url_of(&vector)
                )
                .map(drop),
                Err(Rejection::BadSignature),
                "{name}: a changed body"
            );
            let spec = config.routes[0].hmac.clone().expect("hmac");
            if spec.template.signs(&Part::Url) && spec.public_url.is_some() {
                // The route signs its public URL, whatever URL the Worker sees.
                let ok = verify(
                    &config,
                    &vector["headers"],
                    text(&vector, "body").as_bytes(),
                    "https://worker.example/x",
                );
                assert!(ok.is_ok(), "{name}: the public URL is signed");
                let mut moved = vector.clone();
                moved["route"]["public_url"] =
                    Value::String("https://hooks.example.com/elsewhere".into());
                let moved = self::config(&moved);
                assert_eq!(
                    verify(
                        &moved,
                        &vector["headers"],
                        text(&vector, "body").as_bytes(),
                        url_of(&vector)
                    )
                    .map(drop),
                    Err(Rejection::BadSignature),
                    "{name}: another URL"
                );
            }
        }
    }

    /// A route picks its sender: a delivery made for one hmac route fails
    /// on every other, as it does across the named schemes.
    #[test]
    fn every_hmac_vector_fails_under_every_other_route() {
        let vectors = list("vectors");
        for vector in &vectors {
            for other in vectors.iter().filter(|o| o["name"] != vector["name"]) {
                let result = verify(
                    &config(other),
                    &vector["headers"],
                    text(vector, "body").as_bytes(),
                    url_of(vector),
                );
                assert!(
                    result.is_err(),
                    "{} verified on {}'s route",
                    vector["name"],
                    other["name"]
                );
            }
        }
    }

    /// Published vectors the hmac fields cannot take yet: the route refuses
    /// them for the reason given, while the signature is what the note says.
    #[test]
    fn the_not_yet_expressible_vectors_are_refused_for_their_reason() {
        let list = list("not_expressible");
        assert!(!list.is_empty());
        for vector in list {
            let name = text(&vector, "name");
            let config = config(&vector);
            let result = verify(
                &config,
                &vector["headers"],
                text(&vector, "body").as_bytes(),
                url_of(&vector),
            );
            assert_eq!(text(&vector, "refused"), "bad-timestamp", "{name}");
            assert_eq!(result.map(drop), Err(Rejection::BadTimestamp), "{name}");
            // The algorithm is right: over the header's own text, it matches.
            let spec = config.routes[0].hmac.clone().expect("hmac");
            let stamp = text(
                &vector["headers"],
                spec.timestamp_header.as_deref().expect("timestamp"),
            );
            let tag = config.routes[0].keys[0].mac(
                spec.algorithm,
                b"",
                text(&vector, "body").as_bytes(),
                stamp.as_bytes(),
            );
            assert_eq!(
                format!("{}{}", spec.signature_prefix, spec.encoding.encode(&tag)),
                text(&vector["headers"], &spec.signature_header),
                "{name}"
            );
        }
    }
}
