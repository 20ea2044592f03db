// `npm run bench`: hookgate against the Workers people would write instead,
// and against a pass-through Worker, side by side in one run.
//
// Each target runs in its own workerd (Miniflare) with a fresh local KV
// namespace, in front of the same fast loopback origin. wrk (a separate
// process) sends pre-signed deliveries, each with its own webhook-id, so no
// delivery is skipped as a duplicate. Per target and body size it reports
// requests/s, p50/p99 latency, errors, and CPU time per request of the workerd
// process tree, and the ratio of hookgate to each baseline. Upload sizes come
// from `wrangler deploy --dry-run`. Loopback only; every step is bounded.
//
//   npm run bench [-- --duration 5 --sizes 1024,16384 --targets hookgate,js-webcrypto --connections 8]
//   --kv memory replaces Miniflare's local KV (SQLite behind a service, ~3 ms
//   of CPU per delivery) with a Map in the Worker's isolate, for every target:
//   what is left is the Workers' own cost, which local KV otherwise drowns.
//   With it, the console is the deployed runtime's too (--console production,
//   the default: each argument serialized to JSON, as for Workers Logs), not
//   local workerd's, which also formats each argument with Node's inspect and
//   prints it; --console local keeps local workerd's.
//   --variant NAME=DIR (repeatable) adds another build of hookgate, e.g. a
//   saved copy of build/ from another commit, as target NAME: A/B in one run.
//   --queue-delays 0,2000 (the default) then compares direct and queue mode
//   from the sender's side, 1 KB deliveries, with an origin that answers at
//   once and one that takes 2 s; --queue-delays '' skips it.
//   --cost measures what a delivery costs instead (bench/cost.mjs): every
//   billable operation per delivery in each mode, counted by the e2e
//   harness's meter, priced, with each mode's free-plan ceiling; no wrk.
//   --cost-mix unique,duplicates,forgeries sets its mix (default 200,50,100).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';
import { LUA, OUT, ROOT, log, makeBody, presign, runWrk, startOrigin, startTarget } from './common.mjs';
import { parseMix, printCostReport } from './cost.mjs';

const CLK_TCK = 100; // Linux USER_HZ, the unit of utime/stime in /proc/PID/stat

const { values: options } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '2' },
    sizes: { type: 'string', default: '1024,16384,262144,1048576' },
    targets: { type: 'string', default: 'hookgate,hookgate-2keys,hookgate-do,js-standardwebhooks,js-webcrypto,passthrough' },
    connections: { type: 'string', default: '8' },
    'skip-build': { type: 'boolean', default: false },
    'skip-size': { type: 'boolean', default: false },
    variant: { type: 'string', multiple: true, default: [] },
    kv: { type: 'string', default: 'local' },
    console: { type: 'string', default: 'production' },
    'queue-delays': { type: 'string', default: '0,2000' },
    cost: { type: 'boolean', default: false },
    'cost-mix': { type: 'string' },
  },
});
if (!['production', 'local'].includes(options.console)) {
  throw new Error(`--console is production or local, not ${JSON.stringify(options.console)}`);
}
/** The console as deployed stands in with `--kv memory` only (it lives in that entry module). */
const PRODUCTION_CONSOLE = options.kv === 'memory' && options.console === 'production';
const DURATION = Number(options.duration);
const WARMUP = Number(options.warmup);
const ROUNDS = Number(options.rounds);
const SIZES = options.sizes.split(',').map(Number);
const CONNECTIONS = Number(options.connections);

mkdirSync(OUT, { recursive: true });

const TARGETS = {
  hookgate: { scriptPath: `${ROOT}build/index.js`, wasm: true, label: 'hookgate (Rust, release)' },
  // During a key rotation every delivery is hashed once per key: the case
  // the 10 ms CPU budget has to hold for.
  'hookgate-2keys': { scriptPath: `${ROOT}build/index.js`, wasm: true, twoKeys: true, label: 'hookgate, two keys (rotation)' },
  'hookgate-do': { scriptPath: `${ROOT}build/index.js`, wasm: true, durable: true, label: 'hookgate, durable-object mode' },
  'js-standardwebhooks': { scriptPath: `${OUT}standardwebhooks.bundle.mjs`, label: 'JS + standardwebhooks' },
  'js-webcrypto': { scriptPath: `${ROOT}bench/workers/webcrypto.mjs`, label: 'JS + WebCrypto' },
  // Measurement only (not in the default targets): hookgate's I/O from
  // JavaScript, no wasm (bench/workers/io-floor.mjs).
  'io-floor': { scriptPath: `${OUT}io-floor.bundle.mjs`, label: "hookgate's I/O in JS, no wasm" },
  passthrough: { scriptPath: `${ROOT}bench/workers/passthrough.mjs`, label: 'pass-through (no verify, no KV)' },
  // Only in the queue-mode comparison (--queue-delays), beside `hookgate`.
  'hookgate-queue': { scriptPath: `${ROOT}build/index.js`, wasm: true, queue: true, hookgate: true, label: 'hookgate, queue mode' },
};
for (const spec of options.variant) {
  const [name, dir] = spec.split('=');
  if (!name || !dir) throw new Error(`--variant wants NAME=DIR, got ${spec}`);
  TARGETS[name] = { scriptPath: `${dir.replace(/\/$/, '')}/index.js`, wasm: true, label: `${name} (variant)`, hookgate: true };
}
TARGETS.hookgate.hookgate = true;
TARGETS['hookgate-2keys'].hookgate = true;
TARGETS['hookgate-do'].hookgate = true;
const targetNames = [...options.targets.split(','), ...options.variant.map((spec) => spec.split('=')[0])];
for (const name of targetNames) if (!TARGETS[name]) throw new Error(`unknown target ${name}`);

// ---------------------------------------------------------------- build

/** wrk comes from Debian's package; installed here when missing and we are root. */
function ensureWrk() {
  if (spawnSync('wrk', ['--version']).error === undefined) return;
  if (process.getuid?.() !== 0) {
    throw new Error('the benchmark needs wrk: install it (Debian/Ubuntu: apt-get install wrk)');
  }
  log('installing wrk from Debian packages');
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', 'wrk'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

function build() {
  if (!options['skip-build']) {
    log('building hookgate (release)');
    execFileSync('bash', [`${ROOT}scripts/build.sh`], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  for (const [worker, target] of [['standardwebhooks', 'js-standardwebhooks'], ['io-floor', 'io-floor']]) {
    esbuild.buildSync({
      entryPoints: [`${ROOT}bench/workers/${worker}.mjs`],
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      mainFields: ['module', 'main'],
      minify: true,
      outfile: TARGETS[target].scriptPath,
      logLevel: 'error',
    });
  }
}

// ---------------------------------------------------------------- workerd

function readStat(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]), comm: text.slice(text.indexOf('(') + 1, text.lastIndexOf(')')) };
  } catch {
    return null;
  }
}

/** CPU ticks of every workerd process descended from this Node process. */
function workerdTicks() {
  const stats = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(entry);
    if (stat) stats.set(Number(entry), stat);
  }
  const descends = (pid) => {
    for (let p = pid, hops = 0; p > 1 && hops < 16; hops += 1) {
      if (p === process.pid) return true;
      p = stats.get(p)?.ppid ?? 0;
    }
    return false;
  };
  let ticks = 0;
  for (const [pid, stat] of stats) if (stat.comm.includes('workerd') && descends(pid)) ticks += stat.ticks;
  return ticks;
}

// ---------------------------------------------------------------- load

/**
 * One measured run of target `name`: a fresh workerd, `WARMUP` seconds of
 * warm-up, then `DURATION` measured seconds, with the CPU ticks of workerd
 * and the deliveries `origin` read over them. `count` is how many distinct
 * ids `ids` holds: a run that sent more reused some (but the pass-through
 * keeps no ids).
 */
async function measure(name, origin, { warmupIds, ids, count, bodyFile }) {
  const memoryKv = options.kv === 'memory';
  const target = await startTarget(TARGETS[name], { originUrl: origin.url, memoryKv, productionConsole: PRODUCTION_CONSOLE });
  try {
    await runWrk(target.url, WARMUP, warmupIds, bodyFile, CONNECTIONS);
    const before = workerdTicks();
    const received = origin.received;
    const run = await runWrk(target.url, DURATION, ids, bodyFile, CONNECTIONS);
    run.ticks = workerdTicks() - before;
    run.received = origin.received - received;
    run.exhausted = name !== 'passthrough' && run.requests > count;
    return run;
  } finally {
    await target.mf.dispose();
  }
}

/**
 * `ROUNDS` runs of each of `names`, by name. Targets take turns, round after
 * round, so a drift of the machine (another process, thermal, the page
 * cache) falls on all of them alike.
 */
async function measureRounds(names, origin, load) {
  const runs = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const name of names) runs[name].push(await measure(name, origin, load));
  }
  return runs;
}

const meanOf = (runs, field) => runs.reduce((a, r) => a + r[field], 0) / runs.length;

/** One target's runs in one: means of req/s and latencies, sums of errors, CPU over all requests. */
function aggregate(runs) {
  const requests = runs.reduce((a, r) => a + r.requests, 0);
  const ticks = runs.reduce((a, r) => a + r.ticks, 0);
  return {
    requests,
    rps: meanOf(runs, 'rps'),
    p50: meanOf(runs, 'p50'),
    p99: meanOf(runs, 'p99'),
    errors: runs.reduce((a, r) => a + r.errors, 0),
    cpuMs: requests > 0 ? (ticks * 1000) / CLK_TCK / requests : NaN,
    exhausted: runs.some((r) => r.exhausted),
  };
}

// ---------------------------------------------------------------- queue mode

/**
 * Direct against queue mode, as the sender sees it, for each origin delay:
 * in direct mode the sender waits for the origin; in queue mode it is
 * answered once the event is queued, and the consumer (in the same workerd,
 * so its CPU is counted too) forwards later.
 */
async function compareQueueMode() {
  const delays = options['queue-delays'].split(',').filter((d) => d !== '').map(Number);
  if (delays.length === 0) return [];
  const size = 1024;
  const body = makeBody(size);
  const bodyFile = `${OUT}body-queue.bin`;
  writeFileSync(bodyFile, body);
  const count = Math.ceil(6000 * DURATION);
  log(`queue mode: signing ${count} deliveries of 1 KB`);
  const warmupIds = presign(body, 3000, 'queue-warmup');
  const ids = presign(body, count, 'queue');
  const rows = [];
  for (const delay of delays) {
    const origin = await startOrigin(delay);
    try {
      const runs = await measureRounds(['hookgate', 'hookgate-queue'], origin, { warmupIds, ids, count, bodyFile });
      for (const [name, list] of Object.entries(runs)) {
        const row = { delay, name, ...aggregate(list), received: Math.round(meanOf(list, 'received')) };
        rows.push(row);
        log(`queue mode, origin delay ${delay} ms, ${name}: ${fmt(row.rps)} req/s, p50 ${fmt(row.p50, 2)} ms, p99 ${fmt(row.p99, 2)} ms, ${row.errors} errors, ${row.received} at the origin`);
      }
    } finally {
      origin.close();
    }
  }
  return rows;
}

// ---------------------------------------------------------------- size

function uploadSize(name) {
  const outdir = `${OUT}size-${name}`;
  const args = [`${ROOT}node_modules/wrangler/bin/wrangler.js`, 'deploy', '--dry-run', '--outdir', outdir];
  if (TARGETS[name].hookgate && name !== 'hookgate') return null;
  if (name !== 'hookgate') {
    const config = `${OUT}wrangler-${name}.toml`;
    writeFileSync(
      config,
      `name = "${name}"\nmain = "${TARGETS[name].scriptPath}"\ncompatibility_date = "2026-04-20"\n` +
        `[[kv_namespaces]]\nbinding = "REPLAY_KV"\nid = "00000000000000000000000000000000"\n`,
    );
    args.push('--config', config);
  }
  const result = spawnSync(process.execPath, args, {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
  });
  const match = `${result.stdout}${result.stderr}`.match(/Total Upload:\s*([\d.]+)\s*KiB\s*\/\s*gzip:\s*([\d.]+)\s*KiB/);
  if (!match) {
    log(`could not read the upload size of ${name}: ${result.stderr.slice(-400)}`);
    return null;
  }
  return { raw: Number(match[1]), gzip: Number(match[2]) };
}

// ---------------------------------------------------------------- main

const fmt = (n, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '—');
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : '—');
const kib = (bytes) => (bytes >= 1048576 ? `${bytes / 1048576} MB` : `${bytes / 1024} KB`);

async function main() {
  const started = Date.now();
  if (options.cost) {
    build();
    await printCostReport({ mix: parseMix(options['cost-mix']) });
    return;
  }
  ensureWrk();
  build();
  writeFileSync(`${OUT}deliveries.lua`, LUA);
  const origin = await startOrigin();
  const results = {};
  try {
    for (const size of SIZES) {
      const body = makeBody(size);
      const bodyFile = `${OUT}body-${size}.bin`;
      writeFileSync(bodyFile, body);
      // Enough distinct ids for the fastest verifying target over one run
      // (deliveries per second it could reach, times the run's length); more
      // costs only signing time here, fewer would turn deliveries into
      // duplicates, which are cheaper and would flatter that target.
      const perSecond = size <= 16384 ? 6000 : size <= 262144 ? 2400 : 1200;
      const count = Math.ceil(perSecond * DURATION);
      log(`signing ${count} deliveries of ${kib(size)}`);
      const warmupIds = presign(body, Math.min(count, 3000), `${size}-warmup`);
      const ids = presign(body, count, `${size}`);
      const sums = await measureRounds(targetNames, origin, { warmupIds, ids, count, bodyFile });
      for (const name of targetNames) {
        const run = aggregate(sums[name]);
        results[`${name}/${size}`] = run;
        log(`${name} ${kib(size)}: ${fmt(run.rps)} req/s, p50 ${fmt(run.p50, 2)} ms, p99 ${fmt(run.p99, 2)} ms, ` +
          `${fmt(run.cpuMs, 3)} ms CPU/req, ${run.errors} errors${run.exhausted ? ' (ids exhausted: raise the count)' : ''}`);
      }
    }
  } finally {
    origin.close();
  }
  const queueRows = await compareQueueMode();

  const sizes = {};
  if (!options['skip-size']) {
    for (const name of targetNames) {
      log(`measuring the upload size of ${name}`);
      sizes[name] = uploadSize(name);
    }
  }

  const lines = [];
  const cpuModel = os.cpus()[0]?.model ?? 'unknown CPU';
  lines.push(`Machine: ${os.cpus().length} cores (${cpuModel}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, ` +
    `Node ${process.version}, workerd from miniflare ${JSON.parse(readFileSync(`${ROOT}node_modules/miniflare/package.json`, 'utf8')).version}; ` +
    `KV: ${options.kv === 'memory' ? 'a Map in the isolate (--kv memory)' : "Miniflare's local KV"}; ` +
    `console: ${PRODUCTION_CONSOLE ? 'as deployed, each argument serialized to JSON (--console production)' : "local workerd's, formatted and printed (--console local)"}; wrk -t1 -c${CONNECTIONS}; per cell ${ROUNDS} rounds of ${DURATION} s, each after ${WARMUP} s of warm-up, targets taking turns; ` +
    `req/s and latencies are means over the rounds, CPU is total workerd CPU over total requests; ${new Date().toISOString().slice(0, 10)}.`);
  lines.push('');
  lines.push('| body | target | req/s | p50 ms | p99 ms | errors | CPU ms/req | CPU over pass-through |');
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|');
  for (const size of SIZES) {
    const floor = results[`passthrough/${size}`];
    for (const name of targetNames) {
      const r = results[`${name}/${size}`];
      const over = floor && name !== 'passthrough' ? fmt(r.cpuMs - floor.cpuMs, 3) : '—';
      lines.push(`| ${kib(size)} | ${TARGETS[name].label} | ${fmt(r.rps)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${r.errors}${r.exhausted ? ' (ids reused)' : ''} | ${fmt(r.cpuMs, 3)} | ${over} |`);
    }
  }
  if (targetNames.includes('hookgate') && targetNames.some((n) => !TARGETS[n].hookgate)) {
    lines.push('');
    lines.push('hookgate against each baseline, same run (req/s ratio: higher is better; CPU ratio: lower is better):');
    lines.push('');
    lines.push('| body | baseline | req/s ratio | CPU/req ratio |');
    lines.push('|---|---|---:|---:|');
    for (const size of SIZES) {
      const mine = results[`hookgate/${size}`];
      for (const name of targetNames.filter((n) => !TARGETS[n].hookgate)) {
        const theirs = results[`${name}/${size}`];
        lines.push(`| ${kib(size)} | ${TARGETS[name].label} | ${ratio(mine.rps, theirs.rps)} | ${ratio(mine.cpuMs, theirs.cpuMs)} |`);
      }
    }
  }
  const small = SIZES.filter((s) => s <= 16384);
  const big = SIZES.filter((s) => s > 16384);
  if (small.length && big.length) {
    const low = Math.max(...small);
    const high = Math.max(...big);
    lines.push('');
    lines.push(`Hashing cost: growth of CPU per request from ${kib(low)} to ${kib(high)}, per MB of body:`);
    lines.push('');
    lines.push('| target | CPU ms per MB | ratio to JS + WebCrypto |');
    lines.push('|---|---:|---:|');
    const perMb = (name) =>
      (results[`${name}/${high}`].cpuMs - results[`${name}/${low}`].cpuMs) / ((high - low) / 1048576);
    for (const name of targetNames) {
      const base = targetNames.includes('js-webcrypto') ? perMb('js-webcrypto') : NaN;
      lines.push(`| ${TARGETS[name].label} | ${fmt(perMb(name), 3)} | ${ratio(perMb(name), base)} |`);
    }
  }
  if (queueRows.length) {
    lines.push('');
    lines.push('Direct and queue mode from the sender\'s side (1 KB; same rounds and durations; "at the origin" counts the deliveries the origin read during the measured seconds):');
    lines.push('');
    lines.push('| origin answers | mode | req/s | p50 ms | p99 ms | errors | at the origin | CPU ms/req |');
    lines.push('|---|---|---:|---:|---:|---:|---:|---:|');
    for (const r of queueRows) {
      lines.push(`| ${r.delay === 0 ? 'at once' : `after ${r.delay / 1000} s`} | ${r.name === 'hookgate' ? 'direct' : 'queue'} | ${fmt(r.rps)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${r.errors}${r.exhausted ? ' (ids reused)' : ''} | ${r.received} | ${fmt(r.cpuMs, 3)} |`);
    }
  }
  if (Object.keys(sizes).length) {
    lines.push('');
    lines.push('Upload size (`wrangler deploy --dry-run`), against the free plan\'s 3 MB limit:');
    lines.push('');
    lines.push('| target | raw KiB | gzip KiB | share of 3 MB (gzip) |');
    lines.push('|---|---:|---:|---:|');
    for (const name of targetNames) {
      const s = sizes[name];
      lines.push(`| ${TARGETS[name].label} | ${s ? fmt(s.raw, 1) : '—'} | ${s ? fmt(s.gzip, 1) : '—'} | ${s ? `${fmt((s.gzip / 3072) * 100, 1)} %` : '—'} |`);
    }
  }
  lines.push('');
  lines.push(`(${Math.round((Date.now() - started) / 1000)} s in all)`);
  const table = lines.join('\n');
  writeFileSync(`${OUT}results.md`, `${table}\n`);
  writeFileSync(`${OUT}results.json`, JSON.stringify({ results, sizes }, null, 2));
  console.log(table);
}

await main();
