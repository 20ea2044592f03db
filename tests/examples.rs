//! Every example configuration the project ships is parsed by the code that
//! reads settings, so the examples cannot drift from it: `.dev.vars.example`
//! (the local settings `npm run dev` starts from) and every ROUTES table in
//! the docs.

use hookgate::config::Config;
use std::collections::HashMap;

/// Reads `KEY=VALUE` lines as wrangler reads .dev.vars (quotes stripped).
fn dev_vars(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.starts_with('#') {
                return None;
            }
            let (key, value) = line.split_once('=')?;
            let value = value.trim();
            let unquoted = value
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .or_else(|| value.strip_prefix('"').and_then(|v| v.strip_suffix('"')))
                .unwrap_or(value);
            Some((key.trim().to_owned(), unquoted.to_owned()))
        })
        .collect()
}

#[test]
fn the_local_settings_are_valid_with_and_without_routes() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.dev.vars.example"))
        .expect(".dev.vars.example");
    let vars = dev_vars(&text);
    let config =
        Config::from_settings(|name| vars.get(name).cloned()).unwrap_or_else(|e| panic!("{e}"));
    let schemes: Vec<_> = config.routes.iter().map(|r| r.scheme.name()).collect();
    assert_eq!(
        schemes.len(),
        6,
        "a route for every scheme in the local settings: {schemes:?}"
    );
    assert!(config.routes.iter().all(|r| r.origin_key.is_some()));

    let mut plain = vars.clone();
    plain.remove("ROUTES");
    let config =
        Config::from_settings(|name| plain.get(name).cloned()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.routes.len(), 1);
    assert_ne!(config.routes[0].path, "/", "the dev path is not the root");
}
