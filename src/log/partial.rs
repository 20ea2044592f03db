//! A delivery's record, in parts. The log is spread over several objects
//! (shards), and each isolate writes its batches to one of them, so the
//! attempts of one delivery may land in several: a sender's retry reaches
//! another isolate, a queued event is accepted by one and forwarded by
//! another. Each shard keeps, per delivery and per hour of its attempts, a
//! [`Partial`]: the attempts it took, folded so that parts combine, in any
//! order, into the very record one object would have kept by folding every
//! attempt with [`DeliveryRecord::merge`] (`tests` holds them to it).
//!
//! What makes that possible is what the fold depends on. Its outcome is the
//! last attempt's, except that `delivered` is never replaced and `dead` only
//! by an attempt that moves the event on (see [`super::merged_outcome`]).
//! So it is decided by three attempts, each the latest of its kind: the
//! last delivered one, if any; else the last onward one (`queued`,
//! `retrying`, `dead`) if that one is `dead`; else the last one. A part
//! keeps those three ([`Fact`]s); combining parts keeps the latest of each.

use super::{Attempt, Cursor, DeliveryRecord, Fact, HISTORY};
use sha2::{Digest, Sha256};

/// A shard keeps a delivery's attempts of one hour in one part: a listing
/// reads one hour's parts at a time, newest hour first, so its cost is
/// bounded by an hour's records, and the table needs no index on time (an
/// index is one more row written per write).
pub const BUCKET_MS: i64 = 3_600_000;

/// The hour bucket of a time.
pub fn bucket_of(at_ms: i64) -> i64 {
    at_ms.div_euclid(BUCKET_MS)
}

/// How many bits a part's tie-break holds: parts last seen in the same
/// millisecond in one shard are ordered by it. A listing position packs the
/// shard above these bits ([`position`]).
pub const TIE_BITS: u32 = 48;

/// The tie-break of a delivery: 48 bits of the SHA-256 of its route and
/// key. Two deliveries with the same one, last seen in the same
/// millisecond in the same shard, are one chance in about 10^14 per pair;
/// a listing could then page past one of them.
pub fn tie_of(route: &str, key: &str) -> i64 {
    let mut hash = Sha256::new();
    hash.update(route.as_bytes());
    hash.update([0]);
    hash.update(key.as_bytes());
    let digest = hash.finalize();
    let mut tie = 0i64;
    for byte in &digest[..(TIE_BITS / 8) as usize] {
        tie = (tie << 8) | i64::from(*byte);
    }
    tie
}

/// Where a part stands in a listing, newest first: by the time it was last
/// seen, then its shard, then its tie-break. A cursor is such a position.
pub fn position(shard: usize, partial: &Partial) -> Cursor {
    Cursor {
        last_seen: partial.last_seen,
        row: ((shard as i64) << TIE_BITS) | (partial.tie & ((1 << TIE_BITS) - 1)),
    }
}

/// The shard of a position.
pub fn shard_of(cursor: Cursor) -> usize {
    usize::try_from(cursor.row >> TIE_BITS).unwrap_or(usize::MAX)
}

/// The bound a shard applies for "older than `cursor`": parts last seen
/// before `(last_seen, tie)`, ties below `tie` at the same millisecond. A
/// cursor in a shard before this one leaves none of its parts at that
/// millisecond older, one in a shard after it leaves all of them.
pub fn shard_bound(cursor: Cursor, shard: usize) -> (i64, i64) {
    let tie = match shard_of(cursor).cmp(&shard) {
        std::cmp::Ordering::Less => 0,
        std::cmp::Ordering::Equal => cursor.row & ((1 << TIE_BITS) - 1),
        std::cmp::Ordering::Greater => 1 << TIE_BITS,
    };
    (cursor.last_seen, tie)
}

/// Whether an outcome moves a queued event on: what may replace `dead`
/// (with `delivered`, which replaces anything).
pub fn onward(outcome: &str) -> bool {
    matches!(outcome, "queued" | "retrying" | "dead")
}

/// The later of two facts; at the same millisecond, `later`, the one that
/// arrived second (as one object folding attempts in order would keep it).
fn latest(earlier: Option<Fact>, later: Option<Fact>) -> Option<Fact> {
    match (earlier, later) {
        (Some(a), Some(b)) if a.at_ms > b.at_ms => Some(a),
        (a, b) => b.or(a),
    }
}

/// What one shard holds of one delivery (see the module's text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partial {
    pub route: String,
    pub key: String,
    /// The tie-break the shard orders the part by ([`tie_of`], or the row
    /// number of a record kept before the log had shards).
    pub tie: i64,
    /// The scheme of the part's first attempt.
    pub scheme: String,
    pub event_type: Option<String>,
    pub first_seen: i64,
    pub last_seen: i64,
    pub attempts: u32,
    /// The last attempt.
    pub last: Fact,
    /// The last attempt that moved a queued event on ([`onward`]).
    pub onward: Option<Fact>,
    /// The last delivered attempt.
    pub delivered: Option<Fact>,
    /// Whether the shard keeps a dead letter for the delivery.
    pub dead_letter: bool,
    /// The part's last attempts, oldest first, at most [`HISTORY`].
    pub history: Vec<Fact>,
}

impl Partial {
    /// The part one attempt makes.
    pub fn of(attempt: &Attempt) -> Self {
        let fact = Fact::of(attempt);
        Self {
            route: attempt.route.clone(),
            key: attempt.key.clone(),
            tie: tie_of(&attempt.route, &attempt.key),
            scheme: attempt.scheme.clone(),
            event_type: attempt.event_type.clone(),
            first_seen: attempt.at_ms,
            last_seen: attempt.at_ms,
            attempts: 1,
            onward: onward(&fact.outcome).then(|| fact.clone()),
            delivered: (fact.outcome == "delivered").then(|| fact.clone()),
            history: vec![fact.clone()],
            last: fact,
            dead_letter: false,
        }
    }

    /// Folds in an attempt that came after those already folded.
    pub fn add(&mut self, attempt: &Attempt) {
        self.absorb(Partial::of(attempt));
    }

    /// Folds in another part of the same delivery; at equal times,
    /// `later`'s attempts count as the later ones.
    pub fn absorb(&mut self, later: Partial) {
        if later.first_seen < self.first_seen {
            self.scheme = later.scheme;
        }
        // The event type of the latest attempt that named one (one event
        // has one type; a retried dead letter's attempt names none).
        self.event_type = if later.last_seen >= self.last_seen {
            later.event_type.or(self.event_type.take())
        } else {
            self.event_type.take().or(later.event_type)
        };
        self.first_seen = self.first_seen.min(later.first_seen);
        self.last_seen = self.last_seen.max(later.last_seen);
        self.attempts = self.attempts.saturating_add(later.attempts);
        if later.last.at_ms >= self.last.at_ms {
            self.last = later.last;
        }
        self.onward = latest(self.onward.take(), later.onward);
        self.delivered = latest(self.delivered.take(), later.delivered);
        self.dead_letter |= later.dead_letter;
        self.history = merged_history(std::mem::take(&mut self.history), later.history);
    }

    /// The attempt whose outcome the record shows.
    fn shown(&self) -> &Fact {
        self.delivered
            .as_ref()
            .or(self.onward.as_ref().filter(|fact| fact.outcome == "dead"))
            .unwrap_or(&self.last)
    }

    /// The record, as the admin API shows it.
    pub fn record(&self) -> DeliveryRecord {
        let shown = self.shown();
        DeliveryRecord {
            route: self.route.clone(),
            key: self.key.clone(),
            scheme: self.scheme.clone(),
            event_type: self.event_type.clone(),
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            attempts: self.attempts,
            outcome: shown.outcome.clone(),
            origin_status: shown.origin_status,
            duration_ms: shown.duration_ms,
            dead_letter: self.dead_letter,
            history: self.history.clone(),
        }
    }
}

/// Two histories as one, oldest first (at equal times `earlier`'s attempts
/// first, as one object folding them in order keeps them), the newest
/// [`HISTORY`] of them.
fn merged_history(earlier: Vec<Fact>, later: Vec<Fact>) -> Vec<Fact> {
    let mut merged = Vec::with_capacity(earlier.len() + later.len());
    let (mut a, mut b) = (earlier.into_iter().peekable(), later.into_iter().peekable());
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if y.at_ms < x.at_ms => b.next(),
            (Some(_), _) => a.next(),
            (None, _) => b.next(),
        };
        match next {
            Some(fact) => merged.push(fact),
            None => break,
        }
    }
    let over = merged.len().saturating_sub(HISTORY);
    merged.drain(..over);
    merged
}

/// The parts of one delivery, from any shards, as one: folded oldest
/// first by position, so that at equal times the order is the same
/// whoever asks. (A delivery has a few parts: picked one by one, with no
/// sort linked into the module for it.)
pub fn combined(mut parts: Vec<(Cursor, Partial)>) -> Option<Partial> {
    let mut whole: Option<Partial> = None;
    loop {
        // The oldest (the first of equals, as min_by_key), found in a loop.
        let mut oldest: Option<usize> = None;
        for i in 0..parts.len() {
            if oldest.is_none_or(|o| parts[i].0 < parts[o].0) {
                oldest = Some(i);
            }
        }
        let Some(oldest) = oldest else {
            break;
        };
        let (_, part) = parts.swap_remove(oldest);
        match &mut whole {
            Some(whole) => whole.absorb(part),
            None => whole = Some(part),
        }
    }
    whole
}

/// The attempts of a batch folded into parts, one per delivery and hour,
/// in the order the deliveries first appear: what a shard merges into the
/// parts it holds, one row each.
pub fn parts_of(attempts: &[Attempt]) -> Vec<(i64, Partial)> {
    let mut parts: Vec<(i64, Partial)> = Vec::new();
    for attempt in attempts {
        let bucket = bucket_of(attempt.at_ms);
        let found = parts.iter_mut().find(|(b, part)| {
            *b == bucket && part.route == attempt.route && part.key == attempt.key
        });
        match found {
            Some((_, part)) => part.add(attempt),
            None => parts.push((bucket, Partial::of(attempt))),
        }
    }
    parts
}

/// Which parts a shard returns for a listing filtered by outcome: those
/// that, as the newest part of their delivery, could show that outcome
/// once combined with the others. Necessary, not sufficient: the listing
/// combines each candidate with the delivery's other parts and checks the
/// outcome again.
///
/// The newest part holds the delivery's last attempt. A record shows
/// `delivered` if any part holds a delivery (so any part is a candidate);
/// `dead` if no part holds one and the latest onward attempt is `dead`
/// (not a part holding a delivery, nor one whose last attempt is onward
/// but not `dead`: that attempt is then the latest onward one); any other
/// outcome only as the last attempt's, with no delivery anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Candidates<'a> {
    /// No outcome filter, or `delivered`.
    Any,
    /// `dead`.
    Dead,
    /// Any other outcome: the part's last attempt had it.
    Last(&'a str),
}

impl<'a> Candidates<'a> {
    pub fn of(outcome: Option<&'a str>) -> Self {
        match outcome {
            None | Some("delivered") => Candidates::Any,
            Some("dead") => Candidates::Dead,
            Some(other) => Candidates::Last(other),
        }
    }

    /// Whether a shard returns `part` (the shard applies the same rule in
    /// SQL).
    pub fn admits(&self, part: &Partial) -> bool {
        match self {
            Candidates::Any => true,
            Candidates::Dead => {
                part.delivered.is_none()
                    && !matches!(part.last.outcome.as_str(), "queued" | "retrying")
            }
            Candidates::Last(outcome) => part.delivered.is_none() && part.last.outcome == *outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const OUTCOMES: [&str; 9] = [
        "delivered",
        "origin-failed",
        "origin-timeout",
        "store-unavailable",
        "internal-error",
        "queued",
        "queue-unavailable",
        "retrying",
        "dead",
    ];

    fn attempt(outcome: &str, at_ms: i64, status: Option<u16>, typed: bool) -> Attempt {
        Attempt {
            route: "/quo".into(),
            key: "msg_1".into(),
            scheme: "standard-webhooks".into(),
            event_type: typed.then(|| "message.received".into()),
            at_ms,
            outcome: outcome.into(),
            origin_status: status,
            duration_ms: (at_ms % 97) as u32,
        }
    }

    /// What one object folding every attempt in order keeps.
    fn folded(attempts: &[Attempt]) -> DeliveryRecord {
        let mut record = None;
        for attempt in attempts {
            record = Some(DeliveryRecord::merge(record, attempt));
        }
        record.expect("at least one attempt")
    }

    proptest! {
        /// Any split of a delivery's attempts into parts (shards, hours),
        /// combined in any order, shows what one object would have shown.
        #[test]
        fn parts_combine_into_the_record_one_object_keeps(
            steps in prop::collection::vec(
                (0..OUTCOMES.len(), 1..50i64, any::<bool>(), 0..4usize, any::<bool>(), 0..8u8),
                // Past HISTORY now and then: the attempts listed are the newest.
                1..28,
            ),
            order in any::<u64>(),
        ) {
            let mut at = 1_700_000_000_000;
            let mut attempts = Vec::new();
            let mut shards: Vec<Vec<Attempt>> = vec![Vec::new(); 4];
            for (outcome, gap, answered, shard, typed, hours) in steps {
                // Now and then an hour or more later: another part in the
                // same shard.
                at += gap + if hours == 0 { BUCKET_MS } else { 0 };
                let attempt = attempt(OUTCOMES[outcome], at, answered.then_some(500 + gap as u16), typed);
                shards[shard].push(attempt.clone());
                attempts.push(attempt);
            }
            let mut parts: Vec<(Cursor, Partial)> = Vec::new();
            for (shard, taken) in shards.iter().enumerate() {
                for (_, part) in parts_of(taken) {
                    parts.push((position(shard, &part), part));
                }
            }
            // The order the shards answer in does not matter.
            let turn = (order as usize) % parts.len().max(1);
            parts.rotate_left(turn);
            let whole = combined(parts.clone()).expect("parts");
            let expected = folded(&attempts);
            prop_assert_eq!(whole.record(), expected.clone());
            // The newest part passes its shard's filter for the record's
            // outcome, so a filtered listing finds the record.
            let newest = parts.iter().max_by_key(|(at, _)| *at).map(|(_, p)| p).expect("parts");
            prop_assert!(Candidates::of(Some(&expected.outcome)).admits(newest), "{:?}", expected.outcome);
        }
    }

    #[test]
    fn a_dead_letter_stays_dead_when_a_later_failure_lands_in_another_shard() {
        let dead = Partial::of(&attempt("dead", 1_000, Some(503), true));
        let copy = Partial::of(&attempt("store-unavailable", 2_000, None, true));
        let mut parts = vec![(position(3, &dead), dead), (position(1, &copy), copy)];
        let whole = combined(parts.clone()).expect("parts");
        let record = whole.record();
        assert_eq!(
            (
                record.outcome.as_str(),
                record.origin_status,
                record.attempts
            ),
            ("dead", Some(503), 2)
        );
        assert_eq!((record.first_seen, record.last_seen), (1_000, 2_000));
        // Queued again by the admin API, in a third shard: it moves on.
        let queued = Partial::of(&attempt("queued", 3_000, None, false));
        parts.push((position(0, &queued), queued));
        let record = combined(parts).expect("parts").record();
        assert_eq!(record.outcome, "queued");
        assert_eq!(record.event_type.as_deref(), Some("message.received"));
    }

    #[test]
    fn a_shard_returns_only_parts_that_could_show_the_outcome() {
        let delivered = Partial::of(&attempt("delivered", 1, Some(200), true));
        let failed = Partial::of(&attempt("origin-failed", 1, Some(503), true));
        let retrying = Partial::of(&attempt("retrying", 1, Some(503), true));
        assert!(Candidates::of(Some("delivered")).admits(&failed));
        assert!(Candidates::of(None).admits(&failed));
        assert!(!Candidates::of(Some("dead")).admits(&delivered));
        assert!(!Candidates::of(Some("dead")).admits(&retrying));
        assert!(Candidates::of(Some("dead")).admits(&failed));
        assert!(Candidates::of(Some("origin-failed")).admits(&failed));
        assert!(!Candidates::of(Some("origin-failed")).admits(&delivered));
        assert!(!Candidates::of(Some("queued")).admits(&failed));
    }

    #[test]
    fn positions_order_by_time_then_shard_then_tie() {
        let part = Partial::of(&attempt("delivered", 5_000, None, false));
        let a = position(2, &part);
        assert_eq!(shard_of(a), 2);
        assert_eq!(a.row & ((1 << TIE_BITS) - 1), part.tie);
        assert!(position(3, &part) > a);
        assert!(
            Cursor::decode(&a.encode()) == Some(a),
            "a position is a cursor"
        );
        assert_eq!(shard_bound(a, 2), (5_000, part.tie));
        assert_eq!(
            shard_bound(a, 1),
            (5_000, 1 << TIE_BITS),
            "all of shard 1's ties are older"
        );
        assert_eq!(shard_bound(a, 3), (5_000, 0), "none of shard 3's are");
        assert!(tie_of("/quo", "msg_1") < 1 << TIE_BITS);
        assert_ne!(tie_of("/quo", "msg_1"), tie_of("/quo", "msg_2"));
        assert_ne!(
            tie_of("/a", "b/c"),
            tie_of("/a/b", "c"),
            "route and key are kept apart"
        );
    }

    #[test]
    fn a_batch_folds_into_one_part_per_delivery_and_hour() {
        let mut other = attempt("delivered", 10, None, false);
        other.key = "msg_2".into();
        let parts = parts_of(&[
            attempt("origin-failed", 10, Some(503), true),
            other,
            attempt("delivered", 20, Some(200), true),
            attempt("delivered", BUCKET_MS + 5, Some(200), true),
        ]);
        assert_eq!(parts.len(), 3);
        assert_eq!((parts[0].0, parts[0].1.attempts), (0, 2));
        assert_eq!(parts[0].1.record().outcome, "delivered");
        assert_eq!((parts[2].0, parts[2].1.attempts), (1, 1));
    }
}
