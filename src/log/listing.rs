//! A page of the delivery log, newest first, across its shards: what the
//! admin API's `GET /_hookgate/deliveries` answers, with its filters and
//! cursor exactly as one object answered them, though a delivery's
//! attempts may be held in parts by several shards ([`super::partial`]).
//!
//! A delivery is listed once, at the position of its newest part (last
//! seen, then shard, then tie-break: [`position`]), and shown as all its
//! parts combined. The listing merges the shards' parts newest first: it
//! asks each shard for its next parts ([`Scan`]), and a part is settled
//! once every shard still holding unread parts has answered past it (no
//! shard can hold a newer one unread). A settled part's delivery is looked
//! up in every shard (`LogCommand::Lookup`) and combined; the part is
//! listed when it is the delivery's newest and the combined record passes
//! the filters; otherwise it is passed over (the delivery is listed, or
//! was, at its newest part). Shards filter what they can alone: the route,
//! the time, and the outcome by [`Candidates`].
//!
//! The caller (the glue) runs the rounds: it sends what
//! [`Listing::next_round`] asks and hands the answers back
//! ([`Listing::take_scans`], [`Listing::take_lookup`]) until nothing is
//! left to ask, then answers [`Listing::page`].

use super::command::{Scan, MAX_SCAN};
use super::partial::{combined, position, shard_bound, Candidates, Partial};
use super::{Cursor, DeliveryRecord, Filter};

/// The most parts one page looks at before it answers with what it found
/// and a cursor to go on from: a filter few records pass, over parts that
/// combine into other outcomes, must not make one request run unbounded.
pub const MAX_WORK: usize = 2_000;

/// A delivery: its route and key.
pub type Key = (String, String);

/// One shard's parts, as read so far.
#[derive(Debug, Default)]
struct Stream {
    /// Parts read and not yet gone through, oldest first (the newest last).
    pending: Vec<(Cursor, Partial)>,
    /// The position of the oldest part read (or the page's cursor before
    /// the first read): the next scan continues after it.
    after: Option<Cursor>,
    /// Whether the shard was read at all yet.
    read: bool,
    /// Whether the shard has no more parts.
    exhausted: bool,
    /// How many parts the next scan asks for.
    want: u32,
}

/// What a page asks next ([`Listing::next_round`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Round {
    /// Nothing: the page is complete.
    Done,
    /// These scans, of these shards.
    Scans(Vec<(usize, Scan)>),
    /// A lookup of these deliveries, in every shard.
    Lookup(Vec<Key>),
}

/// A page being read.
#[derive(Debug)]
pub struct Listing {
    filter: Filter,
    limit: u32,
    streams: Vec<Stream>,
    /// Every part of the deliveries looked up (a short list: at most a few
    /// pages' worth, searched in order; a map would weigh more in wasm).
    known: Vec<(Key, Vec<(Cursor, Partial)>)>,
    found: Vec<(DeliveryRecord, Cursor)>,
    looked_at: usize,
    last_looked_at: Option<Cursor>,
}

fn key_of(part: &Partial) -> Key {
    (part.route.clone(), part.key.clone())
}

impl Listing {
    /// A page of at most `limit` records passing `filter`, after `cursor`,
    /// over `shards` shards.
    pub fn new(filter: Filter, limit: u32, cursor: Option<Cursor>, shards: usize) -> Self {
        // `until` is where the first page starts: records last seen after
        // it are not read at all (a position older than every part of the
        // next millisecond, in every shard).
        let start = filter.until_ms.map(|until| Cursor {
            last_seen: until.saturating_add(1),
            row: 0,
        });
        let mut streams = Vec::with_capacity(shards);
        for _ in 0..shards {
            streams.push(Stream {
                after: cursor.or(start),
                want: (limit + 1).min(MAX_SCAN),
                ..Stream::default()
            });
        }
        Self {
            filter,
            limit,
            streams,
            known: Vec::new(),
            found: Vec::new(),
            looked_at: 0,
            last_looked_at: None,
        }
    }

    /// The requests of the next round, after going through what the last
    /// one settled: scans of the shards whose read parts are all gone
    /// through and that may hold more, or else a lookup, in every shard,
    /// of the deliveries of the settled parts.
    pub fn next_round(&mut self) -> Round {
        self.advance();
        if self.is_done() {
            return Round::Done;
        }
        let mut scans = Vec::new();
        for (shard, stream) in self.streams.iter().enumerate() {
            if stream.pending.is_empty() && !stream.exhausted {
                let scan = Scan {
                    route: self.filter.route.clone(),
                    outcome: self.filter.outcome.clone(),
                    since_ms: self.filter.since_ms,
                    before: stream.after.map(|after| shard_bound(after, shard)),
                    limit: stream.want,
                };
                scans.push((shard, scan));
            }
        }
        if !scans.is_empty() {
            return Round::Scans(scans);
        }
        let keys = self.lookup_keys();
        if keys.is_empty() {
            // Which the rounds rule out: nothing settled to go through and
            // no shard to read. The page ends with a cursor at what it went
            // through.
            return Round::Done;
        }
        Round::Lookup(keys)
    }

    /// The shards' answers to a round of scans: each shard's parts, newest
    /// first as the shard sorts them (anything out of that order, or not
    /// after where the scan started, is left out).
    pub fn take_scans(&mut self, answers: Vec<(usize, Vec<Partial>)>) {
        for (shard, parts) in answers {
            let Some(stream) = self.streams.get_mut(shard) else {
                continue;
            };
            let asked = stream.want as usize;
            let got = parts.len();
            let mut read: Vec<(Cursor, Partial)> = Vec::with_capacity(got);
            for part in parts {
                let at = position(shard, &part);
                let older = read.last().map(|(last, _)| *last).or(stream.after);
                if older.is_none_or(|older| at < older) {
                    read.push((at, part));
                }
            }
            if let Some((oldest, _)) = read.last() {
                stream.after = Some(*oldest);
            }
            read.reverse();
            read.append(&mut stream.pending);
            stream.pending = read;
            stream.read = true;
            stream.exhausted = got < asked;
            stream.want = stream.want.saturating_mul(2).min(MAX_SCAN);
        }
    }

    /// Every shard's answer to the lookup of `keys`: its parts of them.
    pub fn take_lookup(&mut self, keys: &[Key], answers: Vec<(usize, Vec<Partial>)>) {
        for key in keys {
            if self.known(key).is_none() {
                self.known.push((key.clone(), Vec::new()));
            }
        }
        for (shard, parts) in answers {
            for part in parts {
                let at = position(shard, &part);
                let key = key_of(&part);
                if let Some((_, known)) = self.known.iter_mut().find(|(k, _)| *k == key) {
                    if !known.iter().any(|(a, _)| *a == at) {
                        known.push((at, part));
                    }
                }
            }
        }
    }

    /// Parts at or newer than this are settled: every shard with unread
    /// parts has been read past it (`Some(None)`: all are read to their
    /// end). `None` while a shard was not read yet.
    fn frontier(&self) -> Option<Option<Cursor>> {
        let mut frontier: Option<Cursor> = None;
        for stream in &self.streams {
            if stream.exhausted {
                continue;
            }
            if !stream.read {
                return None;
            }
            frontier = frontier.max(stream.after);
        }
        Some(frontier)
    }

    /// Whether a part at `at` is settled, given the [`Self::frontier`].
    fn settled(frontier: Option<Option<Cursor>>, at: Cursor) -> bool {
        match frontier {
            None => false,
            Some(frontier) => frontier.is_none_or(|frontier| at >= frontier),
        }
    }

    fn known(&self, key: &Key) -> Option<&Vec<(Cursor, Partial)>> {
        self.known
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, parts)| parts)
    }

    /// The deliveries of settled parts not looked up yet.
    fn lookup_keys(&self) -> Vec<Key> {
        let mut keys: Vec<Key> = Vec::new();
        let frontier = self.frontier();
        for stream in &self.streams {
            for (at, part) in stream.pending.iter().rev() {
                if !Self::settled(frontier, *at) {
                    break;
                }
                let key = key_of(part);
                if self.known(&key).is_none() && !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
        keys
    }

    /// Goes through the settled parts whose deliveries are known, newest
    /// first: lists those that are their delivery's newest part and pass
    /// the filters; passes over the others (their delivery is listed, or
    /// was, at its newest part).
    fn advance(&mut self) {
        while !self.is_done() {
            // The newest part not gone through, in any shard.
            let mut next: Option<(usize, Cursor)> = None;
            for (shard, stream) in self.streams.iter().enumerate() {
                if let Some((at, _)) = stream.pending.last() {
                    if next.is_none_or(|(_, newest)| *at > newest) {
                        next = Some((shard, *at));
                    }
                }
            }
            let frontier = self.frontier();
            let Some((shard, at)) = next.filter(|(_, at)| Self::settled(frontier, *at)) else {
                return;
            };
            let Some(parts) = self.streams[shard]
                .pending
                .last()
                .and_then(|(_, part)| self.known(&key_of(part)))
            else {
                // Not looked up yet: the next round does.
                return;
            };
            let mut newest = None;
            for (a, _) in parts {
                if newest.is_none_or(|n| *a >= n) {
                    newest = Some(*a);
                }
            }
            let record = if newest == Some(at) {
                combined(parts.clone()).map(|whole| whole.record())
            } else {
                None
            };
            self.streams[shard].pending.pop();
            self.looked_at += 1;
            self.last_looked_at = Some(at);
            if let Some(record) = record.filter(|record| self.passes(record)) {
                self.found.push((record, at));
            }
        }
    }

    fn passes(&self, record: &DeliveryRecord) -> bool {
        self.filter.passes(record)
    }

    /// Whether every shard is read to its end and gone through.
    fn read_through(&self) -> bool {
        self.streams
            .iter()
            .all(|stream| stream.exhausted && stream.pending.is_empty())
    }

    /// Whether the page is complete: one record more than it holds was
    /// found (so there is a next page), every shard is read through, or
    /// the page looked at [`MAX_WORK`] parts.
    pub fn is_done(&self) -> bool {
        self.found.len() > self.limit as usize || self.looked_at >= MAX_WORK || self.read_through()
    }

    /// The page's records and the cursor of the next page, if there is
    /// one. A page cut short by [`MAX_WORK`] may hold fewer than `limit`
    /// records and still have a cursor.
    pub fn page(self) -> (Vec<DeliveryRecord>, Option<Cursor>) {
        let limit = self.limit as usize;
        let more = self.found.len() > limit;
        let cut_short = !more && !self.read_through();
        let mut found = self.found;
        found.truncate(limit);
        let next = if more {
            found.last().map(|(_, at)| *at)
        } else if cut_short {
            self.last_looked_at
        } else {
            None
        };
        let mut records = Vec::with_capacity(found.len());
        for (record, _) in found {
            records.push(record);
        }
        (records, next)
    }
}

/// One record, from every shard's answer to a lookup of it.
pub fn record_of(answers: Vec<(usize, Vec<Partial>)>) -> Option<DeliveryRecord> {
    let mut parts = Vec::new();
    for (shard, held) in answers {
        for part in held {
            parts.push((position(shard, &part), part));
        }
    }
    combined(parts).map(|whole| whole.record())
}

/// Which parts a shard returns for a scan: its rule, for the fakes of the
/// tests (the object applies the same in SQL).
pub fn scan_admits(scan: &Scan, part: &Partial) -> bool {
    scan.route.as_ref().is_none_or(|route| *route == part.route)
        && scan.since_ms.is_none_or(|since| part.last_seen >= since)
        && scan.before.is_none_or(|(last_seen, tie)| {
            part.last_seen < last_seen || (part.last_seen == last_seen && part.tie < tie)
        })
        && Candidates::of(scan.outcome.as_deref()).admits(part)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::command::LogCommand;
    use crate::log::partial::parts_of;
    use crate::log::Attempt;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const OUTCOMES: [&str; 6] = [
        "delivered",
        "origin-failed",
        "queued",
        "retrying",
        "dead",
        "store-unavailable",
    ];

    /// Shards as the objects behave: parts per shard, scanned and looked
    /// up by the same rules (`scan_admits`, newest first).
    struct Shards(Vec<Vec<Partial>>);

    impl Shards {
        fn of(attempts: &[(usize, Attempt)], shards: usize) -> Self {
            let mut held: Vec<Vec<Attempt>> = vec![Vec::new(); shards];
            for (shard, attempt) in attempts {
                held[*shard].push(attempt.clone());
            }
            Shards(
                held.iter()
                    .map(|taken| parts_of(taken).into_iter().map(|(_, p)| p).collect())
                    .collect(),
            )
        }

        fn answer(&self, shard: usize, command: &LogCommand) -> Vec<Partial> {
            match command {
                LogCommand::Scan(scan) => {
                    let mut parts: Vec<Partial> = self.0[shard]
                        .iter()
                        .filter(|p| scan_admits(scan, p))
                        .cloned()
                        .collect();
                    parts.sort_by_key(|p| std::cmp::Reverse((p.last_seen, p.tie)));
                    parts.truncate(scan.limit as usize);
                    parts
                }
                LogCommand::Lookup { keys } => self.0[shard]
                    .iter()
                    .filter(|p| keys.contains(&(p.route.clone(), p.key.clone())))
                    .cloned()
                    .collect(),
                other => panic!("{other:?}"),
            }
        }

        /// A page, the way the glue reads one; how many rounds of
        /// requests it took.
        fn page(
            &self,
            filter: &Filter,
            limit: u32,
            cursor: Option<Cursor>,
        ) -> (Vec<DeliveryRecord>, Option<Cursor>, usize) {
            let mut listing = Listing::new(filter.clone(), limit, cursor, self.0.len());
            let mut rounds = 0;
            loop {
                match listing.next_round() {
                    Round::Done => break,
                    Round::Scans(scans) => {
                        let answers = scans
                            .into_iter()
                            .map(|(shard, scan)| {
                                (shard, self.answer(shard, &LogCommand::Scan(scan)))
                            })
                            .collect();
                        listing.take_scans(answers);
                    }
                    Round::Lookup(keys) => {
                        let lookup = LogCommand::Lookup { keys: keys.clone() };
                        let answers = (0..self.0.len())
                            .map(|shard| (shard, self.answer(shard, &lookup)))
                            .collect();
                        listing.take_lookup(&keys, answers);
                    }
                }
                rounds += 1;
                assert!(rounds < 10_000, "the listing makes progress");
            }
            assert!(listing.is_done(), "a page ends only when it is complete");
            let (records, next) = listing.page();
            (records, next, rounds)
        }

        /// What one object would list: every delivery combined, at its
        /// newest part, filtered, newest first.
        fn expected(&self, filter: &Filter) -> Vec<DeliveryRecord> {
            let mut by_key: BTreeMap<(String, String), Vec<(Cursor, Partial)>> = BTreeMap::new();
            for (shard, parts) in self.0.iter().enumerate() {
                for part in parts {
                    by_key
                        .entry((part.route.clone(), part.key.clone()))
                        .or_default()
                        .push((position(shard, part), part.clone()));
                }
            }
            let mut listed: Vec<(Cursor, DeliveryRecord)> = by_key
                .into_values()
                .map(|parts| {
                    let newest = parts.iter().map(|(a, _)| *a).max().expect("parts");
                    (newest, combined(parts).expect("parts").record())
                })
                .filter(|(_, record)| {
                    filter.route.as_ref().is_none_or(|r| *r == record.route)
                        && filter.outcome.as_ref().is_none_or(|o| *o == record.outcome)
                        && filter
                            .event_type
                            .as_ref()
                            .is_none_or(|t| record.event_type.as_ref() == Some(t))
                        && filter
                            .key_prefix
                            .as_ref()
                            .is_none_or(|p| record.key.starts_with(p.as_str()))
                        && filter.since_ms.is_none_or(|s| record.last_seen >= s)
                        && filter.until_ms.is_none_or(|u| record.last_seen <= u)
                })
                .collect();
            listed.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
            listed.into_iter().map(|(_, record)| record).collect()
        }
    }

    fn attempt(route: &str, key: usize, at_ms: i64, outcome: &str) -> Attempt {
        Attempt {
            route: route.into(),
            key: format!("msg_{key}"),
            scheme: "standard-webhooks".into(),
            event_type: Some(["message.received", "call.completed"][key % 2].into()),
            at_ms,
            outcome: outcome.into(),
            origin_status: None,
            duration_ms: 1,
        }
    }

    /// Every page until the cursor is null, concatenated.
    fn all_pages(shards: &Shards, filter: &Filter, limit: u32) -> Vec<DeliveryRecord> {
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let (records, next, _) = shards.page(filter, limit, cursor);
            assert!(records.len() <= limit as usize);
            seen.extend(records);
            match next {
                Some(next) => cursor = Some(next),
                None => return seen,
            }
        }
    }

    proptest! {
        /// Paged through with any page size and filter, the shards list
        /// exactly what one object holding every attempt would: each
        /// delivery once, as one record, newest first.
        #[test]
        fn pages_across_shards_list_what_one_object_would(
            steps in prop::collection::vec((0..3usize, 0..12usize, 0..4usize, 0..OUTCOMES.len(), 0..3i64), 1..60),
            limit in 1..6u32,
            route_filter in 0..4usize,
            outcome_filter in 0..(OUTCOMES.len() + 1),
            type_filter in 0..3usize,
            prefix_filter in 0..3usize,
            until_filter in 0..4i64,
        ) {
            let mut at = 1_700_000_000_000;
            let attempts: Vec<(usize, Attempt)> = steps
                .iter()
                .map(|&(route, key, shard, outcome, gap)| {
                    // Often the same millisecond: ties by shard and tie-break.
                    at += gap;
                    (shard, attempt(["/a", "/b", "/c"][route], key, at, OUTCOMES[outcome]))
                })
                .collect();
            let shards = Shards::of(&attempts, 4);
            let filter = Filter {
                route: ["/a", "/b", "/c"].get(route_filter).map(|r| (*r).to_owned()),
                outcome: OUTCOMES.get(outcome_filter).map(|o| (*o).to_owned()),
                event_type: ["message.received", "call.completed"].get(type_filter).map(|t| (*t).to_owned()),
                key_prefix: ["msg_1", "msg_"].get(prefix_filter).map(|p| (*p).to_owned()),
                // Somewhere inside the attempts' times, or none.
                until_ms: (until_filter > 0).then(|| 1_700_000_000_000 + until_filter * 20),
                since_ms: None,
            };
            prop_assert_eq!(all_pages(&shards, &filter, limit), shards.expected(&filter));
            let everything = Filter::default();
            prop_assert_eq!(all_pages(&shards, &everything, limit), shards.expected(&everything));
        }
    }

    #[test]
    fn a_delivery_in_two_shards_is_listed_once_at_its_newest_part() {
        let attempts = vec![
            (0, attempt("/a", 1, 1_000, "queued")),
            (1, attempt("/a", 2, 2_000, "delivered")),
            (2, attempt("/a", 1, 3_000, "delivered")),
        ];
        let shards = Shards::of(&attempts, 3);
        let (records, next, _) = shards.page(&Filter::default(), 10, None);
        assert_eq!(next, None);
        let listed: Vec<(&str, u32, &str)> = records
            .iter()
            .map(|r| (r.key.as_str(), r.attempts, r.outcome.as_str()))
            .collect();
        assert_eq!(
            listed,
            [("msg_1", 2, "delivered"), ("msg_2", 1, "delivered")]
        );
        assert_eq!(
            (records[0].first_seen, records[0].last_seen),
            (1_000, 3_000)
        );
        // Filtered by an outcome one part shows and the whole does not.
        let queued = Filter {
            outcome: Some("queued".into()),
            ..Filter::default()
        };
        assert!(shards.page(&queued, 10, None).0.is_empty());
    }

    #[test]
    fn a_page_is_a_scan_and_a_lookup_of_each_shard_when_nothing_is_passed_over() {
        let attempts: Vec<(usize, Attempt)> = (0..400)
            .map(|n| (n % 4, attempt("/a", n, 1_000 + n as i64, "delivered")))
            .collect();
        let shards = Shards::of(&attempts, 4);
        let (records, next, rounds) = shards.page(&Filter::default(), 10, None);
        assert_eq!(records.len(), 10);
        assert_eq!(records[0].key, "msg_399");
        assert!(next.is_some());
        assert_eq!(rounds, 2, "a round of scans, then one of lookups");
    }

    #[test]
    fn a_filter_that_passes_few_is_cut_short_with_a_cursor() {
        // Thousands of failures that were delivered later in another shard,
        // then one that is still failing.
        let mut attempts = vec![(0, attempt("/a", 0, 1_000, "origin-failed"))];
        for n in 1..=2_500 {
            attempts.push((1, attempt("/a", n, 10_000 + n as i64, "origin-failed")));
            attempts.push((2, attempt("/a", n, 20_000 + n as i64, "delivered")));
        }
        let shards = Shards::of(&attempts, 3);
        let failed = Filter {
            outcome: Some("origin-failed".into()),
            ..Filter::default()
        };
        let (records, next, _) = shards.page(&failed, 50, None);
        assert!(records.is_empty());
        let next = next.expect("a cursor to go on from");
        let (records, next, _) = shards.page(&failed, 50, Some(next));
        assert_eq!(
            records.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
            ["msg_0"]
        );
        assert_eq!(next, None);
    }
}
