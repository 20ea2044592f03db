//! The few top-level fields of a JSON body that hookgate reads: the event
//! id some senders sign only inside the body (Stripe, Quo's legacy
//! webhooks, Slack's `event_id`, or the field an `hmac` route names in
//! `replay_key_field`), the event `type` for the delivery log, and Slack's
//! handshake `challenge`.
//!
//! The body is parsed by `serde_json` without building a tree: every other
//! value is skipped. A body that is not a JSON object yields nothing, and a
//! field whose value is not a string counts as absent, so the caller falls
//! back to its default (the signature, for a replay key).

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// The fields read; each `None` when absent or not a string. When a body
/// repeats a field, the last one counts, as in `JSON.parse`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BodyFields {
    /// `id`: Stripe's and Quo's event id.
    pub id: Option<String>,
    /// `event_id`: Slack's Events API id.
    pub event_id: Option<String>,
    /// `type`: the event type most senders name.
    pub kind: Option<String>,
    /// `challenge`: Slack's `url_verification` handshake.
    pub challenge: Option<String>,
    /// The field [`read_with`] was asked for, when it is none of the above:
    /// its name, and its value when that is a string.
    pub named: Option<(String, Option<String>)>,
}

impl BodyFields {
    /// The string value of a field by name, for the fields read here.
    pub fn get(&self, name: &str) -> Option<&str> {
        match name {
            "id" => self.id.as_deref(),
            "event_id" => self.event_id.as_deref(),
            "type" => self.kind.as_deref(),
            "challenge" => self.challenge.as_deref(),
            _ => match &self.named {
                Some((asked, value)) if asked == name => value.as_deref(),
                _ => None,
            },
        }
    }
}

/// Reads the fields of a JSON object body; `None` when the body is not one.
pub fn read(body: &[u8]) -> Option<BodyFields> {
    read_with(body, None)
}

/// [`read`], and also the top-level field `wanted` (an `hmac` route's
/// `replay_key_field`), which [`BodyFields::get`] then finds by its name.
pub fn read_with(body: &[u8], wanted: Option<&str>) -> Option<BodyFields> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let fields = deserializer
        .deserialize_any(FieldsVisitor { wanted })
        .ok()??;
    deserializer.end().ok()?;
    Some(fields)
}

/// Visitors here accept every kind of value, so serde never builds a
/// type-error message (whose float formatting would weigh more than all of
/// this module in wasm); a value of the wrong kind is simply "not found".
macro_rules! accept_scalars {
    ($value:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<Skip>()?.is_some() {}
            Ok($value)
        }
    };
}

/// Any value, skipped: serde's `IgnoredAny` without its type errors.
pub(crate) struct Skip;

impl<'de> de::Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SkipVisitor)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skip;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    accept_scalars!(Skip);

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Skip)
    }
}

struct FieldsVisitor<'w> {
    wanted: Option<&'w str>,
}

impl<'de> Visitor<'de> for FieldsVisitor<'_> {
    /// `None` when the body is valid JSON but not an object.
    type Value = Option<BodyFields>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    accept_scalars!(None);

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<BodyFields>, A::Error> {
        let mut fields = BodyFields::default();
        let wanted = self.wanted.filter(|name| Name::of(name).is_none());
        if let Some(name) = wanted {
            fields.named = Some((name.to_owned(), None));
        }
        while let Some(name) = map.next_key_seed(NameSeed { wanted })? {
            let slot = match name {
                Name::Id => &mut fields.id,
                Name::EventId => &mut fields.event_id,
                Name::Type => &mut fields.kind,
                Name::Challenge => &mut fields.challenge,
                Name::Wanted => match &mut fields.named {
                    Some((_, value)) => value,
                    None => unreachable!("Name::Wanted only when a field is wanted"),
                },
                Name::Other => {
                    map.next_value::<Skip>()?;
                    continue;
                }
            };
            *slot = map.next_value::<Text>()?.0;
        }
        Ok(Some(fields))
    }
}

/// A field name, sorted into the ones wanted and the rest, without
/// allocating for the rest.
enum Name {
    Id,
    EventId,
    Type,
    Challenge,
    /// The field [`read_with`] was asked for.
    Wanted,
    Other,
}

impl Name {
    /// One of the fields always read.
    fn of(name: &str) -> Option<Name> {
        match name {
            "id" => Some(Name::Id),
            "event_id" => Some(Name::EventId),
            "type" => Some(Name::Type),
            "challenge" => Some(Name::Challenge),
            _ => None,
        }
    }
}

/// Reads a field name, knowing which other one is wanted.
struct NameSeed<'w> {
    wanted: Option<&'w str>,
}

impl<'de> DeserializeSeed<'de> for NameSeed<'_> {
    type Value = Name;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Name, D::Error> {
        deserializer.deserialize_any(NameVisitor {
            wanted: self.wanted,
        })
    }
}

struct NameVisitor<'w> {
    wanted: Option<&'w str>,
}

impl<'de> Visitor<'de> for NameVisitor<'_> {
    type Value = Name;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    accept_scalars!(Name::Other);

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Name, E> {
        Ok(match Name::of(name) {
            Some(known) => known,
            None if self.wanted == Some(name) => Name::Wanted,
            None => Name::Other,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Name, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Name::Other)
    }
}

/// A value kept only when it is a string; any other value is skipped.
struct Text(Option<String>);

impl<'de> de::Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    accept_scalars!(Text(None));

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Text, E> {
        Ok(Text(Some(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Text, E> {
        Ok(Text(Some(text)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Text(None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_wanted_fields_and_skips_the_rest() {
        let body = br#"{"token":"x","event":{"id":"inner","type":"message"},"type":"event_callback","event_id":"Ev123","list":[1,{"id":2}],"id":"evt_1"}"#;
        let fields = read(body).expect("an object");
        assert_eq!(fields.id.as_deref(), Some("evt_1"));
        assert_eq!(fields.event_id.as_deref(), Some("Ev123"));
        assert_eq!(fields.kind.as_deref(), Some("event_callback"));
        assert_eq!(fields.challenge, None);
    }

    #[test]
    fn escapes_are_decoded() {
        let fields = read(br#"{"i\u0064":"evt_\u0041\n"}"#).expect("an object");
        assert_eq!(fields.id.as_deref(), Some("evt_A\n"));
    }

    #[test]
    fn non_string_values_count_as_absent() {
        for body in [
            &br#"{"id":12}"#[..],
            br#"{"id":null}"#,
            br#"{"id":true}"#,
            br#"{"id":{"x":"y"}}"#,
            br#"{"id":["a"]}"#,
            br#"{"id":1.5e3}"#,
        ] {
            assert_eq!(read(body).expect("object").id, None, "{body:?}");
        }
    }

    #[test]
    fn the_last_of_repeated_fields_counts() {
        assert_eq!(
            read(br#"{"id":"a","id":"b"}"#)
                .and_then(|f| f.id)
                .as_deref(),
            Some("b")
        );
    }

    #[test]
    fn anything_but_an_object_yields_nothing() {
        for body in [
            &b""[..],
            b"[]",
            b"\"id\"",
            b"12",
            b"{",
            br#"{"id":"a"} trailing"#,
            br#"{"id":"a",}"#,
            b"token=x&id=y",
            &[0xff, 0xfe][..],
        ] {
            assert_eq!(read(body), None, "{body:?}");
        }
        assert_eq!(read(b" {} "), Some(BodyFields::default()));
    }

    #[test]
    fn a_named_field_is_read_beside_the_usual_ones() {
        let body = br#"{"notification_id":"ntf_1","id":"x","nested":{"notification_id":"inner"}}"#;
        let fields = read_with(body, Some("notification_id")).expect("object");
        assert_eq!(fields.get("notification_id"), Some("ntf_1"));
        assert_eq!(fields.get("id"), Some("x"));
        assert_eq!(fields.get("other"), None, "only the field asked for");
        assert_eq!(read(body).expect("object").get("notification_id"), None);
        // A usual field asked for by name is the usual field.
        let fields = read_with(body, Some("id")).expect("object");
        assert_eq!((fields.get("id"), &fields.named), (Some("x"), &None));
        for (body, why) in [
            (&br#"{"notification_id":12}"#[..], "not a string"),
            (
                br#"{"nested":{"notification_id":"inner"}}"#,
                "not top-level",
            ),
            (br#"{}"#, "absent"),
        ] {
            let fields = read_with(body, Some("notification_id")).expect("object");
            assert_eq!(fields.get("notification_id"), None, "{why}");
        }
        let last = read_with(br#"{"k":"a","k":"b"}"#, Some("k")).expect("object");
        assert_eq!(last.get("k"), Some("b"), "the last of repeated fields");
    }

    #[test]
    fn the_slack_handshake() {
        let body = br#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
        let fields = read(body).expect("object");
        assert_eq!(fields.get("type"), Some("url_verification"));
        assert_eq!(
            fields.get("challenge"),
            Some("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
        );
    }
}
