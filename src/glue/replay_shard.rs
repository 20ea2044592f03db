//! The `ReplayShard` Durable Object and the client that calls it. Glue only:
//! the ledger's decisions live in [`crate::replay::ledger`], the request
//! encoding and sharding in [`crate::replay::durable`].

use super::io::{
    call_object, plain, with_count, ALARMS, ALARM_ROWS_WRITTEN, ROWS_WRITTEN, START_ROWS_WRITTEN,
};
use super::runtime::{
    promise, rows_written_during, wait_for, DurableObjectState, ObjectRequest, ObjectStorage,
    SqlFailed, SqlStorage, SqlStorageValue,
};
use crate::replay::durable::{claim_reply, shard_name, ShardClient, ShardRequest};
use crate::replay::ledger::{Ledger, LedgerTable, Mark};
use crate::replay::StoreError;
use js_sys::Promise;
use std::cell::Cell;
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
        let (created, start_rows) = rows_written_during(|| create_table(&sql));
        if created.is_err() {
            super::runtime::console_error("hookgate: the replay shard could not create its table");
        }
        ReplayShard(Rc::new(Shard {
            storage,
            sql,
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
            let ledger = Ledger::new(SqlTable(shard.sql.clone()));
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
        let ledger = Ledger::new(SqlTable(self.sql.clone()));
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

/// The ledger's table, made if it is missing.
fn create_table(sql: &SqlStorage) -> Result<u64, SqlFailed> {
    sql.written(
        "CREATE TABLE IF NOT EXISTS replay (key TEXT PRIMARY KEY, mark TEXT NOT NULL, expires_at INTEGER NOT NULL)",
        &[],
    )?;
    sql.written(
        "CREATE INDEX IF NOT EXISTS replay_expiry ON replay (expires_at)",
        &[],
    )
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

/// The ledger's table in the object's SQLite storage. Each call runs one
/// statement synchronously; the cursor is drained so writes complete.
struct SqlTable(SqlStorage);

impl SqlTable {
    fn rows_of(
        &self,
        query: &str,
        bindings: Vec<SqlStorageValue>,
    ) -> Result<Vec<Vec<SqlStorageValue>>, StoreError> {
        self.0
            .rows(query, &bindings)
            .map_err(|_| StoreError::Unavailable)
    }
}

impl LedgerTable for SqlTable {
    fn get(&self, key: &str) -> Result<Option<(Mark, i64)>, StoreError> {
        let rows = self.rows_of(
            "SELECT mark, expires_at FROM replay WHERE key = ?",
            vec![key.into()],
        )?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        match (row.first(), row.get(1).and_then(SqlStorageValue::as_i64)) {
            (Some(SqlStorageValue::String(mark)), Some(expires)) => {
                // An unknown mark is treated as held, as in KV: fail closed.
                Ok(Some((Mark::parse(mark).unwrap_or(Mark::InFlight), expires)))
            }
            _ => Err(StoreError::Unavailable),
        }
    }

    fn set(&self, key: &str, mark: Mark, expires_at_ms: i64) -> Result<(), StoreError> {
        self.rows_of(
            "INSERT INTO replay (key, mark, expires_at) VALUES (?, ?, ?) \
             ON CONFLICT(key) DO UPDATE SET mark = excluded.mark, expires_at = excluded.expires_at",
            vec![key.into(), mark.as_str().into(), expires_at_ms.into()],
        )
        .map(drop)
    }

    fn remove_if(&self, key: &str, mark: Mark) -> Result<(), StoreError> {
        self.rows_of(
            "DELETE FROM replay WHERE key = ? AND mark = ?",
            vec![key.into(), mark.as_str().into()],
        )
        .map(drop)
    }

    fn purge(&self, now_ms: i64) -> Result<u64, StoreError> {
        self.0
            .written("DELETE FROM replay WHERE expires_at <= ?", &[now_ms.into()])
            .map_err(|_| StoreError::Unavailable)
    }

    fn next_expiry(&self) -> Result<Option<i64>, StoreError> {
        let rows = self.rows_of("SELECT MIN(expires_at) FROM replay", vec![])?;
        Ok(rows
            .first()
            .and_then(|row| row.first())
            .and_then(SqlStorageValue::as_i64))
    }

    fn rows(&self) -> Result<u64, StoreError> {
        let rows = self.rows_of("SELECT COUNT(*) FROM replay", vec![])?;
        rows.first()
            .and_then(|row| row.first())
            .and_then(SqlStorageValue::as_i64)
            .map(|n| n as u64)
            .ok_or(StoreError::Unavailable)
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
