//! The admin API's glue: the whole prefix is 404 unless `ADMIN_TOKEN` is
//! set; the dashboard's files go to anyone then; everything else only with
//! the token, from the delivery log; every refusal is counted. Every
//! decision is in [`crate::admin`].

use super::delivery_log::LogClient;
use super::edge::{query_of, EdgeBody, EdgeQueue, WorkerIncoming};
use super::observe::{flush_counts, Sinks};
use super::runtime::console_error;
use super::settings::Prepared;
use crate::admin::{self, AdminError, AdminRequest, Asset};
use crate::gate::Incoming;
use crate::log::command::{decode_letter, LogCommand};
use crate::outcome::{Answer, Outcome};
use crate::ports::{DeliveryQueue, Queued};
use js_sys::Uint8Array;

/// Answers one request under `/_hookgate`: the answer, or the refusal,
/// which the caller answers and then counts ([`count_refusal`]).
pub async fn answer(
    incoming: &WorkerIncoming,
    prepared: &Prepared,
    now: i64,
) -> Result<Answer, AdminError> {
    let Some(token) = &prepared.config.observe.admin_token else {
        return Err(AdminError::Disabled);
    };
    let query = query_of(&incoming.request);
    let authorization = incoming.header("authorization");
    let request = admin::request(
        incoming.method(),
        incoming.path(),
        &query,
        now,
        authorization.as_deref(),
        token.as_str(),
    )?;
    let bindings = prepared.bindings();
    let log = Sinks::of(&bindings).log;
    let command = match request {
        AdminRequest::Dashboard => {
            return Ok(page(admin::DASHBOARD_HTML, "text/html; charset=utf-8"))
        }
        AdminRequest::Asset(Asset::Script) => {
            return Ok(page(admin::DASHBOARD_JS, "text/javascript; charset=utf-8"))
        }
        AdminRequest::Asset(Asset::Style) => {
            return Ok(page(admin::DASHBOARD_CSS, "text/css; charset=utf-8"))
        }
        AdminRequest::List {
            filter,
            limit,
            cursor,
        } => LogCommand::List {
            filter,
            limit,
            cursor,
            routes: admin::route_paths(&prepared.config),
        },
        AdminRequest::Get { route, key } => LogCommand::Get {
            route,
            key,
            routes: admin::route_paths(&prepared.config),
        },
        AdminRequest::Retry { route, key } => {
            admin::retryable(&prepared.config, &route)?;
            let log = log.as_ref().ok_or(AdminError::LogUnavailable)?;
            let queue = EdgeQueue(bindings.delivery_queue.clone());
            retry_dead_letter(&queue, log, route, key, now).await?;
            return Ok(Outcome::Queued.answer(None));
        }
        AdminRequest::Stats { since_ms } => {
            if let Some(log) = &log {
                flush_counts(log, now).await;
            }
            LogCommand::Stats { since_ms }
        }
    };
    let log = log.ok_or(AdminError::LogUnavailable)?;
    match log.send(&command).await {
        Ok((200, body)) => Ok(Answer {
            status: 200,
            content_type: "application/json",
            body,
            headers: vec![("x-content-type-options", "nosniff".to_owned())],
        }),
        Ok((404, _)) => Err(AdminError::UnknownDelivery),
        _ => Err(AdminError::LogUnavailable),
    }
}

/// Counts a refusal in the stats, after it was answered: under the admin
/// API's prefix, or under no route when the API does not exist.
pub async fn count_refusal(prepared: &Prepared, error: AdminError, now: i64) {
    let (route, reason) = error.counted_as();
    let flush_seconds = prepared.config.observe.stats_flush_seconds;
    Sinks::of(&prepared.bindings())
        .count_refusal(flush_seconds, now, route, reason)
        .await;
}

/// Queues a dead letter again: takes it from the log, sends it to the
/// delivery queue, and only then marks the record `queued` (dropping the
/// kept body). If the queue refuses, the letter stays for a later retry.
async fn retry_dead_letter(
    queue: &EdgeQueue,
    log: &LogClient,
    route: String,
    key: String,
    now: i64,
) -> Result<(), AdminError> {
    let letter = match log
        .send(&LogCommand::TakeLetter {
            route: route.clone(),
            key: key.clone(),
        })
        .await
    {
        Ok((200, body)) => crate::query::pairs(&body)
            .and_then(|fields| decode_letter(&fields))
            .ok_or(AdminError::LogUnavailable)?,
        Ok((404, _)) => return Err(AdminError::UnknownDelivery),
        Ok((409, _)) => return Err(AdminError::NotADeadLetter),
        _ => return Err(AdminError::LogUnavailable),
    };
    let message = Queued {
        route: route.clone(),
        key: key.clone(),
        content_type: letter.content_type,
        headers: letter.headers,
        event_type: letter.event_type,
        body: EdgeBody::new(Uint8Array::from(letter.body.as_slice())),
    };
    queue
        .send(&message)
        .await
        .map_err(|_| AdminError::QueueUnavailable)?;
    if log
        .write(&LogCommand::Requeued {
            route,
            key,
            at_ms: now,
        })
        .await
        .is_err()
    {
        console_error("hookgate: a retried dead letter was queued, but its record still says dead");
    }
    Ok(())
}

/// A dashboard file. It holds no data; the policy lets it load only its own
/// script and style and call only this origin's API, and nothing may frame it.
fn page(body: &str, content_type: &'static str) -> Answer {
    Answer {
        status: 200,
        content_type,
        body: body.to_owned(),
        headers: vec![
            ("content-security-policy", admin::DASHBOARD_CSP.to_owned()),
            ("x-content-type-options", "nosniff".to_owned()),
            ("x-frame-options", "DENY".to_owned()),
            ("referrer-policy", "no-referrer".to_owned()),
        ],
    }
}
