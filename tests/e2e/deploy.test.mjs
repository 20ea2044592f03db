// End to end: deploying, offline. `wrangler deploy --dry-run` (the pinned
// wrangler) of the project's wrangler.toml and of its queue-mode
// configuration (the commented block uncommented, as docs/operations.md
// says); `npm run check` on a fresh copy of the config, which names every
// secret the routes need and passes once .dev.vars has them; and the check
// agreeing with the built Worker itself, run under the Miniflare options
// wrangler makes of the same config and .dev.vars.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Miniflare } from 'miniflare';
import * as wrangler from 'wrangler';
import { ORIGIN_KEY, QUEUE_CONSUMERS, ROOT, SENDER_KEY, eventually, quoEvent, send, signed, startOrigin } from './harness.mjs';

const TOML = readFileSync(`${ROOT}wrangler.toml`, 'utf8');
const QUIET = { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' };

/** The queue-mode block of wrangler.toml, commented out as it ships. */
const QUEUE_BLOCK = /^# \[\[queues\.producers\]\]\n(?:#.*\n)*/m;

/**
 * wrangler.toml as docs/operations.md's "Queue mode" makes it: "# " taken
 * from each line of the block.
 */
function withQueueMode(toml) {
  const block = toml.match(QUEUE_BLOCK);
  assert.ok(block, 'wrangler.toml has the queue-mode block');
  return toml.replace(block[0], block[0].replace(/^# ?/gm, ''));
}

/** A copy of a config outside the project: its paths made absolute. */
function elsewhere(toml) {
  return toml
    .replace('main = "build/index.js"', `main = "${ROOT}build/index.js"`)
    .replace('command = "bash scripts/build.sh"', `command = "bash ${ROOT}scripts/build.sh"`)
    .replace('watch_dir = ["src"]', `watch_dir = ["${ROOT}src"]`);
}

const dirs = [];
function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-deploy-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function dryRun(args) {
  const outdir = tempDir();
  const run = spawnSync(process.execPath, [`${ROOT}node_modules/wrangler/bin/wrangler.js`, 'deploy', '--dry-run', '--outdir', outdir, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: QUIET,
    timeout: 120_000,
  });
  const output = `${run.stdout}${run.stderr}`;
  assert.equal(run.status, 0, output.slice(-3000));
  const size = output.match(/Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/);
  assert.ok(size, output.slice(-3000));
  assert.ok(readdirSync(outdir).some((name) => name.endsWith('.wasm')), 'the bundle holds the module');
  return { output, raw: Number(size[1]), gzip: Number(size[2]) };
}

describe('wrangler deploy --dry-run', () => {
  test('of wrangler.toml: a KV namespace to create at the first deploy, Durable Objects, no queue', (t) => {
    const { output, raw, gzip } = dryRun([]);
    t.diagnostic(`upload ${raw} KiB, gzip ${gzip} KiB`);
    // The upload budget (the project's decision: at most 128 KB gzipped,
    // as wrangler counts it): what costs is start-up time.
    assert.ok(gzip <= 128, `the upload is ${gzip} KiB gzipped, over the 128 KB budget`);
    assert.match(output, /env\.REPLAY_KV\s+KV Namespace/, 'without an id');
    assert.match(output, /env\.REPLAY_DO \(ReplayShard\)\s+Durable Object/);
    assert.match(output, /env\.DELIVERY_LOG \(DeliveryLog\)\s+Durable Object/);
    assert.doesNotMatch(output, /Queue/, 'no queue binding: nothing to create by hand');
    assert.equal(readFileSync(`${ROOT}wrangler.toml`, 'utf8'), TOML, 'the config is left as it was');
  });

  test('of the queue-mode configuration: the producer on hookgate-deliveries, the tests\' consumers', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'wrangler.toml'), elsewhere(withQueueMode(TOML)));
    const { output } = dryRun(['--config', join(dir, 'wrangler.toml')]);
    assert.match(output, /env\.DELIVERY_QUEUE \(hookgate-deliveries\)\s+Queue/);
    // The consumers the e2e tests and the bench run with are the ones
    // that deploy.
    const config = wrangler.unstable_readConfig({ config: join(dir, 'wrangler.toml') }, { hideWarnings: true });
    const consumers = Object.fromEntries(
      config.queues.consumers.map((c) => [
        c.queue,
        { maxBatchSize: c.max_batch_size, maxBatchTimeout: c.max_batch_timeout, maxRetries: c.max_retries, retryDelay: c.retry_delay, deadLetterQueue: c.dead_letter_queue },
      ]),
    );
    for (const [queue, settings] of Object.entries(QUEUE_CONSUMERS)) {
      // retry_delay only delays a batch the consumer throws back (settings
      // that do not parse): hookgate delays each of its own retries.
      assert.equal(settings.retryDelay, 300, 'a thrown batch waits 5 minutes a try');
      assert.deepEqual(JSON.parse(JSON.stringify(consumers[queue])), settings, queue);
    }
  });
});

/** `npm run check` on a config; extra arguments after it. */
function check(configPath, ...args) {
  const run = spawnSync(process.execPath, [`${ROOT}scripts/check.mjs`, '--config', configPath, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: QUIET,
    timeout: 300_000,
  });
  assert.notEqual(run.status, 2, `${run.stdout}${run.stderr}`);
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** Every secret name the routes of a config name, from wrangler's own reading of it. */
function routeSecrets(configPath) {
  const { vars } = wrangler.unstable_readConfig({ config: configPath }, { hideWarnings: true });
  return Object.values(vars.ROUTES).flatMap((route) => [route.secret, route.origin_secret].flat().filter(Boolean));
}

describe('npm run check on a fresh copy of wrangler.toml', () => {
  let dir;
  before(() => {
    dir = tempDir();
    writeFileSync(join(dir, 'wrangler.toml'), TOML);
  });

  test('names each secret the routes need, with its command, and fails', () => {
    const names = routeSecrets(join(dir, 'wrangler.toml'));
    assert.ok(names.length >= 1, 'the example route names secrets');
    const { status, output } = check(join(dir, 'wrangler.toml'));
    assert.equal(status, 1, output);
    for (const name of names) {
      assert.match(output, new RegExp(`✗ ${name} +required; not in \\.dev\\.vars\\n +npx wrangler secret put ${name}\\n`), output);
      assert.match(output, new RegExp(`it names the secret ${name}, which is not set`), output);
    }
    assert.match(output, /REPLAY_KV \(KV namespace\): no id in wrangler\.toml: the first deploy creates it/);
    assert.match(output, /✓ no queue: no route uses queue mode/);
    assert.match(output, /Not ready/);
  });

  test('passes once .dev.vars has them, and never shows a value', () => {
    const names = routeSecrets(join(dir, 'wrangler.toml'));
    const values = names.map((name, i) => [name, i === 0 ? SENDER_KEY : ORIGIN_KEY]);
    writeFileSync(join(dir, '.dev.vars'), values.map(([name, value]) => `${name}=${value}\n`).join(''));
    const { status, output } = check(join(dir, 'wrangler.toml'));
    assert.equal(status, 0, output);
    for (const [name, value] of values) {
      assert.match(output, new RegExp(`✓ ${name} +required; in \\.dev\\.vars`));
      assert.ok(!output.includes(value) && !output.includes(value.slice(6, 20)), `the value of ${name} is not shown`);
    }
    assert.match(output, /Ready\. Put the secrets above .*\n {2}npx wrangler deploy\n/);
  });

  test('after npm run setup copied .dev.vars.example: its test keys and its ROUTES pointed out', () => {
    const copied = tempDir();
    writeFileSync(join(copied, 'wrangler.toml'), TOML);
    writeFileSync(join(copied, '.dev.vars'), readFileSync(`${ROOT}.dev.vars.example`, 'utf8'));
    const { status, output } = check(join(copied, 'wrangler.toml'));
    assert.equal(status, 0, output);
    for (const name of routeSecrets(join(copied, 'wrangler.toml'))) {
      assert.match(output, new RegExp(`✓ ${name} +required; in \\.dev\\.vars, as \\.dev\\.vars\\.example has it: a local test key`), output);
    }
    assert.match(output, /\.dev\.vars also sets ROUTES: only `npm run dev` reads it there/);
    assert.match(output, /route "\/quo": its origin is still the example's on \.invalid/);
  });

  test('a paced queue route needs max_concurrency = 1 on the delivery queue\'s consumer', () => {
    const paced = withQueueMode(TOML).replace('origin_secret = "ORIGIN_SECRET"\n', 'origin_secret = "ORIGIN_SECRET"\ndelivery = "queue"\nmax_per_second = 5\n');
    assert.notEqual(paced, withQueueMode(TOML), 'the example route is paced');
    const names = routeSecrets(join(dir, 'wrangler.toml'));
    const values = names.map((name, i) => `${name}=${i === 0 ? SENDER_KEY : ORIGIN_KEY}\n`).join('');
    for (const [toml, ready] of [
      [paced, false],
      [paced.replace('queue = "hookgate-deliveries"\nmax_batch_size', 'queue = "hookgate-deliveries"\nmax_concurrency = 1\nmax_batch_size'), true],
    ]) {
      const copy = tempDir();
      writeFileSync(join(copy, 'wrangler.toml'), toml);
      writeFileSync(join(copy, '.dev.vars'), values);
      const { status, output } = check(join(copy, 'wrangler.toml'));
      assert.equal(status, ready ? 0 : 1, output);
      const warned = /✗ \/quo set max_per_second: give the consumer of hookgate-deliveries max_concurrency = 1/;
      if (ready) assert.doesNotMatch(output, warned);
      else assert.match(output, warned);
    }
  });

  test('--env: an environment wrangler.toml does not have is an error, not the top level', () => {
    const { status, output } = check(join(dir, 'wrangler.toml'), '--env', 'staging');
    assert.equal(status, 1);
    assert.match(output, /has no \[env\.staging\]/);
  });
});

/**
 * The Worker as wrangler runs this config and .dev.vars: the built module
 * under the Miniflare options wrangler makes of them (its vars, .dev.vars
 * over them, its bindings and queues).
 */
async function startAsWranglerRunsIt(configPath) {
  const { workerOptions } = wrangler.unstable_getMiniflareWorkerOptions(configPath);
  const logs = [];
  const mf = new Miniflare({
    workers: [{ ...workerOptions, name: 'gate', modules: true, scriptPath: `${ROOT}build/index.js` }],
    cf: false,
    host: '127.0.0.1',
    port: 0,
    handleRuntimeStdio(stdout, stderr) {
      for (const stream of [stdout, stderr]) {
        stream.setEncoding('utf8');
        stream.on('data', (text) => logs.push(text));
      }
    },
  });
  return { url: (await mf.ready).href, logs, close: () => mf.dispose() };
}

describe('npm run check agrees with the Worker', () => {
  let origin;
  before(async () => {
    origin = await startOrigin();
  });
  after(() => origin?.close());

  const secrets = `QUO_WEBHOOK_SECRET=${SENDER_KEY}\nORIGIN_SECRET=${ORIGIN_KEY}\n`;
  const queued = (toml) => toml.replace('origin_secret = "ORIGIN_SECRET"\n', 'origin_secret = "ORIGIN_SECRET"\ndelivery = "queue"\n');
  const cases = [
    { name: 'no secrets yet', devVars: '', ready: false },
    { name: 'one of the two secrets', devVars: `QUO_WEBHOOK_SECRET=${SENDER_KEY}\n`, ready: false },
    { name: 'both secrets', devVars: secrets, ready: true, status: 200 },
    { name: 'an origin secret that is not a key', devVars: `QUO_WEBHOOK_SECRET=${SENDER_KEY}\nORIGIN_SECRET=whsec_QUJD\n`, ready: false },
    { name: 'a number where wrangler.toml has text', toml: (t) => t.replace('TOLERANCE_SECONDS = "300"', 'TOLERANCE_SECONDS = 300'), devVars: secrets, ready: true, status: 200 },
    { name: 'a boolean where a number belongs', toml: (t) => t.replace('TOLERANCE_SECONDS = "300"', 'TOLERANCE_SECONDS = true'), devVars: secrets, ready: false },
    { name: 'a queue route without the queue-mode block', toml: queued, devVars: secrets, ready: false, log: /binding DELIVERY_QUEUE is missing/, report: /uncomment the queue-mode block/ },
    { name: 'a queue route with the block', toml: (t) => withQueueMode(queued(t)), devVars: secrets, ready: true, status: 202 },
  ];
  for (const { name, toml = (t) => t, devVars, ready, status, log, report } of cases) {
    test(`${name}: ${ready ? 'ready, and the gate delivers' : 'not ready, and the gate answers 500 misconfigured'}`, async () => {
      const dir = tempDir();
      const config = elsewhere(toml(TOML)).replace('https://your-backend.invalid/hooks/quo', origin.url);
      writeFileSync(join(dir, 'wrangler.toml'), config);
      if (devVars) writeFileSync(join(dir, '.dev.vars'), devVars);
      const checked = check(join(dir, 'wrangler.toml'));
      assert.equal(checked.status, ready ? 0 : 1, checked.output);
      if (report) assert.match(checked.output, report);
      const gate = await startAsWranglerRunsIt(join(dir, 'wrangler.toml'));
      try {
        const body = quoEvent();
        const answer = await send(gate.url, { path: '/quo', headers: signed(body), body });
        if (ready) {
          assert.equal(answer.status, status, answer.text);
          await eventually(() => origin.received.some((entry) => entry.body.toString() === body), 10_000, 'the origin has the event');
        } else {
          assert.equal(answer.status, 500, answer.text);
          assert.equal(answer.json.reason, 'misconfigured');
          if (log) assert.match(gate.logs.join(''), log);
        }
      } finally {
        await gate.close();
      }
    });
  }
});
