//! Sends what [`crate::alert`] decides: after a request's answer, or a queue
//! message's acknowledgement, under the same waitUntil, so an alert never
//! delays or changes either. An alert URL that fails is only logged.

use super::edge::{post_alert, WorkerCache};
use super::io::joined;
use super::runtime::wait_for;
use crate::alert::{location_admits, target, Memory, Seen};
use crate::config::Config;
use js_sys::Uint8Array;
use std::cell::RefCell;

thread_local! {
    /// This isolate's failure windows and quiet periods.
    static MEMORY: RefCell<Memory> = const { RefCell::new(Memory::new()) };
}

/// Sends the alerts `seen` on `route` makes, if any route can alert at all
/// (without, nothing is remembered).
pub async fn raise(config: &Config, route: &str, seen: Seen<'_>, now: i64) {
    let alerts = &config.alerts;
    if alerts.url.is_none() && config.routes.iter().all(|r| r.alert_url.is_none()) {
        return;
    }
    for alert in MEMORY.with_borrow_mut(|memory| memory.seen(route, seen, now)) {
        let found = config.route_for(&alert.route).map(|(_, route)| route);
        let Some((url, key)) = target(config, found) else {
            continue;
        };
        if let Err(until) = location_admits(&WorkerCache, &alert).await {
            MEMORY.with_borrow_mut(|memory| memory.quiet_until(&alert, until));
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
