//! The `DeliveryLog` Durable Objects (SQLite), the log's shards, and the
//! client the Worker uses to reach them. Glue only: what a record is, how
//! its parts merge, how commands travel, how a listing walks the shards and
//! what the admin API answers are decided in [`crate::log`].
//!
//! [`SHARDS`] objects, by name ([`shard_name`]); each isolate writes its
//! batches to one, chosen at random when it starts, and every read asks
//! them all. A Durable Object's SQLite storage is on the free plan and in
//! `wrangler dev` and Miniflare with no set-up step (D1 would need a
//! database id and migrations applied first).
//!
//! A shard keeps parts of records ([`crate::log::partial`]) in one table,
//! `parts`, without a rowid and keyed by (hour, route, key): writing a
//! part is one row written (Cloudflare bills rows written, and each index
//! on a table is one more per write), a listing reads one hour's parts at
//! a time in the key's own order, and a delivery's parts are found with
//! one key lookup per hour the shard holds (`hours`, a row each). Dead
//! letters are in `letters`, counts in `tallies`, both keyed by what they
//! are looked up by, without a rowid either.

use super::io::{
    answer_of, call_object, call_object_promise, call_objects, plain, respond, with_count,
    ROWS_WRITTEN, START_ROWS_WRITTEN,
};
use super::local::Local;
use super::runtime::{
    console_error, promise, rows_written_during, wait_for, DurableObjectState, ObjectRequest,
    SqlStorage, SqlStorageValue,
};
use crate::log::command::{
    encode_counts, encode_dead_keys, encode_letter, encode_parts, encode_taken, LogCommand, Scan,
};
use crate::log::counts::Count;
use crate::log::partial::{bucket_of, parts_of, Candidates, Partial};
use crate::log::{decode_history, encode_history, shard_name, Attempt, Fact, Letter, SHARDS};
use crate::outcome::Answer;
use js_sys::Promise;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

/// A part as a query selects it, in the order [`Table::parse`] reads it,
/// and whether the shard keeps a dead letter for its delivery (a macro, so
/// that each query is one static text).
macro_rules! selected {
    () => {
        "SELECT p.route, p.key, p.tie, p.scheme, p.event_type, p.first_seen, p.last_seen, \
         p.attempts, p.last_outcome, p.last_status, p.last_ms, p.onward_at, p.onward_outcome, \
         p.onward_status, p.onward_ms, p.delivered_at, p.delivered_status, p.delivered_ms, \
         EXISTS (SELECT 1 FROM letters l WHERE l.route = p.route AND l.key = p.key), p.history"
    };
}

/// Writes a part (20 values, in the order [`Table::put`] binds them).
const PUT: &str = "INSERT INTO parts (bucket, route, key, tie, scheme, event_type, first_seen, last_seen, \
     attempts, last_outcome, last_status, last_ms, onward_at, onward_outcome, onward_status, onward_ms, \
     delivered_at, delivered_status, delivered_ms, history) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
     ON CONFLICT (bucket, route, key) DO UPDATE SET scheme = excluded.scheme, \
     event_type = excluded.event_type, first_seen = excluded.first_seen, last_seen = excluded.last_seen, \
     attempts = excluded.attempts, last_outcome = excluded.last_outcome, last_status = excluded.last_status, \
     last_ms = excluded.last_ms, onward_at = excluded.onward_at, onward_outcome = excluded.onward_outcome, \
     onward_status = excluded.onward_status, onward_ms = excluded.onward_ms, \
     delivered_at = excluded.delivered_at, delivered_status = excluded.delivered_status, \
     delivered_ms = excluded.delivered_ms, history = excluded.history";

/// What the tables are. `IF NOT EXISTS`: every instance runs them as it
/// starts.
const TABLES: [&str; 5] = [
    "CREATE TABLE IF NOT EXISTS parts (bucket INTEGER NOT NULL, route TEXT NOT NULL, key TEXT NOT NULL, \
     tie INTEGER NOT NULL, scheme TEXT NOT NULL, event_type TEXT, first_seen INTEGER NOT NULL, \
     last_seen INTEGER NOT NULL, attempts INTEGER NOT NULL, last_outcome TEXT NOT NULL, last_status INTEGER, \
     last_ms INTEGER NOT NULL, onward_at INTEGER, onward_outcome TEXT, onward_status INTEGER, onward_ms INTEGER, \
     delivered_at INTEGER, delivered_status INTEGER, delivered_ms INTEGER, history TEXT, \
     PRIMARY KEY (bucket, route, key)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS hours (bucket INTEGER PRIMARY KEY) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS letters (route TEXT NOT NULL, key TEXT NOT NULL, at INTEGER NOT NULL, \
     scheme TEXT NOT NULL, meta TEXT NOT NULL, body BLOB NOT NULL, PRIMARY KEY (route, key)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS tallies (minute INTEGER NOT NULL, route TEXT NOT NULL, reason TEXT NOT NULL, \
     count INTEGER NOT NULL, PRIMARY KEY (minute, route, reason)) WITHOUT ROWID",
    // The paused routes (crate::pause), in the first shard only.
    "CREATE TABLE IF NOT EXISTS paused (route TEXT PRIMARY KEY) WITHOUT ROWID",
];

/// The log as one object kept it before it had shards (`deliveries` with
/// its index on time, and `counts`), moved into the tables above by the
/// first start of the object that held it (shard 0), then dropped. A record
/// becomes one part: its outcome, status and duration as the last attempt's
/// (and as the last onward or delivered one, when it was that), its row
/// number as its tie-break. `OR IGNORE`: a start that stopped half way
/// runs them again.
const FROM_ONE_OBJECT: [&str; 5] = [
    "INSERT OR IGNORE INTO parts (bucket, route, key, tie, scheme, event_type, first_seen, last_seen, attempts, \
     last_outcome, last_status, last_ms, onward_at, onward_outcome, onward_status, onward_ms, \
     delivered_at, delivered_status, delivered_ms) \
     SELECT last_seen / 3600000, route, key, rowid, scheme, event_type, first_seen, last_seen, attempts, \
     outcome, origin_status, duration_ms, \
     CASE WHEN outcome IN ('queued', 'retrying', 'dead') THEN last_seen END, \
     CASE WHEN outcome IN ('queued', 'retrying', 'dead') THEN outcome END, \
     CASE WHEN outcome IN ('queued', 'retrying', 'dead') THEN origin_status END, \
     CASE WHEN outcome IN ('queued', 'retrying', 'dead') THEN duration_ms END, \
     CASE WHEN outcome = 'delivered' THEN last_seen END, \
     CASE WHEN outcome = 'delivered' THEN origin_status END, \
     CASE WHEN outcome = 'delivered' THEN duration_ms END \
     FROM deliveries",
    "INSERT OR IGNORE INTO hours (bucket) SELECT DISTINCT last_seen / 3600000 FROM deliveries",
    "INSERT OR IGNORE INTO letters (route, key, at, scheme, meta, body) \
     SELECT route, key, last_seen, scheme, letter_meta, letter_body FROM deliveries \
     WHERE letter_meta IS NOT NULL AND letter_body IS NOT NULL",
    "DROP TABLE deliveries",
    "INSERT OR IGNORE INTO tallies (minute, route, reason, count) SELECT minute, route, reason, count FROM counts",
];

/// What one instance of a shard has done since it started (`/meta`, for
/// tests and operators).
#[derive(Default)]
struct Counters {
    /// Write commands handled.
    writes: Cell<u64>,
    /// Commands of any kind handled (but `/meta`).
    requests: Cell<u64>,
    /// SQLite rows written by commands, as the storage reports them
    /// (`cursor.rowsWritten`: what Cloudflare bills; every index row
    /// counts).
    rows_written: Cell<u64>,
}

/// One shard of the delivery log, in one Durable Object's SQLite storage.
#[wasm_bindgen]
pub struct DeliveryLog {
    table: Rc<Table>,
}

#[wasm_bindgen]
impl DeliveryLog {
    #[wasm_bindgen(constructor)]
    pub fn new(state: DurableObjectState, _env: JsValue) -> DeliveryLog {
        let table = Table {
            sql: state.storage().sql_storage(),
            counters: Counters::default(),
            hours: RefCell::new(Vec::new()),
            start_rows: Cell::new(0),
        };
        let ((), start_rows) = rows_written_during(|| table.start());
        table.start_rows.set(start_rows);
        Self {
            table: Rc::new(table),
        }
    }

    /// One command from [`LogClient`]; rejected when the storage failed.
    /// Its answer carries the rows it wrote (for the cost meter, `ROWS_WRITTEN`).
    pub fn fetch(&self, request: ObjectRequest) -> Promise {
        let table = self.table.clone();
        promise(async move {
            let body = wait_for(request.text()).await?;
            let url = request.url();
            let (path, _) = crate::query::path_and_query(&url);
            let body = body.as_string().unwrap_or_default();
            if path != "/meta" {
                let requests = &table.counters.requests;
                requests.set(requests.get() + 1);
            }
            let (answer, rows) = rows_written_during(|| handle(&table, path, &body));
            let mut answer = answer
                .map_err(|StorageFailed| js_sys::Error::new("delivery log storage failed"))?;
            if path == "/meta" {
                answer = with_count(answer, START_ROWS_WRITTEN, table.start_rows.get());
            }
            Ok(with_count(answer, ROWS_WRITTEN, rows))
        })
    }
}

impl Table {
    /// The tables, the move of an earlier version's one-object log, and the
    /// hours held: what a new instance does before its first command.
    fn start(&self) {
        let table = self;
        if TABLES
            .iter()
            .try_for_each(|t| table.write(t, &[]).map(drop))
            .is_err()
        {
            console_error("hookgate: the delivery log could not create its tables");
        }
        table.move_in_one_object();
        table.add_history();
        match table.rows("SELECT bucket FROM hours", &[]) {
            Ok(rows) => {
                let mut hours = table.hours.borrow_mut();
                hours.clear();
                for row in &rows {
                    if let Some(hour) = integer(row.first()) {
                        hours.push(hour);
                    }
                }
            }
            Err(StorageFailed) => {
                console_error("hookgate: the delivery log could not read its hours")
            }
        }
        // `/meta` counts what commands wrote: an instance the runtime
        // starts again (an idle one is evicted) starts from nothing, as its
        // counts of commands do.
        table.counters.rows_written.set(0);
    }
}

fn ok() -> JsValue {
    plain(200, "ok".to_owned())
}

fn error(body: &str, status: u16) -> JsValue {
    plain(status, body.to_owned())
}

fn handle(table: &Table, path: &str, body: &str) -> Result<JsValue, StorageFailed> {
    let Some(command) = LogCommand::decode(path, body) else {
        return Ok(error("unknown log command", 400));
    };
    let wrote = || {
        let writes = &table.counters.writes;
        writes.set(writes.get() + 1);
    };
    Ok(match command {
        LogCommand::Batch(batch) => {
            wrote();
            table.record(&batch.attempts)?;
            table.count(&batch.counts)?;
            ok()
        }
        LogCommand::DeadLetter(attempt, letter) => {
            wrote();
            table.record(std::slice::from_ref(&attempt))?;
            table.keep_letter(&attempt, &letter)?;
            ok()
        }
        LogCommand::TakeLetter { route, key } => match table.letter(&route, &key)? {
            Some((scheme, at_ms, letter)) => plain(200, encode_taken(&scheme, at_ms, &letter)),
            None if table.parts_of(&route, &key)?.is_empty() => error("unknown delivery", 404),
            None => error("no dead letter", 409),
        },
        LogCommand::Requeued {
            route,
            key,
            scheme,
            at_ms,
        } => {
            wrote();
            let attempt = Attempt {
                route,
                key,
                scheme,
                event_type: None,
                at_ms,
                outcome: "queued".to_owned(),
                origin_status: None,
                duration_ms: 0,
            };
            table.record(std::slice::from_ref(&attempt))?;
            table.drop_letter(&attempt.route, &attempt.key)?;
            ok()
        }
        LogCommand::DropLetter { route, key } => {
            wrote();
            table.drop_letter(&route, &key)?;
            ok()
        }
        LogCommand::DeadKeys {
            route,
            since_ms,
            until_ms,
            limit,
        } => {
            let rows = table.rows(
                "SELECT key, at FROM letters WHERE route = ? AND at >= ? AND at <= ? ORDER BY at LIMIT ?",
                &[
                    route.as_str().into(),
                    since_ms.into(),
                    until_ms.into(),
                    i64::from(limit).into(),
                ],
            )?;
            let mut keys: Vec<(String, i64)> = Vec::with_capacity(rows.len());
            for row in &rows {
                if let (Some(key), Some(at)) = (text(row.first()), integer(row.get(1))) {
                    keys.push((key, at));
                }
            }
            plain(200, encode_dead_keys(&keys))
        }
        LogCommand::Scan(scan) => plain(200, encode_parts(&table.scan(&scan)?)),
        LogCommand::Lookup { keys } => {
            let mut parts = Vec::new();
            for (route, key) in &keys {
                parts.extend(table.parts_of(route, key)?);
            }
            plain(200, encode_parts(&parts))
        }
        LogCommand::Stats {
            since_minute,
            by_minute,
            span,
        } => plain(
            200,
            encode_counts(&table.stats(since_minute, by_minute, span)?),
        ),
        LogCommand::Purge { before_ms } => {
            wrote();
            plain(200, table.purge(before_ms)?.to_string())
        }
        LogCommand::Paused { route, on } => {
            if let Some(route) = route {
                wrote();
                let change = if on {
                    "INSERT OR IGNORE INTO paused (route) VALUES (?)"
                } else {
                    "DELETE FROM paused WHERE route = ?"
                };
                table.write(change, &[route.as_str().into()])?;
            }
            // Each path ended by a newline, in one value.
            let rows = table.rows(
                "SELECT group_concat(route || char(10), '') FROM paused",
                &[],
            )?;
            plain(
                200,
                text(rows.first().and_then(|row| row.first())).unwrap_or_default(),
            )
        }
        LogCommand::Meta => {
            let parts = table.scalar("SELECT COUNT(*) FROM parts", &[])?;
            let letters = table.scalar("SELECT COUNT(*) FROM letters", &[])?;
            let counters = &table.counters;
            respond(&Answer {
                status: 200,
                content_type: "application/json",
                body: format!(
                    "{{\"writes\":{},\"requests\":{},\"rows_written\":{},\"deliveries\":{},\"letters\":{}}}",
                    counters.writes.get(),
                    counters.requests.get(),
                    counters.rows_written.get(),
                    parts.unwrap_or(0),
                    letters.unwrap_or(0)
                ),
                headers: Vec::new(),
            })
        }
    })
}

/// The storage failed.
struct StorageFailed;

/// A shard's tables. Each call runs synchronously: a Durable Object runs
/// one event at a time and its SQLite calls do not yield, so the read and
/// write of [`Table::record`] cannot interleave with another batch.
struct Table {
    sql: SqlStorage,
    counters: Counters,
    /// The hours the shard holds parts of (`hours`), kept in memory: a
    /// batch adds a row there only for an hour that is new.
    hours: RefCell<Vec<i64>>,
    /// The rows this instance's start wrote (a new shard's tables, the move
    /// of an old log): reported on `/meta`, apart from what commands cost.
    start_rows: Cell<u64>,
}

fn text(value: Option<&SqlStorageValue>) -> Option<String> {
    match value {
        Some(SqlStorageValue::String(text)) => Some(text.clone()),
        _ => None,
    }
}

fn integer(value: Option<&SqlStorageValue>) -> Option<i64> {
    value.and_then(SqlStorageValue::as_i64)
}

fn optional_text(value: Option<&str>) -> SqlStorageValue {
    value.map_or(SqlStorageValue::Null, SqlStorageValue::from)
}

fn optional_number(value: Option<i64>) -> SqlStorageValue {
    value.map_or(SqlStorageValue::Null, SqlStorageValue::from)
}

/// A fact's columns, pushed onto the part's (no list of their own): time
/// (unless it is the part's last seen), outcome
/// (unless it is known), status, duration.
fn fact_values(values: &mut Vec<SqlStorageValue>, fact: Option<&Fact>, at: bool, outcome: bool) {
    if at {
        values.push(optional_number(fact.map(|f| f.at_ms)));
    }
    if outcome {
        values.push(optional_text(fact.map(|f| f.outcome.as_str())));
    }
    values.push(optional_number(
        fact.and_then(|f| f.origin_status).map(i64::from),
    ));
    values.push(optional_number(fact.map(|f| i64::from(f.duration_ms))));
}

/// A fact from its columns from `at`: time, outcome (unless it is the
/// known `outcome`), status, duration.
fn fact_of(row: &[SqlStorageValue], at: usize, outcome: Option<&str>) -> Option<Fact> {
    let (outcome, status) = match outcome {
        Some(outcome) => (outcome.to_owned(), at + 1),
        None => (text(row.get(at + 1))?, at + 2),
    };
    Some(Fact {
        at_ms: integer(row.get(at))?,
        outcome,
        origin_status: integer(row.get(status)).and_then(|s| u16::try_from(s).ok()),
        duration_ms: u32::try_from(integer(row.get(status + 1))?).ok()?,
    })
}

impl Table {
    fn rows(
        &self,
        query: &str,
        bindings: &[SqlStorageValue],
    ) -> Result<Vec<Vec<SqlStorageValue>>, StorageFailed> {
        self.sql.rows(query, bindings).map_err(|_| StorageFailed)
    }

    /// Runs a write; counts and returns the rows it wrote.
    fn write(&self, query: &str, bindings: &[SqlStorageValue]) -> Result<u64, StorageFailed> {
        let rows = self
            .sql
            .written(query, bindings)
            .map_err(|_| StorageFailed)?;
        let written = &self.counters.rows_written;
        written.set(written.get() + rows);
        Ok(rows)
    }

    fn scalar(
        &self,
        query: &str,
        bindings: &[SqlStorageValue],
    ) -> Result<Option<i64>, StorageFailed> {
        Ok(self
            .rows(query, bindings)?
            .first()
            .and_then(|row| integer(row.first())))
    }

    /// Moves in the log one object kept before shards (only shard 0 has
    /// it; see [`FROM_ONE_OBJECT`]).
    fn move_in_one_object(&self) {
        let Ok(tables) = self.rows(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('deliveries', 'counts')",
            &[],
        ) else {
            return;
        };
        let has = |name: &str| {
            tables
                .iter()
                .any(|row| text(row.first()).as_deref() == Some(name))
        };
        let mut moved = Ok(0);
        if has("deliveries") {
            // A table from before dead letters has no letter columns: that
            // statement fails, and there is nothing to move.
            moved = self
                .write(FROM_ONE_OBJECT[0], &[])
                .and_then(|_| self.write(FROM_ONE_OBJECT[1], &[]));
            let _ = self.write(FROM_ONE_OBJECT[2], &[]);
            if moved.is_ok() {
                moved = self.write(FROM_ONE_OBJECT[3], &[]);
            }
        }
        if has("counts") && moved.is_ok() {
            moved = self
                .write(FROM_ONE_OBJECT[4], &[])
                .and_then(|_| self.write("DROP TABLE counts", &[]));
        }
        if moved.is_err() {
            console_error("hookgate: the delivery log could not move in its records from before it had shards; it tries again at its next start");
        }
    }

    /// The history column, in a table made before parts kept one: its
    /// parts read as having none, their attempts counted only.
    fn add_history(&self) {
        let has = self.scalar(
            "SELECT COUNT(*) FROM pragma_table_info('parts') WHERE name = 'history'",
            &[],
        );
        let added = match has {
            Ok(Some(0)) => self
                .write("ALTER TABLE parts ADD COLUMN history TEXT", &[])
                .map(drop),
            Ok(_) => Ok(()),
            Err(failed) => Err(failed),
        };
        if added.is_err() {
            console_error("hookgate: the delivery log could not add its history column; it tries again at its next start");
        }
    }

    /// The parts of rows of [`selected!`]; a row that is not one is skipped.
    fn parse_all(rows: &[Vec<SqlStorageValue>]) -> Vec<Partial> {
        let mut parts = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(part) = Self::parse(row) {
                parts.push(part);
            }
        }
        parts
    }

    /// A part from a row of [`selected!`].
    fn parse(row: &[SqlStorageValue]) -> Option<Partial> {
        let last_seen = integer(row.get(6))?;
        Some(Partial {
            route: text(row.first())?,
            key: text(row.get(1))?,
            tie: integer(row.get(2))?,
            scheme: text(row.get(3))?,
            event_type: text(row.get(4)),
            first_seen: integer(row.get(5))?,
            last_seen,
            attempts: u32::try_from(integer(row.get(7))?).ok()?,
            last: Fact {
                at_ms: last_seen,
                outcome: text(row.get(8))?,
                origin_status: integer(row.get(9)).and_then(|s| u16::try_from(s).ok()),
                duration_ms: u32::try_from(integer(row.get(10))?).ok()?,
            },
            onward: fact_of(row, 11, None),
            delivered: fact_of(row, 15, Some("delivered")),
            dead_letter: integer(row.get(18)).is_some_and(|kept| kept != 0),
            // A history that does not read (none, in a part written before
            // parts kept one) is none: the part still counts its attempts.
            history: text(row.get(19))
                .and_then(|h| decode_history(&h))
                .unwrap_or_default(),
        })
    }

    /// The part of a delivery in one hour, if the shard has one.
    fn part(&self, bucket: i64, route: &str, key: &str) -> Result<Option<Partial>, StorageFailed> {
        let rows = self.rows(
            concat!(
                selected!(),
                " FROM parts p WHERE p.bucket = ? AND p.route = ? AND p.key = ?"
            ),
            &[bucket.into(), route.into(), key.into()],
        )?;
        Ok(rows.first().and_then(|row| Self::parse(row)))
    }

    /// Every part of a delivery the shard holds: one key lookup per hour.
    fn parts_of(&self, route: &str, key: &str) -> Result<Vec<Partial>, StorageFailed> {
        let rows = self.rows(
            concat!(
                selected!(),
                " FROM hours b CROSS JOIN parts p ON p.bucket = b.bucket AND p.route = ? AND p.key = ?"
            ),
            &[route.into(), key.into()],
        )?;
        Ok(Self::parse_all(&rows))
    }

    /// Writes a part: one row.
    fn put(&self, bucket: i64, part: &Partial) -> Result<(), StorageFailed> {
        let mut values: Vec<SqlStorageValue> = vec![
            bucket.into(),
            part.route.as_str().into(),
            part.key.as_str().into(),
            part.tie.into(),
            part.scheme.as_str().into(),
            optional_text(part.event_type.as_deref()),
            part.first_seen.into(),
            part.last_seen.into(),
            i64::from(part.attempts).into(),
            part.last.outcome.as_str().into(),
        ];
        values.reserve(11);
        fact_values(&mut values, Some(&part.last), false, false);
        fact_values(&mut values, part.onward.as_ref(), true, true);
        fact_values(&mut values, part.delivered.as_ref(), true, false);
        values.push(encode_history(&part.history).as_str().into());
        self.write(PUT, &values).map(drop)
    }

    /// Folds a batch's attempts into the shard's parts: per delivery and
    /// hour, one read and one row written.
    fn record(&self, attempts: &[Attempt]) -> Result<(), StorageFailed> {
        for (bucket, part) in parts_of(attempts) {
            let merged = match self.part(bucket, &part.route, &part.key)? {
                Some(mut held) => {
                    held.absorb(part);
                    held
                }
                None => part,
            };
            self.put(bucket, &merged)?;
            if !self.hours.borrow().contains(&bucket) {
                self.write(
                    "INSERT OR IGNORE INTO hours (bucket) VALUES (?)",
                    &[bucket.into()],
                )?;
                self.hours.borrow_mut().push(bucket);
            }
        }
        Ok(())
    }

    fn keep_letter(&self, attempt: &Attempt, letter: &Letter) -> Result<(), StorageFailed> {
        let mut meta = String::new();
        encode_letter(
            &mut meta,
            &Letter {
                body: Vec::new(),
                ..letter.clone()
            },
        );
        self.write(
            "INSERT INTO letters (route, key, at, scheme, meta, body) VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (route, key) DO UPDATE SET at = excluded.at, scheme = excluded.scheme, \
             meta = excluded.meta, body = excluded.body",
            &[
                attempt.route.as_str().into(),
                attempt.key.as_str().into(),
                attempt.at_ms.into(),
                attempt.scheme.as_str().into(),
                meta.as_str().into(),
                SqlStorageValue::Blob(letter.body.clone()),
            ],
        )
        .map(drop)
    }

    fn drop_letter(&self, route: &str, key: &str) -> Result<(), StorageFailed> {
        self.write(
            "DELETE FROM letters WHERE route = ? AND key = ?",
            &[route.into(), key.into()],
        )
        .map(drop)
    }

    /// The shard's dead letter of a delivery: the scheme and time of the
    /// attempt that left it, and the letter.
    fn letter(
        &self,
        route: &str,
        key: &str,
    ) -> Result<Option<(String, i64, Letter)>, StorageFailed> {
        let rows = self.rows(
            "SELECT scheme, at, meta, body FROM letters WHERE route = ? AND key = ?",
            &[route.into(), key.into()],
        )?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let (Some(scheme), Some(at), Some(meta), Some(SqlStorageValue::Blob(body))) = (
            text(row.first()),
            integer(row.get(1)),
            text(row.get(2)),
            row.get(3),
        ) else {
            return Ok(None);
        };
        let letter = crate::query::pairs(&meta)
            .and_then(|fields| crate::log::command::decode_letter(&fields))
            .map(|letter| Letter {
                body: body.clone(),
                ..letter
            });
        Ok(letter.map(|letter| (scheme, at, letter)))
    }

    fn count(&self, counts: &[Count]) -> Result<(), StorageFailed> {
        for count in counts {
            self.write(
                "INSERT INTO tallies (minute, route, reason, count) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (minute, route, reason) DO UPDATE SET count = count + excluded.count",
                &[
                    count.minute.into(),
                    count.route.as_str().into(),
                    count.reason.as_str().into(),
                    i64::try_from(count.count).unwrap_or(i64::MAX).into(),
                ],
            )?;
        }
        Ok(())
    }

    /// A listing's next parts from this shard (see [`Scan`]): newest hour
    /// first, each hour's parts sorted by time and tie-break, so the walk
    /// stops within the hour that fills the page.
    fn scan(&self, scan: &Scan) -> Result<Vec<Partial>, StorageFailed> {
        let mut query = String::from(concat!(selected!(), " FROM parts p WHERE 1 = 1"));
        let mut bindings: Vec<SqlStorageValue> = Vec::new();
        if let Some((last_seen, tie)) = scan.before {
            query.push_str(
                " AND p.bucket <= ? AND (p.last_seen < ? OR (p.last_seen = ? AND p.tie < ?))",
            );
            bindings.push(bucket_of(last_seen).into());
            bindings.push(last_seen.into());
            bindings.push(last_seen.into());
            bindings.push(tie.into());
        }
        if let Some(since) = scan.since_ms {
            query.push_str(" AND p.bucket >= ? AND p.last_seen >= ?");
            bindings.push(bucket_of(since).into());
            bindings.push(since.into());
        }
        if let Some(route) = &scan.route {
            query.push_str(" AND p.route = ?");
            bindings.push(route.as_str().into());
        }
        // The outcome, as far as a part alone can tell (the listing checks
        // the whole record again): the same rule as `Candidates::admits`.
        match Candidates::of(scan.outcome.as_deref()) {
            Candidates::Any => {}
            Candidates::Dead => query.push_str(
                " AND p.delivered_at IS NULL AND p.last_outcome NOT IN ('queued', 'retrying')",
            ),
            Candidates::Last(outcome) => {
                query.push_str(" AND p.delivered_at IS NULL AND p.last_outcome = ?");
                bindings.push(outcome.into());
            }
        }
        query.push_str(" ORDER BY p.bucket DESC, p.last_seen DESC, p.tie DESC LIMIT ?");
        bindings.push(i64::from(scan.limit).into());
        let rows = self.rows(&query, &bindings)?;
        Ok(Self::parse_all(&rows))
    }

    /// Count cells ([`LogCommand::Stats`]): the chart's day is some 83
    /// cells per route and reason, not 1,440; the stats' one.
    fn stats(
        &self,
        since_minute: i64,
        by_minute: i64,
        span: i64,
    ) -> Result<Vec<Count>, StorageFailed> {
        let rows = self.rows(
            "SELECT CASE WHEN minute >= ? THEN minute ELSE minute - minute % ? END AS m, route, reason, \
             SUM(count) FROM tallies WHERE minute >= ? GROUP BY m, route, reason",
            &[by_minute.into(), span.into(), since_minute.into()],
        )?;
        let mut cells = Vec::with_capacity(rows.len());
        for row in &rows {
            let cell = || {
                Some(Count {
                    minute: integer(row.first())?,
                    route: text(row.get(1))?,
                    reason: text(row.get(2))?,
                    count: u64::try_from(integer(row.get(3))?).ok()?,
                })
            };
            if let Some(cell) = cell() {
                cells.push(cell);
            }
        }
        Ok(cells)
    }

    /// Deletes parts last seen before `before_ms` (whole hours by the key,
    /// the hour it falls in by time), dead letters left before it, and
    /// counts; how many parts went.
    fn purge(&self, before_ms: i64) -> Result<u64, StorageFailed> {
        let hour = bucket_of(before_ms);
        let deleted = self.write("DELETE FROM parts WHERE bucket < ?", &[hour.into()])?
            + self.write(
                "DELETE FROM parts WHERE bucket = ? AND last_seen < ?",
                &[hour.into(), before_ms.into()],
            )?;
        self.write("DELETE FROM letters WHERE at < ?", &[before_ms.into()])?;
        self.write(
            "DELETE FROM tallies WHERE minute < ?",
            &[before_ms.div_euclid(60_000).into()],
        )?;
        self.write("DELETE FROM hours WHERE bucket < ?", &[hour.into()])?;
        self.hours.borrow_mut().retain(|kept| *kept >= hour);
        Ok(deleted)
    }
}

/// The shard this isolate writes to, drawn once: a flush is one request,
/// and the isolates of a busy gate spread over the shards.
static SHARD: Local<Cell<Option<usize>>> = Local::new(Cell::new(None));

/// The log could not be reached or refused the command.
pub struct LogUnavailable;

/// Sends commands to the delivery log's shards, through the `DELIVERY_LOG`
/// binding.
pub struct LogClient {
    namespace: JsValue,
    /// The shard this isolate writes to.
    shard: usize,
}

fn url(path: &str) -> String {
    format!("https://delivery-log{path}")
}

impl LogClient {
    pub fn new(namespace: JsValue) -> Self {
        Self {
            namespace,
            shard: SHARD
                .get_or(|| ((js_sys::Math::random() * SHARDS as f64) as usize).min(SHARDS - 1)),
        }
    }

    /// Sends one command to one shard; its status and body.
    pub async fn send_to(
        &self,
        shard: usize,
        command: &LogCommand,
    ) -> Result<(u16, String), LogUnavailable> {
        let (path, body) = command.encode();
        call_object(&self.namespace, &shard_name(shard), &url(path), Some(&body))
            .await
            .ok_or(LogUnavailable)
    }

    /// Sends a write to this isolate's shard; `Err` unless it stored it.
    pub async fn write(&self, command: &LogCommand) -> Result<(), LogUnavailable> {
        match self.send_to(self.shard, command).await? {
            (200, _) => Ok(()),
            _ => Err(LogUnavailable),
        }
    }

    /// The promise of a write to this isolate's shard (`path` and `body`
    /// as [`LogCommand::encode`] makes them), for a caller that keeps it
    /// while it is under way; [`stored`] reads what it resolved to.
    pub fn write_promise(&self, path: &str, body: &str) -> Promise {
        call_object_promise(&self.namespace, &shard_name(self.shard), &url(path), body)
    }

    /// The promise of one command to one shard, for a caller that keeps it
    /// (others may wait for the same call); [`answer_of`] reads it.
    pub fn ask_promise(&self, shard: usize, command: &LogCommand) -> Promise {
        let (path, body) = command.encode();
        call_object_promise(&self.namespace, &shard_name(shard), &url(path), &body)
    }

    /// Sends commands to shards, all at once ([`Call`]s, see
    /// [`to_every_shard`]): each answer in order.
    pub async fn send_each(&self, calls: Vec<Call>) -> Vec<Result<(u16, String), LogUnavailable>> {
        let mut named = Vec::with_capacity(calls.len());
        for (shard, path, body) in calls {
            named.push((shard_name(shard), url(path), body));
        }
        let mut answers = Vec::with_capacity(named.len());
        for answer in call_objects(&self.namespace, &named).await {
            answers.push(answer.ok_or(LogUnavailable));
        }
        answers
    }
}

/// A command for a shard, encoded: the shard, the path and the body.
pub type Call = (usize, &'static str, String);

/// A command for one shard.
pub fn to_shard(shard: usize, command: &LogCommand) -> Call {
    let (path, body) = command.encode();
    (shard, path, body)
}

/// One command for every shard (encoded once).
pub fn to_every_shard(command: &LogCommand) -> Vec<Call> {
    let (path, body) = command.encode();
    let mut calls = Vec::with_capacity(SHARDS);
    for shard in 0..SHARDS {
        calls.push((shard, path, body.clone()));
    }
    calls
}

/// Whether a write's promise ([`LogClient::write_promise`]) resolved to
/// "stored".
pub fn stored(settled: Result<JsValue, JsValue>) -> bool {
    matches!(settled.ok().and_then(answer_of), Some((200, _)))
}
