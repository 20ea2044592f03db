//! Sends what [`crate::alert`] decides: after a request's answer, or a queue
//! message's acknowledgement. Nothing here waits: `edge.js` sends each alert
//! as it writes the location's cache, after the task's other writes and
//! before its promise settles, under the same waitUntil, so an alert never
//! delays or changes either. An alert URL that fails is only logged.

use super::edge::post_alert;
use super::io::joined;
use super::settings::Prepared;
use crate::alert::{target, Seen, QUIET_MS};
use crate::route::Route;
use js_sys::Uint8Array;

/// Sends the alerts `seen` on `path` makes (`route` is the route there,
/// `None` when it is gone), if any route can alert at all (without,
/// nothing is remembered).
pub fn raise(prepared: &Prepared, path: &str, route: Option<&Route>, seen: Seen<'_>, now: i64) {
    let config = &prepared.config;
    if config.alerts.url.is_none() && config.routes.iter().all(|r| r.alert_url.is_none()) {
        return;
    }
    let Some((url, key)) = target(config, route) else {
        return;
    };
    let found = prepared.alerts.borrow_mut().seen(path, seen, now);
    for alert in found {
        let (headers, body) = alert.signed(key);
        let headers = joined(headers.iter().map(|(n, v)| (*n, v.as_str())));
        post_alert(
            url,
            &headers,
            &Uint8Array::from(body.as_bytes()),
            &alert.mark(),
            (QUIET_MS / 1000) as f64,
            alert.cause.name(),
            &alert.route,
        );
    }
}
