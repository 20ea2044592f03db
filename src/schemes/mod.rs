//! The senders' signature schemes: one closed enum, one file per scheme,
//! the same functions in each.
//!
//! A closed set keeps vtables out of wasm, and an exhaustive `match` forces
//! every new scheme through each decision below. The route picks the
//! scheme, never the request: headers are never sniffed to guess a sender,
//! so a GitHub route cannot be talked into checking a Stripe signature.
//!
//! Each scheme reads its headers into a [`Signed`]: the timestamp to check
//! (if the scheme has one), the signed prefix and suffix, the candidate
//! tags, and the replay key when a signed header carries it. Every scheme
//! signs `prefix || body || suffix` with one HMAC, so one MAC path serves
//! them all. The named schemes' header names live in their files and nowhere
//! else; an `hmac` route's live in its settings ([`hmac::HmacSpec`]).
//!
//! [`Scheme`] is the name a route gives, `Copy`, and what logs, counts and
//! answers carry. What a route verifies with is a [`Sender`], borrowed from
//! the route: one of the named schemes, or an `hmac` route's description.

pub mod github;
pub mod hmac;
pub mod quo_legacy;
pub mod shopify;
mod signed;
pub mod slack;
pub mod standard_webhooks;
pub mod stripe;

pub use signed::{parse_digits, HeaderFn, KeySource, Rejection, Signed, Stamp};

use self::hmac::HmacSpec;
use crate::keys::{Algorithm, KeyError, SigningKey};
use std::borrow::Cow;

/// A sender's signature scheme, as a route names it in `ROUTES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Standard Webhooks (Quo's webhooks, Svix, Clerk, Resend, …):
    /// `webhook-*` headers, or `svix-*` as their alias.
    StandardWebhooks,
    /// Quo's legacy webhooks: `openphone-signature: hmac;1;<ms>;<base64>`.
    QuoLegacy,
    /// GitHub: `x-hub-signature-256: sha256=<hex>` over the body.
    Github,
    /// Stripe: `stripe-signature: t=…,v1=<hex>` over `t.body`.
    Stripe,
    /// Slack: `x-slack-signature: v0=<hex>` over `v0:ts:body`.
    Slack,
    /// Shopify: `x-shopify-hmac-sha256: <base64>` over the body.
    Shopify,
    /// Any other sender that signs with one HMAC: the route's fields say
    /// how ([`HmacSpec`], read through [`Sender::Hmac`]). The arms below are
    /// what a route named `hmac` without a description would do: verify
    /// nothing (no header is ever found), so a route built wrong fails
    /// closed.
    Hmac,
}

impl Scheme {
    /// Every scheme, in the order the docs list them.
    pub const ALL: [Scheme; 7] = [
        Scheme::StandardWebhooks,
        Scheme::QuoLegacy,
        Scheme::Github,
        Scheme::Stripe,
        Scheme::Slack,
        Scheme::Shopify,
        Scheme::Hmac,
    ];

    /// The name a route uses in `ROUTES`.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::StandardWebhooks => "standard-webhooks",
            Scheme::QuoLegacy => "quo-legacy",
            Scheme::Github => "github",
            Scheme::Stripe => "stripe",
            Scheme::Slack => "slack",
            Scheme::Shopify => "shopify",
            Scheme::Hmac => "hmac",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scheme| scheme.name() == name)
    }

    /// Parses one secret's text into keys. Standard Webhooks and Quo's
    /// legacy keys are base64 and a secret may hold several, separated by
    /// spaces (rotation); the other senders' secrets are raw text, used
    /// whole, spaces and all.
    pub fn parse_keys(self, text: &str) -> Result<Vec<SigningKey>, KeyError> {
        match self {
            Scheme::StandardWebhooks => standard_webhooks::parse_keys(text),
            Scheme::QuoLegacy => quo_legacy::parse_keys(text),
            Scheme::Github | Scheme::Stripe | Scheme::Slack | Scheme::Shopify | Scheme::Hmac => {
                Ok(vec![SigningKey::raw(text)?])
            }
        }
    }

    /// Reads the signature headers. Cheap checks only: no body, no HMAC.
    pub fn read(self, header: HeaderFn<'_>) -> Result<Signed, Rejection> {
        match self {
            Scheme::StandardWebhooks => standard_webhooks::read(header),
            Scheme::QuoLegacy => quo_legacy::read(header),
            Scheme::Github => github::read(header),
            Scheme::Stripe => stripe::read(header),
            Scheme::Slack => slack::read(header),
            Scheme::Shopify => shopify::read(header),
            Scheme::Hmac => Err(Rejection::MissingHeader),
        }
    }

    pub fn key_source(self) -> KeySource<'static> {
        match self {
            Scheme::StandardWebhooks => KeySource::SignedId,
            Scheme::QuoLegacy => quo_legacy::KEY_SOURCE,
            Scheme::Github => github::KEY_SOURCE,
            Scheme::Stripe => stripe::KEY_SOURCE,
            Scheme::Slack => slack::KEY_SOURCE,
            Scheme::Shopify => shopify::KEY_SOURCE,
            Scheme::Hmac => KeySource::Signature,
        }
    }

    /// The sender's headers the origin needs to verify and route an event,
    /// forwarded as received when present. Everything else is dropped.
    pub fn forwarded_headers(self) -> &'static [&'static str] {
        match self {
            Scheme::StandardWebhooks => standard_webhooks::FORWARDED,
            Scheme::QuoLegacy => quo_legacy::FORWARDED,
            Scheme::Github => github::FORWARDED,
            Scheme::Stripe => stripe::FORWARDED,
            Scheme::Slack => slack::FORWARDED,
            Scheme::Shopify => shopify::FORWARDED,
            Scheme::Hmac => &[],
        }
    }

    /// The sender's headers a verified delivery is forwarded with, as
    /// received: those of [`Scheme::forwarded_headers`] that are present,
    /// less any the scheme passed over when it read the delivery (a
    /// `webhook-*` header whose `svix-*` twin was verified instead), so the
    /// origin never sees an unchecked twin beside what was verified.
    pub fn sender_headers(self, header: HeaderFn<'_>) -> Vec<(Cow<'static, str>, String)> {
        // Pushed, as an `hmac` route's are (see [`Sender::sender_headers`]):
        // one list type, no iterator chain instantiated per use.
        let mut found = Vec::new();
        for name in self.forwarded_headers() {
            if self == Scheme::StandardWebhooks && standard_webhooks::passed_over(name, header) {
                continue;
            }
            if let Some(value) = header(name) {
                found.push((Cow::Borrowed(*name), value));
            }
        }
        found
    }

    /// A header naming the event type, for senders that send one.
    pub fn event_header(self) -> Option<&'static str> {
        match self {
            Scheme::Github => Some(github::EVENT_HEADER),
            Scheme::Shopify => Some(shopify::EVENT_HEADER),
            _ => None,
        }
    }

    /// The problem detail of a `missing-header` answer: it names this
    /// scheme's headers, so a GitHub sender is not told about `webhook-*`.
    pub fn missing_header_detail(self) -> &'static str {
        match self {
            Scheme::StandardWebhooks => standard_webhooks::MISSING_HEADER,
            Scheme::QuoLegacy => quo_legacy::MISSING_HEADER,
            Scheme::Github => github::MISSING_HEADER,
            Scheme::Stripe => stripe::MISSING_HEADER,
            Scheme::Slack => slack::MISSING_HEADER,
            Scheme::Shopify => shopify::MISSING_HEADER,
            Scheme::Hmac => "The route's signature header is required.",
        }
    }

    /// The problem detail of a `bad-signature` answer.
    pub fn bad_signature_detail(self) -> &'static str {
        match self {
            Scheme::StandardWebhooks => "No signature in webhook-signature matches.",
            Scheme::QuoLegacy => "No signature in openphone-signature matches.",
            Scheme::Github => "x-hub-signature-256 does not match.",
            Scheme::Stripe => "No v1 signature in stripe-signature matches.",
            Scheme::Slack => "x-slack-signature does not match.",
            Scheme::Shopify => "x-shopify-hmac-sha256 does not match.",
            Scheme::Hmac => "The signature does not match.",
        }
    }

    /// Whether this scheme signs a timestamp; without one, a captured
    /// delivery can be replayed once its key is forgotten.
    pub fn has_timestamp(self) -> bool {
        !matches!(self, Scheme::Github | Scheme::Shopify | Scheme::Hmac)
    }
}

/// What a route verifies with, borrowed from it (`Route::sender`): one of
/// the named schemes, whose behaviour is its file, or an `hmac` route's
/// description. A closed enum of families, not a trait object per sender:
/// no vtables in wasm, and every decision below is an exhaustive `match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender<'a> {
    Named(Scheme),
    Hmac(&'a HmacSpec),
}

impl<'a> Sender<'a> {
    /// The scheme's name, for logs, counts and answers.
    pub fn scheme(self) -> Scheme {
        match self {
            Sender::Named(scheme) => scheme,
            Sender::Hmac(_) => Scheme::Hmac,
        }
    }

    /// Reads the signature headers (see [`Scheme::read`]). `url` gives the
    /// request's URL, which only an `hmac` route signing `{url}` asks for.
    pub fn read(self, header: HeaderFn<'_>, url: &dyn Fn() -> String) -> Result<Signed, Rejection> {
        match self {
            Sender::Named(scheme) => scheme.read(header),
            Sender::Hmac(spec) => spec.read(header, url),
        }
    }

    /// The hash every tag of this sender is computed with.
    pub fn algorithm(self) -> Algorithm {
        match self {
            Sender::Named(_) => Algorithm::Sha256,
            Sender::Hmac(spec) => spec.algorithm,
        }
    }

    pub fn key_source(self) -> KeySource<'a> {
        match self {
            Sender::Named(scheme) => scheme.key_source(),
            Sender::Hmac(spec) => spec.key_source(),
        }
    }

    /// The sender's headers that reach the origin when present (see
    /// [`Scheme::forwarded_headers`]); an `hmac` route's are the ones it
    /// configures.
    pub fn forwarded_headers(self) -> Vec<&'a str> {
        match self {
            Sender::Named(scheme) => scheme.forwarded_headers().to_vec(),
            Sender::Hmac(spec) => spec.headers(),
        }
    }

    /// The forwarded headers present on a delivery, as received (see
    /// [`Scheme::sender_headers`]).
    pub fn sender_headers(self, header: HeaderFn<'_>) -> Vec<(Cow<'static, str>, String)> {
        match self {
            Sender::Named(scheme) => scheme.sender_headers(header),
            Sender::Hmac(spec) => {
                let mut found = Vec::new();
                for name in spec.headers() {
                    if let Some(value) = header(name) {
                        found.push((Cow::Owned(name.to_owned()), value));
                    }
                }
                found
            }
        }
    }

    pub fn event_header(self) -> Option<&'static str> {
        self.scheme().event_header()
    }

    /// The problem detail of a `missing-header` answer, naming the route's
    /// own headers.
    pub fn missing_header_detail(self) -> Cow<'static, str> {
        match self {
            Sender::Named(scheme) => Cow::Borrowed(scheme.missing_header_detail()),
            Sender::Hmac(spec) => Cow::Owned(spec.missing_header_detail()),
        }
    }

    /// The problem detail of a `bad-signature` answer.
    pub fn bad_signature_detail(self) -> Cow<'static, str> {
        match self {
            Sender::Named(scheme) => Cow::Borrowed(scheme.bad_signature_detail()),
            Sender::Hmac(spec) => Cow::Owned(spec.bad_signature_detail()),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A header lookup over fixed pairs, for the scheme tests.
    pub fn headers(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned()))
            .collect();
        move |name: &str| map.get(name).cloned()
    }

    #[test]
    fn names_round_trip() {
        for scheme in Scheme::ALL {
            assert_eq!(Scheme::from_name(scheme.name()), Some(scheme));
        }
        assert_eq!(Scheme::from_name("GitHub"), None);
        assert_eq!(Scheme::from_name("svix"), None);
    }

    #[test]
    fn windows_in_seconds_and_milliseconds() {
        let now_ms = 1_700_000_000_500;
        assert_eq!(
            Stamp::Seconds(1_700_000_000 - 300).check(now_ms, 300),
            Ok(())
        );
        assert_eq!(
            Stamp::Seconds(1_700_000_000 - 301).check(now_ms, 300),
            Err(Rejection::StaleTimestamp)
        );
        assert_eq!(Stamp::Seconds(1_700_000_300).check(now_ms, 300), Ok(()));
        assert_eq!(
            Stamp::Seconds(1_700_000_301).check(now_ms, 300),
            Err(Rejection::FutureTimestamp)
        );
        assert_eq!(Stamp::Millis(now_ms - 300_000).check(now_ms, 300), Ok(()));
        assert_eq!(
            Stamp::Millis(now_ms - 300_001).check(now_ms, 300),
            Err(Rejection::StaleTimestamp)
        );
        assert_eq!(
            Stamp::Millis(now_ms + 300_001).check(now_ms, 300),
            Err(Rejection::FutureTimestamp)
        );
        assert_eq!(Stamp::Seconds(0).check(0, 0), Ok(()));
    }

    #[test]
    fn window_arithmetic_cannot_overflow() {
        assert_eq!(Stamp::Seconds(i64::MAX).check(i64::MIN, u64::MAX), Ok(()));
        assert_eq!(
            Stamp::Seconds(i64::MAX).check(i64::MIN, 300),
            Err(Rejection::FutureTimestamp)
        );
        assert_eq!(
            Stamp::Millis(i64::MIN).check(i64::MAX, 300),
            Err(Rejection::StaleTimestamp)
        );
        assert_eq!(Stamp::Millis(i64::MAX).replayable_until(u64::MAX), i64::MAX);
    }

    /// The promise [`Stamp::replayable_until`] makes: no instant at or after
    /// it passes the window, and the instant just before it does.
    #[test]
    fn nothing_passes_the_window_once_replayable_until_has_come() {
        for tolerance in [0u64, 1, 5, 300] {
            for stamp in [
                Stamp::Seconds(1_000),
                Stamp::Millis(1_000_000),
                Stamp::Millis(1_000_999),
                Stamp::Millis(1_000_001),
            ] {
                let until_ms = stamp.replayable_until(tolerance) * 1000;
                assert!(
                    stamp.check(until_ms, tolerance).is_err(),
                    "{stamp:?} {tolerance}"
                );
                assert!(stamp.check(until_ms + 999, tolerance).is_err());
                let last_passing = (until_ms - 1000..until_ms)
                    .filter(|t| stamp.check(*t, tolerance).is_ok())
                    .max();
                assert!(
                    last_passing.is_some(),
                    "{stamp:?} {tolerance}: the second before passes"
                );
            }
        }
    }

    #[test]
    fn timestamps_must_be_plain_digits() {
        for bad in [
            "",
            " 1",
            "1 ",
            "+1",
            "-1",
            "1.5",
            "0x10",
            "１２",
            "9999999999999999999",
            "01614265330",
            "0001614265330",
            "00",
        ] {
            assert_eq!(parse_digits(bad), Err(Rejection::BadTimestamp), "{bad:?}");
        }
        assert_eq!(parse_digits("1614265330"), Ok(1_614_265_330));
        assert_eq!(parse_digits("0"), Ok(0));
    }

    #[test]
    fn missing_header_texts_name_only_their_own_headers() {
        for scheme in Scheme::ALL {
            let text = scheme.missing_header_detail();
            if scheme != Scheme::StandardWebhooks {
                assert!(!text.contains("webhook-"), "{scheme:?}: {text}");
            }
            assert!(!text.is_empty());
        }
    }
}
