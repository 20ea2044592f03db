// `npm run check`: before a deploy, what the gate would make of its
// settings, offline. Reads wrangler.toml (its [vars], a [vars.ROUTES] table
// among them, of the environment `--env` names) and .dev.vars with
// wrangler's own readers, the ones `wrangler deploy` and `wrangler dev` use,
// turns each var into the text the Worker reads, and hands all of it to
// src/bin/check (cargo run), which runs the Worker's own settings check on
// it and prints the report. Exits 0 when the gate would answer, 1 when it
// would answer `misconfigured` (or wrangler refuses the config), 2 on a
// wrong argument.
//
//   npm run check [-- --env NAME] [--config PATH] [--dev] [--secrets-put]
//
// --dev          what `npm run dev` runs: .dev.vars over [vars] (by
//                default, what a deploy uploads: [vars], with .dev.vars's
//                secrets standing in for the ones put)
// --secrets-put  a required secret .dev.vars lacks is taken as put already
//                with `wrangler secret put`, not as an error
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, readDevVars } from './dev-vars.mjs';

const usage = 'usage: npm run check [-- --env NAME] [--config PATH] [--dev] [--secrets-put]';

let options;
try {
  ({ values: options } = parseArgs({
    options: {
      env: { type: 'string' },
      config: { type: 'string', default: 'wrangler.toml' },
      dev: { type: 'boolean', default: false },
      'secrets-put': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  }));
} catch (error) {
  console.error(`npm run check: ${error.message}\n${usage}`);
  process.exit(2);
}
if (options.help) {
  console.log(usage);
  process.exit(0);
}

// Wrangler's readers. It is a dependency of this project (pinned in
// package.json); `npm ci` or `npm run setup` installs it.
let wrangler;
try {
  wrangler = await import('wrangler');
} catch {
  console.error('npm run check: wrangler is not installed here; run `npm ci` (or `npm run setup`) first');
  process.exit(2);
}

const configPath = resolve(options.config);
const env = options.env;
if (!existsSync(configPath)) {
  console.error(`npm run check: there is no ${options.config}`);
  process.exit(2);
}
let config;
try {
  config = wrangler.unstable_readConfig({ config: configPath, env }, { hideWarnings: true });
} catch (error) {
  console.error(`npm run check: wrangler cannot read ${options.config}: ${error.message}`);
  process.exit(1);
}
if (env !== undefined && !config.definedEnvironments?.includes(env)) {
  // wrangler would only warn, and use the top level.
  console.error(`npm run check: ${options.config} has no [env.${env}]`);
  process.exit(1);
}

/**
 * A var as the Worker reads it (src/glue/settings.rs `setting`): text as it
 * is, a number as JavaScript writes it, a ROUTES table as JSON; anything
 * else is text the settings check refuses.
 */
function asTheWorkerReadsIt(name, value) {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (name === 'ROUTES' && value !== null && typeof value === 'object') return JSON.stringify(value);
  return '[not text]';
}

const vars = Object.fromEntries(Object.entries(config.vars ?? {}).map(([name, value]) => [name, asTheWorkerReadsIt(name, value)]));

// What wrangler dev adds: .dev.vars.<env> or .dev.vars beside the config
// (or, with neither, the .env files), read by wrangler's own loader.
const local = Object.fromEntries(
  Object.entries(wrangler.unstable_getVarsForDev(config.configPath, undefined, {}, env, true)).map(([name, binding]) => [name, String(binding.value)]),
);
const candidates = [...(env === undefined ? [] : [`.dev.vars.${env}`]), '.dev.vars'];
const found = candidates.find((name) => existsSync(join(dirname(config.configPath), name)));
const localFile = found ?? (Object.keys(local).length > 0 ? '.env' : '.dev.vars');

// Secrets still holding .dev.vars.example's local test keys (`npm run
// setup` copies the example): by name only, the values stay here.
const example = readDevVars(join(ROOT, '.dev.vars.example'));
const exampleValues = Object.keys(local).filter((name) => example[name] !== undefined && example[name] === local[name]);

const queues = config.queues ?? {};
const queueNames = [
  ...(queues.producers ?? []).map((producer) => producer.queue),
  ...(queues.consumers ?? []).flatMap((consumer) => [consumer.queue, consumer.dead_letter_queue]),
].filter((name) => typeof name === 'string');

const input = {
  config_file: options.config,
  env: env ?? null,
  vars,
  local,
  local_file: localFile,
  local_exists: found !== undefined || Object.keys(local).length > 0,
  example_values: exampleValues,
  view: options.dev ? 'dev' : 'deploy',
  secrets_put: options['secrets-put'],
  kv: (config.kv_namespaces ?? []).map((namespace) => ({ binding: namespace.binding, id: Boolean(namespace.id) })),
  durable_objects: (config.durable_objects?.bindings ?? []).map((binding) => binding.name),
  queue_producers: (queues.producers ?? []).map((producer) => producer.binding),
  queues: [...new Set(queueNames)],
  // The delivery queue's consumer may run one batch at a time only where a
  // route is paced (max_per_second).
  delivery_concurrency: (queues.consumers ?? []).find((consumer) => consumer.queue === 'hookgate-deliveries')?.max_concurrency ?? null,
};

if (!existsSync(join(process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target'), 'debug', 'check'))) {
  console.error('npm run check: building the checker (src/bin/check) once with cargo; this takes a minute');
}
const run = spawnSync('cargo', ['run', '--quiet', '--manifest-path', join(ROOT, 'Cargo.toml'), '--bin', 'check'], {
  input: JSON.stringify(input),
  stdio: ['pipe', 'inherit', 'inherit'],
});
if (run.error) {
  console.error(`npm run check: cannot run cargo (${run.error.message}); it needs Rust (rustup)`);
  process.exit(2);
}
process.exit(run.status ?? 2);
