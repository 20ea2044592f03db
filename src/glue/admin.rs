//! The admin API's glue: the whole prefix is 404 unless `ADMIN_TOKEN` is
//! set; the dashboard's files go to anyone then; everything else only with
//! the token, from the delivery log's shards; every refusal is counted.
//! Every decision is in [`crate::admin`] and [`crate::log`].

use super::delivery_log::{to_every_shard, to_shard, Call, LogClient};
use super::edge::{EdgeBody, EdgeQueue, WorkerIncoming};
use super::observe::{flush_all, Sinks};
use super::pause;
use super::runtime::{console_error, wait_for};
use super::settings::Prepared;
use crate::admin::{self, AdminError, AdminRequest, Asset};
use crate::gate::Incoming;
use crate::log::command::{
    decode_counts, decode_dead_keys, decode_parts, decode_taken, LogCommand, WHOLE,
};
use crate::log::latency;
use crate::log::listing::{record_of, Listing, Round};
use crate::log::partial::Partial;
use crate::log::series::{Series, Window};
use crate::log::{render, to_retry, Letter, SHARDS};
use crate::observe::{encode_line, Value};
use crate::outcome::{Answer, Outcome};
use crate::ports::{DeliveryQueue, Queued};
use crate::setting::ADMIN_PREFIX;
use js_sys::Uint8Array;

/// Every shard of the log, in order: the shards a lookup asks, and a
/// retry that does not know which keeps the letter.
const ALL_SHARDS: [usize; SHARDS] = {
    let mut all = [0; SHARDS];
    let mut shard = 0;
    while shard < SHARDS {
        all[shard] = shard;
        shard += 1;
    }
    all
};

/// A read of the log, in rounds of requests to its shards (one round for
/// a record or the stats, several for a page of the listing).
enum Read {
    List(Listing),
    Get {
        route: String,
        key: String,
    },
    /// The stats since `since_ms` (`window` none) or the chart's numbers
    /// (which read no `since_ms`): one read of the shards' count cells for
    /// both.
    Counts {
        since_ms: i64,
        window: Option<Window>,
    },
}

/// An admin action taken: its name and route ([`AdminRequest::action`]).
pub type Action = (&'static str, String);

/// Answers one request under `/_hookgate`: the answer, or the refusal,
/// which the caller answers and then counts ([`count`]), with the
/// action the request took or tried, which the caller then records
/// ([`record`]). A read asks every shard of the log, after this isolate
/// wrote what it holds.
pub async fn answer(
    incoming: &WorkerIncoming,
    prepared: &Prepared,
    now: i64,
) -> (Option<Action>, Result<Answer, AdminError>) {
    let request = match parsed(incoming, prepared, now) {
        Ok(request) => request,
        Err(refused) => return (None, Err(refused)),
    };
    let action = request
        .action()
        .map(|(name, route)| (name, route.to_owned()));
    (action, reply(request, prepared, now).await)
}

/// The request, once the admin API exists and the token is right.
fn parsed(
    incoming: &WorkerIncoming,
    prepared: &Prepared,
    now: i64,
) -> Result<AdminRequest, AdminError> {
    let Some(token) = &prepared.config.observe.admin_token else {
        return Err(AdminError::Disabled);
    };
    let url = incoming.url();
    let (_, query) = crate::query::path_and_query(&url);
    let authorization = incoming.header("authorization");
    admin::request(
        incoming.method(),
        incoming.path(),
        query,
        now,
        authorization.as_deref(),
        token.as_str(),
    )
}

async fn reply(request: AdminRequest, prepared: &Prepared, now: i64) -> Result<Answer, AdminError> {
    let bindings = prepared.bindings();
    let log = Sinks::of(&bindings).log;
    let read = match request {
        AdminRequest::Dashboard => {
            return Ok(page(admin::DASHBOARD_HTML, "text/html; charset=utf-8"))
        }
        AdminRequest::Asset(Asset::Script) => {
            return Ok(page(admin::DASHBOARD_JS, "text/javascript; charset=utf-8"))
        }
        AdminRequest::Asset(Asset::Style) => {
            return Ok(page(admin::DASHBOARD_CSS, "text/css; charset=utf-8"))
        }
        AdminRequest::Retry { route, key } => {
            admin::retryable(&prepared.config, &route)?;
            let log = log.as_ref().ok_or(AdminError::LogUnavailable)?;
            let queue = EdgeQueue(bindings.delivery_queue.clone());
            retry_dead_letter(&queue, log, route, key, &ALL_SHARDS, now).await?;
            return Ok(Outcome::Queued.answer(None));
        }
        AdminRequest::RetryDead {
            route,
            since_ms,
            until_ms,
        } => {
            admin::retryable(&prepared.config, &route)?;
            let log = log.as_ref().ok_or(AdminError::LogUnavailable)?;
            let queue = EdgeQueue(bindings.delivery_queue.clone());
            let (requeued, more) =
                retry_dead_letters(&queue, log, &route, since_ms, until_ms, now).await?;
            return Ok(Answer {
                status: 202,
                content_type: "application/json",
                body: format!(r#"{{"status":"queued","requeued":{requeued},"more":{more}}}"#),
                headers: Vec::new(),
            });
        }
        // A pause or a resume answers the routes as a read of them does.
        AdminRequest::Routes | AdminRequest::Pause { .. } => {
            let change = match request {
                AdminRequest::Pause { route, paused } => {
                    prepared
                        .config
                        .route_for(&route)
                        .ok_or(AdminError::UnknownRoute)?;
                    LogCommand::Paused {
                        route: Some(route),
                        on: paused,
                    }
                }
                _ => LogCommand::Paused {
                    route: None,
                    on: false,
                },
            };
            let log = log.as_ref().ok_or(AdminError::LogUnavailable)?;
            if !pause::keep(prepared, wait_for(log.ask_promise(0, &change)).await) {
                return Err(AdminError::LogUnavailable);
            }
            let paused = &prepared.paused.borrow();
            return Ok(json(admin::routes_json(&prepared.config, paused)));
        }
        AdminRequest::List {
            filter,
            limit,
            cursor,
        } => Read::List(Listing::new(filter, limit, cursor, SHARDS)),
        AdminRequest::Get { route, key } => Read::Get { route, key },
        AdminRequest::Stats { since_ms } => Read::Counts {
            since_ms,
            window: None,
        },
        AdminRequest::Series { now_ms } => Read::Counts {
            since_ms: now_ms,
            window: Some(Window::ending(now_ms)),
        },
    };
    let log = log.as_ref().ok_or(AdminError::LogUnavailable)?;
    flush_all(log).await;
    let routes = admin::route_paths(&prepared.config);
    let body = match read {
        Read::List(mut listing) => {
            loop {
                match listing.next_round() {
                    Round::Done => break,
                    Round::Scans(scans) => {
                        let mut shards = Vec::with_capacity(scans.len());
                        let mut calls = Vec::with_capacity(scans.len());
                        for (shard, scan) in scans {
                            shards.push(shard);
                            calls.push(to_shard(shard, &LogCommand::Scan(scan)));
                        }
                        let parts = parts_of(&shards, ask(log, calls).await?)?;
                        listing.take_scans(parts);
                    }
                    Round::Lookup(keys) => {
                        let lookup = LogCommand::Lookup { keys: keys.clone() };
                        let parts =
                            parts_of(&ALL_SHARDS, ask(log, to_every_shard(&lookup)).await?)?;
                        listing.take_lookup(&keys, parts);
                    }
                }
            }
            let (records, next) = listing.page();
            render::page(&records, next, &routes)
        }
        Read::Get { route, key } => {
            let lookup = LogCommand::Lookup {
                keys: vec![(route, key)],
            };
            let parts = parts_of(&ALL_SHARDS, ask(log, to_every_shard(&lookup)).await?)?;
            let record = record_of(parts).ok_or(AdminError::UnknownDelivery)?;
            render::record(&record, &routes)
        }
        Read::Counts { since_ms, window } => {
            let stats = match window {
                Some(window) => LogCommand::Stats {
                    since_minute: window.first_hour * 60,
                    by_minute: window.first_minute,
                    span: 60,
                },
                None => LogCommand::Stats {
                    since_minute: since_ms.div_euclid(60_000),
                    by_minute: WHOLE,
                    span: WHOLE,
                },
            };
            let mut cells = Vec::new();
            for text in &ask(log, to_every_shard(&stats)).await? {
                cells.extend(decode_counts(text).ok_or(AdminError::LogUnavailable)?);
            }
            match window {
                Some(window) => {
                    let mut chart = Series::new(window);
                    for cell in &cells {
                        chart.add(cell);
                    }
                    render::series(&chart)
                }
                None => {
                    let mut rows = Vec::new();
                    for cell in cells {
                        // The latency buckets are the chart's, not requests.
                        if !cell.reason.starts_with(latency::PREFIX) {
                            rows.push((cell.route, cell.reason, cell.count));
                        }
                    }
                    render::stats(since_ms, &rows)
                }
            }
        }
    };
    Ok(json(body))
}

/// A 200 answer of the API.
fn json(body: String) -> Answer {
    Answer {
        status: 200,
        content_type: "application/json",
        body,
        headers: vec![("x-content-type-options", "nosniff".to_owned())],
    }
}

/// Sends a round of reads, all at once: each answer's text, in order. Any
/// shard that did not answer makes the whole read unavailable (a record
/// could be missing a part).
async fn ask(log: &LogClient, calls: Vec<Call>) -> Result<Vec<String>, AdminError> {
    let mut texts = Vec::with_capacity(calls.len());
    for answer in log.send_each(calls).await {
        match answer {
            Ok((200, text)) => texts.push(text),
            _ => return Err(AdminError::LogUnavailable),
        }
    }
    Ok(texts)
}

/// The parts each of `shards` answered.
fn parts_of(
    shards: &[usize],
    texts: Vec<String>,
) -> Result<Vec<(usize, Vec<Partial>)>, AdminError> {
    let mut parts = Vec::with_capacity(texts.len());
    for (shard, text) in shards.iter().zip(texts) {
        parts.push((
            *shard,
            decode_parts(&text).ok_or(AdminError::LogUnavailable)?,
        ));
    }
    Ok(parts)
}

/// Records an admin action: a log line with its name, route and answer's
/// status (a refused one too: who tried is worth as much). When it was
/// done, the count it adds to the stats: under the admin prefix by its
/// name, as a refusal is counted by its reason ([`count`]).
pub fn record((name, route): Action, status: u16) -> Option<(&'static str, &'static str)> {
    super::edge::log_object(
        "log",
        &encode_line(&[
            ("admin", Value::Text(name.into())),
            ("route", Value::Text(route.into())),
            ("status", Value::Number(status.into())),
        ]),
    );
    (status < 300).then_some((ADMIN_PREFIX, name))
}

/// Counts a refusal ([`AdminError::counted_as`]) or a done action
/// ([`record`]) in the stats, after the answer: one count a request at
/// most, so one wait for it (module size).
pub async fn count(prepared: &Prepared, (route, reason): (&str, &str), now: i64) {
    let flush_seconds = prepared.config.observe.stats_flush_seconds;
    Sinks::of(&prepared.bindings())
        .count_refusal(flush_seconds, now, route, reason)
        .await;
}

/// Queues a dead letter again: takes it from those of `shards` that keep
/// it (the newest copy, should two keep one), sends it to the delivery
/// queue, and only then marks the record `queued` there (dropping the kept
/// body, and any other shard's copy). If the queue refuses, the letter
/// stays for a later retry.
async fn retry_dead_letter(
    queue: &EdgeQueue,
    log: &LogClient,
    route: String,
    key: String,
    shards: &[usize],
    now: i64,
) -> Result<(), AdminError> {
    let take = LogCommand::TakeLetter {
        route: route.clone(),
        key: key.clone(),
    };
    let mut calls = Vec::with_capacity(shards.len());
    for shard in shards {
        calls.push(to_shard(*shard, &take));
    }
    let mut kept: Vec<(usize, String, i64, Letter)> = Vec::new();
    let mut known = false;
    for (shard, answer) in shards.iter().zip(log.send_each(calls).await) {
        match answer {
            Ok((200, body)) => {
                let (scheme, at, letter) = decode_taken(&body).ok_or(AdminError::LogUnavailable)?;
                kept.push((*shard, scheme, at, letter));
            }
            Ok((409, _)) => known = true,
            Ok((404, _)) => {}
            _ => return Err(AdminError::LogUnavailable),
        }
    }
    // The newest (the last of equals, as max_by_key), found in a loop.
    let mut newest: Option<usize> = None;
    for i in 0..kept.len() {
        if newest.is_none_or(|n| (kept[i].2, kept[i].0) >= (kept[n].2, kept[n].0)) {
            newest = Some(i);
        }
    }
    let Some((holder, scheme, _, letter)) = newest.map(|i| kept.swap_remove(i)) else {
        return Err(if known {
            AdminError::NotADeadLetter
        } else {
            AdminError::UnknownDelivery
        });
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
    let mut marks = vec![to_shard(
        holder,
        &LogCommand::Requeued {
            route: route.clone(),
            key: key.clone(),
            scheme,
            at_ms: now,
        },
    )];
    let drop = LogCommand::DropLetter { route, key };
    for (shard, ..) in kept {
        marks.push(to_shard(shard, &drop));
    }
    let marked = log.send_each(marks).await;
    if marked.iter().any(|answer| !matches!(answer, Ok((200, _)))) {
        console_error("hookgate: a retried dead letter was queued, but its record still says dead");
    }
    Ok(())
}

/// Queues again a route's dead letters left between `since_ms` and
/// `until_ms`, the oldest [`admin::BULK_RETRY`] of them, each taken only
/// from the shards that keep it. Answers how many were queued and whether
/// more are left. A letter gone meanwhile (another retry took it) is
/// passed over; a queue that refuses stops the run, and what it did not
/// take stays kept.
async fn retry_dead_letters(
    queue: &EdgeQueue,
    log: &LogClient,
    route: &str,
    since_ms: i64,
    until_ms: i64,
    now: i64,
) -> Result<(u32, bool), AdminError> {
    let asked = admin::BULK_RETRY + 1;
    let find = LogCommand::DeadKeys {
        route: route.to_owned(),
        since_ms,
        until_ms,
        limit: asked,
    };
    let mut answers = Vec::with_capacity(SHARDS);
    for text in ask(log, to_every_shard(&find)).await? {
        answers.push(decode_dead_keys(&text).ok_or(AdminError::LogUnavailable)?);
    }
    let (taken, mut more) = to_retry(&answers, asked as usize, admin::BULK_RETRY as usize);
    let mut requeued = 0;
    for one in taken {
        match retry_dead_letter(queue, log, route.to_owned(), one.key, &one.shards, now).await {
            Ok(()) => requeued += 1,
            Err(AdminError::NotADeadLetter | AdminError::UnknownDelivery) => {}
            Err(AdminError::QueueUnavailable) if requeued > 0 => {
                more = true;
                break;
            }
            Err(error) => return Err(error),
        }
    }
    Ok((requeued, more))
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
