//! What a route is: the path that accepts deliveries, its sender's scheme
//! and keys, its origin, its limits and how events reach the origin.
//!
//! The floor beneath both readers of settings: [`crate::routes`] builds these
//! from `ROUTES`, and [`crate::config`] builds one from the plain settings or
//! takes the list `routes` made. Nothing here reads a setting.

use crate::keys::SigningKey;
use crate::schemes::hmac::HmacSpec;
use crate::schemes::{Scheme, Sender};

/// One path that accepts deliveries: its sender's scheme and keys, where
/// verified events go, and its limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The exact request path.
    pub path: String,
    pub scheme: Scheme,
    /// What an `hmac` route's fields say about its sender; `None` for the
    /// named schemes. Beside `scheme` rather than inside it so `Scheme`
    /// stays a `Copy` name (logs, counts, answers and the delivery log copy
    /// it about); [`Route::sender`] joins the two.
    pub hmac: Option<HmacSpec>,
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
    /// The event types forwarded (`events`); `None` forwards every type.
    pub events: Option<EventFilter>,
    /// Where this route's alerts go (`alert_url`), instead of `ALERT_URL`:
    /// a team can hear of its own sender's trouble. In `ROUTES`, a plain
    /// var, so never a URL that holds a token (those go in `ALERT_URL`).
    pub alert_url: Option<String>,
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
    /// The most forwards a second to the origin (`max_per_second`), paced
    /// by [`crate::pace`]; 0: as fast as the queue hands them over.
    pub max_per_second: u32,
}

impl QueuePolicy {
    /// Without `QUEUE_MAX_ATTEMPTS` and `QUEUE_RETRY_BASE_SECONDS`.
    pub const DEFAULT: Self = Self {
        max_attempts: 12,
        retry_base_seconds: 30,
        max_per_second: 0,
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

/// The event types a route forwards. The rest are answered 200 `filtered`:
/// a sender that subscribes a whole endpoint to everything (as most do)
/// then stops at the edge, before the store or the origin is asked, rather
/// than costing a claim, a forward and a mark each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter {
    /// Each a type's exact name, a prefix ending in `.*`, or `*`; checked
    /// by `crate::routes`.
    pub patterns: Vec<String>,
}

impl EventFilter {
    /// Whether an event of type `kind` is forwarded: `message.*` admits
    /// `message.received` (not `message` itself), and an event that names
    /// no type is admitted only by `*`.
    pub fn admits(&self, kind: Option<&str>) -> bool {
        self.patterns.iter().any(|pattern| {
            if pattern == "*" {
                return true;
            }
            let Some(kind) = kind else {
                return false;
            };
            match pattern.strip_suffix('*') {
                Some(prefix) => kind.len() > prefix.len() && kind.starts_with(prefix),
                None => kind == pattern,
            }
        })
    }
}

impl Route {
    /// What this route verifies with. The description counts only on a
    /// route named `hmac`, and a route named `hmac` without one verifies
    /// nothing ([`Scheme::Hmac`]): a route built wrong fails closed.
    pub fn sender(&self) -> Sender<'_> {
        match (self.scheme, &self.hmac) {
            (Scheme::Hmac, Some(spec)) => Sender::Hmac(spec),
            (scheme, _) => Sender::Named(scheme),
        }
    }

    /// The text the replay store keys on for a replay key of this route.
    /// Route paths hold no space (see [`crate::setting::check_path`]), so `path + " " + key`
    /// can never equal another route's text.
    pub fn replay_text(&self, key: &str) -> String {
        if self.scoped_keys {
            format!("{} {key}", self.path)
        } else {
            key.to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::EventFilter;

    fn filter(patterns: &[&str]) -> EventFilter {
        EventFilter {
            patterns: patterns.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    #[test]
    fn a_pattern_admits_its_name_or_what_lies_under_its_prefix() {
        let events = filter(&["message.*", "call.completed"]);
        for admitted in ["message.received", "message.delivered", "call.completed"] {
            assert!(events.admits(Some(admitted)), "{admitted}");
        }
        for dropped in [
            "message",
            "message.",
            "messages.received",
            "call.completed.late",
            "call.summary.completed",
            "Call.completed",
            "",
        ] {
            assert!(!events.admits(Some(dropped)), "{dropped}");
        }
        assert!(!events.admits(None), "an event that names no type");
    }

    #[test]
    fn a_star_admits_everything_even_an_unnamed_event() {
        let events = filter(&["call.completed", "*"]);
        assert!(events.admits(Some("anything")));
        assert!(events.admits(None));
    }
}
