//! Query strings through `query::pairs` and `query::decode`: no panic, and
//! whatever decodes, encoded again, decodes to the same.
#![no_main]

use hookgate::log::Cursor;
use hookgate::query;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(decoded) = query::decode(&text) {
        assert_eq!(query::decode(&query::encode(&decoded)), Some(decoded));
    }
    if let Some(pairs) = query::pairs(&text) {
        let again = pairs
            .iter()
            .map(|(name, value)| format!("{}={}", query::encode(name), query::encode(value)))
            .collect::<Vec<_>>()
            .join("&");
        assert_eq!(query::pairs(&again), Some(pairs));
    }
    if let Some(cursor) = Cursor::decode(&text) {
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
    }
});
