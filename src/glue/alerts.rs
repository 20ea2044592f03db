//! Sends what [`crate::alert`] decides: after a request's answer, or a queue
//! message's acknowledgement, under the same waitUntil, so an alert never
//! delays or changes either. An alert URL that fails is only logged.

use super::edge::{post_alert, WorkerCache};
use super::io::joined;
use super::runtime::wait_for;
use super::settings::Prepared;
use crate::alert::{location_admits, target, Seen};
use crate::route::Route;
use js_sys::Uint8Array;

/// Sends the alerts `seen` on `path` makes (`route` is the route there,
/// `None` when it is gone), if any route can alert at all (without,
/// nothing is remembered).
pub async fn raise(
    prepared: &Prepared,
    path: &str,
    route: Option<&Route>,
    seen: Seen<'_>,
    now: i64,
) {
    let config = &prepared.config;
    let alerts = &config.alerts;
    if alerts.url.is_none() && config.routes.iter().all(|r| r.alert_url.is_none()) {
        return;
    }
    let memory = &prepared.alerts;
    let Some((url, key)) = target(config, route) else {
        return;
    };
    let found = memory.borrow_mut().seen(path, seen, now);
    for alert in found {
        if let Err(until) = location_admits(&WorkerCache, &alert).await {
            memory.borrow_mut().quiet_until(&alert, until);
            continue;
        }
        let (headers, body) = alert.signed(key);
        let headers = joined(headers.iter().map(|(n, v)| (*n, v.as_str())));
        let body = Uint8Array::from(body.as_bytes());
        let _ = wait_for(post_alert(
            url,
            &headers,
            &body,
            alert.cause.name(),
            &alert.route,
        ))
        .await;
    }
}
