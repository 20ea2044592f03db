//! Typed settings, read from the Worker's vars and secrets and checked before
//! any request is answered.
//!
//! The reader is a plain closure (`name -> Option<String>`) so this module
//! knows nothing of `worker::Env` and is tested natively. Errors name the
//! setting and the rule it broke, never the value: a secret pasted into the
//! wrong variable must not end up in a log.

use crate::signature::{KeyError, KeyRing, SigningKey};

/// Workers KV refuses expirations shorter than this.
pub const KV_MIN_TTL_SECONDS: u64 = 60;

/// A Worker isolate has 128 MB of memory, and a large body is held twice
/// while it is hashed (the body, and the prefix-and-body buffer WebCrypto
/// signs), so bodies are capped well below Cloudflare's 100 MB request limit.
const MAX_BODY_LIMIT: u64 = 32 * 1024 * 1024;

/// Longer than any sender waits for an answer, so a larger value is a typo.
const MAX_ORIGIN_TIMEOUT_MS: u64 = 600_000;

/// Which replay store guards against duplicates (`REPLAY_STORE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// Workers KV: cheap reads everywhere, eventually consistent.
    Kv,
    /// Durable Objects: an atomic claim, so simultaneous copies forward once.
    DurableObject,
}

/// Every setting hookgate reads, with the defaults DESIGN.md gives.
#[derive(Debug, Clone)]
pub struct Config {
    /// `WEBHOOK_SECRET`: the keys deliveries may be signed with.
    pub keys: KeyRing,
    /// `ORIGIN_URL`: where verified deliveries go; fixed, never taken from a request.
    pub origin_url: String,
    /// `ORIGIN_SECRET`: when set, forwards carry hookgate's own signature.
    pub origin_key: Option<SigningKey>,
    /// `WEBHOOK_PATH`: the one path that accepts deliveries.
    pub path: String,
    /// `TOLERANCE_SECONDS`: allowed clock skew, each direction.
    pub tolerance_seconds: u64,
    /// `MAX_BODY_BYTES`: larger bodies are refused before any hashing.
    pub max_body_bytes: usize,
    /// `DEDUPE_TTL_SECONDS`: how long a delivered webhook-id is remembered.
    pub dedupe_ttl_seconds: u64,
    /// `ORIGIN_TIMEOUT_MS`: the origin fetch is aborted after this.
    pub origin_timeout_ms: u64,
    /// `REPLAY_STORE`: `kv` (default) or `durable-object`.
    pub store: StoreKind,
}

/// A setting that stops hookgate from answering safely. Each variant names
/// the setting; none carries its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigError {
    /// A required setting is absent or empty.
    Missing(&'static str),
    /// A key setting does not hold valid `whsec_` keys.
    BadKey(&'static str, KeyError),
    /// `ORIGIN_URL` is not an absolute http(s) URL with a host.
    BadOriginUrl,
    /// `WEBHOOK_PATH` does not start with `/`.
    BadPath,
    /// `REPLAY_STORE` is neither `kv` nor `durable-object`.
    BadStore,
    /// A number setting is not a whole number in its allowed range.
    OutOfRange(&'static str, &'static str),
    /// `DEDUPE_TTL_SECONDS` is shorter than two tolerance windows, so a
    /// captured delivery could be replayed after its id was forgotten.
    DedupeShorterThanWindow,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::Missing(name) => write!(f, "setting {name} is required but not set"),
            ConfigError::BadKey(name, why) => write!(f, "setting {name} is invalid: {why}"),
            ConfigError::BadOriginUrl => {
                f.write_str("setting ORIGIN_URL is invalid: expected an absolute http:// or https:// URL")
            }
            ConfigError::BadPath => f.write_str("setting WEBHOOK_PATH is invalid: it must start with /"),
            ConfigError::BadStore => {
                f.write_str("setting REPLAY_STORE is invalid: expected kv or durable-object")
            }
            ConfigError::OutOfRange(name, range) => {
                write!(f, "setting {name} is invalid: expected a whole number {range}")
            }
            ConfigError::DedupeShorterThanWindow => f.write_str(
                "setting DEDUPE_TTL_SECONDS is invalid: it must be at least twice TOLERANCE_SECONDS, \
                 or a replay could arrive after its webhook-id was forgotten",
            ),
        }
    }
}

impl Config {
    /// Reads and checks every setting. `get` returns a setting's text, or
    /// `None` when it is not bound.
    pub fn from_settings(
        get: impl Fn(&'static str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let present = |name: &'static str| get(name).filter(|value| !value.trim().is_empty());

        let secret = present("WEBHOOK_SECRET").ok_or(ConfigError::Missing("WEBHOOK_SECRET"))?;
        let keys = KeyRing::parse(&secret).map_err(|e| ConfigError::BadKey("WEBHOOK_SECRET", e))?;

        let origin_url = present("ORIGIN_URL").ok_or(ConfigError::Missing("ORIGIN_URL"))?;
        let origin_url = check_origin_url(origin_url.trim())?;

        let origin_key = match present("ORIGIN_SECRET") {
            None => None,
            Some(text) => Some(
                SigningKey::parse(&text).map_err(|e| ConfigError::BadKey("ORIGIN_SECRET", e))?,
            ),
        };

        let path = present("WEBHOOK_PATH").unwrap_or_else(|| "/".to_owned());
        let path = path.trim().to_owned();
        if !path.starts_with('/') {
            return Err(ConfigError::BadPath);
        }

        let number = |name: &'static str, default: u64, min: u64, max: u64, range: &'static str| {
            match present(name) {
                None => Ok(default),
                Some(text) => text
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (min..=max).contains(n))
                    .ok_or(ConfigError::OutOfRange(name, range)),
            }
        };
        let store = match present("REPLAY_STORE").as_deref().map(str::trim) {
            None | Some("kv") => StoreKind::Kv,
            Some("durable-object") => StoreKind::DurableObject,
            Some(_) => return Err(ConfigError::BadStore),
        };
        let tolerance_seconds = number("TOLERANCE_SECONDS", 300, 0, 86_400, "from 0 to 86400")?;
        let max_body_bytes = number(
            "MAX_BODY_BYTES",
            1_048_576,
            1,
            MAX_BODY_LIMIT,
            "from 1 to 33554432",
        )?;
        // KV refuses expirations under a minute; a Durable Object has no such floor.
        let (min_ttl, ttl_range) = match store {
            StoreKind::Kv => (
                KV_MIN_TTL_SECONDS,
                "from 60 to 31536000 (KV's minimum is 60)",
            ),
            StoreKind::DurableObject => (1, "from 1 to 31536000"),
        };
        let dedupe_ttl_seconds = number(
            "DEDUPE_TTL_SECONDS",
            259_200,
            min_ttl,
            365 * 86_400,
            ttl_range,
        )?;
        let origin_timeout_ms = number(
            "ORIGIN_TIMEOUT_MS",
            10_000,
            1,
            MAX_ORIGIN_TIMEOUT_MS,
            "from 1 to 600000",
        )?;

        if dedupe_ttl_seconds < tolerance_seconds.saturating_mul(2) {
            return Err(ConfigError::DedupeShorterThanWindow);
        }

        Ok(Self {
            keys,
            origin_url,
            origin_key,
            path,
            tolerance_seconds,
            max_body_bytes: usize::try_from(max_body_bytes).unwrap_or(usize::MAX),
            dedupe_ttl_seconds,
            origin_timeout_ms,
            store,
        })
    }
}

/// A first, syntactic check: an http(s) scheme and a host, nothing that can
/// never be part of a URL. The Worker then parses the URL with the runtime's
/// own (WHATWG) parser once per isolate, which keeps a URL parser out of the
/// wasm bundle.
fn check_origin_url(text: &str) -> Result<String, ConfigError> {
    let lower = text.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or(ConfigError::BadOriginUrl)?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or_default();
    let host_name = host.split(':').next().unwrap_or_default();
    let forbidden = |c: char| c.is_whitespace() || c.is_control() || c == '\\';
    if host_name.is_empty() || text.chars().any(forbidden) {
        return Err(ConfigError::BadOriginUrl);
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    use crate::testing::VECTOR_KEY as KEY;

    fn read(pairs: &[(&'static str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<&str, String> = pairs.iter().map(|(k, v)| (*k, v.to_string())).collect();
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

    #[test]
    fn defaults_match_the_contract() {
        let config = with(&[]).expect("minimal settings are enough");
        assert_eq!(config.path, "/");
        assert_eq!(config.tolerance_seconds, 300);
        assert_eq!(config.max_body_bytes, 1_048_576);
        assert_eq!(config.dedupe_ttl_seconds, 259_200);
        assert_eq!(config.origin_timeout_ms, 10_000);
        assert!(config.origin_key.is_none());
        assert_eq!(config.origin_url, "http://127.0.0.1:8788/hooks");
    }

    #[test]
    fn required_settings_are_named_when_missing() {
        assert_eq!(
            read(&[("ORIGIN_URL", "http://x")]).err(),
            Some(ConfigError::Missing("WEBHOOK_SECRET"))
        );
        assert_eq!(
            read(&[("WEBHOOK_SECRET", KEY)]).err(),
            Some(ConfigError::Missing("ORIGIN_URL"))
        );
        assert_eq!(
            read(&[("WEBHOOK_SECRET", "  "), ("ORIGIN_URL", "http://x")]).err(),
            Some(ConfigError::Missing("WEBHOOK_SECRET"))
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
        ] {
            let pairs = [("WEBHOOK_SECRET", KEY), ("ORIGIN_URL", bad)];
            assert_eq!(read(&pairs).err(), Some(ConfigError::BadOriginUrl), "{bad}");
        }
        let ok = read(&[
            ("WEBHOOK_SECRET", KEY),
            ("ORIGIN_URL", "https://api.example.com/in?x=1"),
        ]);
        assert_eq!(
            ok.map(|c| c.origin_url).ok().as_deref(),
            Some("https://api.example.com/in?x=1")
        );
    }

    #[test]
    fn bad_keys_name_their_setting() {
        let pairs = [("WEBHOOK_SECRET", "whsec_***"), ("ORIGIN_URL", "http://x")];
        assert_eq!(
            read(&pairs).err(),
            Some(ConfigError::BadKey("WEBHOOK_SECRET", KeyError::NotBase64))
        );
        assert_eq!(
            with(&[("ORIGIN_SECRET", "whsec_")]).err(),
            Some(ConfigError::BadKey("ORIGIN_SECRET", KeyError::ZeroLength))
        );
        assert!(with(&[("ORIGIN_SECRET", "")])
            .expect("empty means unset")
            .origin_key
            .is_none());
        assert!(with(&[("ORIGIN_SECRET", KEY)])
            .expect("valid")
            .origin_key
            .is_some());
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
            assert!(
                matches!(with(&[(name, bad)]).err(), Some(ConfigError::OutOfRange(n, _)) if n == name),
                "{name}={bad}"
            );
        }
        let config =
            with(&[("MAX_BODY_BYTES", " 2048 "), ("ORIGIN_TIMEOUT_MS", "250")]).expect("valid");
        assert_eq!(
            (config.max_body_bytes, config.origin_timeout_ms),
            (2048, 250)
        );
    }

    #[test]
    fn dedupe_must_outlive_the_replay_window() {
        assert_eq!(
            with(&[("TOLERANCE_SECONDS", "300"), ("DEDUPE_TTL_SECONDS", "599")]).err(),
            Some(ConfigError::DedupeShorterThanWindow)
        );
        assert!(with(&[("TOLERANCE_SECONDS", "300"), ("DEDUPE_TTL_SECONDS", "600")]).is_ok());
    }

    #[test]
    fn the_store_is_kv_unless_durable_objects_are_chosen() {
        assert_eq!(with(&[]).map(|c| c.store).ok(), Some(StoreKind::Kv));
        assert_eq!(
            with(&[("REPLAY_STORE", "kv")]).map(|c| c.store).ok(),
            Some(StoreKind::Kv)
        );
        let strict = with(&[("REPLAY_STORE", "durable-object")])
            .map(|c| c.store)
            .ok();
        assert_eq!(strict, Some(StoreKind::DurableObject));
        assert_eq!(
            with(&[("REPLAY_STORE", "redis")]).err(),
            Some(ConfigError::BadStore)
        );
    }

    #[test]
    fn only_kv_needs_a_minute_of_dedupe() {
        let short = [("TOLERANCE_SECONDS", "1"), ("DEDUPE_TTL_SECONDS", "2")];
        assert!(matches!(
            with(&short).err(),
            Some(ConfigError::OutOfRange("DEDUPE_TTL_SECONDS", _))
        ));
        let strict = [
            ("TOLERANCE_SECONDS", "1"),
            ("DEDUPE_TTL_SECONDS", "2"),
            ("REPLAY_STORE", "durable-object"),
        ];
        assert_eq!(with(&strict).map(|c| c.dedupe_ttl_seconds).ok(), Some(2));
    }

    #[test]
    fn path_must_be_absolute() {
        assert_eq!(
            with(&[("WEBHOOK_PATH", "hooks")]).err(),
            Some(ConfigError::BadPath)
        );
        assert_eq!(
            with(&[("WEBHOOK_PATH", "/hooks/quo")])
                .map(|c| c.path)
                .ok()
                .as_deref(),
            Some("/hooks/quo")
        );
    }

    #[test]
    fn errors_never_carry_values() {
        let secretish = "whsec_c2VjcmV0LXZhbHVl!";
        let pairs = [("WEBHOOK_SECRET", secretish), ("ORIGIN_URL", "http://x")];
        let message = read(&pairs).expect_err("invalid").to_string();
        assert!(message.contains("WEBHOOK_SECRET"));
        assert!(!message.contains("c2VjcmV0"), "{message}");
    }
}
