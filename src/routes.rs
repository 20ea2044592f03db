//! `ROUTES`: many senders on one gate, one route per path.
//!
//! In wrangler.toml `ROUTES` is a `[vars]` table (the Worker sees it as an
//! object, which the glue hands over as JSON text); in `.dev.vars` or with
//! `--var` it is the same JSON as a string:
//!
//! ```toml
//! [vars.ROUTES."/github"]
//! scheme = "github"
//! secret = ["GITHUB_WEBHOOK_SECRET", "GITHUB_WEBHOOK_SECRET_NEXT"]
//! origin = "https://api.example.com/hooks/github"
//! ```
//!
//! A route names its secrets (bindings set with `wrangler secret put`); keys
//! never sit in `ROUTES`, which is a plain var anyone with read access to the
//! config sees. The JSON is walked without building a tree, so a path or a
//! route's field given twice is caught instead of the second silently
//! replacing the first.

use crate::keys::Algorithm;
use crate::route::{Delivery, EventFilter, Limits, QueuePolicy, Route};
use crate::schemes::hmac::{Encoding, HmacSpec, KeyEncoding, Part, Template, Unit};
use crate::schemes::{standard_webhooks, Scheme};
use crate::setting::{
    check_header_name, check_origin_url, check_path, dedupe_number, near_miss, parse_number,
    ConfigError, Number, Place, Rule, StoreKind, FIELDS, HMAC_FIELDS, MAX_BODY, MAX_PER_SECOND,
    ORIGIN_TIMEOUT, QUEUE_MAX_ATTEMPTS, QUEUE_RETRY_BASE, TOLERANCE,
};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// A JSON value as far as routes need one.
#[derive(Debug, Clone, PartialEq)]
enum Raw {
    Text(String),
    Whole(u64),
    List(Vec<Raw>),
    Table(Vec<(String, Raw)>),
    /// Anything else: negative or fractional numbers, booleans, null.
    Other,
}

impl<'de> de::Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<Raw, E> {
        Ok(Raw::Text(text.to_owned()))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Raw, E> {
        Ok(Raw::Whole(n))
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Raw, E> {
        Ok(u64::try_from(n).map_or(Raw::Other, Raw::Whole))
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Raw, E> {
        // TOML integers arrive as JS numbers; a whole float is a whole number.
        let whole = n.fract() == 0.0 && (0.0..9.0e15).contains(&n);
        Ok(if whole {
            Raw::Whole(n as u64)
        } else {
            Raw::Other
        })
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Raw, E> {
        Ok(Raw::Other)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Raw, E> {
        Ok(Raw::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Raw::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        // JSON keys are always strings; a key read as a `Raw` avoids serde's
        // string visitor and its type-error messages.
        while let Some((key, value)) = map.next_entry::<Raw, Raw>()? {
            if let Raw::Text(key) = key {
                entries.push((key, value));
            }
        }
        Ok(Raw::Table(entries))
    }
}

/// Parses `ROUTES` and checks every route. `defaults` are the plain settings'
/// limits; `secret` reads a named secret binding; `fail` takes each error.
/// A route with an error is left out after its first one, and the routes
/// after it are still checked, so every route's problem is found at once.
pub fn parse(
    text: &str,
    defaults: &Limits,
    queue_defaults: &QueuePolicy,
    store: StoreKind,
    secret: &dyn Fn(&str) -> Option<String>,
    fail: &dyn Fn(ConfigError),
) -> Vec<Route> {
    // From bytes, as body fields are read: one serde_json reader in the
    // module instead of two (the text is UTF-8 already, and its strings are
    // checked again, which costs nothing at this size).
    let raw: Raw = match serde_json::from_slice(text.as_bytes()) {
        Ok(raw) => raw,
        Err(error) => {
            fail(ConfigError::setting(
                "ROUTES",
                Rule::RoutesNotJson {
                    line: error.line(),
                    column: error.column(),
                },
            ));
            return Vec::new();
        }
    };
    let Raw::Table(entries) = raw else {
        fail(ConfigError::setting(
            "ROUTES",
            Rule::RoutesNotJson { line: 1, column: 1 },
        ));
        return Vec::new();
    };
    if entries.is_empty() {
        fail(ConfigError::setting("ROUTES", Rule::NoRoutes));
    }
    let mut routes: Vec<Route> = Vec::with_capacity(entries.len());
    // Every path given so far, a route with an error's too: a second route
    // on a path is an error whatever the first one's fields are.
    let mut paths: Vec<&str> = Vec::with_capacity(entries.len());
    for (path, fields) in &entries {
        let error = |field: &'static str, rule: Rule| ConfigError {
            place: Place::Route {
                path: path.clone(),
                field,
            },
            rule,
        };
        let checked = check_path(path)
            .map_err(|e| error("path", Rule::Path(e)))
            .and_then(|()| {
                if paths.contains(&path.as_str()) {
                    return Err(error("path", Rule::DuplicatePath));
                }
                let Raw::Table(fields) = fields else {
                    return Err(error("path", Rule::RouteNotTable));
                };
                route(path, fields, defaults, queue_defaults, store, secret)
                    .map_err(|bad| error(bad.0, bad.1))
            });
        paths.push(path);
        match checked {
            Ok(route) => routes.push(route),
            Err(e) => fail(e),
        }
    }
    routes
}

/// A route's error before it is placed: the field and the rule. Route
/// checks return this, and [`parse`] adds the path once, rather than every
/// check cloning the path into a [`ConfigError`] of its own. Boxed, so each
/// `?` passes one pointer on rather than copying the whole rule.
type Bad = Box<(&'static str, Rule)>;

/// A [`Bad`]: one call, not an allocation written out at every check.
#[inline(never)]
fn bad(field: &'static str, rule: Rule) -> Bad {
    Box::new((field, rule))
}

fn route(
    path: &str,
    fields: &[(String, Raw)],
    defaults: &Limits,
    queue_defaults: &QueuePolicy,
    store: StoreKind,
    secret: &dyn Fn(&str) -> Option<String>,
) -> Result<Route, Bad> {
    if let Some((name, _)) = fields
        .iter()
        .find(|(name, _)| !FIELDS.contains(&name.as_str()))
    {
        let rule = match near_miss(name) {
            Some(meant) => Rule::MisspelledField {
                given: name.clone(),
                meant,
            },
            None => Rule::UnknownField,
        };
        return Err(bad("field", rule));
    }
    if let Some(twice) = FIELDS
        .iter()
        .find(|name| fields.iter().filter(|(field, _)| field == *name).count() > 1)
    {
        return Err(bad(twice, Rule::DuplicateField));
    }
    let field = |name: &str| {
        fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value)
    };

    let scheme = match field("scheme") {
        None => return Err(bad("scheme", Rule::Required)),
        Some(Raw::Text(name)) => {
            Scheme::from_name(name).ok_or_else(|| bad("scheme", Rule::UnknownScheme))?
        }
        Some(_) => return Err(bad("scheme", Rule::Type("text: the scheme's name"))),
    };
    let hmac = if scheme == Scheme::Hmac {
        Some(hmac_spec(fields)?)
    } else {
        if let Some(name) = HMAC_FIELDS.iter().find(|name| field(name).is_some()) {
            return Err(bad(name, Rule::HmacOnly));
        }
        None
    };

    let Some(value) = field("secret") else {
        return Err(bad("secret", Rule::Required));
    };
    // One name or a list of them, none of them anything but text: one
    // check for all, so one error.
    let items = match value {
        Raw::List(items) => items.as_slice(),
        _ => std::slice::from_ref(value),
    };
    let mut names: Vec<&str> = Vec::with_capacity(items.len());
    for item in items {
        let Raw::Text(name) = item else {
            names.clear();
            break;
        };
        names.push(name.as_str());
    }
    if names.is_empty() {
        return Err(bad(
            "secret",
            Rule::Type("a secret's name, or a list of names"),
        ));
    }
    let mut keys = Vec::new();
    for name in names {
        let value = bound(name, secret).map_err(|rule| bad("secret", rule))?;
        let parsed = match &hmac {
            Some(spec) => spec.key_encoding.parse_keys(&value),
            None => scheme.parse_keys(&value),
        };
        keys.extend(parsed.map_err(|e| bad("secret", Rule::Key(e)))?);
    }

    // A URL field (`origin`, `alert_url`), checked.
    let url = |name: &'static str| -> Result<Option<String>, Bad> {
        let Some(value) = field(name) else {
            return Ok(None);
        };
        let Raw::Text(text) = value else {
            return Err(bad(name, Rule::Type("text: an http(s) URL")));
        };
        let url = text.trim().to_owned();
        check_origin_url(&url).map_err(|e| bad(name, Rule::Url(e)))?;
        Ok(Some(url))
    };
    let origin_url = url("origin")?.ok_or_else(|| bad("origin", Rule::Required))?;

    let origin_key = match field("origin_secret") {
        None => None,
        Some(Raw::Text(name)) => {
            let value = bound(name, secret).map_err(|rule| bad("origin_secret", rule))?;
            Some(
                standard_webhooks::parse_key(&value)
                    .map_err(|e| bad("origin_secret", Rule::Key(e)))?,
            )
        }
        Some(_) => return Err(bad("origin_secret", Rule::Type("a secret's name"))),
    };

    let number = |spec: &Number, default: u64| -> Result<u64, Bad> {
        let value = match field(spec.field) {
            None => return Ok(default),
            Some(Raw::Whole(n)) => Some(*n).filter(|n| (spec.min..=spec.max).contains(n)),
            Some(Raw::Text(text)) => parse_number(text, spec),
            Some(_) => None,
        };
        value.ok_or_else(|| bad(spec.field, Rule::Number(spec.range)))
    };
    let limits = Limits {
        tolerance_seconds: number(&TOLERANCE, defaults.tolerance_seconds)?,
        max_body_bytes: usize::try_from(number(&MAX_BODY, defaults.max_body_bytes as u64)?)
            .unwrap_or(usize::MAX),
        dedupe_ttl_seconds: number(&dedupe_number(store), defaults.dedupe_ttl_seconds)?,
        origin_timeout_ms: number(&ORIGIN_TIMEOUT, defaults.origin_timeout_ms)?,
    };
    if limits.dedupe_ttl_seconds < limits.tolerance_seconds.saturating_mul(2) {
        return Err(bad("dedupe_ttl_seconds", Rule::DedupeShorterThanWindow));
    }

    let delivery = match field("delivery") {
        None => Delivery::Direct,
        Some(Raw::Text(mode)) if mode == "direct" => Delivery::Direct,
        Some(Raw::Text(mode)) if mode == "queue" => {
            if origin_key.is_none() {
                return Err(bad("delivery", Rule::QueueNeedsOriginSecret));
            }
            Delivery::Queue(QueuePolicy {
                max_attempts: number(&QUEUE_MAX_ATTEMPTS, u64::from(queue_defaults.max_attempts))?
                    as u32,
                retry_base_seconds: number(&QUEUE_RETRY_BASE, queue_defaults.retry_base_seconds)?,
                max_per_second: number(&MAX_PER_SECOND, 0)? as u32,
            })
        }
        Some(_) => return Err(bad("delivery", Rule::DeliveryMode)),
    };
    if delivery == Delivery::Direct && field("max_per_second").is_some() {
        return Err(bad(
            "max_per_second",
            Rule::Unused("only a queue route's forwards are paced"),
        ));
    }

    let events = match field("events") {
        None => None,
        Some(value) => Some(event_filter(value).ok_or_else(|| bad("events", Rule::Type(EVENTS)))?),
    };

    let alert_url = url("alert_url")?;

    Ok(Route {
        path: path.to_owned(),
        scheme,
        hmac,
        keys,
        origin_url,
        origin_key,
        limits,
        scoped_keys: true,
        delivery,
        events,
        alert_url,
    })
}

/// What `events` must hold.
const EVENTS: &str =
    "an event type or a list of them, each a name, a name ending in .* or *, in printable ASCII without spaces";

/// The longest event type pattern: the gate reads no longer type.
const MAX_EVENT_PATTERN_BYTES: usize = 128;

/// An `events` field's patterns, or `None` when one is not a pattern: an
/// empty list would forward nothing, and a `*` inside a name (`message*`,
/// `*.received`) does not do what it seems to.
fn event_filter(value: &Raw) -> Option<EventFilter> {
    let items = match value {
        Raw::Text(_) => std::slice::from_ref(value),
        Raw::List(items) if !items.is_empty() => items.as_slice(),
        _ => return None,
    };
    let mut patterns = Vec::with_capacity(items.len());
    for item in items {
        let Raw::Text(pattern) = item else {
            return None;
        };
        let name = match pattern.strip_suffix('*') {
            Some("") => "",
            Some(prefix) => prefix.strip_suffix('.')?,
            None => pattern.as_str(),
        };
        let printable = name.bytes().all(|b| b.is_ascii_graphic() && b != b'*');
        let whole = !name.is_empty() || pattern == "*";
        if !printable || !whole || pattern.len() > MAX_EVENT_PATTERN_BYTES {
            return None;
        }
        patterns.push(pattern.clone());
    }
    Some(EventFilter { patterns })
}

/// Why a template whose `{id}` or `{url}` could take the body's bytes is
/// refused (see [`crate::schemes::hmac::Template::id_end`]; a URL the
/// request chooses could take the bytes after it through its query).
const REACHES_BODY: &str =
    "{id} must come once, before the body, with text after it, and {url} last or with public_url";

/// An `hmac` route's description of its sender, every field checked: the
/// header names, the choices, the template, and that every part the
/// template signs has its header and every header field is signed.
fn hmac_spec(fields: &[(String, Raw)]) -> Result<HmacSpec, Bad> {
    let text = |name: &'static str, expected: &'static str| match fields
        .iter()
        .find(|(field, _)| field == name)
        .map(|(_, value)| value)
    {
        None => Ok(None),
        Some(Raw::Text(text)) => Ok(Some(text.as_str())),
        Some(_) => Err(bad(name, Rule::Type(expected))),
    };
    let header = |name: &'static str| -> Result<Option<String>, Bad> {
        text(name, "text: a header name")?
            .map(|value| check_header_name(value).map_err(|rule| bad(name, rule)))
            .transpose()
    };
    fn choice<T>(
        given: Option<&str>,
        parse: fn(&str) -> Option<T>,
        default: T,
        fail: impl FnOnce() -> Bad,
    ) -> Result<T, Bad> {
        match given {
            None => Ok(default),
            Some(name) => parse(name).ok_or_else(fail),
        }
    }

    let signature_header =
        header("signature_header")?.ok_or_else(|| bad("signature_header", Rule::Required))?;
    let signature_prefix = text(
        "signature_prefix",
        "text: what the sender writes before the signature",
    )?
    .unwrap_or_default();
    let printable = signature_prefix.bytes().all(|b| (0x20..0x7f).contains(&b));
    if !printable || signature_prefix.starts_with(' ') {
        return Err(bad(
            "signature_prefix",
            Rule::Type("printable ASCII text that does not start with a space"),
        ));
    }
    let algorithm = choice(
        text("algorithm", "text: sha256, sha1 or sha512")?,
        Algorithm::from_name,
        Algorithm::Sha256,
        || {
            bad(
                "algorithm",
                Rule::Choice("sha256 (the default), sha1 or sha512"),
            )
        },
    )?;
    let encoding = choice(
        text("encoding", "text: hex, base64 or base64url")?,
        Encoding::from_name,
        Encoding::Hex,
        || {
            bad(
                "encoding",
                Rule::Choice("hex (the default), base64 or base64url"),
            )
        },
    )?;
    let template = match text("signed", "text: a template such as \"{timestamp}.{body}\"")? {
        None => Template::body_only(),
        Some(source) => Template::parse(source).map_err(|e| bad("signed", Rule::Template(e)))?,
    };
    let timestamp_header = header("timestamp_header")?;
    let timestamp_unit = choice(
        text("timestamp_unit", "text: seconds or milliseconds")?,
        Unit::from_name,
        Unit::Seconds,
        || {
            bad(
                "timestamp_unit",
                Rule::Choice("seconds (the default) or milliseconds"),
            )
        },
    )?;
    let id_header = header("id_header")?;
    let key_encoding = choice(
        text("key_encoding", "text: text, base64, hex or whsec")?,
        KeyEncoding::from_name,
        KeyEncoding::Text,
        || {
            bad(
                "key_encoding",
                Rule::Choice("text (the default), base64, hex or whsec"),
            )
        },
    )?;
    let replay_key_field = text("replay_key_field", "text: a top-level field of the body")?;
    if replay_key_field == Some("") {
        return Err(bad("replay_key_field", Rule::Required));
    }
    let public_url = text("public_url", "text: an http(s) URL")?.map(str::trim);
    if let Some(url) = public_url {
        check_origin_url(url).map_err(|e| bad("public_url", Rule::Url(e)))?;
    }

    // Every header named once, every signed part with its header, every
    // field that names something signed.
    if timestamp_header.is_some() && timestamp_header.as_deref() == Some(signature_header.as_str())
    {
        return Err(bad("timestamp_header", Rule::SameHeader));
    }
    if id_header.is_some()
        && (id_header.as_ref() == Some(&signature_header) || id_header == timestamp_header)
    {
        return Err(bad("id_header", Rule::SameHeader));
    }
    let signs = |part: Part| template.signs(&part);
    if signs(Part::Timestamp) && timestamp_header.is_none() {
        return Err(bad(
            "signed",
            Rule::NeedsField(
                "it signs {timestamp}, but the route sets no timestamp_header to read it from",
            ),
        ));
    }
    if signs(Part::Id) && id_header.is_none() {
        return Err(bad(
            "signed",
            Rule::NeedsField("it signs {id}, but the route sets no id_header to read it from"),
        ));
    }
    if timestamp_header.is_some() && !signs(Part::Timestamp) {
        return Err(bad(
            "timestamp_header",
            Rule::Unused(
                "signed has no {timestamp}: a timestamp the sender does not sign bounds nothing, \
                 since whoever replays a delivery can rewrite it; sign it or remove the field",
            ),
        ));
    }
    if fields.iter().any(|(name, _)| name == "timestamp_unit") && timestamp_header.is_none() {
        return Err(bad(
            "timestamp_unit",
            Rule::Unused("the route has no timestamp_header whose unit it would be"),
        ));
    }
    if id_header.is_some() && !signs(Part::Id) {
        return Err(bad(
            "id_header",
            Rule::Unused(
                "signed has no {id}: an id the sender does not sign keys nothing, since whoever \
                 replays a delivery can write any id there; sign it or remove the field",
            ),
        ));
    }
    if replay_key_field.is_some() && signs(Part::Id) {
        return Err(bad(
            "replay_key_field",
            Rule::Unused("the signed id ({id} in signed) keys replays already"),
        ));
    }
    if (signs(Part::Id) && template.id_end().is_none())
        || (public_url.is_none()
            && signs(Part::Url)
            && !matches!(template.after.last(), Some(Part::Url)))
    {
        return Err(bad("signed", Rule::NeedsField(REACHES_BODY)));
    }

    if public_url.is_some() && !signs(Part::Url) {
        return Err(bad(
            "public_url",
            Rule::Unused("signed has no {url}, so no URL is signed"),
        ));
    }
    Ok(HmacSpec {
        signature_header,
        signature_prefix: signature_prefix.to_owned(),
        algorithm,
        encoding,
        template,
        timestamp_header,
        timestamp_unit,
        id_header,
        key_encoding,
        replay_key_field: replay_key_field.map(str::to_owned),
        public_url: public_url.map(str::to_owned),
    })
}

/// Reads a secret a route names. A name is letters, digits and `_`: anything
/// else is likely a key pasted where its name belongs, and is never shown.
/// A name is shown only when it looks like one (upper case), since even a
/// well-formed name might be a lower-case secret someone pasted.
fn bound(name: &str, secret: &dyn Fn(&str) -> Option<String>) -> Result<String, Rule> {
    let is_name = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !is_name {
        return Err(Rule::NotABindingName);
    }
    secret(name).ok_or_else(|| Rule::Unbound(name_is_shown(name).then(|| name.to_owned())))
}

/// Whether a secret's name may be shown, in an error or in `npm run
/// check`'s list: only one that looks like a name (upper case, digits and
/// `_`), since even a well-formed name might be a lower-case secret someone
/// pasted where its name belongs.
pub fn name_is_shown(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::keys::KeyError;
    use crate::testing::{ROTATED_KEY, VECTOR_KEY};
    use std::collections::HashMap;

    const GITHUB_SECRET: &str = "It's a Secret to Everybody";

    fn settings(routes: &str) -> HashMap<String, String> {
        let mut settings = HashMap::from([
            ("ROUTES".to_owned(), routes.to_owned()),
            ("QUO_WEBHOOK_SECRET".to_owned(), VECTOR_KEY.to_owned()),
            ("GITHUB_WEBHOOK_SECRET".to_owned(), GITHUB_SECRET.to_owned()),
            (
                "GITHUB_WEBHOOK_SECRET_NEXT".to_owned(),
                "next secret".to_owned(),
            ),
            ("lowercase_secret".to_owned(), "x".to_owned()),
        ]);
        // Bound only where a route names it: beside ROUTES an ORIGIN_SECRET
        // no route names is refused (config.rs tests that).
        if routes.contains("ORIGIN_SECRET") {
            settings.insert("ORIGIN_SECRET".to_owned(), VECTOR_KEY.to_owned());
        }
        settings
    }

    fn read(routes: &str) -> Result<Config, ConfigError> {
        let map = settings(routes);
        Config::from_settings(|name| map.get(name).cloned())
    }

    fn failure(routes: &str) -> (String, &'static str, Rule) {
        match read(routes).expect_err("invalid") {
            ConfigError {
                place: Place::Route { path, field },
                rule,
            } => (path, field, rule),
            other => panic!("not a route error: {other:?}"),
        }
    }

    /// DESIGN.md's example, as the Worker sees the TOML table: JSON.
    const EXAMPLE: &str = r#"{
        "/quo": {"scheme": "standard-webhooks", "secret": "QUO_WEBHOOK_SECRET",
                 "origin": "https://api.example.com/hooks/quo", "origin_secret": "ORIGIN_SECRET"},
        "/github": {"scheme": "github", "secret": ["GITHUB_WEBHOOK_SECRET", "GITHUB_WEBHOOK_SECRET_NEXT"],
                    "origin": "https://api.example.com/hooks/github", "tolerance_seconds": 60,
                    "max_body_bytes": "2048"}
    }"#;

    #[test]
    fn the_design_example_parses() {
        let config = read(EXAMPLE).expect("valid");
        assert_eq!(config.routes.len(), 2);
        let (_, quo) = config.route_for("/quo").expect("quo");
        assert_eq!(quo.scheme, Scheme::StandardWebhooks);
        assert!(quo.origin_key.is_some());
        assert!(quo.scoped_keys);
        assert_eq!(quo.replay_text("msg_1"), "/quo msg_1");
        let (index, github) = config.route_for("/github").expect("github");
        assert_eq!(index, 1);
        assert_eq!(github.scheme, Scheme::Github);
        assert_eq!(github.keys.len(), 2, "rotation: both named secrets");
        assert_eq!(github.keys[0].as_bytes(), GITHUB_SECRET.as_bytes());
        assert_eq!(github.limits.tolerance_seconds, 60);
        assert_eq!(github.limits.max_body_bytes, 2048);
        assert_eq!(
            github.limits.dedupe_ttl_seconds, 259_200,
            "the global default"
        );
        assert!(config.route_for("/").is_none());
    }

    #[test]
    fn global_settings_are_the_defaults_of_route_limits() {
        let mut map = settings(
            r#"{"/q": {"scheme": "standard-webhooks", "secret": "QUO_WEBHOOK_SECRET", "origin": "http://x/"}}"#,
        );
        map.insert("TOLERANCE_SECONDS".to_owned(), "30".to_owned());
        map.insert("ORIGIN_TIMEOUT_MS".to_owned(), "1500".to_owned());
        let config = Config::from_settings(|name| map.get(name).cloned()).expect("valid");
        assert_eq!(config.routes[0].limits.tolerance_seconds, 30);
        assert_eq!(config.routes[0].limits.origin_timeout_ms, 1500);
    }

    #[test]
    fn raw_secrets_keep_their_spaces_and_base64_secrets_split() {
        let config = read(EXAMPLE).expect("valid");
        assert_eq!(config.routes[1].keys[1].as_bytes(), b"next secret");
        let mut map = settings(
            r#"{"/q": {"scheme": "standard-webhooks", "secret": "TWO", "origin": "http://x/"}}"#,
        );
        map.insert(
            "TWO".to_owned(),
            format!("{VECTOR_KEY} whsec_c2Vjb25kLWtleS1mb3Itcm90YXRpb24="),
        );
        let config = Config::from_settings(|name| map.get(name).cloned()).expect("valid");
        assert_eq!(config.routes[0].keys.len(), 2);
    }

    #[test]
    fn each_bad_route_names_the_route_and_the_field() {
        let cases: &[(&str, &str, &str)] = &[
            (
                r#"{"/a": {"scheme": "gitlab", "secret": "GITHUB_WEBHOOK_SECRET", "origin": "http://x/"}}"#,
                "/a",
                "scheme",
            ),
            (
                r#"{"/a": {"secret": "GITHUB_WEBHOOK_SECRET", "origin": "http://x/"}}"#,
                "/a",
                "scheme",
            ),
            (
                r#"{"/a": {"scheme": "github", "secret": "NOT_BOUND", "origin": "http://x/"}}"#,
                "/a",
                "secret",
            ),
            (
                r#"{"/a": {"scheme": "github", "secret": [], "origin": "http://x/"}}"#,
                "/a",
                "secret",
            ),
            (
                r#"{"/a": {"scheme": "github", "secret": "GITHUB_WEBHOOK_SECRET", "origin": "ftp://x/"}}"#,
                "/a",
                "origin",
            ),
            (
                r#"{"/a": {"scheme": "github", "secret": "GITHUB_WEBHOOK_SECRET", "origin": "https://u:p@x/"}}"#,
                "/a",
                "origin",
            ),
            (
                r#"{"/a": {"scheme": "github", "secret": "GITHUB_WEBHOOK_SECRET"}}"#,
                "/a",
                "origin",
            ),
            (
                r#"{"/a": {"scheme": "github", "secret": "GITHUB_WEBHOOK_SECRET", "origin": "http://x/", "origin_secret": "GITHUB_WEBHOOK_SECRET"}}"#,
                "/a",
                "origin_secret",
            ),
            (
                r#"{"/a": {"scheme": "github", "secret": "GITHUB_WEBHOOK_SECRET", "origin": "http://x/", "orgin": "http://y/"}}"#,
                "/a",
                "field",
            ),
            (
                r#"{"/a": {"scheme": "github", "secret": "GITHUB_WEBHOOK_SECRET", "origin": "http://x/", "tolerance_seconds": -1}}"#,
                "/a",
                "tolerance_seconds",
            ),
            (
                r#"{"/a": {"scheme": "github", "secret": "GITHUB_WEBHOOK_SECRET", "origin": "http://x/", "tolerance_seconds": 400, "dedupe_ttl_seconds": 700}}"#,
                "/a",
                "dedupe_ttl_seconds",
            ),
            (
                r#"{"/_hookgate/x": {"scheme": "github", "secret": "GITHUB_WEBHOOK_SECRET", "origin": "http://x/"}}"#,
                "/_hookgate/x",
                "path",
            ),
            (
                r#"{"/a?b": {"scheme": "github", "secret": "GITHUB_WEBHOOK_SECRET", "origin": "http://x/"}}"#,
                "/a?b",
                "path",
            ),
            (r#"{"/a": "github"}"#, "/a", "path"),
        ];
        for (routes, path, field) in cases {
            let (got_path, got_field, rule) = failure(routes);
            assert_eq!(
                (got_path.as_str(), got_field),
                (*path, *field),
                "{routes}: {rule:?}"
            );
        }
    }

    /// Found by the second hostile review: an unknown field's first 40
    /// characters were printed, and a secret pasted as a field name showed
    /// in the log. Only a near miss of a real field is shown now.
    #[test]
    fn an_unknown_field_is_named_only_when_it_is_a_near_miss() {
        let with_field = |name: &str| {
            format!(
                r#"{{"/a": {{"scheme": "github", "secret": "GITHUB_WEBHOOK_SECRET", "origin": "http://x/", {}: 1}}}}"#,
                crate::json::string(name)
            )
        };
        // Failures name the case by number: a secret is not printed.
        let pasted_secrets = [GITHUB_SECRET, VECTOR_KEY, ROTATED_KEY, "hunter2hunter2"];
        for (case, pasted) in pasted_secrets.into_iter().enumerate() {
            let error = read(&with_field(pasted)).expect_err("unknown");
            assert_eq!(error.rule, Rule::UnknownField, "secret {case}");
            let text = error.to_string();
            assert!(text.contains("field field is invalid"), "{text}");
            for shown in [pasted, &pasted[..pasted.len().min(6)]] {
                assert!(!text.contains(shown), "{text}");
            }
        }
        for (typo, meant) in [
            ("orgin", "origin"),
            ("sheme", "scheme"),
            ("Origin-Secret", "origin_secret"),
            ("TOLERANCE_SECONDS", "tolerance_seconds"),
            ("max_body_byte", "max_body_bytes"),
            ("deliveyr", "delivery"),
            // Two edits from a field is a near miss, whatever it was meant as.
            ("s3cr3t", "secret"),
        ] {
            let error = read(&with_field(typo)).expect_err("misspelled");
            assert_eq!(
                error.rule,
                Rule::MisspelledField {
                    given: typo.to_owned(),
                    meant
                },
                "{typo}"
            );
            let text = error.to_string();
            assert!(
                text.contains(&format!("\"{typo}\" (did you mean {meant}?)")),
                "{text}"
            );
        }
    }

    /// Found by the second hostile review: a field given twice in JSON kept
    /// the last, so `"scheme":"stripe", … "scheme":"github"` was a GitHub
    /// route without a word.
    #[test]
    fn a_field_given_twice_is_refused() {
        let (path, field, rule) = failure(
            r#"{"/a": {"scheme": "stripe", "secret": "GITHUB_WEBHOOK_SECRET", "origin": "http://x/", "scheme": "github"}}"#,
        );
        assert_eq!(
            (path.as_str(), field, rule),
            ("/a", "scheme", Rule::DuplicateField)
        );
        let (_, field, _) = failure(
            r#"{"/a": {"scheme": "github", "secret": "GITHUB_WEBHOOK_SECRET", "origin": "http://x/", "tolerance_seconds": 60, "tolerance_seconds": 60}}"#,
        );
        assert_eq!(field, "tolerance_seconds", "even with the same value twice");
    }

    #[test]
    fn queue_routes_take_a_retry_policy_and_need_an_origin_secret() {
        let config = read(
            r#"{"/q": {"scheme": "github", "secret": "GITHUB_WEBHOOK_SECRET", "origin": "http://x/",
            "origin_secret": "ORIGIN_SECRET", "delivery": "queue", "queue_max_attempts": 5}}"#,
        )
        .expect("valid");
        assert_eq!(
            config.routes[0].delivery,
            Delivery::Queue(QueuePolicy {
                max_attempts: 5,
                retry_base_seconds: 30,
                max_per_second: 0
            })
        );
        let (_, field, rule) = failure(
            r#"{"/q": {"scheme": "github", "secret": "GITHUB_WEBHOOK_SECRET", "origin": "http://x/", "delivery": "queue"}}"#,
        );
        assert_eq!((field, rule), ("delivery", Rule::QueueNeedsOriginSecret));
        let (_, field, _) = failure(
            r#"{"/q": {"scheme": "github", "secret": "GITHUB_WEBHOOK_SECRET", "origin": "http://x/", "delivery": "later"}}"#,
        );
        assert_eq!(field, "delivery");
    }

    #[test]
    fn max_per_second_paces_a_queue_route_and_is_refused_elsewhere() {
        let with = |delivery: &str, limit: &str| {
            format!(
                r#"{{"/q": {{"scheme": "github", "secret": "GITHUB_WEBHOOK_SECRET", "origin": "http://x/",
                "origin_secret": "ORIGIN_SECRET", "delivery": "{delivery}", "max_per_second": {limit}}}}}"#
            )
        };
        let config = read(&with("queue", "5")).expect("valid");
        assert!(matches!(
            config.routes[0].delivery,
            Delivery::Queue(QueuePolicy {
                max_per_second: 5,
                ..
            })
        ));
        let text = read(&with("queue", r#""1000""#)).expect("valid");
        assert!(matches!(
            text.routes[0].delivery,
            Delivery::Queue(QueuePolicy {
                max_per_second: 1000,
                ..
            })
        ));
        for bad in ["0", "1001", "2.5", r#""fast""#, "-1", "true"] {
            let (path, field, rule) = failure(&with("queue", bad));
            assert_eq!(
                (path.as_str(), field, rule),
                ("/q", "max_per_second", Rule::Number("from 1 to 1000")),
                "{bad}"
            );
        }
        let (path, field, rule) = failure(&with("direct", "5"));
        assert_eq!((path.as_str(), field), ("/q", "max_per_second"));
        assert!(matches!(rule, Rule::Unused(_)), "{rule:?}");
        let error = read(&with("direct", "5")).expect_err("invalid").to_string();
        assert!(error.contains("max_per_second"), "{error}");
    }

    #[test]
    fn two_routes_on_one_path_are_refused() {
        let twice = r#"{"/a": {"scheme": "github", "secret": "GITHUB_WEBHOOK_SECRET", "origin": "http://x/"},
                        "/a": {"scheme": "stripe", "secret": "GITHUB_WEBHOOK_SECRET", "origin": "http://y/"}}"#;
        assert_eq!(
            failure(twice),
            ("/a".to_owned(), "path", Rule::DuplicatePath)
        );
    }

    #[test]
    fn unbound_secrets_are_named_only_when_they_look_like_names() {
        let (_, _, rule) = failure(
            r#"{"/a": {"scheme": "github", "secret": "NOT_BOUND", "origin": "http://x/"}}"#,
        );
        assert_eq!(rule, Rule::Unbound(Some("NOT_BOUND".to_owned())));
        let (_, _, rule) = failure(
            r#"{"/a": {"scheme": "github", "secret": "hunter2hunter2", "origin": "http://x/"}}"#,
        );
        assert_eq!(rule, Rule::Unbound(None));
        // A key pasted where its name belongs is never echoed, whether or
        // not it could pass for a name.
        for (key, rule) in [
            (ROTATED_KEY, Rule::NotABindingName),
            (VECTOR_KEY, Rule::Unbound(None)),
        ] {
            let pasted = format!(
                r#"{{"/a": {{"scheme": "standard-webhooks", "secret": "{key}", "origin": "http://x/"}}}}"#
            );
            let error = read(&pasted).expect_err("a key, not a name");
            assert_eq!(error.rule, rule);
            assert!(!error.to_string().contains(&key[6..12]), "{error}");
        }
    }

    #[test]
    fn keys_belong_to_their_scheme() {
        // A raw GitHub secret is no Standard Webhooks key.
        let (_, field, rule) = failure(
            r#"{"/a": {"scheme": "standard-webhooks", "secret": "GITHUB_WEBHOOK_SECRET", "origin": "http://x/"}}"#,
        );
        assert_eq!((field, rule), ("secret", Rule::Key(KeyError::NotBase64)));
        // …but anything is a GitHub secret.
        assert!(read(
            r#"{"/a": {"scheme": "github", "secret": "QUO_WEBHOOK_SECRET", "origin": "http://x/"}}"#
        )
        .is_ok());
    }

    #[test]
    fn routes_must_be_a_json_object_of_tables() {
        for bad in ["", "[]", "{", "\"/a\"", "{\"/a\": {}} x"] {
            if bad.is_empty() {
                continue; // empty means unset: the plain settings apply
            }
            let error = read(bad).expect_err("not routes");
            assert_eq!(error.place, Place::Setting("ROUTES"), "{bad}");
        }
        assert_eq!(read("{}").expect_err("none").rule, Rule::NoRoutes);
        let error = read("{\"/a\": {\"scheme\": \"github\",\n \"secret\": hunter2}}")
            .expect_err("bad JSON");
        assert!(
            matches!(error.rule, Rule::RoutesNotJson { line: 2, .. }),
            "{error:?}"
        );
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[test]
    fn messages_name_route_field_and_rule() {
        let error =
            read(r#"{"/gh": {"scheme": "github", "secret": "NOT_BOUND", "origin": "http://x/"}}"#)
                .expect_err("unbound");
        assert_eq!(
            error.to_string(),
            "setting ROUTES, route \"/gh\", field secret is invalid: it names the secret NOT_BOUND, \
             which is not set (npx wrangler secret put NOT_BOUND; locally, .dev.vars)"
        );
    }

    #[test]
    fn events_are_a_type_or_a_list_of_patterns() {
        let with = |events: &str| {
            format!(
                r#"{{"/quo": {{"scheme": "standard-webhooks", "secret": "QUO_WEBHOOK_SECRET",
                    "origin": "https://o.example/quo", "events": {events}}}}}"#
            )
        };
        let config = read(&with(r#"["message.*", "call.completed", "*"]"#)).expect("valid");
        let events = config.routes[0].events.as_ref().expect("events");
        assert_eq!(events.patterns, ["message.*", "call.completed", "*"]);
        let one = read(&with(r#""call.completed""#)).expect("valid");
        assert_eq!(
            one.routes[0].events.as_ref().map(|e| e.patterns.clone()),
            Some(vec!["call.completed".to_owned()])
        );
        let without = read(
            r#"{"/quo": {"scheme": "standard-webhooks", "secret": "QUO_WEBHOOK_SECRET",
                "origin": "https://o.example/quo"}}"#,
        )
        .expect("valid");
        assert_eq!(without.routes[0].events, None, "every type forwarded");

        let long = format!(r#""{}""#, "a".repeat(129));
        for bad in [
            "[]",
            r#""""#,
            r#"["message.*", 3]"#,
            "7",
            r#""message*""#,
            r#""*.received""#,
            r#""a.*.b""#,
            r#"".*""#,
            r#""**""#,
            r#""call completed""#,
            r#""caf\u00e9""#,
            long.as_str(),
        ] {
            let (path, field, rule) = failure(&with(bad));
            assert_eq!((path.as_str(), field), ("/quo", "events"), "{bad}");
            assert!(matches!(rule, Rule::Type(_)), "{bad}: {rule:?}");
        }
        let error = read(&with("[]")).expect_err("invalid").to_string();
        assert!(error.contains("field events"), "{error}");
    }

    /// An `hmac` route's fields, as JSON, with `secret` and `origin` set.
    fn hmac_route(fields: &str) -> String {
        let comma = if fields.is_empty() { "" } else { ", " };
        format!(
            r#"{{"/h": {{"scheme": "hmac", "secret": "GITHUB_WEBHOOK_SECRET", "origin": "http://x/"{comma}{fields}}}}}"#
        )
    }

    #[test]
    fn an_hmac_route_carries_its_senders_description() {
        let config = read(&hmac_route(
            r#""signature_header": "X-Zendesk-Webhook-Signature", "encoding": "base64",
               "signed": "{timestamp}{body}", "timestamp_header": "X-Zendesk-Webhook-Signature-Timestamp",
               "timestamp_unit": "milliseconds", "algorithm": "sha512", "replay_key_field": "event_id""#,
        ))
        .expect("valid");
        let route = &config.routes[0];
        assert_eq!(route.scheme, Scheme::Hmac);
        let spec = route.hmac.as_ref().expect("a description");
        assert_eq!(
            spec.signature_header, "x-zendesk-webhook-signature",
            "lower case"
        );
        assert_eq!(
            spec.timestamp_header.as_deref(),
            Some("x-zendesk-webhook-signature-timestamp")
        );
        assert_eq!(spec.encoding, Encoding::Base64);
        assert_eq!(spec.algorithm, Algorithm::Sha512);
        assert_eq!(spec.timestamp_unit, Unit::Milliseconds);
        assert_eq!(spec.template.before, vec![Part::Timestamp]);
        assert_eq!(spec.replay_key_field.as_deref(), Some("event_id"));
        assert_eq!(route.keys[0].as_bytes(), GITHUB_SECRET.as_bytes());
        assert!(matches!(route.sender(), crate::schemes::Sender::Hmac(_)));

        // Every other field has its default.
        let config = read(&hmac_route(r#""signature_header": "linear-signature""#)).expect("valid");
        let spec = config.routes[0].hmac.as_ref().expect("a description");
        assert_eq!(spec, &HmacSpec::new("linear-signature"));
    }

    /// Each field of an hmac route is checked, and a bad one is named with
    /// its route; the value is never shown.
    #[test]
    fn each_bad_hmac_field_names_the_route_and_the_field() {
        let sig = r#""signature_header": "x-sig""#;
        let cases: Vec<(String, &str, Rule)> = vec![
            (String::new(), "signature_header", Rule::Required),
            (r#""signature_header": 7"#.into(), "signature_header", Rule::Type("text: a header name")),
            (r#""signature_header": "x sig""#.into(), "signature_header", Rule::HeaderName),
            (r#""signature_header": "x-sig:""#.into(), "signature_header", Rule::HeaderName),
            (r#""signature_header": """#.into(), "signature_header", Rule::HeaderName),
            (r#""signature_header": "Content-Type""#.into(), "signature_header", Rule::ReservedHeader),
            (r#""signature_header": "cookie""#.into(), "signature_header", Rule::ReservedHeader),
            (
                format!(r#"{sig}, "signature_prefix": " sha256=""#),
                "signature_prefix",
                Rule::Type("printable ASCII text that does not start with a space"),
            ),
            (
                format!(r#"{sig}, "signature_prefix": "sha256=\n""#),
                "signature_prefix",
                Rule::Type("printable ASCII text that does not start with a space"),
            ),
            (
                format!(r#"{sig}, "algorithm": "SHA256""#),
                "algorithm",
                Rule::Choice("sha256 (the default), sha1 or sha512"),
            ),
            (
                format!(r#"{sig}, "algorithm": "md5""#),
                "algorithm",
                Rule::Choice("sha256 (the default), sha1 or sha512"),
            ),
            (
                format!(r#"{sig}, "encoding": "base32""#),
                "encoding",
                Rule::Choice("hex (the default), base64 or base64url"),
            ),
            (
                format!(r#"{sig}, "signed": "{{timestamp}}.""#),
                "signed",
                Rule::Template(crate::schemes::hmac::TemplateError::NoBody),
            ),
            (
                format!(r#"{sig}, "signed": "{{body}}{{body}}""#),
                "signed",
                Rule::Template(crate::schemes::hmac::TemplateError::BodyTwice),
            ),
            (
                format!(r#"{sig}, "signed": "{{nonce}}{{body}}""#),
                "signed",
                Rule::Template(crate::schemes::hmac::TemplateError::UnknownPart),
            ),
            (
                format!(r#"{sig}, "signed": "{{body""#),
                "signed",
                Rule::Template(crate::schemes::hmac::TemplateError::Unbalanced),
            ),
            (format!(r#"{sig}, "signed": ["{{body}}"]"#), "signed", Rule::Type("text: a template such as \"{timestamp}.{body}\"")),
            (
                format!(r#"{sig}, "signed": "{{timestamp}}.{{body}}""#),
                "signed",
                Rule::NeedsField("it signs {timestamp}, but the route sets no timestamp_header to read it from"),
            ),
            (
                format!(r#"{sig}, "signed": "{{id}}.{{body}}""#),
                "signed",
                Rule::NeedsField("it signs {id}, but the route sets no id_header to read it from"),
            ),
            (
                format!(r#"{sig}, "timestamp_header": "x-ts""#),
                "timestamp_header",
                Rule::Unused(
                    "signed has no {timestamp}: a timestamp the sender does not sign bounds nothing, \
                     since whoever replays a delivery can rewrite it; sign it or remove the field",
                ),
            ),
            (
                format!(r#"{sig}, "id_header": "x-id""#),
                "id_header",
                Rule::Unused(
                    "signed has no {id}: an id the sender does not sign keys nothing, since whoever \
                     replays a delivery can write any id there; sign it or remove the field",
                ),
            ),
            (
                format!(r#"{sig}, "timestamp_unit": "milliseconds""#),
                "timestamp_unit",
                Rule::Unused("the route has no timestamp_header whose unit it would be"),
            ),
            (
                format!(
                    r#"{sig}, "signed": "{{timestamp}}{{body}}", "timestamp_header": "x-ts", "timestamp_unit": "ms""#
                ),
                "timestamp_unit",
                Rule::Choice("seconds (the default) or milliseconds"),
            ),
            (
                format!(r#"{sig}, "signed": "{{timestamp}}{{body}}", "timestamp_header": "X-Sig""#),
                "timestamp_header",
                Rule::SameHeader,
            ),
            (
                format!(
                    r#"{sig}, "signed": "{{id}}{{timestamp}}{{body}}", "timestamp_header": "x-ts", "id_header": "x-ts""#
                ),
                "id_header",
                Rule::SameHeader,
            ),
            (
                format!(r#"{sig}, "signed": "{{id}}.{{body}}", "id_header": "x-id", "replay_key_field": "id""#),
                "replay_key_field",
                Rule::Unused("the signed id ({id} in signed) keys replays already"),
            ),
            (format!(r#"{sig}, "replay_key_field": """#), "replay_key_field", Rule::Required),
            (
                format!(r#"{sig}, "key_encoding": "raw""#),
                "key_encoding",
                Rule::Choice("text (the default), base64, hex or whsec"),
            ),
            (
                format!(r#"{sig}, "key_encoding": "base64""#),
                "secret",
                Rule::Key(KeyError::NotBase64),
            ),
            (
                format!(r#"{sig}, "key_encoding": "hex""#),
                "secret",
                Rule::Key(KeyError::NotHex),
            ),
            (
                format!(r#"{sig}, "signed": "{{url}}{{body}}", "public_url": "ftp://x/""#),
                "public_url",
                Rule::Url(crate::setting::UrlRule::NotHttp),
            ),
            (
                format!(r#"{sig}, "signed": "{{url}}{{body}}", "public_url": "https://x/hook#frag""#),
                "public_url",
                Rule::Url(crate::setting::UrlRule::Fragment),
            ),
            (
                format!(r#"{sig}, "public_url": "https://x/hook""#),
                "public_url",
                Rule::Unused("signed has no {url}, so no URL is signed"),
            ),
            (
                format!(r#"{sig}, "signed": "{{method}} {{url}}|{{body}}""#),
                "signed",
                Rule::NeedsField(REACHES_BODY),
            ),
            (
                format!(r#"{sig}, "signed": "{{url}}{{body}}""#),
                "signed",
                Rule::NeedsField(REACHES_BODY),
            ),
            (
                format!(r#"{sig}, "signed": "{{timestamp}}.{{id}}{{body}}", "timestamp_header": "x-ts", "id_header": "x-id""#),
                "signed",
                Rule::NeedsField(REACHES_BODY),
            ),
            (
                format!(r#"{sig}, "signed": "{{body}}{{id}}", "id_header": "x-id""#),
                "signed",
                Rule::NeedsField(REACHES_BODY),
            ),
            (
                format!(r#"{sig}, "signed": "{{id}}{{timestamp}}{{body}}", "timestamp_header": "x-ts", "id_header": "x-id""#),
                "signed",
                Rule::NeedsField(REACHES_BODY),
            ),
            (
                format!(r#"{sig}, "signed": "{{body}}{{url}}{{id}}", "id_header": "x-id""#),
                "signed",
                Rule::NeedsField(REACHES_BODY),
            ),
        ];
        for (fields, field, rule) in cases {
            let (path, got_field, got_rule) = failure(&hmac_route(&fields));
            assert_eq!(
                (path.as_str(), got_field, &got_rule),
                ("/h", field, &rule),
                "{fields}"
            );
            let text = read(&hmac_route(&fields)).expect_err("invalid").to_string();
            assert!(
                text.starts_with("setting ROUTES, route \"/h\", field "),
                "{text}"
            );
            assert!(!text.contains(GITHUB_SECRET), "{text}");
        }
    }

    #[test]
    fn hmac_fields_belong_to_hmac_routes() {
        for field in HMAC_FIELDS {
            let routes = format!(
                r#"{{"/g": {{"scheme": "github", "secret": "GITHUB_WEBHOOK_SECRET", "origin": "http://x/", "{field}": "x"}}}}"#
            );
            assert_eq!(
                failure(&routes),
                ("/g".to_owned(), *field, Rule::HmacOnly),
                "{field}"
            );
            assert!(FIELDS.contains(field), "{field} is a route field");
        }
        assert!(read(&hmac_route(r#""signature_header": "x-sig""#)).is_ok());
    }

    #[test]
    fn hmac_keys_are_read_in_the_routes_key_encoding() {
        let mut map = settings(&hmac_route(
            r#""signature_header": "x-sig", "key_encoding": "hex""#,
        ));
        map.insert(
            "GITHUB_WEBHOOK_SECRET".to_owned(),
            "000102030405060708090a0b0c0d0e0f 101112131415161718191A1B1C1D1E1F".to_owned(),
        );
        let config = Config::from_settings(|name| map.get(name).cloned()).expect("valid");
        let keys = &config.routes[0].keys;
        assert_eq!(keys.len(), 2, "two keys in one secret: a rotation");
        assert_eq!(keys[1].as_bytes()[15], 0x1f);
        let config = read(&hmac_route(
            r#""signature_header": "x-sig", "key_encoding": "whsec""#,
        ))
        .map(drop);
        assert!(config.is_err(), "a raw secret is no whsec key");
        let (_, field, rule) = failure(&hmac_route(
            r#""signature_header": "x-sig", "key_encoding": "whsec""#,
        ));
        assert_eq!((field, rule), ("secret", Rule::Key(KeyError::NotBase64)));
    }

    #[test]
    fn misspelled_hmac_fields_are_named() {
        for (typo, meant) in [
            ("signature-header", "signature_header"),
            ("Signature_Prefix", "signature_prefix"),
            ("timestamp_headr", "timestamp_header"),
            ("algoritm", "algorithm"),
            ("sign", "signed"),
            ("replay_key_feild", "replay_key_field"),
            ("public-url", "public_url"),
        ] {
            let error = read(&hmac_route(&format!(
                r#""signature_header": "x", "{typo}": "y""#
            )))
            .expect_err("misspelled");
            assert_eq!(
                error.rule,
                Rule::MisspelledField {
                    given: typo.to_owned(),
                    meant
                },
                "{typo}"
            );
        }
    }
}
