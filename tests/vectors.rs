//! The published Standard Webhooks vectors (tests/vectors/standard-webhooks.json,
//! sources in tests/vectors/README.md), checked against the signature module.
//! The file is kept as published; nothing is edited.

use hookgate::signature::{verify, KeyRing, VerifyError};
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
    let keys = KeyRing::parse(str_of(vector, "secret")).expect("vector key parses");
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
        let keys = KeyRing::parse(str_of(vector, "secret")).expect("vector key parses");
        let ts = vector["timestamp"].as_i64().expect("timestamp");
        let signed = keys.keys()[0].sign(str_of(vector, "id"), ts, &body_of(vector));
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
