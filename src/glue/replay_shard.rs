//! The `ReplayShard` Durable Object and the client that calls it. Glue only:
//! the ledger's decisions live in [`crate::replay::ledger`], the request
//! encoding and sharding in [`crate::replay::durable`].

use crate::replay::durable::{claim_reply, shard_name, ShardClient, ShardRequest};
use crate::replay::ledger::{Ledger, LedgerTable, Mark};
use crate::replay::StoreError;
use js_sys::Promise;
use std::cell::Cell;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{
    durable_object, Date, DurableObject, Env, Request, Response, SqlStorage, SqlStorageValue, State,
};

/// After a clean-up run, the next one waits at least this long, so a busy
/// shard sweeps about once a minute rather than once per expiry.
const SWEEP_GAP_MS: i64 = 60_000;

/// An alarm is never set closer than this to now.
const MIN_ALARM_DELAY_MS: i64 = 1_000;

fn now_ms() -> i64 {
    i64::try_from(Date::now().as_millis()).unwrap_or(i64::MAX)
}

/// One shard of the replay ledger, in SQLite storage (so it runs on the free
/// plan). Expired rows are ignored at once and deleted by an alarm.
#[durable_object(alarm)]
pub struct ReplayShard {
    state: State,
    /// When the alarm is set for, as far as this instance knows; `None` means
    /// ask storage (after an eviction) or no alarm.
    alarm_at: Cell<Option<i64>>,
}

impl DurableObject for ReplayShard {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        let created = sql
            .exec(
                "CREATE TABLE IF NOT EXISTS replay (key TEXT PRIMARY KEY, mark TEXT NOT NULL, expires_at INTEGER NOT NULL)",
                None,
            )
            .and_then(|_| sql.exec("CREATE INDEX IF NOT EXISTS replay_expiry ON replay (expires_at)", None));
        if created.is_err() {
            worker::console_error!("hookgate: the replay shard could not create its table");
        }
        Self {
            state,
            alarm_at: Cell::new(None),
        }
    }

    async fn fetch(&self, req: Request) -> worker::Result<Response> {
        // The runtime already split off the path; only the query is left.
        let url = req.inner().url();
        let query = url.split_once('?').map_or("", |(_, query)| query);
        let path = req.path();
        let Some(request) = ShardRequest::parse(&path, query) else {
            return Response::error("unknown shard request", 400);
        };
        let ledger = Ledger::new(SqlTable(self.state.storage().sql()));
        let now = now_ms();
        let reply = match request {
            ShardRequest::Claim {
                key,
                ttl_seconds,
                keep_until,
            } => {
                let ttl_ms = seconds_to_ms(ttl_seconds);
                // No alarm for a claim: it is almost always replaced by a done
                // mark at once, and one left behind is already ignored once
                // expired; the next sweep deletes it.
                let claim = ledger
                    .claim(&key, now, ttl_ms, unix_seconds_to_ms(keep_until))
                    .map_err(store_error)?;
                claim_reply(claim).to_owned()
            }
            ShardRequest::Done { key, until } => {
                let until_ms = unix_seconds_to_ms(until);
                ledger.mark_done(&key, until_ms).map_err(store_error)?;
                self.arm(until_ms, now).await;
                "ok".to_owned()
            }
            ShardRequest::Release { key } => {
                ledger.release(&key).map_err(store_error)?;
                "ok".to_owned()
            }
            ShardRequest::Rows => ledger.table().rows().map_err(store_error)?.to_string(),
        };
        Response::ok(reply)
    }

    async fn alarm(&self) -> worker::Result<Response> {
        let ledger = Ledger::new(SqlTable(self.state.storage().sql()));
        let now = now_ms();
        self.alarm_at.set(None);
        if let Some(next) = ledger.sweep(now, SWEEP_GAP_MS).map_err(store_error)? {
            self.set_alarm(next, now).await;
        }
        Response::ok("swept")
    }
}

impl ReplayShard {
    /// Makes sure a clean-up alarm will run by `expires_at`.
    async fn arm(&self, expires_at: i64, now: i64) {
        let wanted = expires_at.max(now.saturating_add(MIN_ALARM_DELAY_MS));
        let current = match self.alarm_at.get() {
            Some(at) => Some(at),
            None => self.state.storage().get_alarm().await.ok().flatten(),
        };
        match current {
            Some(at) if at <= wanted => self.alarm_at.set(Some(at)),
            _ => self.set_alarm(wanted, now).await,
        }
    }

    async fn set_alarm(&self, at: i64, now: i64) {
        let offset = at.saturating_sub(now).max(MIN_ALARM_DELAY_MS);
        match self.state.storage().set_alarm(offset).await {
            Ok(()) => self.alarm_at.set(Some(now.saturating_add(offset))),
            // Rows still expire logically; the next write tries again.
            Err(_) => self.alarm_at.set(None),
        }
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

fn store_error(_: StoreError) -> worker::Error {
    worker::Error::RustError("replay storage failed".to_owned())
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
        let cursor = self
            .0
            .exec(query, bindings)
            .map_err(|_| StoreError::Unavailable)?;
        cursor
            .raw()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| StoreError::Unavailable)
    }
}

fn as_i64(value: &SqlStorageValue) -> Option<i64> {
    match value {
        SqlStorageValue::Integer(n) => Some(*n),
        SqlStorageValue::Float(f) => Some(*f as i64),
        _ => None,
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
        match (row.first(), row.get(1).and_then(as_i64)) {
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
        let cursor = self
            .0
            .exec(
                "DELETE FROM replay WHERE expires_at <= ?",
                vec![now_ms.into()],
            )
            .map_err(|_| StoreError::Unavailable)?;
        cursor.raw().for_each(drop);
        Ok(cursor.rows_written() as u64)
    }

    fn next_expiry(&self) -> Result<Option<i64>, StoreError> {
        let rows = self.rows_of("SELECT MIN(expires_at) FROM replay", vec![])?;
        Ok(rows.first().and_then(|row| row.first()).and_then(as_i64))
    }

    fn rows(&self) -> Result<u64, StoreError> {
        let rows = self.rows_of("SELECT COUNT(*) FROM replay", vec![])?;
        rows.first()
            .and_then(|row| row.first())
            .and_then(as_i64)
            .map(|n| n as u64)
            .ok_or(StoreError::Unavailable)
    }
}

/// The Durable Object namespace binding and its stubs, called directly.
#[wasm_bindgen]
extern "C" {
    pub type DurableNamespace;

    #[wasm_bindgen(method, js_name = idFromName, catch)]
    fn id_from_name(this: &DurableNamespace, name: &str) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn get(this: &DurableNamespace, id: &JsValue) -> Result<DurableStub, JsValue>;

    type DurableStub;

    #[wasm_bindgen(method, catch)]
    fn fetch(this: &DurableStub, url: &str) -> Result<Promise, JsValue>;

    type ShardResponse;

    #[wasm_bindgen(method, getter)]
    fn ok(this: &ShardResponse) -> bool;

    #[wasm_bindgen(method, catch)]
    fn text(this: &ShardResponse) -> Result<Promise, JsValue>;
}

/// Calls shards through the `REPLAY_DO` binding.
pub struct DurableShards(pub DurableNamespace);

impl ShardClient for DurableShards {
    async fn call(&self, shard: u32, request: &ShardRequest) -> Result<String, StoreError> {
        let unavailable = |_| StoreError::Unavailable;
        let id = self
            .0
            .id_from_name(&shard_name(shard))
            .map_err(unavailable)?;
        let stub = self.0.get(&id).map_err(unavailable)?;
        let url = format!("https://replay-shard{}", request.to_path());
        let response = JsFuture::from(stub.fetch(&url).map_err(unavailable)?)
            .await
            .map_err(unavailable)?;
        let response: ShardResponse = response.unchecked_into();
        let text = JsFuture::from(response.text().map_err(unavailable)?)
            .await
            .map_err(unavailable)?;
        if !response.ok() {
            return Err(StoreError::Unavailable);
        }
        text.as_string().ok_or(StoreError::Unavailable)
    }
}
