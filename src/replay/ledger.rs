//! The replay ledger kept inside each Durable Object shard.
//!
//! Every method is synchronous on purpose. A Durable Object runs one event at
//! a time, and SQLite storage calls in it are synchronous, so a read followed
//! by a write with no `await` in between cannot interleave with another
//! request: the check-and-set of [`Ledger::claim`] is atomic. Keeping the
//! logic here, over the [`LedgerTable`] trait, lets it be tested natively.

use super::{Claim, StoreError};

/// What the ledger remembers about one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// A forward is under way.
    InFlight,
    /// The origin accepted the event.
    Done,
}

impl Mark {
    pub fn as_str(self) -> &'static str {
        match self {
            Mark::InFlight => "in-flight",
            Mark::Done => "done",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "in-flight" => Some(Mark::InFlight),
            "done" => Some(Mark::Done),
            _ => None,
        }
    }
}

/// Marks are kept in one SQLite table per day of their first write, each
/// `WITHOUT ROWID` with the key as its only index: a claim is one row
/// written, a done mark one more, and a day's table is dropped whole once its
/// last mark has expired. Cloudflare bills every row written, an index entry
/// included, and a `DROP TABLE` writes none; deleting expired marks one by
/// one through an expiry index cost three rows per mark more.
pub const BUCKET_MS: i64 = 86_400_000;

/// The name of the table that takes marks first written at `now_ms`.
pub fn bucket_table(now_ms: i64) -> String {
    format!("replay_d{}", now_ms.div_euclid(BUCKET_MS))
}

/// Whether a table holds marks: a day's table, or `replay`, the one table of
/// earlier versions (read and dropped like the others, never written anew).
pub fn is_bucket_table(name: &str) -> bool {
    name == LEGACY_TABLE
        || name
            .strip_prefix("replay_d")
            .is_some_and(|day| !day.is_empty() && day.bytes().all(|b| b.is_ascii_digit()))
}

/// The table earlier versions kept every mark in.
pub const LEGACY_TABLE: &str = "replay";

/// The ledger's tables, newest first (so a lookup finds a fresh mark soon):
/// day tables by their day, the legacy table last.
pub fn newest_first(mut names: Vec<String>) -> Vec<String> {
    names.retain(|name| is_bucket_table(name));
    let day = |name: &String| {
        name.strip_prefix("replay_d")
            .and_then(|d| d.parse::<i64>().ok())
            .unwrap_or(i64::MIN)
    };
    // A stable insertion sort, newest day first: a few tables, and about
    // 4 KB less wasm than `sort_by_key` (the module's only slice sort).
    for i in 1..names.len() {
        let mut j = i;
        while j > 0 && day(&names[j - 1]) < day(&names[j]) {
            names.swap(j - 1, j);
            j -= 1;
        }
    }
    names
}

/// One table: key, mark, expiry (Unix milliseconds).
pub trait LedgerTable {
    fn get(&self, key: &str) -> Result<Option<(Mark, i64)>, StoreError>;
    fn set(&self, key: &str, mark: Mark, expires_at_ms: i64) -> Result<(), StoreError>;
    fn remove_if(&self, key: &str, mark: Mark) -> Result<(), StoreError>;
    /// Frees the storage of rows expired at `now_ms`; returns how many. A
    /// table may free them in whole buckets ([`BUCKET_MS`]), keeping expired
    /// rows (which count as absent) until their bucket's last one expires.
    fn purge(&self, now_ms: i64) -> Result<u64, StoreError>;
    /// When [`LedgerTable::purge`] will next free something.
    fn next_expiry(&self) -> Result<Option<i64>, StoreError>;
    /// Rows stored, expired or not: what the storage really holds.
    fn rows(&self) -> Result<u64, StoreError>;
}

/// The ledger's operations over a table.
pub struct Ledger<T> {
    table: T,
}

impl<T: LedgerTable> Ledger<T> {
    pub fn new(table: T) -> Self {
        Self { table }
    }

    pub fn table(&self) -> &T {
        &self.table
    }

    /// Looks the key up and claims it when it is free. An expired row counts
    /// as free even before the clean-up alarm has deleted it. A duplicate of
    /// a delivered key keeps the mark at least until `keep_until_ms`: the
    /// copy just answered could be captured and replayed until its own
    /// timestamp leaves the window.
    pub fn claim(
        &self,
        key: &str,
        now_ms: i64,
        ttl_ms: i64,
        keep_until_ms: i64,
    ) -> Result<Claim, StoreError> {
        match self.table.get(key)? {
            Some((Mark::Done, expires)) if expires > now_ms => {
                if expires < keep_until_ms {
                    self.table.set(key, Mark::Done, keep_until_ms)?;
                }
                Ok(Claim::AlreadyDone)
            }
            Some((Mark::InFlight, expires)) if expires > now_ms => Ok(Claim::InFlight),
            _ => {
                self.table
                    .set(key, Mark::InFlight, now_ms.saturating_add(ttl_ms))?;
                Ok(Claim::Claimed)
            }
        }
    }

    /// Records the key as delivered, remembered until `until_ms`.
    pub fn mark_done(&self, key: &str, until_ms: i64) -> Result<(), StoreError> {
        self.table.set(key, Mark::Done, until_ms)
    }

    /// Frees a claim. Only an in-flight mark is removed: if the claim had
    /// expired and another copy has since delivered the event, its `done`
    /// mark must survive the late release.
    pub fn release(&self, key: &str) -> Result<(), StoreError> {
        self.table.remove_if(key, Mark::InFlight)
    }

    /// Deletes expired rows and says when to run again, if anything is left.
    /// After a run that deleted rows the next waits at least `min_gap_ms`, so
    /// a busy shard's clean-up does not turn into an alarm per expiry; a run
    /// that found nothing (a duplicate had extended the mark it woke for)
    /// comes back at the next expiry.
    pub fn sweep(&self, now_ms: i64, min_gap_ms: i64) -> Result<Option<i64>, StoreError> {
        let purged = self.table.purge(now_ms)?;
        let gap = if purged > 0 { min_gap_ms } else { 0 };
        Ok(self
            .table
            .next_expiry()?
            .map(|next| next.max(now_ms.saturating_add(gap))))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    /// A table in a HashMap, as SQLite would hold it.
    #[derive(Default)]
    pub struct MemoryTable(pub RefCell<HashMap<String, (Mark, i64)>>);

    impl LedgerTable for MemoryTable {
        fn get(&self, key: &str) -> Result<Option<(Mark, i64)>, StoreError> {
            Ok(self.0.borrow().get(key).copied())
        }
        fn set(&self, key: &str, mark: Mark, expires_at_ms: i64) -> Result<(), StoreError> {
            self.0
                .borrow_mut()
                .insert(key.to_owned(), (mark, expires_at_ms));
            Ok(())
        }
        fn remove_if(&self, key: &str, mark: Mark) -> Result<(), StoreError> {
            let mut rows = self.0.borrow_mut();
            if rows.get(key).is_some_and(|(m, _)| *m == mark) {
                rows.remove(key);
            }
            Ok(())
        }
        fn purge(&self, now_ms: i64) -> Result<u64, StoreError> {
            let mut rows = self.0.borrow_mut();
            let before = rows.len();
            rows.retain(|_, (_, expires)| *expires > now_ms);
            Ok((before - rows.len()) as u64)
        }
        fn next_expiry(&self) -> Result<Option<i64>, StoreError> {
            Ok(self.0.borrow().values().map(|(_, e)| *e).min())
        }
        fn rows(&self) -> Result<u64, StoreError> {
            Ok(self.0.borrow().len() as u64)
        }
    }

    fn ledger() -> Ledger<MemoryTable> {
        Ledger::new(MemoryTable::default())
    }

    #[test]
    fn claim_done_duplicate() {
        let ledger = ledger();
        assert_eq!(ledger.claim("k", 1_000, 40_000, 0), Ok(Claim::Claimed));
        assert_eq!(ledger.claim("k", 1_001, 40_000, 0), Ok(Claim::InFlight));
        ledger.mark_done("k", 12_000).expect("done");
        assert_eq!(ledger.claim("k", 11_999, 40_000, 0), Ok(Claim::AlreadyDone));
    }

    #[test]
    fn expired_rows_are_free_before_they_are_swept() {
        let ledger = ledger();
        assert_eq!(ledger.claim("k", 0, 1_000, 0), Ok(Claim::Claimed));
        assert_eq!(
            ledger.claim("k", 1_000, 1_000, 0),
            Ok(Claim::Claimed),
            "an expired claim is free"
        );
        ledger.mark_done("k", 2_000).expect("done");
        assert_eq!(
            ledger.claim("k", 2_000, 1_000, 0),
            Ok(Claim::Claimed),
            "an expired done is free"
        );
    }

    #[test]
    fn a_duplicate_near_the_end_keeps_the_mark_longer() {
        let ledger = ledger();
        ledger.mark_done("k", 10_000).expect("done");
        assert_eq!(
            ledger.claim("k", 1_000, 40_000, 1_600),
            Ok(Claim::AlreadyDone)
        );
        assert_eq!(
            ledger.table().get("k"),
            Ok(Some((Mark::Done, 10_000))),
            "early: unchanged"
        );
        assert_eq!(
            ledger.claim("k", 9_900, 40_000, 10_500),
            Ok(Claim::AlreadyDone)
        );
        assert_eq!(ledger.table().get("k"), Ok(Some((Mark::Done, 10_500))));
        assert_eq!(
            ledger.claim("k", 10_400, 40_000, 600),
            Ok(Claim::AlreadyDone),
            "still remembered"
        );
    }

    #[test]
    fn release_only_frees_an_in_flight_mark() {
        let ledger = ledger();
        assert_eq!(ledger.claim("k", 0, 1_000, 0), Ok(Claim::Claimed));
        ledger.release("k").expect("release");
        assert_eq!(ledger.table().rows(), Ok(0));
        ledger.mark_done("k", 10_000).expect("done");
        ledger.release("k").expect("a late release");
        assert_eq!(ledger.claim("k", 1, 1_000, 0), Ok(Claim::AlreadyDone));
    }

    #[test]
    fn sweeping_frees_storage_and_schedules_the_next_run() {
        let ledger = ledger();
        ledger.mark_done("a", 1_000).expect("a");
        ledger.mark_done("b", 5_000).expect("b");
        ledger.mark_done("c", 1_050).expect("c");
        // Nothing expired yet: back at the next expiry.
        assert_eq!(ledger.sweep(500, 100), Ok(Some(1_000)));
        assert_eq!(ledger.table().rows(), Ok(3));
        // Rows swept: the next run waits at least the gap.
        assert_eq!(ledger.sweep(1_000, 100), Ok(Some(1_100)));
        assert_eq!(ledger.table().rows(), Ok(2));
        assert_eq!(ledger.sweep(1_100, 100), Ok(Some(5_000)));
        assert_eq!(ledger.table().rows(), Ok(1));
        assert_eq!(ledger.sweep(5_000, 100), Ok(None));
        assert_eq!(ledger.table().rows(), Ok(0));
    }

    #[test]
    fn marks_go_to_the_table_of_their_day_and_lookups_start_at_the_newest() {
        assert_eq!(bucket_table(0), "replay_d0");
        assert_eq!(bucket_table(BUCKET_MS * 20_424 + 5), "replay_d20424");
        assert_eq!(bucket_table(BUCKET_MS * 20_425 - 1), "replay_d20424");
        for name in ["replay", "replay_d1", "replay_d20424"] {
            assert!(is_bucket_table(name), "{name}");
        }
        for name in [
            "replay_d",
            "replay_dx",
            "replay_expiry",
            "_cf_KV",
            "deliveries",
        ] {
            assert!(!is_bucket_table(name), "{name}");
        }
        let names = [
            "replay",
            "replay_d9",
            "_cf_METADATA",
            "replay_d10",
            "replay_d2",
        ]
        .map(str::to_owned)
        .to_vec();
        assert_eq!(
            newest_first(names),
            ["replay_d10", "replay_d9", "replay_d2", "replay"]
        );
    }
}
