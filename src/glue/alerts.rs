//! Sends what [`crate::alert`] decides: after a request's answer, or a queue
//! message's acknowledgement or retry, so an alert never delays or changes
//! either. Nothing here waits: `edge.js` sends each alert as the task's next
//! write to the location's cache, which the task's promise waits for: on the
//! fetch path under the request's waitUntil; in a queue batch before the
//! batch's log flush and the end of its invocation, so they (and, with
//! `max_concurrency = 1`, the next batch) wait for it: 10 s at most per
//! alert, and an isolate makes at most one per cause, route and period.
//! An alert URL that fails is only logged.

use super::edge::post_alert;
use super::io::joined;
use super::settings::Prepared;
use crate::alert::{target, Seen};
use crate::route::Route;

/// Sends the alerts `seen` on `path` makes (`route` is the route there,
/// `None` when it is gone), if it can alert at all (without, nothing is
/// remembered).
pub fn raise(prepared: &Prepared, path: &str, route: Option<&Route>, seen: Seen<'_>, now: i64) {
    let Some((url, key)) = target(&prepared.config, route) else {
        return;
    };
    let found = prepared.alerts.borrow_mut().seen(path, seen, now);
    for alert in found {
        let mark = alert.mark();
        let (headers, body) = alert.signed(key, &mark);
        let headers = joined(headers.iter().map(|(n, v)| (*n, v.as_str())));
        post_alert(
            url,
            &headers,
            &body,
            &mark,
            alert.mark_seconds() as f64,
            alert.cause.name(),
            &alert.route,
        );
    }
}
