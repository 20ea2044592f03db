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

/// wrangler.toml's `[vars]`, as text (what wrangler dev passes beside
/// `.dev.vars`, which overrides them).
fn toml_vars() -> HashMap<String, String> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/wrangler.toml"))
        .expect("wrangler.toml");
    let table: toml::Table = text.parse().expect("wrangler.toml parses");
    table["vars"]
        .as_table()
        .expect("[vars]")
        .iter()
        .map(|(name, value)| {
            let text = match value {
                toml::Value::String(text) => text.clone(),
                other => serde_json::to_string(other).expect("JSON"),
            };
            (name.clone(), text)
        })
        .collect()
}

#[test]
fn the_local_settings_are_valid_with_and_without_routes() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.dev.vars.example"))
        .expect(".dev.vars.example");
    // As wrangler dev reads them: wrangler.toml's [vars], then .dev.vars
    // over them; beside ROUTES neither may set a single-route setting.
    let mut vars = toml_vars();
    vars.extend(dev_vars(&text));
    let config =
        Config::from_settings(|name| vars.get(name).cloned()).unwrap_or_else(|e| panic!("{e}"));
    let schemes: Vec<_> = config.routes.iter().map(|r| r.scheme.name()).collect();
    assert_eq!(
        schemes.len(),
        6,
        "a route for every scheme in the local settings: {schemes:?}"
    );
    assert!(config.routes.iter().all(|r| r.origin_key.is_some()));

    // The single route the file describes in comments, uncommented, with
    // ROUTES emptied as it says (wrangler.toml's routes would apply without).
    assert!(
        text.contains("`ROUTES=`"),
        "the file says how to unset ROUTES"
    );
    let mut plain = vars.clone();
    plain.insert("ROUTES".to_owned(), String::new());
    let single: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("# "))
        .filter(|line| {
            ["WEBHOOK_SECRET=", "ORIGIN_URL=", "WEBHOOK_PATH="]
                .iter()
                .any(|name| line.starts_with(name))
        })
        .collect();
    assert_eq!(single.len(), 3, "the commented single route: {single:?}");
    plain.extend(dev_vars(&single.join("\n")));
    let config =
        Config::from_settings(|name| plain.get(name).cloned()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.routes.len(), 1);
    assert_ne!(config.routes[0].path, "/", "the dev path is not the root");
}

/// The fenced code blocks of a Markdown file with this language.
fn blocks<'a>(text: &'a str, language: &str) -> Vec<&'a str> {
    let fence = format!("```{language}\n");
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&fence) {
        let body = &rest[start + fence.len()..];
        let end = body.find("```").expect("a closed fence");
        found.push(&body[..end]);
        rest = &body[end..];
    }
    found
}

/// Checks `routes` (ROUTES as JSON) with test keys bound under every name
/// the routes give, each in its scheme's format (an `hmac` route's, in its
/// `key_encoding`).
fn check_routes(routes: &serde_json::Value, origin: &str) {
    let mut settings: HashMap<String, String> = HashMap::new();
    settings.insert("ROUTES".into(), routes.to_string());
    for (path, route) in routes.as_object().expect("routes are a table") {
        let scheme = route["scheme"].as_str().unwrap_or_default();
        let key_encoding = route["key_encoding"].as_str().unwrap_or("text");
        let key = match (scheme, key_encoding) {
            ("standard-webhooks", _) | ("hmac", "whsec") => {
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
            }
            ("quo-legacy", _) | ("hmac", "base64") => {
                "R2ZLM2o0bFhBNVpyUnU2NG9mYXQ1MHNyR3pvSUhIVVg="
            }
            ("hmac", "hex") => "000102030405060708090a0b0c0d0e0f",
            _ => "a raw secret, as GitHub, Stripe, Slack and Shopify write them",
        };
        let names: Vec<&str> = match &route["secret"] {
            serde_json::Value::String(name) => vec![name.as_str()],
            serde_json::Value::Array(names) => names.iter().filter_map(|n| n.as_str()).collect(),
            _ => panic!("{origin}: route {path} has no secret"),
        };
        for name in names {
            settings.insert(name.to_owned(), key.to_owned());
        }
        if let Some(name) = route["origin_secret"].as_str() {
            settings.insert(
                name.to_owned(),
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
            );
        }
    }
    let config = Config::from_settings(|name| settings.get(name).cloned())
        .unwrap_or_else(|e| panic!("{origin}: {e}"));
    assert_eq!(
        config.routes.len(),
        routes.as_object().map_or(0, |r| r.len()),
        "{origin}"
    );
}

#[test]
fn every_routes_example_in_the_docs_is_a_valid_config() {
    let mut checked = 0;
    for file in [
        "README.md",
        "docs/settings.md",
        "docs/operations.md",
        "docs/senders.md",
    ] {
        let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        for block in blocks(&text, "toml") {
            if !block.contains("[vars.ROUTES") {
                continue;
            }
            let table: toml::Table = block.parse().unwrap_or_else(|e| panic!("{file}: {e}"));
            let routes = serde_json::to_value(&table["vars"]["ROUTES"]).expect("to JSON");
            check_routes(&routes, file);
            checked += 1;
        }
        for block in blocks(&text, "json") {
            let value: serde_json::Value = match serde_json::from_str(block) {
                Ok(value) => value,
                Err(e) => panic!("{file}: a json block does not parse: {e}"),
            };
            let is_routes = value
                .as_object()
                .is_some_and(|o| !o.is_empty() && o.keys().all(|k| k.starts_with('/')));
            if is_routes {
                check_routes(&value, file);
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 2,
        "the docs' ROUTES examples were found ({checked})"
    );
}
