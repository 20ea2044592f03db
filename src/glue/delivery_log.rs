//! The `DeliveryLog` Durable Object (SQLite) and the client the Worker uses
//! to reach it. Glue only: what a record is, how attempts merge, how commands
//! travel and what the admin API answers are decided in [`crate::log`].
//!
//! One object holds the whole log: listings newest-first across routes are
//! one indexed query, and a Durable Object's SQLite storage is on the free
//! plan and in `wrangler dev` and Miniflare with no set-up step (D1 would
//! need a database id and migrations applied first). One object takes some
//! hundreds of writes a second; the log is written after each answer, so a
//! busier gate would see records lag, never answers.

use super::io::{call_object, plain, respond};
use super::runtime::{
    promise, wait_for, DurableObjectState, ObjectRequest, SqlStorage, SqlStorageValue,
};
use crate::log::command::{encode_letter, LogCommand};
use crate::log::counts::Count;
use crate::log::render;
use crate::log::{Attempt, Cursor, DeliveryRecord, Filter, Letter};
use crate::outcome::Answer;
use js_sys::Promise;
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

/// The name of the one object that holds the log.
const LOG_OBJECT: &str = "delivery-log";

const COLUMNS: &str = "route, key, scheme, event_type, first_seen, last_seen, attempts, outcome, origin_status, duration_ms";

/// What a listing selects: the columns, and whether a dead letter is kept.
const SELECTED: &str = "rowid, route, key, scheme, event_type, first_seen, last_seen, attempts, outcome, origin_status, duration_ms, letter_body IS NOT NULL";

/// The delivery log, in one Durable Object's SQLite storage.
#[wasm_bindgen]
pub struct DeliveryLog {
    sql: SqlStorage,
    /// Write commands handled since this instance started (for tests and
    /// operators: `/meta`).
    writes: Rc<Cell<u64>>,
    /// Commands of any kind handled since this instance started (`/meta`).
    requests: Rc<Cell<u64>>,
    /// SQLite rows written since this instance started, as the storage
    /// reports them (`cursor.rowsWritten`, what Cloudflare bills; every
    /// index row counts): `/meta`.
    rows_written: Rc<Cell<u64>>,
}

#[wasm_bindgen]
impl DeliveryLog {
    #[wasm_bindgen(constructor)]
    pub fn new(state: DurableObjectState, _env: JsValue) -> DeliveryLog {
        let sql = state.storage().sql_storage();
        let created = [
            "CREATE TABLE IF NOT EXISTS deliveries (route TEXT NOT NULL, key TEXT NOT NULL, scheme TEXT NOT NULL, \
             event_type TEXT, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, attempts INTEGER NOT NULL, \
             outcome TEXT NOT NULL, origin_status INTEGER, duration_ms INTEGER NOT NULL, PRIMARY KEY (route, key))",
            "CREATE INDEX IF NOT EXISTS deliveries_recent ON deliveries (last_seen)",
            "CREATE TABLE IF NOT EXISTS counts (minute INTEGER NOT NULL, route TEXT NOT NULL, reason TEXT NOT NULL, \
             count INTEGER NOT NULL, PRIMARY KEY (minute, route, reason))",
        ]
        .iter()
        .try_for_each(|statement| sql.written(statement, &[]).map(drop));
        if created.is_err() {
            super::runtime::console_error("hookgate: the delivery log could not create its tables");
        }
        // Dead letters (queue mode): added to tables made before they
        // existed; "duplicate column" on later starts is expected.
        for column in ["letter_meta TEXT", "letter_body BLOB"] {
            let _ = sql.written(&format!("ALTER TABLE deliveries ADD COLUMN {column}"), &[]);
        }
        Self {
            sql,
            writes: Rc::new(Cell::new(0)),
            requests: Rc::new(Cell::new(0)),
            rows_written: Rc::new(Cell::new(0)),
        }
    }

    /// One command from [`LogClient`]; rejected when the storage failed.
    pub fn fetch(&self, request: ObjectRequest) -> Promise {
        let table = Table {
            sql: self.sql.clone(),
            written: self.rows_written.clone(),
        };
        let writes = self.writes.clone();
        let requests = self.requests.clone();
        promise(async move {
            let body = wait_for(request.text()).await?;
            let url = request.url();
            let (path, _) = crate::query::path_and_query(&url);
            let body = body.as_string().unwrap_or_default();
            if path != "/meta" {
                requests.set(requests.get() + 1);
            }
            handle(&table, &writes, &requests, path, &body)
                .map_err(|StorageFailed| js_sys::Error::new("delivery log storage failed").into())
        })
    }
}

fn ok(body: &str) -> JsValue {
    plain(200, body.to_owned())
}

fn error(body: &str, status: u16) -> JsValue {
    plain(status, body.to_owned())
}

fn json(body: String) -> JsValue {
    respond(&Answer {
        status: 200,
        content_type: "application/json",
        body,
        headers: Vec::new(),
    })
}

fn handle(
    table: &Table,
    writes: &Cell<u64>,
    requests: &Cell<u64>,
    path: &str,
    body: &str,
) -> Result<JsValue, StorageFailed> {
    let Some(command) = LogCommand::decode(path, body) else {
        return Ok(error("unknown log command", 400));
    };
    let wrote = || writes.set(writes.get() + 1);
    Ok(match command {
        LogCommand::Attempt(attempt) => {
            wrote();
            table.record(&attempt)?;
            ok("ok")
        }
        LogCommand::DeadLetter(attempt, letter) => {
            wrote();
            table.record(&attempt)?;
            table.keep_letter(&attempt.route, &attempt.key, &letter)?;
            ok("ok")
        }
        LogCommand::TakeLetter { route, key } => match table.letter(&route, &key)? {
            None => error("unknown delivery", 404),
            Some(None) => error("no dead letter", 409),
            Some(Some(letter)) => {
                let mut body = String::new();
                encode_letter(&mut body, &letter);
                plain(200, body)
            }
        },
        LogCommand::Requeued { route, key, at_ms } => {
            wrote();
            let Some((record, _)) = table.get(&route, &key)? else {
                return Ok(error("unknown delivery", 404));
            };
            let attempt = Attempt {
                route,
                key,
                scheme: record.scheme,
                event_type: None,
                at_ms,
                outcome: "queued".to_owned(),
                origin_status: None,
                duration_ms: 0,
            };
            table.record(&attempt)?;
            table.drop_letter(&attempt.route, &attempt.key)?;
            ok("ok")
        }
        LogCommand::Counts(counts) => {
            wrote();
            table.count(&counts)?;
            ok("ok")
        }
        LogCommand::List {
            filter,
            limit,
            cursor,
            routes,
        } => {
            let (records, next) = table.list(&filter, limit, cursor)?;
            json(render::page(&records, next, &routes))
        }
        LogCommand::Get { route, key, routes } => match table.get(&route, &key)? {
            Some((record, _)) => json(render::record(&record, &routes)),
            None => error("unknown delivery", 404),
        },
        LogCommand::Stats { since_ms } => {
            let rows = table.stats(since_ms)?;
            json(render::stats(since_ms, &rows))
        }
        LogCommand::Purge { before_ms } => {
            wrote();
            plain(200, table.purge(before_ms)?.to_string())
        }
        LogCommand::Meta => {
            let rows = table.scalar("SELECT COUNT(*) FROM deliveries", vec![])?;
            json(format!(
                "{{\"writes\":{},\"requests\":{},\"rows_written\":{},\"deliveries\":{}}}",
                writes.get(),
                requests.get(),
                table.written.get(),
                rows.unwrap_or(0)
            ))
        }
    })
}

/// The storage failed.
struct StorageFailed;

/// The log's tables. Each call runs synchronously: a Durable Object runs
/// one event at a time and its SQLite calls do not yield, so the read and
/// write of [`Table::record`] cannot interleave with another attempt.
struct Table {
    sql: SqlStorage,
    /// Rows written so far (see [`DeliveryLog::rows_written`]).
    written: Rc<Cell<u64>>,
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

impl Table {
    fn rows(
        &self,
        query: &str,
        bindings: Vec<SqlStorageValue>,
    ) -> Result<Vec<Vec<SqlStorageValue>>, StorageFailed> {
        self.sql.rows(query, &bindings).map_err(|_| StorageFailed)
    }

    /// Runs a write; counts and returns the rows it wrote.
    fn write(&self, query: &str, bindings: Vec<SqlStorageValue>) -> Result<u64, StorageFailed> {
        let rows = self
            .sql
            .written(query, &bindings)
            .map_err(|_| StorageFailed)?;
        self.written.set(self.written.get() + rows);
        Ok(rows)
    }

    fn scalar(
        &self,
        query: &str,
        bindings: Vec<SqlStorageValue>,
    ) -> Result<Option<i64>, StorageFailed> {
        Ok(self
            .rows(query, bindings)?
            .first()
            .and_then(|row| integer(row.first())))
    }

    /// A record from a row of [`SELECTED`].
    fn parse(row: &[SqlStorageValue]) -> Option<(DeliveryRecord, i64)> {
        Some((
            DeliveryRecord {
                route: text(row.get(1))?,
                key: text(row.get(2))?,
                scheme: text(row.get(3))?,
                event_type: text(row.get(4)),
                first_seen: integer(row.get(5))?,
                last_seen: integer(row.get(6))?,
                attempts: u32::try_from(integer(row.get(7))?).ok()?,
                outcome: text(row.get(8))?,
                origin_status: integer(row.get(9)).and_then(|s| u16::try_from(s).ok()),
                duration_ms: u32::try_from(integer(row.get(10))?).ok()?,
                dead_letter: integer(row.get(11)).is_some_and(|kept| kept != 0),
            },
            integer(row.first())?,
        ))
    }

    fn get(&self, route: &str, key: &str) -> Result<Option<(DeliveryRecord, i64)>, StorageFailed> {
        let rows = self.rows(
            &format!("SELECT {SELECTED} FROM deliveries WHERE route = ? AND key = ?"),
            vec![route.into(), key.into()],
        )?;
        Ok(rows.first().and_then(|row| Self::parse(row)))
    }

    fn record(&self, attempt: &Attempt) -> Result<(), StorageFailed> {
        let existing = self
            .get(&attempt.route, &attempt.key)?
            .map(|(record, _)| record);
        let record = DeliveryRecord::merge(existing, attempt);
        self.write(
            &format!(
                "INSERT INTO deliveries ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (route, key) DO UPDATE SET event_type = excluded.event_type, \
                 first_seen = excluded.first_seen, last_seen = excluded.last_seen, attempts = excluded.attempts, \
                 outcome = excluded.outcome, origin_status = excluded.origin_status, duration_ms = excluded.duration_ms"
            ),
            vec![
                record.route.as_str().into(),
                record.key.as_str().into(),
                record.scheme.as_str().into(),
                optional_text(record.event_type.as_deref()),
                record.first_seen.into(),
                record.last_seen.into(),
                i64::from(record.attempts).into(),
                record.outcome.as_str().into(),
                record
                    .origin_status
                    .map_or(SqlStorageValue::Null, |s| i64::from(s).into()),
                i64::from(record.duration_ms).into(),
            ],
        )
        .map(drop)
    }

    fn keep_letter(&self, route: &str, key: &str, letter: &Letter) -> Result<(), StorageFailed> {
        let mut meta = String::new();
        encode_letter(
            &mut meta,
            &Letter {
                body: Vec::new(),
                ..letter.clone()
            },
        );
        self.write(
            "UPDATE deliveries SET letter_meta = ?, letter_body = ? WHERE route = ? AND key = ?",
            vec![
                meta.as_str().into(),
                SqlStorageValue::Blob(letter.body.clone()),
                route.into(),
                key.into(),
            ],
        )
        .map(drop)
    }

    fn drop_letter(&self, route: &str, key: &str) -> Result<(), StorageFailed> {
        self.write(
            "UPDATE deliveries SET letter_meta = NULL, letter_body = NULL WHERE route = ? AND key = ?",
            vec![route.into(), key.into()],
        )
        .map(drop)
    }

    /// `None` without a record; `Some(None)` for a record without a letter.
    fn letter(&self, route: &str, key: &str) -> Result<Option<Option<Letter>>, StorageFailed> {
        let rows = self.rows(
            "SELECT letter_meta, letter_body FROM deliveries WHERE route = ? AND key = ?",
            vec![route.into(), key.into()],
        )?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let (Some(meta), Some(SqlStorageValue::Blob(body))) = (text(row.first()), row.get(1))
        else {
            return Ok(Some(None));
        };
        let letter = crate::query::pairs(&meta)
            .and_then(|fields| crate::log::command::decode_letter(&fields))
            .map(|letter| Letter {
                body: body.clone(),
                ..letter
            });
        Ok(Some(letter))
    }

    fn count(&self, counts: &[Count]) -> Result<(), StorageFailed> {
        for count in counts {
            self.write(
                "INSERT INTO counts (minute, route, reason, count) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (minute, route, reason) DO UPDATE SET count = count + excluded.count",
                vec![
                    count.minute.into(),
                    count.route.as_str().into(),
                    count.reason.as_str().into(),
                    i64::try_from(count.count).unwrap_or(i64::MAX).into(),
                ],
            )?;
        }
        Ok(())
    }

    fn list(
        &self,
        filter: &Filter,
        limit: u32,
        cursor: Option<Cursor>,
    ) -> Result<(Vec<DeliveryRecord>, Option<Cursor>), StorageFailed> {
        let mut query = format!("SELECT {SELECTED} FROM deliveries WHERE 1 = 1");
        let mut bindings: Vec<SqlStorageValue> = Vec::new();
        if let Some(route) = &filter.route {
            query.push_str(" AND route = ?");
            bindings.push(route.as_str().into());
        }
        if let Some(outcome) = &filter.outcome {
            query.push_str(" AND outcome = ?");
            bindings.push(outcome.as_str().into());
        }
        if let Some(since) = filter.since_ms {
            query.push_str(" AND last_seen >= ?");
            bindings.push(since.into());
        }
        if let Some(cursor) = cursor {
            query.push_str(" AND (last_seen < ? OR (last_seen = ? AND rowid < ?))");
            bindings.extend([
                cursor.last_seen.into(),
                cursor.last_seen.into(),
                cursor.row.into(),
            ]);
        }
        query.push_str(" ORDER BY last_seen DESC, rowid DESC LIMIT ?");
        // One more than the page, to know whether there is a next one.
        bindings.push(i64::from(limit + 1).into());
        let rows = self.rows(&query, bindings)?;
        let mut page: Vec<(DeliveryRecord, i64)> =
            rows.iter().filter_map(|row| Self::parse(row)).collect();
        let next = if page.len() > limit as usize {
            page.truncate(limit as usize);
            page.last().map(|(record, row)| Cursor {
                last_seen: record.last_seen,
                row: *row,
            })
        } else {
            None
        };
        Ok((page.into_iter().map(|(record, _)| record).collect(), next))
    }

    fn stats(&self, since_ms: i64) -> Result<Vec<(String, String, u64)>, StorageFailed> {
        let rows = self.rows(
            "SELECT route, reason, SUM(count) FROM counts WHERE minute >= ? GROUP BY route, reason",
            vec![since_ms.div_euclid(60_000).into()],
        )?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                Some((
                    text(row.first())?,
                    text(row.get(1))?,
                    u64::try_from(integer(row.get(2))?).ok()?,
                ))
            })
            .collect())
    }

    fn purge(&self, before_ms: i64) -> Result<u64, StorageFailed> {
        let deleted = self.delete("DELETE FROM deliveries WHERE last_seen < ?", before_ms)?;
        self.delete(
            "DELETE FROM counts WHERE minute < ?",
            before_ms.div_euclid(60_000),
        )?;
        Ok(deleted)
    }

    fn delete(&self, query: &str, before: i64) -> Result<u64, StorageFailed> {
        self.write(query, vec![before.into()])
    }
}

/// The log could not be reached or refused the command.
pub struct LogUnavailable;

/// Sends commands to the delivery log, through its `DELIVERY_LOG` binding.
pub struct LogClient(pub JsValue);

impl LogClient {
    /// Sends one command; the object's status and body.
    pub async fn send(&self, command: &LogCommand) -> Result<(u16, String), LogUnavailable> {
        let (path, body) = command.encode();
        let url = format!("https://delivery-log{path}");
        call_object(&self.0, LOG_OBJECT, &url, Some(&body))
            .await
            .ok_or(LogUnavailable)
    }

    /// Sends a write; `Err` unless the object stored it.
    pub async fn write(&self, command: &LogCommand) -> Result<(), LogUnavailable> {
        match self.send(command).await? {
            (200, _) => Ok(()),
            _ => Err(LogUnavailable),
        }
    }
}
