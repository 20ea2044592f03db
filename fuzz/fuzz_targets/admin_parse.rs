//! Admin requests as anyone can send them: a method picked by the first
//! byte, then the path, the query and an `Authorization` value, split on
//! `\n`. Without the token only the dashboard's files are answered.
#![no_main]

use hookgate::admin::{self, AdminRequest};
use libfuzzer_sys::fuzz_target;

const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "DELETE", "get", ""];
const NOW: i64 = 1_700_000_000_000;
const TOKEN: &str = "0123456789abcdef0123";

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let method = METHODS[usize::from(pick) % METHODS.len()];
    let text = String::from_utf8_lossy(rest);
    let mut parts = text.splitn(3, '\n');
    let tail = parts.next().unwrap_or_default();
    let query = parts.next().unwrap_or_default();
    let authorization = parts.next();

    for path in [
        format!("/_hookgate{tail}"),
        format!("/_hookgate/{tail}"),
        format!("/_hookgate/deliveries/{tail}"),
        tail.to_owned(),
    ] {
        if let Ok(AdminRequest::List { limit, .. }) = admin::parse(method, &path, query, NOW) {
            assert!((1..=hookgate::log::MAX_PAGE).contains(&limit));
        }
        let decided = admin::request(method, &path, query, NOW, authorization, TOKEN);
        if !admin::authorized(authorization, TOKEN) {
            match decided {
                Ok(AdminRequest::Dashboard | AdminRequest::Asset(_)) => {}
                Err(admin::AdminError::Unauthorized) => {}
                other => panic!("without the token: {other:?}"),
            }
        }
    }
    for path in ["/_hookgate/deliveries", "/_hookgate/stats"] {
        let _ = admin::parse(method, path, query, NOW);
    }
    for now in [0, NOW, i64::MAX] {
        let _ = admin::parse_since(tail, now);
        let _ = admin::parse_since(query, now);
    }
    if admin::authorized(authorization, TOKEN) {
        let given = authorization.and_then(|a| a.strip_prefix("Bearer "));
        assert_eq!(given.map(str::trim), Some(TOKEN));
    }
});
