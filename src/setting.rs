//! The rules settings are checked by, and the errors they give: where a
//! bad setting is ([`Place`]), what is wrong with it ([`Rule`]), the ranges
//! of every number, and the checks of paths and origin URLs.
//!
//! Shared by the two readers of settings, [`crate::routes`] (the `ROUTES`
//! table) and [`crate::config`] (the plain settings, composing routes), so
//! neither has to reach into the other. Errors name the setting (or the route
//! and field) and the rule it broke, never the value: a secret pasted into the
//! wrong variable must not end up in a log.

use crate::keys::KeyError;
use crate::route::MAX_RETRY_DELAY_SECONDS;
use crate::schemes::hmac::TemplateError;
use crate::schemes::Scheme;

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

/// The shortest admin token accepted: anything shorter could be guessed
/// over the network.
pub const MIN_ADMIN_TOKEN_CHARS: usize = 16;

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
    /// A field that routes do not have (a typo would otherwise be ignored),
    /// and nothing like one: its name is not shown, since it may be anything
    /// pasted into the config (a key among them).
    UnknownField,
    /// A field that routes do not have, but a near miss of one they do
    /// ([`near_miss`]): the name given is shown beside the one meant, as it
    /// can differ from a public field name by two characters at most.
    MisspelledField { given: String, meant: &'static str },
    /// A field given twice in one route: JSON keeps the last, so the first
    /// (`"scheme":"stripe", … "scheme":"github"`) would be dropped unseen.
    DuplicateField,
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
    /// `ADMIN_TOKEN` holds a character outside printable ASCII (a control
    /// or non-ASCII character): a browser sends a header's bytes, not its
    /// UTF-8, and refuses some controls outright, so no request could ever
    /// carry the token and the admin API would stay shut without a word.
    TokenCharacters,
    /// A single-route setting (`WEBHOOK_SECRET`, `ORIGIN_URL`,
    /// `ORIGIN_SECRET`, `WEBHOOK_PATH`, `DELIVERY`) is set beside `ROUTES`,
    /// which describes every route itself: it would be ignored (an
    /// `ORIGIN_SECRET` meant to lock the origin, forwards without a
    /// signature). The text says what to use instead.
    OnlyWithoutRoutes(&'static str),
    /// `ROUTES` holds only whitespace: neither routes nor unset (empty is
    /// unset, like every setting), most likely a table that lost its text.
    BlankRoutes,
    /// Not `direct` or `queue`.
    DeliveryMode,
    /// Queue mode without an origin secret: a queued event is forwarded
    /// later, when the sender's timestamp is stale, so it must carry
    /// hookgate's fresh signature.
    QueueNeedsOriginSecret,
    /// A field of the `hmac` scheme ([`HMAC_FIELDS`]) on a route of another
    /// scheme, whose signature is fixed in code: it would be ignored.
    HmacOnly,
    /// A value that is none of the field's choices (the text lists them):
    /// `algorithm`, `encoding`, `timestamp_unit`, `key_encoding`.
    Choice(&'static str),
    /// An `hmac` route's `signed` template that does not parse.
    Template(TemplateError),
    /// The template signs a part whose header the route does not name
    /// (`{timestamp}` without `timestamp_header`, `{id}` without
    /// `id_header`): there would be nothing to sign it with. The text says
    /// which.
    NeedsField(&'static str),
    /// A field that would change nothing, because the template does not sign
    /// what it names (`timestamp_header` without `{timestamp}`, `id_header`
    /// without `{id}`, `public_url` without `{url}`), or another field
    /// decides already. An unsigned timestamp or id would look like a check
    /// and be none, since whoever replays a delivery can rewrite it. The
    /// text says why.
    Unused(&'static str),
    /// Not an HTTP header name (letters, digits and ``!#$%&'*+-.^_`|~``).
    HeaderName,
    /// A header the runtime or hookgate writes itself, or that carries the
    /// client's session (`content-length`, `content-type`, `host`,
    /// `transfer-encoding`, `connection`, `cookie`): no signature travels in
    /// it, and it must not be forwarded as the sender's.
    ReservedHeader,
    /// Two of a route's header fields name the same header.
    SameHeader,
    /// `ALERT_SECRET` is not set, and a route with an alert URL
    /// (`ALERT_URL`, or its `alert_url`) has no origin secret either, so
    /// nothing would sign its alerts: an unsigned alert could not be told
    /// from a forged one.
    AlertUnsigned,
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
    /// `?`, `#`, `"`, `<`, `>`, `^`, `` ` ``, `{`, `}`, `\`, a control or
    /// non-ASCII character): the runtime encodes or splits it. These are
    /// exactly the printable ASCII characters workerd's URL parser changes in
    /// a path (`hostile.test.mjs` checks every other one reaches its route).
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
        // Most rules are one text, written at the end; one with a part
        // writes what comes before it first. Pieces rather than `write!`,
        // where that writes the same: no format arguments for each rule.
        let text = match self {
            Rule::Required => "it is required but not set",
            Rule::Key(why) => return why.fmt(f),
            Rule::Url(UrlRule::NotHttp) => "expected an absolute http:// or https:// URL",
            Rule::Url(UrlRule::Credentials) => {
                "it holds credentials (user:pass@), which fetch drops without a word; \
                 protect the origin with ORIGIN_SECRET's signature instead"
            }
            Rule::Url(UrlRule::Fragment) => "it holds a #fragment, which is never sent",
            Rule::Path(PathRule::NotAbsolute) => "it must start with /",
            Rule::Path(PathRule::Unmatchable) => {
                "no request path can equal it: it holds a space, ?, #, \", <, >, ^, `, {, }, \\, \
                 a control or a non-ASCII character"
            }
            Rule::Path(PathRule::DotSegment) => {
                "no request path can equal it: it holds a . or .. segment, which URLs resolve away"
            }
            Rule::Path(PathRule::Reserved) => "paths under /_hookgate belong to hookgate's admin API",
            Rule::Store => "expected kv or durable-object",
            Rule::Number(range) => {
                f.write_str("expected a whole number ")?;
                range
            }
            Rule::DedupeShorterThanWindow => {
                "it must be at least twice the tolerance, \
                 or a replay could arrive after its key was forgotten"
            }
            Rule::RoutesNotJson { line, column } => {
                return write!(
                    f,
                    "expected a JSON object of routes (or a [vars.ROUTES] table); \
                     it stops parsing at line {line}, column {column}"
                )
            }
            Rule::NoRoutes => "it holds no route",
            Rule::RouteNotTable => "a route must be a table of fields",
            Rule::DuplicatePath => "two routes have this path",
            Rule::UnknownField => {
                f.write_str(
                    "a route has a field hookgate does not know (its name is not shown: it is \
                     nothing like a field, and may be a pasted secret); routes take ",
                )?;
                return write_fields(f);
            }
            Rule::MisspelledField { given, meant } => {
                write!(
                    f,
                    "unknown field {} (did you mean {meant}?); routes take ",
                    crate::json::string(given),
                )?;
                return write_fields(f);
            }
            Rule::DuplicateField => {
                "the route gives this field twice; JSON would keep only the last, so give it once"
            }
            Rule::Type(expected) | Rule::Choice(expected) => {
                f.write_str("expected ")?;
                expected
            }
            Rule::UnknownScheme => {
                f.write_str("expected one of ")?;
                for (i, scheme) in Scheme::ALL.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(scheme.name())?;
                }
                return Ok(());
            }
            Rule::NotABindingName => {
                "it must name a secret binding (letters, digits and _), never hold a key itself"
            }
            Rule::Unbound(Some(name)) => {
                return write!(
                    f,
                    "it names the secret {name}, which is not set (npx wrangler secret put {name}; locally, .dev.vars)"
                )
            }
            Rule::Unbound(None) => "the secret it names is not set",
            Rule::DeliveryMode => "expected direct or queue",
            Rule::QueueNeedsOriginSecret => {
                "queue mode forwards events later, when the sender's timestamp is stale, so the route \
                 needs an origin secret to re-sign them (origin_secret, or ORIGIN_SECRET without ROUTES)"
            }
            Rule::TokenCharacters => {
                "it holds a control or non-ASCII character, which a browser cannot send in a \
                 header; use printable ASCII only (for example: openssl rand -hex 32)"
            }
            Rule::OnlyWithoutRoutes(instead) => {
                f.write_str(
                    "it describes the one route of a gate without ROUTES, and ROUTES is set, so it \
                     would be ignored; ",
                )?;
                instead
            }
            Rule::BlankRoutes => {
                "it holds only spaces; give it routes, or remove it (or leave it empty) to use \
                 the single-route settings"
            }
            Rule::HmacOnly => {
                "only routes with scheme = \"hmac\" take it; the other schemes' signatures are fixed"
            }
            Rule::Template(why) => return why.fmt(f),
            Rule::NeedsField(why) | Rule::Unused(why) => why,
            Rule::HeaderName => "expected a header name (letters, digits and !#$%&'*+-.^_`|~)",
            Rule::ReservedHeader => {
                "the runtime or hookgate writes this header itself, or it carries the client's \
                 session, so no sender's signature travels in it"
            }
            Rule::SameHeader => "another of the route's header fields names this header",
            Rule::AlertUnsigned => {
                "alerts are signed with it, or else their route's origin secret (origin_secret, \
                 or ORIGIN_SECRET without ROUTES), and a route with an alert URL has neither"
            }
            Rule::WeakToken => {
                return write!(
                    f,
                    "it must be at least {MIN_ADMIN_TOKEN_CHARS} characters without spaces \
                     (for example: openssl rand -hex 32)"
                )
            }
        };
        f.write_str(text)
    }
}

/// The route fields, comma-separated, written straight to `f` (a `join`
/// would link a string builder the Worker has no other use for).
fn write_fields(f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    for (i, field) in FIELDS.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        f.write_str(field)?;
    }
    Ok(())
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Pieces rather than `write!`: the same text, no format arguments.
        f.write_str("setting ")?;
        match &self.place {
            Place::Setting(name) => {
                f.write_str(name)?;
                if self.rule == Rule::Required {
                    return f.write_str(" is required but not set");
                }
            }
            Place::Route { path, field } => {
                f.write_str("ROUTES, route ")?;
                f.write_str(&shown_path(path))?;
                f.write_str(", field ")?;
                f.write_str(field)?;
            }
        }
        f.write_str(" is invalid: ")?;
        self.rule.fmt(f)
    }
}

/// A route path as a log may show it: quoted, escaped (as a JSON string, so
/// plain ASCII), and cut short, since it may be anything a user typed.
pub fn shown_path(path: &str) -> String {
    let mut shown = String::new();
    for c in path.chars().take(64) {
        shown.push(c);
    }
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
                b'"' | b'#' | b'<' | b'>' | b'?' | b'^' | b'`' | b'{' | b'}' | b'\\'
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

/// The settings that describe the one route of a gate without `ROUTES`,
/// each with what to use instead once `ROUTES` is set. Beside `ROUTES` each
/// is a settings error ([`Rule::OnlyWithoutRoutes`]) rather than ignored;
/// the two secrets are allowed when a route names them as its secret.
pub const SINGLE_ROUTE: &[(&str, &str)] = &[
    (
        "WEBHOOK_SECRET",
        "with ROUTES each route names its secrets (secret = \"NAME\"): remove it, or name it in a route",
    ),
    (
        "ORIGIN_URL",
        "with ROUTES each route has its own origin (origin = \"https://…\"): remove it",
    ),
    (
        "ORIGIN_SECRET",
        "with ROUTES a route re-signs its forwards only with origin_secret = \"ORIGIN_SECRET\": \
         name it in every route that should, or remove it",
    ),
    (
        "WEBHOOK_PATH",
        "with ROUTES each route's path is its name in ROUTES: remove it",
    ),
    (
        "DELIVERY",
        "with ROUTES each route chooses its own (delivery = \"queue\"): remove it",
    ),
];

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
/// A queue route's origin rate limit: a route field only.
pub const MAX_PER_SECOND: Number = Number {
    setting: "max_per_second",
    field: "max_per_second",
    min: 1,
    max: 1_000,
    range: "from 1 to 1000",
};
pub const FAILURE_COOL_DOWN: Number = Number {
    setting: "FAILURE_COOL_DOWN_SECONDS",
    field: "failure_cool_down_seconds",
    min: 0,
    max: 300,
    range: "from 0 to 300",
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

/// The field of [`FIELDS`] that `name` is a near miss of, if any: the same
/// letters ignoring case and `-` for `_`, or at most two edits away
/// (insertions, deletions, substitutions), for a name of field characters
/// no longer than the longest field and two. Anything else is not shown in
/// an error at all: a name nothing like a field may be a secret pasted into
/// the wrong place, and its first characters are already most of it.
pub fn near_miss(name: &str) -> Option<&'static str> {
    // Loops rather than iterator chains: each chain was its own instance.
    let mut longest = 0;
    for field in FIELDS {
        longest = longest.max(field.len());
    }
    let fieldlike = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    if name.is_empty() || name.len() > longest + 2 || !name.bytes().all(fieldlike) {
        return None;
    }
    let mut folded = Vec::with_capacity(name.len());
    for b in name.bytes() {
        folded.push(if b == b'-' {
            b'_'
        } else {
            b.to_ascii_lowercase()
        });
    }
    // The nearest within two edits; the first of equally near ones.
    let mut nearest: Option<(usize, &'static str)> = None;
    for field in FIELDS {
        let distance = edit_distance(&folded, field.as_bytes());
        if distance <= 2 && nearest.is_none_or(|(best, _)| distance < best) {
            nearest = Some((distance, field));
        }
    }
    nearest.map(|(_, field)| field)
}

/// Levenshtein distance of two short byte strings (one row at a time).
fn edit_distance(a: &[u8], b: &[u8]) -> usize {
    let mut row = Vec::with_capacity(b.len() + 1);
    for j in 0..=b.len() {
        row.push(j);
    }
    for (i, x) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(x != y));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The fields a route may have, so a typo is an error rather than ignored.
pub const FIELDS: &[&str] = &[
    "scheme",
    "secret",
    "origin",
    "origin_secret",
    "tolerance_seconds",
    "max_body_bytes",
    "origin_timeout_ms",
    "dedupe_ttl_seconds",
    "delivery",
    "queue_max_attempts",
    "queue_retry_base_seconds",
    "max_per_second",
    "events",
    "alert_url",
    "signature_header",
    "signature_prefix",
    "algorithm",
    "encoding",
    "signed",
    "timestamp_header",
    "timestamp_unit",
    "id_header",
    "key_encoding",
    "replay_key_field",
    "public_url",
];

/// The fields only an `hmac` route takes (all of them in [`FIELDS`]).
pub const HMAC_FIELDS: &[&str] = &[
    "signature_header",
    "signature_prefix",
    "algorithm",
    "encoding",
    "signed",
    "timestamp_header",
    "timestamp_unit",
    "id_header",
    "key_encoding",
    "replay_key_field",
    "public_url",
];

/// Headers no sender's signature, timestamp or id may be read from (see
/// [`Rule::ReservedHeader`]).
pub const RESERVED_HEADERS: &[&str] = &[
    "content-length",
    "content-type",
    "host",
    "transfer-encoding",
    "connection",
    "cookie",
];

/// A header name as an `hmac` route names one, in lower case (header names
/// are case-insensitive, and the gate looks them up in lower case): a token
/// of RFC 9110's characters, and none of [`RESERVED_HEADERS`].
pub fn check_header_name(name: &str) -> Result<String, Rule> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || name.len() > 128 || !name.bytes().all(token) {
        return Err(Rule::HeaderName);
    }
    let lower = name.to_ascii_lowercase();
    if RESERVED_HEADERS.contains(&lower.as_str()) {
        return Err(Rule::ReservedHeader);
    }
    Ok(lower)
}
