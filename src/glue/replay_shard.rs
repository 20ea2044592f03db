//! The `ReplayShard` Durable Object and the client that calls it. Glue only:
//! the ledger's decisions live in [`crate::replay::ledger`], the request
//! encoding and sharding in [`crate::replay::durable`].

use super::io::{
    call_object, plain, with_count, ALARMS, ALARM_ROWS_WRITTEN, ROWS_WRITTEN, START_ROWS_WRITTEN,
};
use super::runtime::{
    promise, rows_written_during, wait_for, DurableObjectState, ObjectRequest, ObjectStorage,
    SqlStorage, SqlStorageValue,
};
use crate::replay::durable::{claim_reply, shard_name, ShardClient, ShardRequest};
use crate::replay::ledger::{bucket_table, newest_first, Ledger, LedgerTable, Mark};
use crate::replay::StoreError;
use js_sys::Promise;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

/// After a clean-up run, the next one waits at least this long, so a busy
/// shard sweeps about once a minute rather than once per expiry.
const SWEEP_GAP_MS: i64 = 60_000;

/// An alarm is never set closer than this to now.
const MIN_ALARM_DELAY_MS: i64 = 1_000;

fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// One shard of the replay ledger, in SQLite storage (so it runs on the free
/// plan). Expired rows are ignored at once and deleted by an alarm.
#[wasm_bindgen]
pub struct ReplayShard(Rc<Shard>);

struct Shard {
    storage: ObjectStorage,
    sql: SqlStorage,
    /// The ledger's tables, newest first.
    tables: Rc<RefCell<Vec<String>>>,
    /// When the alarm is set for, as far as this instance knows; `None` means
    /// ask storage (after an eviction) or no alarm.
    alarm_at: Cell<Option<i64>>,
    /// The rows this instance's start-up wrote, and the alarms it ran with
    /// the rows they wrote: reported on `/rows` ([`ALARM_ROWS_WRITTEN`]).
    start_rows: u64,
    alarms: Cell<(u64, u64)>,
}

#[wasm_bindgen]
impl ReplayShard {
    #[wasm_bindgen(constructor)]
    pub fn new(state: DurableObjectState, _env: JsValue) -> ReplayShard {
        let storage = state.storage();
        let sql = storage.sql_storage();
        // The tables that exist (none on a new shard: the first mark makes
        // its day's table).
        // The tables that exist, and today's made now rather than by the
        // first mark (a day's table is made once per shard and day).
        let (tables, start_rows) = rows_written_during(|| {
            let today = bucket_table(now_ms());
            sql.written(&create_bucket(&today), &[]).ok()?;
            stored_tables(&sql).ok()
        });
        let tables = tables.unwrap_or_else(|| {
            super::runtime::console_error("hookgate: the replay shard could not list its tables");
            Vec::new()
        });
        ReplayShard(Rc::new(Shard {
            storage,
            sql,
            tables: Rc::new(RefCell::new(tables)),
            alarm_at: Cell::new(None),
            start_rows,
            alarms: Cell::new((0, 0)),
        }))
    }

    /// One ledger request; rejected when the storage failed.
    pub fn fetch(&self, request: ObjectRequest) -> Promise {
        let shard = self.0.clone();
        let url = request.url();
        promise(async move { shard.fetch(&url).await.map_err(store_error) })
    }

    /// The clean-up: expired rows go, and the alarm is set for the next.
    pub fn alarm(&self) -> Promise {
        let shard = self.0.clone();
        promise(async move {
            let ledger = Ledger::new(shard.table());
            let now = now_ms();
            shard.alarm_at.set(None);
            let (swept, rows) = rows_written_during(|| ledger.sweep(now, SWEEP_GAP_MS));
            let (alarms, before) = shard.alarms.get();
            shard.alarms.set((alarms + 1, before + rows));
            if let Some(next) = swept.map_err(store_error)? {
                shard.set_alarm(next, now).await;
            }
            Ok(plain(200, "swept".to_owned()))
        })
    }
}

impl Shard {
    fn table(&self) -> SqlTable {
        SqlTable {
            sql: self.sql.clone(),
            tables: self.tables.clone(),
        }
    }

    async fn fetch(&self, url: &str) -> Result<JsValue, StoreError> {
        // The runtime already split off the path; only the query is left.
        let (path, query) = crate::query::path_and_query(url);
        let Some(request) = ShardRequest::parse(path, query) else {
            return Ok(plain(400, "unknown shard request".to_owned()));
        };
        let rows_asked = request == ShardRequest::Rows;
        let now = now_ms();
        let (answered, rows) = rows_written_during(|| self.answer(request, now));
        let (reply, arm_for) = answered?;
        if let Some(expires_at) = arm_for {
            self.arm(expires_at, now).await;
        }
        let mut answer = with_count(plain(200, reply), ROWS_WRITTEN, rows);
        if rows_asked {
            let (alarms, alarm_rows) = self.alarms.get();
            answer = with_count(answer, START_ROWS_WRITTEN, self.start_rows);
            answer = with_count(answer, ALARMS, alarms);
            answer = with_count(answer, ALARM_ROWS_WRITTEN, alarm_rows);
        }
        Ok(answer)
    }

    /// The ledger's answer to `request`, and the expiry a clean-up alarm
    /// must then run by, if any. Synchronous: only SQL, no waiting.
    fn answer(&self, request: ShardRequest, now: i64) -> Result<(String, Option<i64>), StoreError> {
        let ledger = Ledger::new(self.table());
        Ok(match request {
            ShardRequest::Claim {
                key,
                ttl_seconds,
                keep_until,
            } => {
                let ttl_ms = seconds_to_ms(ttl_seconds);
                // No alarm for a claim: it is almost always replaced by a done
                // mark at once, and one left behind is already ignored once
                // expired; the next sweep deletes it.
                let claim = ledger.claim(&key, now, ttl_ms, unix_seconds_to_ms(keep_until))?;
                (claim_reply(claim).to_owned(), None)
            }
            ShardRequest::Done { key, until } => {
                let until_ms = unix_seconds_to_ms(until);
                ledger.mark_done(&key, until_ms)?;
                ("ok".to_owned(), Some(until_ms))
            }
            ShardRequest::Release { key } => {
                ledger.release(&key)?;
                ("ok".to_owned(), None)
            }
            ShardRequest::Rows => (ledger.table().rows()?.to_string(), None),
        })
    }

    /// Makes sure a clean-up alarm will run by `expires_at`.
    async fn arm(&self, expires_at: i64, now: i64) {
        let wanted = expires_at.max(now.saturating_add(MIN_ALARM_DELAY_MS));
        let current = match self.alarm_at.get() {
            Some(at) => Some(at),
            None => self.stored_alarm().await,
        };
        match current {
            Some(at) if at <= wanted => self.alarm_at.set(Some(at)),
            _ => self.set_alarm(wanted, now).await,
        }
    }

    /// The alarm storage holds, if any (`None` too when it cannot be read).
    async fn stored_alarm(&self) -> Option<i64> {
        let promise = self.storage.get_alarm().ok()?;
        wait_for(promise).await.ok()?.as_f64().map(|at| at as i64)
    }

    async fn set_alarm(&self, at: i64, now: i64) {
        let offset = at.saturating_sub(now).max(MIN_ALARM_DELAY_MS);
        let at = now.saturating_add(offset);
        let set = match self.storage.set_alarm(at as f64) {
            Ok(promise) => wait_for(promise).await.is_ok(),
            Err(_) => false,
        };
        // On failure rows still expire logically; the next write tries again.
        self.alarm_at.set(set.then_some(at));
    }
}

fn seconds_to_ms(seconds: u64) -> i64 {
    i64::try_from(seconds)
        .unwrap_or(i64::MAX / 1000)
        .saturating_mul(1000)
}

fn unix_seconds_to_ms(seconds: i64) -> i64 {
    seconds.saturating_mul(1000)
}

fn store_error(_: StoreError) -> JsValue {
    js_sys::Error::new("replay storage failed").into()
}

/// The ledger's tables in the object's SQLite storage: one per day of first
/// write ([`crate::replay::ledger::BUCKET_MS`]), newest first. Each call runs
/// statements synchronously; a key lives in at most one table, since a mark
/// is written anew only where none is found.
struct SqlTable {
    sql: SqlStorage,
    /// The tables that exist, newest first; kept by the shard instance and
    /// updated as tables are made and dropped.
    tables: Rc<RefCell<Vec<String>>>,
}

impl SqlTable {
    fn rows_of(
        &self,
        query: &str,
        bindings: Vec<SqlStorageValue>,
    ) -> Result<Vec<Vec<SqlStorageValue>>, StoreError> {
        self.sql
            .rows(query, &bindings)
            .map_err(|_| StoreError::Unavailable)
    }

    fn written(&self, query: &str, bindings: Vec<SqlStorageValue>) -> Result<u64, StoreError> {
        self.sql
            .written(query, &bindings)
            .map_err(|_| StoreError::Unavailable)
    }

    fn tables(&self) -> Vec<String> {
        self.tables.borrow().clone()
    }

    /// One whole number from a one-row query, `None` for SQL's NULL.
    fn number(&self, query: &str) -> Result<Option<i64>, StoreError> {
        let rows = self.rows_of(query, vec![])?;
        Ok(rows
            .first()
            .and_then(|row| row.first())
            .and_then(SqlStorageValue::as_i64))
    }
}

/// The statement that makes a day's table: keyed by the replay key alone,
/// so a mark written is one row written.
fn create_bucket(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, mark TEXT NOT NULL, \
         expires_at INTEGER NOT NULL) WITHOUT ROWID"
    )
}

/// The ledger's tables as storage lists them, newest first.
fn stored_tables(sql: &SqlStorage) -> Result<Vec<String>, StoreError> {
    let rows = sql
        .rows("SELECT name FROM sqlite_master WHERE type = 'table'", &[])
        .map_err(|_| StoreError::Unavailable)?;
    let mut names = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(SqlStorageValue::String(name)) = row.into_iter().next() {
            names.push(name);
        }
    }
    Ok(newest_first(names))
}

impl LedgerTable for SqlTable {
    fn get(&self, key: &str) -> Result<Option<(Mark, i64)>, StoreError> {
        for table in self.tables() {
            let rows = self.rows_of(
                &format!("SELECT mark, expires_at FROM {table} WHERE key = ?"),
                vec![key.into()],
            )?;
            let Some(row) = rows.first() else {
                continue;
            };
            return match (row.first(), row.get(1).and_then(SqlStorageValue::as_i64)) {
                (Some(SqlStorageValue::String(mark)), Some(expires)) => {
                    // An unknown mark is treated as held, as in KV: fail closed.
                    Ok(Some((Mark::parse(mark).unwrap_or(Mark::InFlight), expires)))
                }
                _ => Err(StoreError::Unavailable),
            };
        }
        Ok(None)
    }

    fn set(&self, key: &str, mark: Mark, expires_at_ms: i64) -> Result<(), StoreError> {
        for table in self.tables() {
            let written = self.written(
                &format!("UPDATE {table} SET mark = ?, expires_at = ? WHERE key = ?"),
                vec![mark.as_str().into(), expires_at_ms.into(), key.into()],
            )?;
            if written > 0 {
                return Ok(());
            }
        }
        let table = bucket_table(now_ms());
        if !self.tables.borrow().contains(&table) {
            self.written(&create_bucket(&table), vec![])?;
            self.tables.borrow_mut().insert(0, table.clone());
        }
        self.written(
            &format!("INSERT INTO {table} (key, mark, expires_at) VALUES (?, ?, ?)"),
            vec![key.into(), mark.as_str().into(), expires_at_ms.into()],
        )
        .map(drop)
    }

    fn remove_if(&self, key: &str, mark: Mark) -> Result<(), StoreError> {
        for table in self.tables() {
            let written = self.written(
                &format!("DELETE FROM {table} WHERE key = ? AND mark = ?"),
                vec![key.into(), mark.as_str().into()],
            )?;
            if written > 0 {
                break;
            }
        }
        Ok(())
    }

    /// Drops each table whose every mark has expired: a `DROP TABLE` writes
    /// no row, where deleting the rows would write one each.
    fn purge(&self, now_ms: i64) -> Result<u64, StoreError> {
        let mut freed = 0;
        for table in self.tables() {
            let last = self.number(&format!("SELECT MAX(expires_at) FROM {table}"))?;
            if last.is_some_and(|last| last > now_ms) {
                continue;
            }
            freed += self
                .number(&format!("SELECT COUNT(*) FROM {table}"))?
                .unwrap_or(0) as u64;
            self.written(&format!("DROP TABLE IF EXISTS {table}"), vec![])?;
            self.tables.borrow_mut().retain(|name| *name != table);
        }
        Ok(freed)
    }

    /// When the next table can be dropped: the earliest of the tables' last
    /// expiries.
    fn next_expiry(&self) -> Result<Option<i64>, StoreError> {
        let mut next: Option<i64> = None;
        for table in self.tables() {
            if let Some(last) = self.number(&format!("SELECT MAX(expires_at) FROM {table}"))? {
                next = Some(next.map_or(last, |n| n.min(last)));
            }
        }
        Ok(next)
    }

    fn rows(&self) -> Result<u64, StoreError> {
        let mut rows = 0;
        for table in self.tables() {
            rows += self
                .number(&format!("SELECT COUNT(*) FROM {table}"))?
                .unwrap_or(0) as u64;
        }
        Ok(rows)
    }
}

/// Calls shards through the `REPLAY_DO` binding.
pub struct DurableShards(pub JsValue);

impl ShardClient for DurableShards {
    async fn call(&self, shard: u32, request: &ShardRequest) -> Result<String, StoreError> {
        let url = format!("https://replay-shard{}", request.to_path());
        match call_object(&self.0, &shard_name(shard), &url, None).await {
            Some((200..=299, text)) => Ok(text),
            _ => Err(StoreError::Unavailable),
        }
    }
}
