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
