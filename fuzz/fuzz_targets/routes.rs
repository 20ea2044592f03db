//! `ROUTES` text through `Config::from_settings`, beside a fixed set of
//! secrets (those .dev.vars.example binds), with each replay store. Nothing
//! may panic; an accepted config keeps the promises the gate relies on, and
//! an error message never carries a secret's value.
#![no_main]

use hookgate::config::{check_origin_url, check_path, Config, Delivery};
use libfuzzer_sys::fuzz_target;

const SECRETS: &[(&str, &str)] = &[
    (
        "QUO_WEBHOOK_SECRET",
        "whsec_aG9va2dhdGUtbG9jYWwtcXVvLXdlYmhvb2sta2V5LTAwMDE=",
    ),
    (
        "QUO_LEGACY_WEBHOOK_SECRET",
        "aG9va2dhdGUtbG9jYWwtcXVvLWxlZ2FjeS1rZXktMDAwMDE=",
    ),
    ("GITHUB_WEBHOOK_SECRET", "hookgate-local-github-secret"),
    (
        "STRIPE_WEBHOOK_SECRET",
        "whsec_hookgateLocalStripeSigningSecret0001",
    ),
    ("SLACK_SIGNING_SECRET", "0123456789abcdef0123456789abcdef"),
    (
        "SHOPIFY_WEBHOOK_SECRET",
        "hookgate-local-shopify-app-secret",
    ),
    (
        "ORIGIN_SECRET",
        "whsec_aG9va2dhdGUtbG9jYWwtb3JpZ2luLXNpZGUta2V5LTAwMDE=",
    ),
    ("SHORT_SECRET", "whsec_QUJD"),
    (
        "lower_case_secret",
        "whsec_bG93ZXItY2FzZS1zZWNyZXQtdmFsdWU=",
    ),
];

fuzz_target!(|data: &[u8]| {
    let routes = String::from_utf8_lossy(data);
    for store in [None, Some("durable-object")] {
        let get = |name: &str| -> Option<String> {
            match name {
                "ROUTES" => Some(routes.clone().into_owned()),
                "REPLAY_STORE" => store.map(str::to_owned),
                _ => SECRETS
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned()),
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
                for (_, value) in SECRETS {
                    // A secret's value may be shown only where the input
                    // itself wrote it (as a path or a field name).
                    assert!(!text.contains(value) || routes.contains(value), "{text}");
                }
            }
        }
    }
});
