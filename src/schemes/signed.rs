//! What every scheme file makes of a delivery's headers, and the small
//! readers they share: the signed parts ([`Signed`]), the sender's timestamp
//! ([`Stamp`]), why a delivery is refused ([`Rejection`]) and where its
//! replay key comes from ([`KeySource`]).
//!
//! The floor beneath the scheme files: each of them builds on this, and
//! [`super`] dispatches to them, so none of them needs the dispatcher.

use crate::keys::Tag;

/// Why a delivery's headers or signature were refused. These map onto the
/// gate's outcomes (and so onto the README's reasons), whatever the scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// A header the scheme requires is absent or empty.
    MissingHeader,
    /// The signed id is empty, too long, or holds a byte it must not.
    BadId,
    /// The timestamp is not a whole number in plain digits without a
    /// leading zero (see [`parse_digits`]).
    BadTimestamp,
    /// The timestamp is further in the past than the tolerance allows.
    StaleTimestamp,
    /// The timestamp is further in the future than the tolerance allows.
    FutureTimestamp,
    /// No candidate signature matches any key (or none could be read).
    BadSignature,
}

/// When the sender stamped a delivery, in the scheme's own unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    /// Unix seconds (Standard Webhooks, Stripe, Slack).
    Seconds(i64),
    /// Unix milliseconds (Quo's legacy webhooks).
    Millis(i64),
}

impl Stamp {
    /// Checks the window on both sides against `now_ms`. Seconds compare at
    /// whole-second precision, as the senders' own libraries do. Widening to
    /// i128 keeps the arithmetic exact for any inputs.
    pub fn check(self, now_ms: i64, tolerance_seconds: u64) -> Result<(), Rejection> {
        let (skew, tolerance) = match self {
            Stamp::Seconds(ts) => (
                i128::from(now_ms.div_euclid(1000)) - i128::from(ts),
                i128::from(tolerance_seconds),
            ),
            Stamp::Millis(ts) => (
                i128::from(now_ms) - i128::from(ts),
                i128::from(tolerance_seconds) * 1000,
            ),
        };
        if skew > tolerance {
            Err(Rejection::StaleTimestamp)
        } else if -skew > tolerance {
            Err(Rejection::FutureTimestamp)
        } else {
            Ok(())
        }
    }

    /// The first Unix second at which no copy of this delivery can pass
    /// [`Stamp::check`] any more: a replay store that remembers the delivery
    /// until then leaves no gap, whatever the rounding.
    pub fn replayable_until(self, tolerance_seconds: u64) -> i64 {
        let until = match self {
            Stamp::Seconds(ts) => i128::from(ts) + i128::from(tolerance_seconds) + 1,
            // (ts + tolerance * 1000) div 1000, exactly: the tolerance is
            // whole seconds, so only `ts` needs dividing, in i64 (a 128-bit
            // division would link compiler_builtins' u128_div_rem, 1 KB).
            Stamp::Millis(ts) => {
                i128::from(ts.div_euclid(1000)) + i128::from(tolerance_seconds) + 1
            }
        };
        i64::try_from(until).unwrap_or(i64::MAX)
    }
}

/// Parses a timestamp header: ASCII digits only, without a leading zero, as
/// senders write it. A sign, spaces or a fraction are refused instead of
/// guessed at. A leading zero is refused because the signed content is
/// rebuilt from the number, while some senders' libraries sign and verify
/// the header's own text (Slack's SDKs, Svix's Ruby library) or read a
/// leading zero as octal (Ruby's `Integer`, in Stripe's): the only text every
/// verifier reads as the same number and the same bytes is the canonical
/// one, so anything else would pass here and fail at an origin that
/// verifies again.
pub fn parse_digits(text: &str) -> Result<i64, Rejection> {
    if text.is_empty()
        || text.len() > 18
        || !text.bytes().all(|b| b.is_ascii_digit())
        || (text.len() > 1 && text.starts_with('0'))
    {
        return Err(Rejection::BadTimestamp);
    }
    text.parse::<i64>().map_err(|_| Rejection::BadTimestamp)
}

/// What a scheme read from a delivery's headers, before the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The sender's timestamp; `None` for schemes that sign none (GitHub,
    /// Shopify), whose deliveries can be replayed once forgotten.
    pub stamp: Option<Stamp>,
    /// What the sender signed before the body.
    pub prefix: Vec<u8>,
    /// What the sender signed after the body: empty for every named scheme;
    /// an `hmac` route's template may put parts there (`{body}{timestamp}`).
    pub suffix: Vec<u8>,
    /// The tags the headers carry; any one matching any key verifies.
    pub candidates: Vec<Tag>,
    /// The replay key, when a signed header carries one (`webhook-id`).
    pub id: Option<String>,
}

/// Where a scheme's replay key comes from, once the signature verified. It
/// comes from signed content: an unsigned id header (`X-GitHub-Delivery`)
/// can be changed by whoever replays a captured delivery, so each value
/// written there would be a new key and the same event forwarded again, as
/// often as the attacker likes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource<'a> {
    /// The signed id header ([`Signed::id`]).
    SignedId,
    /// A top-level string field of a JSON body, else the signature. Named by
    /// the scheme, or by an `hmac` route's `replay_key_field`.
    BodyField(&'a str),
    /// The signature itself (its fingerprint).
    Signature,
    /// The signature's fingerprint together with the header naming the
    /// event (GitHub's event, Shopify's topic), for senders that sign only
    /// the body: two events with the same body (Shopify's `orders/create`
    /// and `orders/paid` of one order) are two events, and keying on the
    /// body alone would answer the second `duplicate` and lose it. The
    /// header is not signed, so a captured body can be replayed once under
    /// each other event name; that is bounded by the names the origin acts
    /// on, where a delivery id would be bounded by nothing (docs/security.md).
    SignatureAndHeader(&'a str),
}

/// A header lookup: the value of a request header, by lowercase name.
pub type HeaderFn<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A header's value, when present and not empty.
pub fn present(header: HeaderFn<'_>, name: &str) -> Option<String> {
    header(name).filter(|value| !value.is_empty())
}
