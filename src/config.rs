//! Typed settings, read from the Worker's vars and secrets and checked before
//! any request is answered.
//!
//! The reader is a plain closure (`name -> Option<String>`) so this module
//! knows nothing of the Worker's `env` and is tested natively. Errors name the
//! setting (or the route and field) and the rule it broke, never the value:
//! a secret pasted into the wrong variable must not end up in a log.
//!
//! Without `ROUTES` the plain settings describe one Standard Webhooks route,
//! exactly as before routes existed; with `ROUTES` (see [`crate::routes`])
//! they are the defaults of every route's limits.

use crate::keys::{KeyError, SigningKey};
use crate::routes;
use crate::schemes::{standard_webhooks, Scheme};

/// Workers KV refuses expirations shorter than this.
pub const KV_MIN_TTL_SECONDS: u64 = 60;

/// A Worker isolate has 128 MB of memory, and a large body is held twice
/// while it is hashed (the body, and the prefix-and-body buffer WebCrypto
/// signs), so bodies are capped well below Cloudflare's 100 MB request limit.
pub const MAX_BODY_LIMIT: u64 = 32 * 1024 * 1024;

/// Longer than any sender waits for an answer, so a larger value is a typo.
pub const MAX_ORIGIN_TIMEOUT_MS: u64 = 600_000;

/// Paths under this prefix belong to hookgate's admin API; no route may use
/// them.
pub const ADMIN_PREFIX: &str = "/_hookgate";

/// Whether a request path is the admin API's (no route may use one).
pub fn is_admin_path(path: &str) -> bool {
    path.strip_prefix(ADMIN_PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Which replay store guards against duplicates (`REPLAY_STORE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// Workers KV: cheap reads everywhere, eventually consistent.
    Kv,
    /// Durable Objects: an atomic claim, so simultaneous copies forward once.
    DurableObject,
}

/// One path that accepts deliveries: its sender's scheme and keys, where
/// verified events go, and its limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The exact request path.
    pub path: String,
    pub scheme: Scheme,
    /// The keys deliveries may be signed with (several during a rotation).
    pub keys: Vec<SigningKey>,
    /// Where verified deliveries go; fixed, never taken from a request.
    pub origin_url: String,
    /// When set, forwards carry hookgate's own Standard Webhooks signature.
    pub origin_key: Option<SigningKey>,
    pub limits: Limits,
    /// Whether replay keys are stored as the plain settings always stored
    /// them (`false` for the single route without `ROUTES`, so an upgrade
    /// keeps its remembered ids), or prefixed with the route's path so keys
    /// of different routes never collide.
    pub scoped_keys: bool,
    /// How verified events reach the origin.
    pub delivery: Delivery,
}

/// How a route's verified events reach its origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Forwarded while the sender waits; the sender's retries cover a
    /// failing origin.
    Direct,
    /// Answered `202` once the event is in the delivery queue; hookgate's
    /// queue consumer forwards it with its own retries.
    Queue(QueuePolicy),
}

/// A queue route's retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuePolicy {
    /// Forward attempts before an event becomes a dead letter.
    pub max_attempts: u32,
    /// The first retry's delay; each next one doubles, up to
    /// [`MAX_RETRY_DELAY_SECONDS`].
    pub retry_base_seconds: u64,
}

impl QueuePolicy {
    /// Without `QUEUE_MAX_ATTEMPTS` and `QUEUE_RETRY_BASE_SECONDS`.
    pub const DEFAULT: Self = Self {
        max_attempts: 12,
        retry_base_seconds: 30,
    };
}

/// The longest wait between two forward attempts of a queued event.
pub const MAX_RETRY_DELAY_SECONDS: u64 = 6 * 3_600;

/// A route's limits; the plain settings are their defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Allowed clock skew, each direction.
    pub tolerance_seconds: u64,
    /// Larger bodies are refused before any hashing.
    pub max_body_bytes: usize,
    /// How long a delivered replay key is remembered.
    pub dedupe_ttl_seconds: u64,
    /// The origin fetch is aborted after this.
    pub origin_timeout_ms: u64,
}

impl Route {
    /// The text the replay store keys on for a replay key of this route.
    /// Route paths hold no space (see [`check_path`]), so `path + " " + key`
    /// can never equal another route's text.
    pub fn replay_text(&self, key: &str) -> String {
        if self.scoped_keys {
            format!("{} {key}", self.path)
        } else {
            key.to_owned()
        }
    }
}

/// Every setting hookgate reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The routes, one per path; the plain settings make exactly one.
    pub routes: Vec<Route>,
    /// `REPLAY_STORE`: `kv` (default) or `durable-object`.
    pub store: StoreKind,
    /// What the gate says about what it did: the admin API, the delivery
    /// log's retention, how often counts are written.
    pub observe: Observe,
}

/// Settings of the delivery log and the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observe {
    /// `ADMIN_TOKEN`: when set, the admin API under `/_hookgate/` answers
    /// requests that carry it; unset, that prefix is 404.
    pub admin_token: Option<AdminToken>,
    /// `LOG_RETENTION_DAYS`: records older than this are deleted by the
    /// scheduled clean-up.
    pub log_retention_days: u64,
    /// `STATS_FLUSH_SECONDS`: how often an isolate writes its counts.
    pub stats_flush_seconds: u64,
}

/// The admin token. `Debug` is redacted, so it cannot reach a log.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken(String);

impl AdminToken {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

/// The shortest admin token accepted: anything shorter could be guessed
/// over the network.
pub const MIN_ADMIN_TOKEN_CHARS: usize = 16;

impl Config {
    /// The route for a request path, if any.
    pub fn route_for(&self, path: &str) -> Option<(usize, &Route)> {
        self.routes
            .iter()
            .enumerate()
            .find(|(_, route)| route.path == path)
    }
}

/// Where a bad setting is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A plain setting (a var or a secret).
    Setting(&'static str),
    /// A field of one route in `ROUTES`: the route's path and the field.
    Route { path: String, field: &'static str },
}

/// What is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// A required setting or field is absent or empty.
    Required,
    /// Keys that do not parse for the scheme.
    Key(KeyError),
    /// An origin URL that can never be fetched as written.
    Url(UrlRule),
    /// A path no request can match, or one that is reserved.
    Path(PathRule),
    /// Not `kv` or `durable-object`.
    Store,
    /// A number outside its range (the text says which).
    Number(&'static str),
    /// `DEDUPE_TTL_SECONDS` shorter than two tolerance windows, so a captured
    /// delivery could be replayed after its id was forgotten.
    DedupeShorterThanWindow,
    /// `ROUTES` is not a JSON object of route tables; the position is where
    /// the parser stopped (never the text there).
    RoutesNotJson { line: usize, column: usize },
    /// `ROUTES` holds no route at all.
    NoRoutes,
    /// A route's value is not a table.
    RouteNotTable,
    /// Two routes on one path.
    DuplicatePath,
    /// A field that routes do not have (a typo would otherwise be ignored).
    UnknownField(String),
    /// A field of the wrong type (the text says which).
    Type(&'static str),
    /// `scheme` names no scheme hookgate knows.
    UnknownScheme,
    /// A secret field does not hold a binding name (it may hold a key).
    NotABindingName,
    /// A named secret binding is not set; the name is given when it looks
    /// like one (upper case), never a value.
    Unbound(Option<String>),
    /// `ADMIN_TOKEN` is too short to keep the admin API closed.
    WeakToken,
    /// Not `direct` or `queue`.
    DeliveryMode,
    /// Queue mode without an origin secret: a queued event is forwarded
    /// later, when the sender's timestamp is stale, so it must carry
    /// hookgate's fresh signature.
    QueueNeedsOriginSecret,
}

/// How an origin URL is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlRule {
    /// Not an absolute `http://` or `https://` URL with a host.
    NotHttp,
    /// `user:pass@`: fetch drops URL credentials without a word, so they
    /// would never reach the origin.
    Credentials,
    /// A `#fragment` is never sent.
    Fragment,
}

/// How a route path is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathRule {
    /// Does not start with `/`.
    NotAbsolute,
    /// Holds a character a request path never carries as written (space,
    /// `?`, `#`, `"`, `<`, `>`, `` ` ``, `{`, `}`, `\`, a control or
    /// non-ASCII character): the runtime encodes or splits it.
    Unmatchable,
    /// Holds a `.` or `..` segment, which the runtime resolves away.
    DotSegment,
    /// Under `/_hookgate`, the admin API's prefix.
    Reserved,
}

/// A setting that stops hookgate from answering safely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub place: Place,
    pub rule: Rule,
}

impl ConfigError {
    pub fn setting(name: &'static str, rule: Rule) -> Self {
        Self {
            place: Place::Setting(name),
            rule,
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rule::Required => f.write_str("it is required but not set"),
            Rule::Key(why) => write!(f, "{why}"),
            Rule::Url(UrlRule::NotHttp) => {
                f.write_str("expected an absolute http:// or https:// URL")
            }
            Rule::Url(UrlRule::Credentials) => f.write_str(
                "it holds credentials (user:pass@), which fetch drops without a word; \
                 protect the origin with ORIGIN_SECRET's signature instead",
            ),
            Rule::Url(UrlRule::Fragment) => f.write_str("it holds a #fragment, which is never sent"),
            Rule::Path(PathRule::NotAbsolute) => f.write_str("it must start with /"),
            Rule::Path(PathRule::Unmatchable) => f.write_str(
                "no request path can equal it: it holds a space, ?, #, \", <, >, `, {, }, \\, \
                 a control or a non-ASCII character",
            ),
            Rule::Path(PathRule::DotSegment) => f.write_str(
                "no request path can equal it: it holds a . or .. segment, which URLs resolve away",
            ),
            Rule::Path(PathRule::Reserved) => {
                f.write_str("paths under /_hookgate belong to hookgate's admin API")
            }
            Rule::Store => f.write_str("expected kv or durable-object"),
            Rule::Number(range) => write!(f, "expected a whole number {range}"),
            Rule::DedupeShorterThanWindow => f.write_str(
                "it must be at least twice the tolerance, \
                 or a replay could arrive after its key was forgotten",
            ),
            Rule::RoutesNotJson { line, column } => write!(
                f,
                "expected a JSON object of routes (or a [vars.ROUTES] table); \
                 it stops parsing at line {line}, column {column}"
            ),
            Rule::NoRoutes => f.write_str("it holds no route"),
            Rule::RouteNotTable => f.write_str("a route must be a table of fields"),
            Rule::DuplicatePath => f.write_str("two routes have this path"),
            Rule::UnknownField(name) => write!(
                f,
                "unknown field {}; routes take {}",
                crate::json::string(name),
                crate::routes::FIELDS.join(", ")
            ),
            Rule::Type(expected) => write!(f, "expected {expected}"),
            Rule::UnknownScheme => {
                f.write_str("expected one of ")?;
                for (i, scheme) in Scheme::ALL.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(scheme.name())?;
                }
                Ok(())
            }
            Rule::NotABindingName => f.write_str(
                "it must name a secret binding (letters, digits and _), never hold a key itself",
            ),
            Rule::Unbound(Some(name)) => write!(
                f,
                "it names the secret {name}, which is not set (npx wrangler secret put {name}; locally, .dev.vars)"
            ),
            Rule::Unbound(None) => f.write_str("the secret it names is not set"),
            Rule::DeliveryMode => f.write_str("expected direct or queue"),
            Rule::QueueNeedsOriginSecret => f.write_str(
                "queue mode forwards events later, when the sender's timestamp is stale, so the route \
                 needs an origin secret to re-sign them (origin_secret, or ORIGIN_SECRET without ROUTES)",
            ),
            Rule::WeakToken => write!(
                f,
                "it must be at least {MIN_ADMIN_TOKEN_CHARS} characters without spaces \
                 (for example: openssl rand -hex 32)"
            ),
        }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.place {
            Place::Setting(name) if self.rule == Rule::Required => {
                write!(f, "setting {name} is required but not set")
            }
            Place::Setting(name) => write!(f, "setting {name} is invalid: {}", self.rule),
            Place::Route { path, field } => write!(
                f,
                "setting ROUTES, route {}, field {field} is invalid: {}",
                shown_path(path),
                self.rule
            ),
        }
    }
}

/// A route path as a log may show it: quoted, escaped (as a JSON string, so
/// plain ASCII), and cut short, since it may be anything a user typed.
pub fn shown_path(path: &str) -> String {
    let mut shown: String = path.chars().take(64).collect();
    if shown.len() < path.len() {
        shown.push('…');
    }
    crate::json::string(&shown)
}

/// Checks that a request path can ever equal `path`: the runtime's URL
/// parser percent-encodes or splits some characters and resolves dot
/// segments, so a path holding them would make every delivery a 404.
pub fn check_path(path: &str) -> Result<(), PathRule> {
    if !path.starts_with('/') {
        return Err(PathRule::NotAbsolute);
    }
    let unmatchable = |b: u8| {
        !(0x21..0x7f).contains(&b)
            || matches!(
                b,
                b'"' | b'#' | b'<' | b'>' | b'?' | b'`' | b'{' | b'}' | b'\\'
            )
    };
    if path.bytes().any(unmatchable) {
        return Err(PathRule::Unmatchable);
    }
    // `.` or `..`, each dot possibly written %2e (any case).
    let dot = |segment: &str| {
        matches!(
            segment.to_ascii_lowercase().as_str(),
            "." | ".." | "%2e" | ".%2e" | "%2e." | "%2e%2e"
        )
    };
    if path.split('/').any(dot) {
        return Err(PathRule::DotSegment);
    }
    if is_admin_path(path) {
        return Err(PathRule::Reserved);
    }
    Ok(())
}

/// A first, syntactic check of an origin URL: an http(s) scheme, a host,
/// nothing that can never be part of one, no credentials and no fragment.
/// The Worker then parses it with the runtime's own (WHATWG) parser once per
/// isolate, which keeps a URL parser out of the wasm bundle.
pub fn check_origin_url(text: &str) -> Result<(), UrlRule> {
    let lower = text.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or(UrlRule::NotHttp)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let forbidden = |c: char| c.is_whitespace() || c.is_control() || c == '\\';
    if text.chars().any(forbidden) {
        return Err(UrlRule::NotHttp);
    }
    if authority.contains('@') {
        return Err(UrlRule::Credentials);
    }
    let host = authority.split(':').next().unwrap_or_default();
    if host.is_empty() {
        return Err(UrlRule::NotHttp);
    }
    if text.contains('#') {
        return Err(UrlRule::Fragment);
    }
    Ok(())
}

/// The settings' defaults and ranges, shared by the plain settings and the
/// route fields that override them.
pub struct Number {
    pub setting: &'static str,
    pub field: &'static str,
    pub min: u64,
    pub max: u64,
    pub range: &'static str,
}

pub const TOLERANCE: Number = Number {
    setting: "TOLERANCE_SECONDS",
    field: "tolerance_seconds",
    min: 0,
    max: 86_400,
    range: "from 0 to 86400",
};
pub const MAX_BODY: Number = Number {
    setting: "MAX_BODY_BYTES",
    field: "max_body_bytes",
    min: 1,
    max: MAX_BODY_LIMIT,
    range: "from 1 to 33554432",
};
pub const LOG_RETENTION: Number = Number {
    setting: "LOG_RETENTION_DAYS",
    field: "log_retention_days",
    min: 1,
    max: 365,
    range: "from 1 to 365",
};
pub const STATS_FLUSH: Number = Number {
    setting: "STATS_FLUSH_SECONDS",
    field: "stats_flush_seconds",
    min: 1,
    max: 3_600,
    range: "from 1 to 3600",
};
pub const QUEUE_MAX_ATTEMPTS: Number = Number {
    setting: "QUEUE_MAX_ATTEMPTS",
    field: "queue_max_attempts",
    min: 1,
    max: 100,
    range: "from 1 to 100",
};
pub const QUEUE_RETRY_BASE: Number = Number {
    setting: "QUEUE_RETRY_BASE_SECONDS",
    field: "queue_retry_base_seconds",
    min: 1,
    max: MAX_RETRY_DELAY_SECONDS,
    range: "from 1 to 21600",
};
pub const ORIGIN_TIMEOUT: Number = Number {
    setting: "ORIGIN_TIMEOUT_MS",
    field: "origin_timeout_ms",
    min: 1,
    max: MAX_ORIGIN_TIMEOUT_MS,
    range: "from 1 to 600000",
};

/// DEDUPE_TTL's range depends on the store: KV refuses expirations under a
/// minute; a Durable Object has no such floor.
pub fn dedupe_number(store: StoreKind) -> Number {
    match store {
        StoreKind::Kv => Number {
            setting: "DEDUPE_TTL_SECONDS",
            field: "dedupe_ttl_seconds",
            min: KV_MIN_TTL_SECONDS,
            max: 365 * 86_400,
            range: "from 60 to 31536000 (KV's minimum is 60)",
        },
        StoreKind::DurableObject => Number {
            setting: "DEDUPE_TTL_SECONDS",
            field: "dedupe_ttl_seconds",
            min: 1,
            max: 365 * 86_400,
            range: "from 1 to 31536000",
        },
    }
}

/// Parses a whole number written as text and checks its range.
pub fn parse_number(text: &str, number: &Number) -> Option<u64> {
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (number.min..=number.max).contains(n))
}

impl Config {
    /// Reads and checks every setting. `get` returns a setting's text (a
    /// `[vars]` table as JSON), or `None` when it is not bound.
    pub fn from_settings(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let present = |name: &str| get(name).filter(|value| !value.trim().is_empty());

        let store = match present("REPLAY_STORE").as_deref().map(str::trim) {
            None | Some("kv") => StoreKind::Kv,
            Some("durable-object") => StoreKind::DurableObject,
            Some(_) => return Err(ConfigError::setting("REPLAY_STORE", Rule::Store)),
        };
        let number = |spec: &Number, default: u64| match present(spec.setting) {
            None => Ok(default),
            Some(text) => parse_number(&text, spec)
                .ok_or_else(|| ConfigError::setting(spec.setting, Rule::Number(spec.range))),
        };
        let defaults = Limits {
            tolerance_seconds: number(&TOLERANCE, 300)?,
            max_body_bytes: usize::try_from(number(&MAX_BODY, 1_048_576)?).unwrap_or(usize::MAX),
            dedupe_ttl_seconds: number(&dedupe_number(store), 259_200)?,
            origin_timeout_ms: number(&ORIGIN_TIMEOUT, 10_000)?,
        };

        let admin_token = match present("ADMIN_TOKEN") {
            None => None,
            Some(text) => {
                let text = text.trim();
                if text.chars().count() < MIN_ADMIN_TOKEN_CHARS
                    || text.contains(char::is_whitespace)
                {
                    return Err(ConfigError::setting("ADMIN_TOKEN", Rule::WeakToken));
                }
                Some(AdminToken(text.to_owned()))
            }
        };
        let observe = Observe {
            admin_token,
            log_retention_days: number(&LOG_RETENTION, 7)?,
            stats_flush_seconds: number(&STATS_FLUSH, 60)?,
        };

        let queue_defaults = QueuePolicy {
            max_attempts: number(
                &QUEUE_MAX_ATTEMPTS,
                u64::from(QueuePolicy::DEFAULT.max_attempts),
            )? as u32,
            retry_base_seconds: number(&QUEUE_RETRY_BASE, QueuePolicy::DEFAULT.retry_base_seconds)?,
        };
        if let Some(text) = present("ROUTES") {
            let routes = routes::parse(&text, &defaults, &queue_defaults, store, &present)?;
            return Ok(Self {
                routes,
                store,
                observe,
            });
        }

        if defaults.dedupe_ttl_seconds < defaults.tolerance_seconds.saturating_mul(2) {
            return Err(ConfigError::setting(
                "DEDUPE_TTL_SECONDS",
                Rule::DedupeShorterThanWindow,
            ));
        }
        let secret = present("WEBHOOK_SECRET")
            .ok_or_else(|| ConfigError::setting("WEBHOOK_SECRET", Rule::Required))?;
        let keys = standard_webhooks::parse_keys(&secret)
            .map_err(|e| ConfigError::setting("WEBHOOK_SECRET", Rule::Key(e)))?;
        let origin_url = present("ORIGIN_URL")
            .ok_or_else(|| ConfigError::setting("ORIGIN_URL", Rule::Required))?;
        let origin_url = origin_url.trim().to_owned();
        check_origin_url(&origin_url)
            .map_err(|e| ConfigError::setting("ORIGIN_URL", Rule::Url(e)))?;
        let origin_key = match present("ORIGIN_SECRET") {
            None => None,
            Some(text) => Some(
                standard_webhooks::parse_key(&text)
                    .map_err(|e| ConfigError::setting("ORIGIN_SECRET", Rule::Key(e)))?,
            ),
        };
        let path = present("WEBHOOK_PATH").unwrap_or_else(|| "/".to_owned());
        let path = path.trim().to_owned();
        check_path(&path).map_err(|e| ConfigError::setting("WEBHOOK_PATH", Rule::Path(e)))?;
        let delivery = match present("DELIVERY").as_deref().map(str::trim) {
            None | Some("direct") => Delivery::Direct,
            Some("queue") => {
                if origin_key.is_none() {
                    return Err(ConfigError::setting(
                        "DELIVERY",
                        Rule::QueueNeedsOriginSecret,
                    ));
                }
                Delivery::Queue(queue_defaults)
            }
            Some(_) => return Err(ConfigError::setting("DELIVERY", Rule::DeliveryMode)),
        };

        Ok(Self {
            routes: vec![Route {
                path,
                scheme: Scheme::StandardWebhooks,
                keys,
                origin_url,
                origin_key,
                limits: defaults,
                scoped_keys: false,
                delivery,
            }],
            store,
            observe,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    use crate::testing::VECTOR_KEY as KEY;

    fn read(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_settings(|name| map.get(name).cloned())
    }

    fn minimal() -> Vec<(&'static str, &'static str)> {
        vec![
            ("WEBHOOK_SECRET", KEY),
            ("ORIGIN_URL", "http://127.0.0.1:8788/hooks"),
        ]
    }

    fn with(extra: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
        let mut pairs = minimal();
        pairs.extend_from_slice(extra);
        read(&pairs)
    }

    fn route(config: Result<Config, ConfigError>) -> Route {
        config.expect("valid").routes.remove(0)
    }

    fn err(config: Result<Config, ConfigError>) -> ConfigError {
        config.expect_err("invalid")
    }

    #[test]
    fn defaults_match_the_contract() {
        let route = route(with(&[]));
        assert_eq!(route.path, "/");
        assert_eq!(route.scheme, Scheme::StandardWebhooks);
        assert_eq!(route.limits.tolerance_seconds, 300);
        assert_eq!(route.limits.max_body_bytes, 1_048_576);
        assert_eq!(route.limits.dedupe_ttl_seconds, 259_200);
        assert_eq!(route.limits.origin_timeout_ms, 10_000);
        assert!(route.origin_key.is_none());
        assert!(!route.scoped_keys, "the single route keeps its stored ids");
        assert_eq!(route.replay_text("msg_1"), "msg_1");
        assert_eq!(route.origin_url, "http://127.0.0.1:8788/hooks");
    }

    #[test]
    fn required_settings_are_named_when_missing() {
        let missing = |name| ConfigError::setting(name, Rule::Required);
        assert_eq!(
            err(read(&[("ORIGIN_URL", "http://x")])),
            missing("WEBHOOK_SECRET")
        );
        assert_eq!(err(read(&[("WEBHOOK_SECRET", KEY)])), missing("ORIGIN_URL"));
        assert_eq!(
            err(read(&[
                ("WEBHOOK_SECRET", "  "),
                ("ORIGIN_URL", "http://x")
            ])),
            missing("WEBHOOK_SECRET")
        );
        assert_eq!(
            missing("ORIGIN_URL").to_string(),
            "setting ORIGIN_URL is required but not set"
        );
    }

    #[test]
    fn origin_url_must_be_absolute_http() {
        for bad in [
            "ftp://x/",
            "/relative",
            "127.0.0.1:8788",
            "http://",
            "javascript:alert(1)",
            "file:///etc/passwd",
            "http://a b/",
        ] {
            let pairs = [("WEBHOOK_SECRET", KEY), ("ORIGIN_URL", bad)];
            assert_eq!(
                err(read(&pairs)),
                ConfigError::setting("ORIGIN_URL", Rule::Url(UrlRule::NotHttp)),
                "{bad}"
            );
        }
        let ok = read(&[
            ("WEBHOOK_SECRET", KEY),
            ("ORIGIN_URL", "https://api.example.com/in?x=1"),
        ]);
        assert_eq!(route(ok).origin_url, "https://api.example.com/in?x=1");
    }

    #[test]
    fn origin_url_with_credentials_or_a_fragment_is_refused() {
        for (bad, rule) in [
            ("https://user:pass@api.example.com/in", UrlRule::Credentials),
            ("http://token@127.0.0.1:8788/", UrlRule::Credentials),
            ("https://api.example.com/in#part", UrlRule::Fragment),
        ] {
            let error = err(read(&[("WEBHOOK_SECRET", KEY), ("ORIGIN_URL", bad)]));
            assert_eq!(error, ConfigError::setting("ORIGIN_URL", Rule::Url(rule)));
            let text = error.to_string();
            assert!(
                !text.contains("pass") || text.contains("user:pass@"),
                "{text}"
            );
            assert!(!text.contains("api.example.com"), "{text}");
        }
        // An @ after the path is not userinfo.
        assert!(read(&[
            ("WEBHOOK_SECRET", KEY),
            ("ORIGIN_URL", "https://x/in?by=@me")
        ])
        .is_ok());
    }

    #[test]
    fn bad_keys_name_their_setting() {
        let pairs = [("WEBHOOK_SECRET", "whsec_***"), ("ORIGIN_URL", "http://x")];
        assert_eq!(
            err(read(&pairs)),
            ConfigError::setting("WEBHOOK_SECRET", Rule::Key(KeyError::NotBase64))
        );
        assert_eq!(
            err(with(&[("ORIGIN_SECRET", "whsec_")])),
            ConfigError::setting("ORIGIN_SECRET", Rule::Key(KeyError::ZeroLength))
        );
        assert!(route(with(&[("ORIGIN_SECRET", "")])).origin_key.is_none());
        assert!(route(with(&[("ORIGIN_SECRET", KEY)])).origin_key.is_some());
    }

    #[test]
    fn a_key_too_short_to_be_a_secret_is_refused() {
        let pairs = [("WEBHOOK_SECRET", "whsec_QQ=="), ("ORIGIN_URL", "http://x")];
        let error = err(read(&pairs));
        assert_eq!(
            error,
            ConfigError::setting("WEBHOOK_SECRET", Rule::Key(KeyError::TooShort))
        );
        assert!(error.to_string().contains("fewer than 16 bytes"));
        assert_eq!(
            err(with(&[("ORIGIN_SECRET", "whsec_QUJD")])),
            ConfigError::setting("ORIGIN_SECRET", Rule::Key(KeyError::TooShort))
        );
    }

    #[test]
    fn origin_secret_takes_exactly_one_key() {
        let two = format!("{KEY} {KEY}");
        let map = HashMap::from([
            ("WEBHOOK_SECRET", KEY.to_owned()),
            ("ORIGIN_URL", "http://x".to_owned()),
            ("ORIGIN_SECRET", two),
        ]);
        let error = Config::from_settings(|name| map.get(name).cloned()).expect_err("two keys");
        assert_eq!(
            error,
            ConfigError::setting("ORIGIN_SECRET", Rule::Key(KeyError::SeveralKeys))
        );
        assert!(error.to_string().contains("takes exactly one"), "{error}");
        assert!(!error.to_string().contains("base64"), "{error}");
    }

    #[test]
    fn numbers_are_range_checked() {
        for (name, bad) in [
            ("TOLERANCE_SECONDS", "-1"),
            ("TOLERANCE_SECONDS", "5m"),
            ("MAX_BODY_BYTES", "0"),
            ("MAX_BODY_BYTES", "33554433"),
            ("DEDUPE_TTL_SECONDS", "59"),
            ("ORIGIN_TIMEOUT_MS", "0"),
            ("ORIGIN_TIMEOUT_MS", "1.5"),
        ] {
            let error = err(with(&[(name, bad)]));
            assert!(
                matches!(error, ConfigError { place: Place::Setting(n), rule: Rule::Number(_) } if n == name),
                "{name}={bad}"
            );
        }
        let limits = route(with(&[
            ("MAX_BODY_BYTES", " 2048 "),
            ("ORIGIN_TIMEOUT_MS", "250"),
        ]))
        .limits;
        assert_eq!(
            (limits.max_body_bytes, limits.origin_timeout_ms),
            (2048, 250)
        );
    }

    #[test]
    fn dedupe_must_outlive_the_replay_window() {
        assert_eq!(
            err(with(&[
                ("TOLERANCE_SECONDS", "300"),
                ("DEDUPE_TTL_SECONDS", "599")
            ])),
            ConfigError::setting("DEDUPE_TTL_SECONDS", Rule::DedupeShorterThanWindow)
        );
        assert!(with(&[("TOLERANCE_SECONDS", "300"), ("DEDUPE_TTL_SECONDS", "600")]).is_ok());
    }

    #[test]
    fn the_store_is_kv_unless_durable_objects_are_chosen() {
        assert_eq!(with(&[]).map(|c| c.store).ok(), Some(StoreKind::Kv));
        assert_eq!(
            with(&[("REPLAY_STORE", "durable-object")])
                .map(|c| c.store)
                .ok(),
            Some(StoreKind::DurableObject)
        );
        assert_eq!(
            err(with(&[("REPLAY_STORE", "redis")])),
            ConfigError::setting("REPLAY_STORE", Rule::Store)
        );
    }

    #[test]
    fn only_kv_needs_a_minute_of_dedupe() {
        let short = [("TOLERANCE_SECONDS", "1"), ("DEDUPE_TTL_SECONDS", "2")];
        assert!(matches!(err(with(&short)).rule, Rule::Number(_)));
        let strict = [
            ("TOLERANCE_SECONDS", "1"),
            ("DEDUPE_TTL_SECONDS", "2"),
            ("REPLAY_STORE", "durable-object"),
        ];
        assert_eq!(route(with(&strict)).limits.dedupe_ttl_seconds, 2);
    }

    #[test]
    fn paths_no_request_can_match_are_refused() {
        for (bad, rule) in [
            ("hooks", PathRule::NotAbsolute),
            ("/hooks?x=1", PathRule::Unmatchable),
            ("/hooks#quo", PathRule::Unmatchable),
            ("/hooks/quo ", PathRule::Unmatchable),
            ("/hoo ks", PathRule::Unmatchable),
            ("/héllo", PathRule::Unmatchable),
            ("/a\\b", PathRule::Unmatchable),
            ("/a{b}", PathRule::Unmatchable),
            ("/a/../b", PathRule::DotSegment),
            ("/a/./b", PathRule::DotSegment),
            ("/a/..", PathRule::DotSegment),
            ("/a/%2e%2E/b", PathRule::DotSegment),
            ("/a/.%2e", PathRule::DotSegment),
            ("/_hookgate/x", PathRule::Reserved),
            ("/_hookgate", PathRule::Reserved),
        ] {
            assert_eq!(check_path(bad), Err(rule), "{bad:?}");
        }
        for good in [
            "/",
            "/hooks/quo",
            "/a..b/.c/d.",
            "/_hookgates",
            "/~user/%20x",
            "//double",
        ] {
            assert_eq!(check_path(good), Ok(()), "{good:?}");
        }
        // The setting trims outer whitespace, as before.
        assert_eq!(
            route(with(&[("WEBHOOK_PATH", " /hooks/quo ")])).path,
            "/hooks/quo"
        );
        let error = err(with(&[("WEBHOOK_PATH", "/hooks?quo")]));
        assert_eq!(
            error,
            ConfigError::setting("WEBHOOK_PATH", Rule::Path(PathRule::Unmatchable))
        );
        assert!(
            error.to_string().contains("no request path can equal it"),
            "{error}"
        );
    }

    #[test]
    fn the_admin_api_is_off_unless_a_strong_token_is_set() {
        let config = with(&[]).expect("valid");
        assert_eq!(config.observe.admin_token, None);
        assert_eq!(config.observe.log_retention_days, 7);
        assert_eq!(config.observe.stats_flush_seconds, 60);
        let config = with(&[("ADMIN_TOKEN", "  0123456789abcdef0123  ")]).expect("valid");
        assert_eq!(
            config.observe.admin_token.as_ref().map(AdminToken::as_str),
            Some("0123456789abcdef0123")
        );
        assert!(
            !format!("{config:?}").contains("0123456789abcdef"),
            "redacted"
        );
        for weak in ["short", "0123456789abcde", "0123456789 abcdef"] {
            let error = err(with(&[("ADMIN_TOKEN", weak)]));
            assert_eq!(error, ConfigError::setting("ADMIN_TOKEN", Rule::WeakToken));
            assert!(!error.to_string().contains(weak), "{error}");
        }
        assert!(matches!(
            err(with(&[("LOG_RETENTION_DAYS", "0")])).rule,
            Rule::Number(_)
        ));
    }

    #[test]
    fn queue_mode_needs_an_origin_secret() {
        assert_eq!(route(with(&[])).delivery, Delivery::Direct);
        assert_eq!(
            err(with(&[("DELIVERY", "queue")])),
            ConfigError::setting("DELIVERY", Rule::QueueNeedsOriginSecret)
        );
        let queued = route(with(&[("DELIVERY", "queue"), ("ORIGIN_SECRET", KEY)]));
        assert_eq!(
            queued.delivery,
            Delivery::Queue(QueuePolicy {
                max_attempts: 12,
                retry_base_seconds: 30
            })
        );
        let tuned = route(with(&[
            ("DELIVERY", "queue"),
            ("ORIGIN_SECRET", KEY),
            ("QUEUE_MAX_ATTEMPTS", "3"),
            ("QUEUE_RETRY_BASE_SECONDS", "1"),
        ]));
        assert_eq!(
            tuned.delivery,
            Delivery::Queue(QueuePolicy {
                max_attempts: 3,
                retry_base_seconds: 1
            })
        );
        assert_eq!(err(with(&[("DELIVERY", "later")])).rule, Rule::DeliveryMode);
        assert!(matches!(
            err(with(&[("QUEUE_MAX_ATTEMPTS", "0")])).rule,
            Rule::Number(_)
        ));
    }

    #[test]
    fn errors_never_carry_values() {
        let secretish = "whsec_c2VjcmV0LXZhbHVl!";
        let pairs = [("WEBHOOK_SECRET", secretish), ("ORIGIN_URL", "http://x")];
        let message = err(read(&pairs)).to_string();
        assert!(message.contains("WEBHOOK_SECRET"));
        assert!(!message.contains("c2VjcmV0"), "{message}");
    }
}
