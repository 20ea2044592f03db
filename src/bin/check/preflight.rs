//! `npm run check`: what a deploy would give the gate, before it is made.
//!
//! scripts/check.mjs reads wrangler.toml and `.dev.vars` with wrangler's own
//! readers and hands them over as JSON (main.rs); this module runs the
//! Worker's own settings check on them ([`Config::read_all`], the code behind
//! [`Config::from_settings`]) and says what the gate would answer
//! `misconfigured` for, which secrets to put, and which resources the config
//! needs. It lives in this native program, not in the library: unused, it
//! still changed the Worker's wasm (by 305 bytes), which must not carry it.
//!
//! A deploy uploads wrangler.toml's `[vars]`; its secrets come from
//! `wrangler secret put`, which no local file shows. So secrets are read from
//! `.dev.vars`, as stand-ins for the ones put: set there, they are checked as
//! the gate checks them; missing, they are errors (the gate refuses without
//! them) and get a placeholder, so that what comes after them is checked too
//! and every missing secret is named at once. Names are shown, values never.

use hookgate::config::{Binding, Config, Need, Settings, DEAD_LETTER_QUEUE, DELIVERY_QUEUE};
use hookgate::route::Delivery;
use hookgate::routes::name_is_shown;
use hookgate::setting::{shown_path, ConfigError};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// What a missing required secret holds while the rest is checked: a key
/// every scheme and every `hmac` route's `key_encoding` reads. It is 32
/// bytes in hex (an `hmac` route's `hex`), and its 64 characters are also
/// base64 of 48 bytes (Standard Webhooks, Quo's legacy webhooks, `base64`
/// and `whsec`, whose prefix is optional); raw text for the others.
const PLACEHOLDER: &str = "686f6f6b6761746520636865636b3a206120736563726574206e6f7420736574";

/// Which run of the Worker the check looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// `wrangler deploy`: wrangler.toml's `[vars]`, secrets put (stood in for
    /// by the local file's).
    Deploy,
    /// `wrangler dev` (`npm run dev`): the local file over `[vars]`.
    Dev,
}

/// What scripts/check.mjs read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inputs {
    /// The configuration file, as the user named it.
    pub config_file: String,
    /// `--env`, if any.
    pub env: Option<String>,
    /// The `[vars]` of the environment, as the Worker sees them: text, a
    /// table as JSON.
    pub vars: BTreeMap<String, String>,
    /// The local file's values (`.dev.vars`, or `.dev.vars.<env>`).
    pub local: BTreeMap<String, String>,
    /// Its name, and whether it exists.
    pub local_file: String,
    pub local_exists: bool,
    /// Names whose local value is `.dev.vars.example`'s: a local test key,
    /// not the sender's (`npm run setup` copies the example).
    pub example_values: Vec<String>,
    pub view: View,
    /// `--secrets-put`: a required secret the local file lacks is taken as
    /// put already, not as an error.
    pub secrets_put: bool,
    pub declared: Declared,
}

/// The bindings and queues the configuration declares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Declared {
    /// KV namespaces: the binding, and whether the config gives an id (if
    /// not, the first deploy creates the namespace).
    pub kv: Vec<(String, bool)>,
    /// Durable Object bindings.
    pub durable_objects: Vec<String>,
    /// Queue producer bindings.
    pub queue_producers: Vec<String>,
    /// Every queue the config names (producers, consumers, dead letters):
    /// `wrangler deploy` fails while one of them does not exist.
    pub queues: Vec<String>,
    /// The delivery queue's consumer's `max_concurrency`, when set.
    pub delivery_concurrency: Option<u64>,
}

/// Input scripts/check.mjs should never send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputError {
    /// Not a JSON object.
    NotJson,
    /// A field missing, or of another type.
    Field(&'static str),
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputError::NotJson => f.write_str("the input is not a JSON object"),
            InputError::Field(name) => {
                write!(
                    f,
                    "the input's field {name} is missing or of the wrong type"
                )
            }
        }
    }
}

impl Inputs {
    /// Reads scripts/check.mjs's JSON.
    pub fn from_json(text: &str) -> Result<Self, InputError> {
        let value: Value = serde_json::from_str(text).map_err(|_| InputError::NotJson)?;
        let object = value.as_object().ok_or(InputError::NotJson)?;
        let field = |name: &'static str| object.get(name).ok_or(InputError::Field(name));
        let text = |name: &'static str| {
            field(name)?
                .as_str()
                .map(str::to_owned)
                .ok_or(InputError::Field(name))
        };
        let flag = |name: &'static str| field(name)?.as_bool().ok_or(InputError::Field(name));
        let texts = |name: &'static str| -> Result<BTreeMap<String, String>, InputError> {
            let entries = field(name)?.as_object().ok_or(InputError::Field(name))?;
            entries
                .iter()
                .map(|(key, value)| {
                    let value = value.as_str().ok_or(InputError::Field(name))?;
                    Ok((key.clone(), value.to_owned()))
                })
                .collect()
        };
        let list = |name: &'static str| -> Result<Vec<String>, InputError> {
            let items = field(name)?.as_array().ok_or(InputError::Field(name))?;
            items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map(str::to_owned)
                        .ok_or(InputError::Field(name))
                })
                .collect()
        };
        let kv = field("kv")?
            .as_array()
            .ok_or(InputError::Field("kv"))?
            .iter()
            .map(|item| {
                let binding = item.get("binding").and_then(Value::as_str);
                let id = item.get("id").and_then(Value::as_bool);
                match (binding, id) {
                    (Some(binding), Some(id)) => Ok((binding.to_owned(), id)),
                    _ => Err(InputError::Field("kv")),
                }
            })
            .collect::<Result<_, _>>()?;
        let env = match field("env")? {
            Value::Null => None,
            Value::String(name) => Some(name.clone()),
            _ => return Err(InputError::Field("env")),
        };
        let view = match text("view")?.as_str() {
            "deploy" => View::Deploy,
            "dev" => View::Dev,
            _ => return Err(InputError::Field("view")),
        };
        Ok(Self {
            config_file: text("config_file")?,
            env,
            vars: texts("vars")?,
            local: texts("local")?,
            local_file: text("local_file")?,
            local_exists: flag("local_exists")?,
            example_values: list("example_values")?,
            view,
            secrets_put: flag("secrets_put")?,
            declared: Declared {
                kv,
                durable_objects: list("durable_objects")?,
                queue_producers: list("queue_producers")?,
                queues: list("queues")?,
                delivery_concurrency: match object.get("delivery_concurrency") {
                    None | Some(Value::Null) => None,
                    Some(value) => Some(
                        value
                            .as_u64()
                            .ok_or(InputError::Field("delivery_concurrency"))?,
                    ),
                },
            },
        })
    }
}

/// Where a secret the settings read was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// In the local file.
    Local,
    /// In wrangler.toml's `[vars]`, where anyone who reads the config sees it.
    Vars,
    /// Nowhere (or blank, which is unset).
    Missing,
}

/// A secret the settings use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretUse {
    pub name: String,
    /// [`Need::Required`] or [`Need::Optional`] (a secret read only to be
    /// refused is not listed: setting it is the error).
    pub need: Need,
    pub found: Found,
}

/// What the check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Findings {
    /// Every settings error, each as the Worker's log would name it.
    pub errors: Vec<ConfigError>,
    /// Bindings the settings need that the config does not declare.
    pub missing_bindings: Vec<Binding>,
    /// The secrets the settings use, the required ones first.
    pub secrets: Vec<SecretUse>,
    /// Vars the local file sets that this view does not use (a deploy
    /// uploads wrangler.toml's).
    pub overridden: Vec<String>,
    /// Names in the local file that no setting reads (shown ones only),
    /// and how many more there are whose names are not shown.
    pub unread: Vec<String>,
    pub unread_hidden: usize,
    /// Whether a route queues its events.
    pub queues: bool,
    /// Routes with `max_per_second` while the delivery queue's consumer may
    /// run several batches at once, each pacing on its own: the limit
    /// would not hold.
    pub unpaced: Vec<String>,
    /// Routes whose origin is still on `.invalid`, the shipped example's:
    /// valid, but no delivery can reach it.
    pub placeholder_origins: Vec<String>,
}

impl Findings {
    /// Whether the gate would answer: no settings error, no missing binding.
    pub fn ready(&self) -> bool {
        self.errors.is_empty() && self.missing_bindings.is_empty() && self.unpaced.is_empty()
    }
}

/// The settings as one view of the config gives them, recording what the
/// Worker's check reads.
struct Source<'a> {
    inputs: &'a Inputs,
    /// Required secrets found missing in an earlier pass, given the
    /// placeholder now.
    stubs: &'a BTreeSet<String>,
    vars_read: RefCell<Vec<String>>,
    secrets_read: RefCell<Vec<(String, Need, Found)>>,
}

impl Settings for Source<'_> {
    fn var(&self, name: &str) -> Option<String> {
        self.vars_read.borrow_mut().push(name.to_owned());
        let inputs = self.inputs;
        match inputs.view {
            View::Deploy => inputs.vars.get(name).cloned(),
            View::Dev => inputs.local.get(name).or(inputs.vars.get(name)).cloned(),
        }
    }

    fn secret(&self, name: &str, need: Need) -> Option<String> {
        let inputs = self.inputs;
        let vars = set_in(&inputs.vars, name, Found::Vars);
        let local = set_in(&inputs.local, name, Found::Local);
        // Deployed, a var of that name is what the Worker sees; under
        // wrangler dev, the local file's.
        let found = match inputs.view {
            View::Deploy => vars.or(local),
            View::Dev => local.or(vars),
        };
        let (value, found) = match found {
            Some((value, found)) => (Some(value.clone()), found),
            None => (
                self.stubs.contains(name).then(|| PLACEHOLDER.to_owned()),
                Found::Missing,
            ),
        };
        self.secrets_read
            .borrow_mut()
            .push((name.to_owned(), need, found));
        value
    }
}

/// A value that is set (blank is unset, as for every setting), and where.
fn set_in<'m>(
    map: &'m BTreeMap<String, String>,
    name: &str,
    found: Found,
) -> Option<(&'m String, Found)> {
    map.get(name)
        .filter(|value| !value.trim().is_empty())
        .map(|value| (value, found))
}

/// Runs the Worker's settings check on the inputs, again with a
/// placeholder for each required secret found missing, until no new one
/// is: a route stops at its first error, so the secret it names after a
/// missing one is read only once the first has a value.
pub fn check(inputs: &Inputs) -> Findings {
    let mut stubs = BTreeSet::new();
    let mut errors: Vec<ConfigError> = Vec::new();
    let mut vars_read: Vec<String> = Vec::new();
    let mut secrets: Vec<SecretUse> = Vec::new();
    let config = loop {
        let source = Source {
            inputs,
            stubs: &stubs,
            vars_read: RefCell::new(Vec::new()),
            secrets_read: RefCell::new(Vec::new()),
        };
        let (config, found) = Config::read_all(&source);
        if inputs.secrets_put {
            // Missing secrets are put: only what is left once they have a
            // value counts.
            errors = found;
        } else {
            for error in found {
                if !errors.contains(&error) {
                    errors.push(error);
                }
            }
        }
        for name in source.vars_read.into_inner() {
            if !vars_read.contains(&name) {
                vars_read.push(name);
            }
        }
        let mut missing = Vec::new();
        for (name, need, found) in source.secrets_read.into_inner() {
            if need == Need::Required && found == Found::Missing && !stubs.contains(&name) {
                missing.push(name.clone());
            }
            match secrets.iter_mut().find(|known| known.name == name) {
                Some(known) if need == Need::Required => known.need = need,
                Some(_) => {}
                None => secrets.push(SecretUse { name, need, found }),
            }
        }
        if missing.is_empty() {
            break config;
        }
        stubs.extend(missing);
    };

    let declared = &inputs.declared;
    let missing_bindings = config
        .bindings()
        .into_iter()
        .filter(|binding| {
            let names = match binding {
                Binding::ReplayKv => {
                    return !declared.kv.iter().any(|(name, _)| name == binding.name())
                }
                Binding::ReplayDo => &declared.durable_objects,
                Binding::DeliveryQueue => &declared.queue_producers,
            };
            !names.iter().any(|name| name == binding.name())
        })
        .collect();

    let secret_names: Vec<String> = secrets.iter().map(|s| s.name.clone()).collect();
    secrets.retain(|secret| secret.need != Need::Refused);
    secrets.sort_by_key(|secret| secret.need != Need::Required);
    let overridden = match inputs.view {
        View::Deploy => vars_read
            .iter()
            .filter(|name| inputs.local.contains_key(*name))
            .cloned()
            .collect(),
        View::Dev => Vec::new(),
    };
    let unread: Vec<&String> = inputs
        .local
        .keys()
        .filter(|name| !vars_read.contains(name) && !secret_names.contains(name))
        .collect();
    let unread_hidden = unread.iter().filter(|name| !name_is_shown(name)).count();
    let unread = unread
        .into_iter()
        .filter(|name| name_is_shown(name))
        .cloned()
        .collect();
    Findings {
        errors,
        missing_bindings,
        secrets,
        overridden,
        unread,
        unread_hidden,
        queues: config.queues(),
        unpaced: if inputs.declared.delivery_concurrency == Some(1) {
            Vec::new()
        } else {
            config
                .routes
                .iter()
                .filter(|route| {
                    matches!(route.delivery, Delivery::Queue(policy) if policy.max_per_second > 0)
                })
                .map(|route| route.path.clone())
                .collect()
        },
        placeholder_origins: config
            .routes
            .iter()
            .filter(|route| on_invalid(&route.origin_url))
            .map(|route| route.path.clone())
            .collect(),
    }
}

/// Whether an origin URL's host is under `.invalid`, which never resolves
/// (RFC 6761): the example route's placeholder.
fn on_invalid(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host)
        .trim_end_matches('.')
        .to_ascii_lowercase();
    host == "invalid" || host.ends_with(".invalid")
}

/// What a secret that can be left unset turns on.
fn purpose(name: &str) -> &'static str {
    match name {
        "ADMIN_TOKEN" => "the admin API and dashboard",
        "ORIGIN_SECRET" => "re-signs forwards to the origin",
        "ALERT_URL" => "alerts (dead letters, failing origins, refusing stores)",
        "ALERT_SECRET" => "signs alerts (else each route's origin secret does)",
        _ => "",
    }
}

/// The report, as `npm run check` prints it.
pub fn render(inputs: &Inputs, findings: &Findings) -> String {
    let mut out = String::new();
    let env = inputs
        .env
        .as_ref()
        .map(|name| format!(" --env {name}"))
        .unwrap_or_default();
    let file = &inputs.local_file;
    let none = if inputs.local_exists {
        ""
    } else {
        " (there is none yet)"
    };
    let _ = match inputs.view {
        View::Deploy => writeln!(
            out,
            "npm run check: {} as `npx wrangler deploy{env}` uploads it, with the secrets in {file}{none}",
            inputs.config_file
        ),
        View::Dev => writeln!(
            out,
            "npm run check --dev: {} as `npm run dev` runs it (wrangler dev{env}: {file}{none} over its [vars])",
            inputs.config_file
        ),
    };
    if inputs.secrets_put {
        let _ = writeln!(
            out,
            "(--secrets-put: a secret {file} lacks is taken as put with wrangler secret put)"
        );
    }

    let problems = findings.errors.len() + findings.missing_bindings.len();
    out.push('\n');
    if problems == 0 {
        out.push_str("✓ Settings: valid.\n");
    }
    if problems > 0 {
        let _ = writeln!(
            out,
            "✗ Settings: {problems} {}; the gate would answer every request 500 misconfigured:",
            if problems == 1 { "error" } else { "errors" }
        );
        for error in &findings.errors {
            let _ = writeln!(out, "  - {error}");
        }
        for binding in &findings.missing_bindings {
            let hint = match binding {
                Binding::DeliveryQueue => {
                    ": a route queues; uncomment the queue-mode block at the end of \
                     wrangler.toml (docs/operations.md, \"Queue mode\")"
                }
                Binding::ReplayKv | Binding::ReplayDo => {
                    ": declare it as the project's wrangler.toml does"
                }
            };
            let _ = writeln!(out, "  - {}{hint}", binding.missing());
        }
    }

    for path in &findings.placeholder_origins {
        let _ = writeln!(
            out,
            "  · route {}: its origin is still the example's on .invalid, which never resolves, so \
             every delivery would get 502 origin-failed; put your backend's URL there",
            shown_path(path)
        );
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "Secrets: put each with `npx wrangler secret put NAME{env}`, which asks for its value (never shown here):"
    );
    let width = findings
        .secrets
        .iter()
        .filter(|secret| name_is_shown(&secret.name))
        .map(|secret| secret.name.len())
        .max()
        .unwrap_or(0);
    for secret in &findings.secrets {
        let required = secret.need == Need::Required;
        let (mark, state) = match secret.found {
            Found::Local if inputs.example_values.contains(&secret.name) => (
                "✓",
                format!(
                    "in {file}, as .dev.vars.example has it: a local test key, put the real one"
                ),
            ),
            Found::Local => ("✓", format!("in {file}")),
            Found::Vars => (
                "!",
                "in [vars], where anyone who reads the config sees it: move it to a secret"
                    .to_owned(),
            ),
            Found::Missing if inputs.secrets_put => ("·", "taken as put".to_owned()),
            Found::Missing if required => ("✗", format!("not in {file}")),
            Found::Missing => ("·", format!("not in {file}")),
        };
        let need = if required {
            "required".to_owned()
        } else {
            format!("optional: {}", purpose(&secret.name))
        };
        if name_is_shown(&secret.name) {
            let name = &secret.name;
            let _ = writeln!(
                out,
                "  {mark} {name:width$}  {need}; {state}\n      npx wrangler secret put {name}{env}"
            );
        } else {
            let _ = writeln!(
                out,
                "  {mark} (a name that is not upper case, so not shown: it may be a pasted key)  {need}; {state}"
            );
        }
    }
    if !findings.overridden.is_empty() {
        let _ = writeln!(
            out,
            "  · {file} also sets {}: only `npm run dev` reads it there, a deploy uploads wrangler.toml's \
             (checked here; `npm run check -- --dev` checks what npm run dev runs)",
            findings.overridden.join(", ")
        );
    }
    if !findings.unread.is_empty() || findings.unread_hidden > 0 {
        let mut names = findings.unread.join(", ");
        if findings.unread_hidden > 0 {
            if !names.is_empty() {
                names.push_str(", and ");
            }
            let _ = write!(
                names,
                "{} whose names are not upper case (not shown)",
                findings.unread_hidden
            );
        }
        let _ = writeln!(
            out,
            "  · {file} also holds {names}: no setting of these reads them"
        );
    }

    out.push('\n');
    out.push_str("Resources:\n");
    let declared = &inputs.declared;
    for (binding, with_id) in &declared.kv {
        let how = if *with_id {
            "the namespace wrangler.toml names by id"
        } else {
            "no id in wrangler.toml: the first deploy creates it and writes its id back"
        };
        let _ = writeln!(out, "  ✓ {binding} (KV namespace): {how}");
    }
    if !declared.durable_objects.is_empty() {
        let _ = writeln!(
            out,
            "  ✓ {} (Durable Objects): nothing to create; wrangler.toml's migrations make them",
            declared.durable_objects.join(", ")
        );
    }
    if !declared.queues.is_empty() {
        let _ = writeln!(
            out,
            "  → queues {}: `wrangler deploy` fails while one is missing; create each once \
             (npx wrangler queues list shows those that exist):",
            declared.queues.join(", ")
        );
        for queue in &declared.queues {
            let _ = writeln!(out, "      npx wrangler queues create {queue}");
        }
        if !findings.queues {
            out.push_str(
                "    no route queues: remove the queue-mode block from wrangler.toml and no queue is needed\n",
            );
        }
    } else if findings.queues {
        let _ = writeln!(
            out,
            "  ✗ queue mode: once the block is uncommented, create its queues:\n      \
             npx wrangler queues create {DELIVERY_QUEUE}\n      npx wrangler queues create {DEAD_LETTER_QUEUE}"
        );
    } else {
        out.push_str("  ✓ no queue: no route uses queue mode\n");
    }
    if !findings.unpaced.is_empty() {
        let _ = writeln!(
            out,
            "  ✗ {} set max_per_second: give the consumer of {DELIVERY_QUEUE} max_concurrency = 1 \
             in wrangler.toml, or batches running at once each keep their own pace and the limit does not hold",
            findings.unpaced.join(", ")
        );
    }

    let problems = problems + usize::from(!findings.unpaced.is_empty());
    out.push('\n');
    if findings.ready() {
        match inputs.view {
            View::Deploy => {
                let _ = writeln!(
                    out,
                    "Ready. Put the secrets above (the values your senders and origin use), then:\n  npx wrangler deploy{env}"
                );
            }
            View::Dev => out.push_str("Ready: npm run dev runs these settings.\n"),
        }
    } else {
        let _ = writeln!(
            out,
            "Not ready: {problems} {} above. A secret: put it in {file} too, where it is checked as the gate \
             checks it (or, put already, run npm run check --{env} --secrets-put). Then run npm run check{again} again.",
            if problems == 1 { "problem" } else { "problems" },
            again = if env.is_empty() { String::new() } else { format!(" --{env}") },
        );
    }
    out
}

/// `npm run check`'s work on scripts/check.mjs's JSON: the report, and
/// whether the gate would answer.
pub fn run(input: &str) -> Result<(String, bool), InputError> {
    let inputs = Inputs::from_json(input)?;
    let findings = check(&inputs);
    Ok((render(&inputs, &findings), findings.ready()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookgate::schemes::hmac::KeyEncoding;
    use hookgate::schemes::Scheme;
    use hookgate::setting::{Place, Rule};

    /// The Standard Webhooks specification's test key.
    const VECTOR_KEY: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    const QUO: &str = r#"{"/quo": {"scheme": "standard-webhooks", "secret": "QUO_WEBHOOK_SECRET",
        "origin": "https://api.example.com/hooks/quo", "origin_secret": "ORIGIN_SECRET"}}"#;

    fn inputs(vars: &[(&str, &str)], local: &[(&str, &str)]) -> Inputs {
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        Inputs {
            config_file: "wrangler.toml".to_owned(),
            env: None,
            vars: map(vars),
            local: map(local),
            local_file: ".dev.vars".to_owned(),
            local_exists: !local.is_empty(),
            example_values: Vec::new(),
            view: View::Deploy,
            secrets_put: false,
            declared: Declared {
                kv: vec![("REPLAY_KV".to_owned(), false)],
                durable_objects: vec!["REPLAY_DO".to_owned(), "DELIVERY_LOG".to_owned()],
                queue_producers: Vec::new(),
                queues: Vec::new(),
                delivery_concurrency: None,
            },
        }
    }

    fn unbound(path: &str, field: &'static str, name: &str) -> ConfigError {
        ConfigError {
            place: Place::Route {
                path: path.to_owned(),
                field,
            },
            rule: Rule::Unbound(Some(name.to_owned())),
        }
    }

    #[test]
    fn every_missing_secret_is_named_even_after_the_first_of_a_route() {
        let inputs = inputs(&[("ROUTES", QUO)], &[]);
        let findings = check(&inputs);
        assert_eq!(
            findings.errors,
            [
                unbound("/quo", "secret", "QUO_WEBHOOK_SECRET"),
                unbound("/quo", "origin_secret", "ORIGIN_SECRET"),
            ]
        );
        assert!(!findings.ready());
        let listed: Vec<_> = findings
            .secrets
            .iter()
            .map(|s| (s.name.as_str(), s.need, s.found))
            .collect();
        assert_eq!(
            listed,
            [
                ("QUO_WEBHOOK_SECRET", Need::Required, Found::Missing),
                ("ORIGIN_SECRET", Need::Required, Found::Missing),
                ("ADMIN_TOKEN", Need::Optional, Found::Missing),
                ("ALERT_URL", Need::Optional, Found::Missing),
            ]
        );
        let report = render(&inputs, &findings);
        for name in [
            "QUO_WEBHOOK_SECRET",
            "ORIGIN_SECRET",
            "ADMIN_TOKEN",
            "ALERT_URL",
        ] {
            assert!(
                report.contains(&format!("\n      npx wrangler secret put {name}\n")),
                "{report}"
            );
        }
        assert!(report.contains("Not ready: 2 problems"), "{report}");
        assert!(!report.contains(PLACEHOLDER), "{report}");
        // Every optional secret says what it turns on.
        assert!(!report.contains("optional: ;"), "{report}");
        assert!(report.contains("optional: alerts ("), "{report}");
    }

    #[test]
    fn with_the_secrets_in_the_local_file_the_gate_would_answer() {
        let origin_key = "whsec_b3JpZ2luLWtleS1mb3ItZW5kLXRvLWVuZA==";
        let inputs = inputs(
            &[("ROUTES", QUO)],
            &[
                ("QUO_WEBHOOK_SECRET", VECTOR_KEY),
                ("ORIGIN_SECRET", origin_key),
            ],
        );
        let findings = check(&inputs);
        assert_eq!(findings.errors, []);
        assert!(findings.ready());
        assert!(findings.secrets[..2]
            .iter()
            .all(|s| s.found == Found::Local));
        let report = render(&inputs, &findings);
        assert!(report.contains("✓ Settings: valid."), "{report}");
        assert!(
            report.contains("Ready.") && report.contains("\n  npx wrangler deploy\n"),
            "{report}"
        );
        for value in [VECTOR_KEY, origin_key, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] {
            assert!(!report.contains(value), "a value in the report");
        }
    }

    #[test]
    fn a_local_test_key_from_the_example_is_pointed_out() {
        let local = [
            ("QUO_WEBHOOK_SECRET", VECTOR_KEY),
            ("ORIGIN_SECRET", VECTOR_KEY),
        ];
        let mut copied = inputs(&[("ROUTES", QUO)], &local);
        copied.example_values = vec!["ORIGIN_SECRET".to_owned()];
        let report = render(&copied, &check(&copied));
        assert!(
            report.contains(
                "ORIGIN_SECRET       required; in .dev.vars, as .dev.vars.example has it"
            ),
            "{report}"
        );
        assert!(
            !report.contains("QUO_WEBHOOK_SECRET  required; in .dev.vars, as"),
            "{report}"
        );
    }

    #[test]
    fn a_secret_that_is_not_a_key_is_the_gates_error_and_its_value_is_never_shown() {
        let bad = "whsec_not*base64*at*all";
        let inputs = inputs(&[("ROUTES", QUO)], &[("QUO_WEBHOOK_SECRET", bad)]);
        let findings = check(&inputs);
        assert!(matches!(
            &findings.errors[0],
            ConfigError {
                place: Place::Route {
                    field: "secret",
                    ..
                },
                rule: Rule::Key(_)
            }
        ));
        // The route stops there, as the gate's check does: the origin
        // secret after it is found once the key is fixed.
        assert_eq!(findings.errors.len(), 1, "{:?}", findings.errors);
        let report = render(&inputs, &findings);
        assert!(!report.contains("not*base64"), "{report}");
    }

    #[test]
    fn every_route_and_setting_error_is_listed_at_once() {
        let routes = r#"{"/a": {"scheme": "github", "secret": "A_SECRET", "origin": "ftp://x/"},
                         "/b": {"scheme": "stripe", "secret": "B_SECRET", "origin": "https://x/", "tolerance_seconds": -1},
                         "/c": {"scheme": "slack", "secret": "C_SECRET", "origin": "https://x/"}}"#;
        let inputs = inputs(
            &[("ROUTES", routes), ("MAX_BODY_BYTES", "0")],
            &[("B_SECRET", "b"), ("C_SECRET", "c")],
        );
        let findings = check(&inputs);
        let places: Vec<String> = findings
            .errors
            .iter()
            .map(|e| match &e.place {
                Place::Setting(name) => name.to_string(),
                Place::Route { path, field } => format!("{path} {field}"),
            })
            .collect();
        assert_eq!(
            places,
            [
                "MAX_BODY_BYTES",
                "/a secret",
                "/b tolerance_seconds",
                "/a origin"
            ]
        );
    }

    #[test]
    fn secrets_put_already_are_not_errors_but_a_bad_one_given_still_is() {
        let mut put = inputs(&[("ROUTES", QUO)], &[]);
        put.secrets_put = true;
        let findings = check(&put);
        assert!(findings.ready(), "{:?}", findings.errors);
        assert!(render(&put, &findings).contains("taken as put"));
        let mut bad = inputs(&[("ROUTES", QUO)], &[("ORIGIN_SECRET", "whsec_QUJD")]);
        bad.secrets_put = true;
        let findings = check(&bad);
        assert!(matches!(
            findings.errors[..],
            [ConfigError {
                rule: Rule::Key(_),
                ..
            }]
        ));
    }

    #[test]
    fn a_paced_route_needs_a_consumer_that_runs_one_batch_at_a_time() {
        let routes = r#"{"/paced": {"scheme": "github", "secret": "G", "origin": "https://x/",
                                    "origin_secret": "O", "delivery": "queue", "max_per_second": 5}}"#;
        let mut with = inputs(
            &[("ROUTES", routes)],
            &[("G", "github secret"), ("O", VECTOR_KEY)],
        );
        with.declared.queue_producers = vec!["DELIVERY_QUEUE".to_owned()];
        with.declared.queues = vec![DELIVERY_QUEUE.to_owned(), DEAD_LETTER_QUEUE.to_owned()];
        for concurrency in [None, Some(2)] {
            with.declared.delivery_concurrency = concurrency;
            let findings = check(&with);
            assert_eq!(
                findings.unpaced,
                vec!["/paced".to_owned()],
                "{concurrency:?}"
            );
            assert!(!findings.ready());
            let report = render(&with, &findings);
            assert!(report.contains("/paced set max_per_second: give the consumer of hookgate-deliveries max_concurrency = 1"), "{report}");
            assert!(report.contains("Not ready: 1 problem above"), "{report}");
        }
        with.declared.delivery_concurrency = Some(1);
        let findings = check(&with);
        assert!(
            findings.unpaced.is_empty() && findings.ready(),
            "{findings:?}"
        );
    }

    #[test]
    fn a_queue_route_needs_the_queue_binding_and_its_queues() {
        let routes = r#"{"/q": {"scheme": "github", "secret": "G", "origin": "https://x/",
                                "origin_secret": "O", "delivery": "queue"}}"#;
        let local = [("G", "github secret"), ("O", VECTOR_KEY)];
        let without = inputs(&[("ROUTES", routes)], &local);
        let findings = check(&without);
        assert_eq!(findings.missing_bindings, [Binding::DeliveryQueue]);
        assert!(!findings.ready());
        let report = render(&without, &findings);
        assert!(
            report.contains(Binding::DeliveryQueue.missing()),
            "{report}"
        );
        assert!(
            report.contains("uncomment the queue-mode block"),
            "{report}"
        );
        assert!(report.contains("npx wrangler queues create hookgate-deliveries"));
        assert!(report.contains("npx wrangler queues create hookgate-dead-letters"));

        let mut with = without.clone();
        with.declared.queue_producers = vec!["DELIVERY_QUEUE".to_owned()];
        with.declared.queues = vec![DELIVERY_QUEUE.to_owned(), DEAD_LETTER_QUEUE.to_owned()];
        let findings = check(&with);
        assert!(findings.ready());
        let report = render(&with, &findings);
        assert!(report.contains("→ queues hookgate-deliveries, hookgate-dead-letters"));
        assert!(!report.contains("no route queues"), "{report}");

        // Declared but unused: deploy still needs the queues; say so.
        let mut unused = inputs(&[("ROUTES", QUO)], &[]);
        unused.declared = with.declared.clone();
        let report = render(&unused, &check(&unused));
        assert!(
            report.contains("no route queues: remove the queue-mode block"),
            "{report}"
        );
        // Neither: nothing to create.
        let report = render(
            &inputs(&[("ROUTES", QUO)], &[]),
            &check(&inputs(&[("ROUTES", QUO)], &[])),
        );
        assert!(
            report.contains("✓ no queue: no route uses queue mode"),
            "{report}"
        );
    }

    #[test]
    fn the_replay_store_needs_its_binding() {
        let mut strict = inputs(&[("ROUTES", QUO), ("REPLAY_STORE", "durable-object")], &[]);
        strict.declared.durable_objects = vec!["DELIVERY_LOG".to_owned()];
        assert_eq!(check(&strict).missing_bindings, [Binding::ReplayDo]);
        let mut kv = inputs(&[("ROUTES", QUO)], &[]);
        kv.declared.kv.clear();
        assert_eq!(check(&kv).missing_bindings, [Binding::ReplayKv]);
    }

    #[test]
    fn a_deploy_uploads_the_configs_vars_and_npm_run_dev_the_local_files_over_them() {
        let local_routes = r#"{"/local": {"scheme": "github", "secret": "G", "origin": "http://127.0.0.1:8788/"}}"#;
        let local = [("ROUTES", local_routes), ("G", "github secret")];
        let deploy = inputs(&[("ROUTES", QUO)], &local);
        let findings = check(&deploy);
        assert_eq!(
            findings.errors.len(),
            2,
            "wrangler.toml's routes: {:?}",
            findings.errors
        );
        assert_eq!(findings.overridden, ["ROUTES"]);
        assert_eq!(findings.unread, ["G"], "no deployed route reads it");
        assert!(render(&deploy, &findings).contains(".dev.vars also sets ROUTES"));
        let mut dev = deploy.clone();
        dev.view = View::Dev;
        let findings = check(&dev);
        assert!(findings.ready(), "{:?}", findings.errors);
        assert!(findings.overridden.is_empty());
        assert!(render(&dev, &findings).contains("Ready: npm run dev runs these settings."));
    }

    #[test]
    fn names_that_may_be_keys_are_never_shown() {
        let routes = r#"{"/a": {"scheme": "github", "secret": "whsecabc123lowercase", "origin": "https://x/"}}"#;
        let inputs = inputs(
            &[("ROUTES", routes)],
            &[("pasted_key_0123", "x"), ("EXTRA_SECRET", "y")],
        );
        let findings = check(&inputs);
        assert_eq!(findings.errors[0].rule, Rule::Unbound(None));
        assert_eq!(findings.unread, ["EXTRA_SECRET"]);
        assert_eq!(findings.unread_hidden, 1);
        let report = render(&inputs, &findings);
        assert!(!report.contains("whsecabc123"), "{report}");
        assert!(!report.contains("pasted_key"), "{report}");
        assert!(
            report.contains("1 whose names are not upper case"),
            "{report}"
        );
    }

    #[test]
    fn a_secret_in_the_configs_vars_is_seen_and_flagged() {
        let inputs = inputs(
            &[("ROUTES", QUO), ("QUO_WEBHOOK_SECRET", VECTOR_KEY)],
            &[("ORIGIN_SECRET", VECTOR_KEY)],
        );
        let findings = check(&inputs);
        assert!(findings.ready(), "{:?}", findings.errors);
        assert_eq!(findings.secrets[0].found, Found::Vars);
        assert!(render(&inputs, &findings).contains("move it to a secret"));
    }

    #[test]
    fn the_placeholder_is_a_key_for_every_scheme_and_an_origin_key() {
        for scheme in Scheme::ALL {
            // An hmac route needs its one required field; its key
            // encodings are each tried below.
            let hmac = if scheme == Scheme::Hmac {
                r#", "signature_header": "x-sig""#
            } else {
                ""
            };
            let routes = format!(
                r#"{{"/a": {{"scheme": "{}", "secret": "S", "origin": "https://x/", "origin_secret": "O"{hmac}}}}}"#,
                scheme.name()
            );
            let config = Config::from_settings(|name| match name {
                "ROUTES" => Some(routes.clone()),
                "S" | "O" => Some(PLACEHOLDER.to_owned()),
                _ => None,
            });
            assert!(config.is_ok(), "{}: {config:?}", scheme.name());
        }
        for encoding in KeyEncoding::ALL {
            let routes = format!(
                r#"{{"/a": {{"scheme": "hmac", "signature_header": "x-sig", "key_encoding": "{}",
                    "secret": "S", "origin": "https://x/", "origin_secret": "O"}}}}"#,
                encoding.name()
            );
            let config = Config::from_settings(|name| match name {
                "ROUTES" => Some(routes.clone()),
                "S" | "O" => Some(PLACEHOLDER.to_owned()),
                _ => None,
            });
            assert!(config.is_ok(), "hmac {}: {config:?}", encoding.name());
        }
    }

    #[test]
    fn a_missing_hmac_secret_is_named_and_its_route_still_checked() {
        let routes = r#"{"/h": {"scheme": "hmac", "signature_header": "x-sig", "key_encoding": "hex",
                         "secret": "H_SECRET", "origin": "ftp://x/"}}"#;
        let findings = check(&inputs(&[("ROUTES", routes)], &[]));
        let errors: Vec<&str> = findings
            .errors
            .iter()
            .map(|e| match &e.place {
                Place::Route { field, .. } => *field,
                Place::Setting(name) => name,
            })
            .collect();
        assert_eq!(errors, ["secret", "origin"], "{:?}", findings.errors);
    }

    #[test]
    fn the_examples_placeholder_origin_is_pointed_out() {
        let local = [
            ("QUO_WEBHOOK_SECRET", VECTOR_KEY),
            ("ORIGIN_SECRET", VECTOR_KEY),
        ];
        let example = QUO.replace("api.example.com", "your-backend.invalid");
        let inputs = inputs(&[("ROUTES", &example)], &local);
        let findings = check(&inputs);
        assert!(findings.ready(), "valid, if useless");
        assert_eq!(findings.placeholder_origins, ["/quo"]);
        assert!(render(&inputs, &findings)
            .contains("route \"/quo\": its origin is still the example's"));
        assert!(check(&self::inputs(&[("ROUTES", QUO)], &local))
            .placeholder_origins
            .is_empty());
        for url in [
            "http://x.invalid:8080/",
            "https://INVALID./a",
            "https://a.b.invalid?x",
        ] {
            assert!(on_invalid(url), "{url}");
        }
        for url in ["https://invalid.example.com/", "https://x.invalidate.io/"] {
            assert!(!on_invalid(url), "{url}");
        }
    }

    #[test]
    fn the_env_is_in_every_command() {
        let mut staging = inputs(
            &[("ROUTES", QUO)],
            &[
                ("QUO_WEBHOOK_SECRET", VECTOR_KEY),
                ("ORIGIN_SECRET", VECTOR_KEY),
            ],
        );
        staging.env = Some("staging".to_owned());
        let report = render(&staging, &check(&staging));
        assert!(
            report.contains("npx wrangler secret put ORIGIN_SECRET --env staging"),
            "{report}"
        );
        assert!(
            report.contains("\n  npx wrangler deploy --env staging\n"),
            "{report}"
        );
        staging.local.clear();
        let report = render(&staging, &check(&staging));
        assert!(
            report.contains("run npm run check -- --env staging --secrets-put)")
                && report.contains("Then run npm run check -- --env staging again."),
            "{report}"
        );
    }

    #[test]
    fn the_input_is_read_as_check_mjs_sends_it() {
        let json = r#"{"config_file": "wrangler.toml", "env": null, "vars": {"ROUTES": "{}"},
            "local": {"A": "b"}, "local_file": ".dev.vars", "local_exists": true, "example_values": [], "view": "dev",
            "secrets_put": false, "kv": [{"binding": "REPLAY_KV", "id": false}],
            "durable_objects": ["REPLAY_DO"], "queue_producers": [], "queues": ["q"]}"#;
        let inputs = Inputs::from_json(json).expect("valid");
        assert_eq!(inputs.view, View::Dev);
        assert_eq!(inputs.declared.kv, [("REPLAY_KV".to_owned(), false)]);
        assert_eq!(inputs.local.get("A").map(String::as_str), Some("b"));
        assert_eq!(Inputs::from_json("[]"), Err(InputError::NotJson));
        assert_eq!(
            Inputs::from_json(&json.replace(r#""view": "dev""#, r#""view": "prod""#)),
            Err(InputError::Field("view"))
        );
        assert_eq!(
            Inputs::from_json(&json.replace(r#""A": "b""#, r#""A": 1"#)),
            Err(InputError::Field("local"))
        );
        let (report, ready) = run(json).expect("valid");
        assert!(!ready, "ROUTES holds no route");
        assert!(
            report.contains("setting ROUTES is invalid: it holds no route"),
            "{report}"
        );
    }
}
