//! Any body through `body_fields::read`: no panic, and what it reads agrees
//! with a full JSON parse (serde_json's `Value`): `None` exactly when the body
//! is not a JSON object, else each field's last value when it is a string.
#![no_main]

use hookgate::body_fields;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let read = body_fields::read(data);
    let parsed = serde_json::from_slice::<Value>(data).ok();
    let object = parsed.as_ref().and_then(Value::as_object);
    assert_eq!(
        read.is_some(),
        object.is_some(),
        "{:?}",
        String::from_utf8_lossy(data)
    );
    if let (Some(read), Some(object)) = (read, object) {
        let text = |name: &str| object.get(name).and_then(Value::as_str);
        assert_eq!(read.id.as_deref(), text("id"));
        assert_eq!(read.event_id.as_deref(), text("event_id"));
        assert_eq!(read.kind.as_deref(), text("type"));
        assert_eq!(read.challenge.as_deref(), text("challenge"));
    }
});
