//! `ROUTES` text through `Config::from_settings`, beside a fixed set of
//! secrets (those .dev.vars.example binds), with each replay store. Nothing
//! may panic; an accepted config keeps the promises the gate relies on, and
//! an error message never carries a secret's value.
#![no_main]

use hookgate::config::Config;
use hookgate::keys::encode_base64;
use hookgate::route::Delivery;
use hookgate::setting::{check_origin_url, check_path};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// The secrets .dev.vars.example binds for its routes (read from it, so the
/// two never drift), and two a route must not be able to use: a key too short
/// to sign with, and a good key under a lower-case name. Every value is read
/// or made here, so the target holds no key of its own.
fn secrets() -> &'static [(&'static str, String)] {
    static SECRETS: OnceLock<Vec<(&str, String)>> = OnceLock::new();
    SECRETS.get_or_init(|| {
        let mut secrets: Vec<(&str, String)> = include_str!("../../.dev.vars.example")
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split_once('='))
            .filter(|(name, _)| name.ends_with("_SECRET") && *name != "WEBHOOK_SECRET")
            .map(|(name, value)| (name, value.to_owned()))
            .collect();
        let good = secrets
            .first()
            .map(|(_, value)| value.clone())
            .expect(".dev.vars.example binds a route secret");
        secrets.push(("SHORT_SECRET", format!("whsec_{}", encode_base64(b"ABC"))));
        secrets.push(("lower_case_secret", good));
        secrets
    })
}

fuzz_target!(|data: &[u8]| {
    let routes = String::from_utf8_lossy(data);
    for store in [None, Some("durable-object")] {
        let get = |name: &str| -> Option<String> {
            match name {
                "ROUTES" => Some(routes.clone().into_owned()),
                "REPLAY_STORE" => store.map(str::to_owned),
                _ => secrets()
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.clone()),
            }
        };
        match Config::from_settings(get) {
            Ok(config) => {
                assert!(!config.routes.is_empty());
                for (i, route) in config.routes.iter().enumerate() {
                    assert_eq!(check_path(&route.path), Ok(()));
                    assert_eq!(check_origin_url(&route.origin_url), Ok(()));
                    assert!(!route.keys.is_empty());
                    assert!(route.limits.dedupe_ttl_seconds >= 2 * route.limits.tolerance_seconds);
                    assert_eq!(
                        config.route_for(&route.path).map(|(index, _)| index),
                        Some(i)
                    );
                    if let Delivery::Queue(_) = route.delivery {
                        assert!(route.origin_key.is_some());
                    }
                }
            }
            Err(error) => {
                let text = error.to_string();
                for (_, value) in secrets() {
                    // A secret's value may be shown only where the input
                    // itself wrote it (as a path or a field name).
                    assert!(!text.contains(value) || routes.contains(value), "{text}");
                }
            }
        }
    }
});
