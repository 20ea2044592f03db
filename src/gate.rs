//! The path of one delivery: route, shape, verify, claim, forward, settle.
//!
//! Pure and generic: the request, the clock, the replay store, the MAC and
//! the origin are traits, so every decision is tested natively with fakes,
//! and the Worker glue only adapts the runtime's objects to them. Cheap checks come
//! first (path, method, Content-Length, headers, the timestamp window) so a
//! junk request never costs a body read or an HMAC, and only a verified
//! delivery touches the store.

use crate::body_fields::{self, BodyFields};
use crate::config::Config;
use crate::keys::{find_match, fingerprint, fingerprint_with, id_fingerprint};
use crate::mac::{KeyUse, Mac};
use crate::origin::{build_forward, resign, HeaderName, Origin, OriginError};
use crate::outcome::Outcome;
use crate::pause::PAUSED_RETRY_AFTER_SECONDS;
use crate::ports::{BodyBytes, Clock, DeliveryQueue, Pauses, Queued, MAX_QUEUED_BODY_BYTES};
use crate::replay::cooldown::CoolDown;
use crate::replay::{claim_ttl_seconds, Claim, ReplayStore};
use crate::route::{Delivery, Route};
use crate::schemes::{slack, standard_webhooks, KeySource, Rejection, Scheme, Stamp};

/// The longest hookgate waits for a body, whatever the scheme: senders
/// time out long before (10 to 15 s), so a body still arriving after this is
/// a connection held open on purpose. Schemes with a timestamp stop earlier,
/// when the delivery leaves its window.
pub const MAX_BODY_MS: i64 = 30_000;

/// Bodies up to this size are read for their event `type` (for the log) even
/// when the scheme needs no field of them; larger ones only when a replay
/// key lives in the body, so a large delivery costs no extra parse.
pub const TYPE_SCAN_MAX_BYTES: usize = 64 * 1024;

/// The longest event type kept: it is shown and logged, never interpreted.
const MAX_EVENT_TYPE_BYTES: usize = 128;

/// Why a body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// More bytes arrived than the limit allows; reading stopped there.
    TooLarge,
    /// The stream failed before its end.
    Unreadable,
    /// The deadline passed before the body ended; reading stopped there.
    TimedOut,
}

/// An incoming request, as the gate needs to see it.
#[allow(async_fn_in_trait)] // Workers run on one thread; no Send bound is wanted.
pub trait Incoming {
    /// The body, wherever the implementation finds it cheapest to keep.
    type Body: BodyBytes;
    fn method(&self) -> &str;
    fn path(&self) -> &str;
    /// The request's whole URL as the Worker sees it (scheme, host, path and
    /// query), for `hmac` routes that sign `{url}` without a `public_url`:
    /// asked for only then, so other deliveries never copy it.
    fn url(&self) -> String;
    /// A header's value, by lowercase name.
    fn header(&self, name: &str) -> Option<String>;
    /// Reads the whole body, whatever `Content-Length` and
    /// `Transfer-Encoding` say: reading fails as soon as more than `limit`
    /// bytes arrived, or once the clock passes `deadline_ms`, so neither a
    /// lying length nor a trickled body can hold memory or the request.
    async fn read_body(&mut self, limit: usize, deadline_ms: i64) -> Result<Self::Body, BodyError>;
}

/// Something worth a log line that did not change the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incident {
    /// The origin answered this non-2xx status.
    OriginStatus(u16),
    /// The origin could not be reached.
    OriginUnreachable,
    /// The HMAC for re-signing could not be computed; the claim was released.
    ResignFailed,
    /// The origin did not answer in time.
    OriginTimedOut,
    /// The store failed while claiming; the delivery was refused.
    ClaimFailed,
    /// The origin had the event but the `done` mark was not written: a retry
    /// may be forwarded again once the claim expires.
    MarkDoneFailed,
    /// The claim of a failed forward could not be released: retries get 409
    /// until it expires.
    ReleaseFailed,
    /// The delivery queue refused the event; the claim was released.
    QueueRefused,
}

impl Incident {
    /// Appends the incident as the log line names it: its variant's name,
    /// and the status in brackets (`OriginStatus(502)`), as `{:?}` would
    /// write it, without the Debug machinery in wasm.
    pub fn push_name(&self, out: &mut String) {
        out.push_str(match self {
            Incident::OriginStatus(_) => "OriginStatus",
            Incident::OriginUnreachable => "OriginUnreachable",
            Incident::ResignFailed => "ResignFailed",
            Incident::OriginTimedOut => "OriginTimedOut",
            Incident::ClaimFailed => "ClaimFailed",
            Incident::MarkDoneFailed => "MarkDoneFailed",
            Incident::ReleaseFailed => "ReleaseFailed",
            Incident::QueueRefused => "QueueRefused",
        });
        if let Incident::OriginStatus(status) = self {
            out.push('(');
            out.push_str(&u64::from(*status).to_string());
            out.push(')');
        }
    }
}

/// The gate's verdict on one request, with what the logs should say.
/// Nothing here is a secret, a signature or a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    pub outcome: Outcome,
    /// The index of the route the request reached.
    pub route: Option<usize>,
    /// That route's scheme.
    pub scheme: Option<Scheme>,
    /// The replay key, once the signature verified.
    pub key: Option<String>,
    /// The event type, from the sender's event header or the body's `type`.
    pub event_type: Option<String>,
    /// The origin's status, when it answered.
    pub origin_status: Option<u16>,
    /// The body's size, once read.
    pub body_bytes: Option<usize>,
    /// Slack's handshake challenge, to be answered.
    pub challenge: Option<String>,
    /// Seconds the sender should wait, when the answer asks it to wait for
    /// a cool-down.
    pub retry_after: Option<u64>,
    pub incidents: Vec<Incident>,
}

impl Handled {
    fn new(outcome: Outcome) -> Self {
        Self {
            outcome,
            route: None,
            scheme: None,
            key: None,
            event_type: None,
            origin_status: None,
            body_bytes: None,
            challenge: None,
            retry_after: None,
            incidents: Vec::new(),
        }
    }
}

fn rejection(rejection: Rejection) -> Outcome {
    match rejection {
        Rejection::MissingHeader => Outcome::MissingHeader,
        Rejection::BadId => Outcome::BadId,
        Rejection::BadTimestamp => Outcome::BadTimestamp,
        Rejection::StaleTimestamp => Outcome::StaleTimestamp,
        Rejection::FutureTimestamp => Outcome::FutureTimestamp,
        Rejection::BadSignature => Outcome::BadSignature,
    }
}

/// An unsigned event name as the replay key holds it: in one spelling for
/// all the spellings an origin's library takes for one name (Shopify's reads
/// `ORDERS/CREATE`, `orders.create` and `orders_create` as `orders/create`;
/// found in review), so rewriting the case or the separators of a captured
/// delivery's name makes no new key.
fn event_name_key(name: &str) -> Vec<u8> {
    let mut key = name.to_ascii_lowercase().into_bytes();
    for byte in &mut key {
        if *byte == b'/' || *byte == b'.' {
            *byte = b'_';
        }
    }
    key
}

/// A delivery whose signature verified.
struct Verified<B> {
    key: String,
    stamp: Option<Stamp>,
    content_type: Option<String>,
    sender_headers: Vec<(HeaderName, String)>,
    event_type: Option<String>,
    challenge: Option<String>,
    body: B,
}

/// Every request header hookgate reads, for the routes of `config`: each
/// scheme's signature, event and forwarded headers (an `hmac` route's as its
/// settings name them), the body's framing and type, and the admin API's
/// `authorization`. The entry reads just these from the runtime, a lookup
/// each: walking every header made a sorted copy of them all and copied into
/// wasm what hookgate never looks at (a large cookie, say). The gate's tests
/// hold every read to this list.
pub fn header_names(config: &Config) -> Vec<&str> {
    let mut names = vec!["content-length", "content-type", "authorization"];
    for route in &config.routes {
        let sender = route.sender();
        let key_header = match sender.key_source() {
            KeySource::SignatureAndHeader(name) => Some(name),
            _ => None,
        };
        for name in sender
            .forwarded_headers()
            .into_iter()
            .chain(sender.event_header())
            .chain(key_header)
        {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

/// What the gate works with besides the request: the replay store, the
/// MAC, the origin, the delivery queue, the clock, the cool-downs of keys
/// whose forward failed and the paused routes.
pub struct Ports<'a, S, M, O, Q, C, D, P> {
    pub store: &'a S,
    pub mac: &'a M,
    pub origin: &'a O,
    pub queue: &'a Q,
    pub clock: &'a C,
    pub cool_down: &'a D,
    pub paused: &'a P,
}

/// Runs one request through the gate.
pub async fn handle<I, S, M, O, Q, C, D, P>(
    config: &Config,
    request: &mut I,
    ports: &Ports<'_, S, M, O, Q, C, D, P>,
) -> Handled
where
    I: Incoming,
    S: ReplayStore,
    M: Mac<I::Body>,
    O: Origin<I::Body>,
    Q: DeliveryQueue<I::Body>,
    C: Clock,
    D: CoolDown,
    P: Pauses,
{
    let Some((index, route)) = config.route_for(request.path()) else {
        return Handled::new(Outcome::NotFound);
    };
    let mut handled = Handled::new(Outcome::Delivered);
    handled.route = Some(index);
    handled.scheme = Some(route.scheme);
    let verified = match verify(route, index, request, ports.mac, ports.clock, &mut handled).await {
        Ok(verified) => verified,
        Err(outcome) => {
            handled.outcome = outcome;
            return handled;
        }
    };
    handled.key = Some(verified.key.clone());
    handled.event_type = verified.event_type.clone();
    if verified.challenge.is_some() {
        handled.outcome = Outcome::Challenge;
        handled.challenge = verified.challenge;
        return handled;
    }
    // Verified, but of a type the route does not forward: answered before
    // the store is asked, so it costs no claim, no mark and no forward.
    if let Some(events) = &route.events {
        if !events.admits(verified.event_type.as_deref()) {
            handled.outcome = Outcome::Filtered;
            return handled;
        }
    }
    // Paused: a direct route (or a body too large for the queue) is asked
    // to come back later, after the signature (a forgery learns nothing it
    // did not before) and before the store (no claim, no write). A queue
    // route queues as ever; its consumer holds the event.
    let queued = matches!(route.delivery, Delivery::Queue(_))
        && verified.body.len() <= MAX_QUEUED_BODY_BYTES;
    if !queued && ports.paused.paused(&route.path).await {
        handled.outcome = Outcome::Paused;
        handled.retry_after = Some(PAUSED_RETRY_AFTER_SECONDS);
        return handled;
    }
    deliver(route, index, verified, ports, &mut handled).await;
    handled
}

/// Claim, then forward or enqueue, then settle.
async fn deliver<B, S, M, O, Q, C, D, P>(
    route: &Route,
    index: usize,
    verified: Verified<B>,
    ports: &Ports<'_, S, M, O, Q, C, D, P>,
    handled: &mut Handled,
) where
    B: BodyBytes,
    S: ReplayStore,
    M: Mac<B>,
    O: Origin<B>,
    Q: DeliveryQueue<B>,
    C: Clock,
    D: CoolDown,
{
    let Ports {
        store,
        mac,
        origin,
        queue,
        clock,
        cool_down,
        ..
    } = *ports;
    let limits = &route.limits;
    // A copy of this delivery can be replayed until its own timestamp leaves
    // the window, so the mark must live at least that long, whatever the
    // dedupe TTL and however the seconds round.
    let keep_until = verified
        .stamp
        .map_or(0, |stamp| stamp.replayable_until(limits.tolerance_seconds));
    let text = route.replay_text(&verified.key);
    let now = clock.now_ms().div_euclid(1000);
    let claim_seconds = claim_ttl_seconds(limits.origin_timeout_ms);
    // A key whose forward just failed waits before the store is asked: a
    // replayed copy then costs no write and no origin request.
    if let Some(until) = cool_down.cooling_until(&text, now).await {
        handled.outcome = Outcome::CoolingDown;
        handled.retry_after = Some(u64::try_from(until.saturating_sub(now)).unwrap_or(1).max(1));
        return;
    }
    match store.claim(&text, now, claim_seconds, keep_until).await {
        Err(_) => {
            handled.incidents.push(Incident::ClaimFailed);
            handled.outcome = Outcome::StoreUnavailable;
            return;
        }
        Ok(Claim::AlreadyDone) => {
            handled.outcome = Outcome::AlreadyDelivered;
            return;
        }
        Ok(Claim::InFlight) => {
            handled.outcome = Outcome::InFlight;
            return;
        }
        Ok(Claim::Claimed) => {}
    }

    // From here on the claim is held: every failure must release it.
    let sent = if matches!(route.delivery, Delivery::Queue(_))
        && verified.body.len() <= MAX_QUEUED_BODY_BYTES
    {
        let mut headers = Vec::with_capacity(verified.sender_headers.len());
        for (name, value) in verified.sender_headers {
            headers.push((name.into_owned(), value));
        }
        let message = Queued {
            route: route.path.clone(),
            key: verified.key,
            content_type: verified.content_type,
            headers,
            event_type: verified.event_type,
            body: verified.body,
        };
        match queue.send(&message).await {
            // Accepted: from the sender's side the event is delivered, and a
            // retry or replay of it is a duplicate. The consumer keeps its own
            // claim on the forward.
            Ok(()) => {
                handled.outcome = Outcome::Queued;
                Ok(())
            }
            Err(_) => Err((Outcome::QueueUnavailable, Incident::QueueRefused)),
        }
    } else {
        forward(route, index, verified, mac, origin, clock, handled).await
    };
    match sent {
        Ok(()) => {
            let now = clock.now_ms().div_euclid(1000);
            let ttl = i64::try_from(limits.dedupe_ttl_seconds).unwrap_or(i64::MAX);
            let until = now.saturating_add(ttl).max(keep_until);
            // A queued event is the consumer's to mark done, under its own
            // key; the sender's side only hands it off.
            let settled = if handled.outcome == Outcome::Queued {
                store.hand_off(&text, now, until).await
            } else {
                store.mark_done(&text, now, until).await
            };
            if settled.is_err() {
                handled.incidents.push(Incident::MarkDoneFailed);
            }
            cool_down.delivered(&text);
        }
        Err((outcome, incident)) => {
            handled.outcome = outcome;
            handled.incidents.push(incident);
            if store.release(&text).await.is_err() {
                handled.incidents.push(Incident::ReleaseFailed);
            }
            cool_down
                .failed(&text, clock.now_ms().div_euclid(1000))
                .await;
        }
    }
}

/// Re-signs and forwards; the origin's status goes in `handled`.
async fn forward<B, M: Mac<B>, O: Origin<B>, C: Clock>(
    route: &Route,
    index: usize,
    verified: Verified<B>,
    mac: &M,
    origin: &O,
    clock: &C,
    handled: &mut Handled,
) -> Result<(), (Outcome, Incident)> {
    let resigned = resign(route, index, mac, clock, &verified.key, &verified.body)
        .await
        .map_err(|()| (Outcome::Internal, Incident::ResignFailed))?;
    let forward = build_forward(
        route,
        verified.content_type,
        verified.sender_headers,
        verified.body,
        resigned,
    );
    match origin.send(forward, route.limits.origin_timeout_ms).await {
        Ok(status) => {
            handled.origin_status = Some(status);
            if (200..300).contains(&status) {
                Ok(())
            } else {
                Err((Outcome::OriginFailed, Incident::OriginStatus(status)))
            }
        }
        Err(OriginError::Unreachable) => Err((Outcome::OriginFailed, Incident::OriginUnreachable)),
        Err(OriginError::Timeout) => Err((Outcome::OriginTimeout, Incident::OriginTimedOut)),
    }
}

/// Shape and signature checks, cheapest first. Nothing here touches the store.
async fn verify<I, M, C>(
    route: &Route,
    index: usize,
    request: &mut I,
    mac: &M,
    clock: &C,
    handled: &mut Handled,
) -> Result<Verified<I::Body>, Outcome>
where
    I: Incoming,
    M: Mac<I::Body>,
    C: Clock,
{
    let limits = &route.limits;
    if request.method() != "POST" {
        return Err(Outcome::MethodNotAllowed);
    }
    // A declared length over the limit is refused before reading; a smaller
    // one is not trusted (the reader counts what really arrives).
    let declared_length = request
        .header("content-length")
        .and_then(|text| text.trim().parse::<u64>().ok());
    if declared_length.is_some_and(|length| length > limits.max_body_bytes as u64) {
        return Err(Outcome::TooLarge);
    }

    let scheme = route.scheme;
    let sender = route.sender();
    let signed = sender
        .read(&|name| request.header(name), &|| request.url())
        .map_err(rejection)?;
    let tolerance = limits.tolerance_seconds;
    let started = clock.now_ms();
    let mut deadline = started.saturating_add(MAX_BODY_MS);
    if let Some(stamp) = signed.stamp {
        stamp.check(started, tolerance).map_err(rejection)?;
        deadline = deadline.min(stamp.replayable_until(tolerance).saturating_mul(1000));
    }

    let body = match request.read_body(limits.max_body_bytes, deadline).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => return Err(Outcome::TooLarge),
        Err(BodyError::Unreadable) => return Err(Outcome::BadBody),
        Err(BodyError::TimedOut) => {
            return Err(
                match signed.stamp.map(|s| s.check(clock.now_ms(), tolerance)) {
                    Some(Err(why)) => rejection(why),
                    _ => Outcome::BodyTimeout,
                },
            )
        }
    };
    handled.body_bytes = Some(body.len());
    // The window again: the headers passed it when they arrived, but a
    // body trickled in for longer could otherwise be claimed after a copy's
    // mark was forgotten.
    if let Some(stamp) = signed.stamp {
        stamp.check(clock.now_ms(), tolerance).map_err(rejection)?;
    }

    let tags = mac
        .tags(index, KeyUse::Sender, &signed.prefix, &body, &signed.suffix)
        .await
        .map_err(|_| Outcome::Internal)?;
    let matched = find_match(&signed.candidates, &tags).ok_or(Outcome::BadSignature)?;

    let key_source = sender.key_source();
    let key_field = match key_source {
        KeySource::BodyField(name) => Some(name),
        _ => None,
    };
    let wants_fields = key_field.is_some()
        || scheme == Scheme::Slack
        // A filtered route must know every event's type, whatever its size.
        || (scheme.event_header().is_none()
            && (body.len() <= TYPE_SCAN_MAX_BYTES || route.events.is_some()));
    let fields = if wants_fields {
        body_fields::read_with(&body.bytes(), key_field).unwrap_or_default()
    } else {
        BodyFields::default()
    };

    // The replay key comes from signed content, and for senders that sign
    // only the body, from the signature with the event's name. An empty
    // body id names no event and counts as none.
    let key = match key_source {
        KeySource::SignedId => signed.id.clone(),
        KeySource::BodyField(name) => fields.get(name).filter(|id| !id.is_empty()).map(body_key),
        KeySource::Signature => None,
        KeySource::SignatureAndHeader(name) => Some(fingerprint_with(
            &tags[matched],
            &event_name_key(&request.header(name).unwrap_or_default()),
        )),
    }
    .unwrap_or_else(|| fingerprint(&tags[matched]));

    let event_type = scheme
        .event_header()
        .and_then(|name| request.header(name))
        .or(fields.kind.clone())
        .and_then(|text| printable(&text, MAX_EVENT_TYPE_BYTES));

    let challenge =
        if scheme == Scheme::Slack && fields.kind.as_deref() == Some(slack::URL_VERIFICATION) {
            fields.challenge.clone()
        } else {
            None
        };

    let sender_headers = sender.sender_headers(&|name| request.header(name));

    Ok(Verified {
        key,
        stamp: signed.stamp,
        content_type: request.header("content-type"),
        sender_headers,
        event_type,
        challenge,
        body,
    })
}

/// The replay key of an event id read from a verified body. An id that can
/// serve as a `webhook-id` (the re-signed forward carries the key as one) is
/// the key as it is; any other (a `.` in it, say) is keyed by its
/// [`id_fingerprint`]. Falling back to the signature instead would make each
/// retry, signed anew with a new timestamp, a new key, and forward the event
/// once per retry.
fn body_key(id: &str) -> String {
    if standard_webhooks::id_is_valid(id) {
        id.to_owned()
    } else {
        id_fingerprint(id)
    }
}

/// `text` when it is non-empty printable ASCII of at most `max` bytes: safe
/// to log and to show.
fn printable(text: &str, max: usize) -> Option<String> {
    let ok =
        !text.is_empty() && text.len() <= max && text.bytes().all(|b| (0x20..0x7f).contains(&b));
    ok.then(|| text.to_owned())
}

#[cfg(test)]
mod tests;
