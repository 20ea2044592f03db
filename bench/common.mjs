// What the benchmark and the profiler share: the origin, the in-isolate KV,
// the target Worker in workerd, the pre-signed deliveries and the wrk load.
import { execFileSync, spawn } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { basename, dirname } from 'node:path';
import { Miniflare } from 'miniflare';
import { QUEUE_CONSUMERS } from '../tests/e2e/harness.mjs';

export const ROOT = new URL('..', import.meta.url).pathname;
export const OUT = `${ROOT}bench/out/`;
// Fresh keys for every run: nothing in the repository is a key.
export const KEY = `whsec_${randomBytes(24).toString('base64')}`;
export const SECOND_KEY = `whsec_${randomBytes(24).toString('base64')}`;

export function log(message) {
  process.stderr.write(`bench: ${message}\n`);
}

/**
 * A release build of hookgate that keeps the wasm name section and the
 * JavaScript's names (HOOKGATE_KEEP_NAMES), copied to bench/out/`dirName`
 * (or the copy there, with `skip`): what a profile and the crossings meter
 * read names from. Returns its script's path.
 */
export function namedBuild(dirName, skip = false) {
  const dir = `${OUT}${dirName}`;
  if (!skip) {
    log(`building hookgate with its names (into bench/out/${dirName})`);
    execFileSync('bash', [`${ROOT}scripts/build.sh`], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, HOOKGATE_KEEP_NAMES: '1' },
    });
    rmSync(dir, { recursive: true, force: true });
    cpSync(`${ROOT}build`, dir, { recursive: true });
    // The next plain build must not take this one for up to date.
    rmSync(`${ROOT}build/.inputs`, { force: true });
  }
  return `${dir}/index.js`;
}

/**
 * The fastest origin Node can be: read the body, answer 200; with `delayMs`,
 * an origin that takes that long to answer. `received` counts the requests
 * it has read.
 */
export async function startOrigin(delayMs = 0) {
  const origin = { received: 0 };
  const server = http.createServer((req, res) => {
    req.on('data', () => {});
    req.on('end', () => {
      origin.received += 1;
      const answer = () => {
        res.writeHead(200, { 'content-length': '2' });
        res.end('ok');
      };
      if (delayMs > 0) setTimeout(answer, delayMs);
      else answer();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin.url = `http://127.0.0.1:${server.address().port}/`;
  origin.close = () => {
    server.closeAllConnections();
    server.close();
  };
  return origin;
}

/** KV's three methods over a Map, as a wrapped binding (--kv memory). */
export const MEMORY_KV = `
const entries = new Map();
export default function () {
  return {
    async get(key) { return entries.get(key) ?? null; },
    async put(key, value) { entries.set(key, String(value)); },
    async delete(key) { entries.delete(key); },
  };
}`;

/**
 * The console as the deployed runtime runs it, for `--console production`:
 * workerd's Worker::handleLog (src/workerd/io/worker.c++) serializes each
 * argument to JSON for Workers Logs (a plain object, array or primitive as
 * JSON, anything else as its string), and only a local workerd also formats
 * every argument with Node's util.inspect (in JavaScript) and writes it to
 * stdout. That local printing is not a deployed Worker's cost.
 */
const PRODUCTION_CONSOLE = `
let logged;
const plain = (arg) => {
  if (arg === null || typeof arg !== 'object' || Array.isArray(arg) || typeof arg.toJSON === 'function') return true;
  const proto = Object.getPrototypeOf(arg);
  return proto === Object.prototype || proto === null;
};
const serialized = (arg) => {
  try {
    return (plain(arg) ? JSON.stringify(arg) : JSON.stringify(String(arg))) ?? 'null';
  } catch {
    return '{}';
  }
};
for (const level of ['log', 'info', 'debug', 'warn', 'error']) {
  console[level] = (...args) => {
    logged = '[' + args.map(serialized).join(', ') + ']';
  };
}
`;

/**
 * An entry module that puts a Map-backed `caches.default` in place of the
 * runtime's (and, with `productionConsole`, the deployed runtime's console
 * in place of local workerd's), then re-exports the target Worker (`--kv
 * memory`).
 */
function memoryCacheEntry(target, productionConsole, countCrossings) {
  return `${countCrossings ? "import './bench-crossings.mjs';" : ''}
${productionConsole ? PRODUCTION_CONSOLE : ''}
const entries = new Map();
const memory = {
  async match(url) {
    const entry = entries.get(String(url));
    if (!entry || entry.expires <= Date.now()) return undefined;
    return new Response(entry.body, { headers: entry.headers });
  },
  async put(url, response) {
    const age = /max-age=(\\d+)/.exec(response.headers.get('cache-control') ?? '');
    const headers = Object.fromEntries(response.headers);
    entries.set(String(url), { body: await response.text(), headers, expires: Date.now() + Number(age?.[1] ?? 0) * 1000 });
  },
  async delete(url) {
    return entries.delete(String(url));
  },
};
Object.defineProperty(globalThis, 'caches', { value: { default: memory }, configurable: true });
export * from '${target}';
${countCrossings ? COUNTED_DEFAULT(target) : `export { default } from '${target}';`}
`;
}

/**
 * For `countCrossings`: a module evaluated before the target's, which wraps
 * every function the wasm module imports from JavaScript and every function
 * it exports, through `WebAssembly.Instance`, so each call across the
 * boundary is counted by name (the import and export names are the wasm
 * module's own, so a minified bundle counts the same). Nothing of the
 * target is changed; `GET /__crossings` on the entry answers the counts
 * since the last such request, as JSON, and starts them again.
 */
const CROSSINGS_MODULE = `
const counts = (globalThis.__hookgateCrossings = {});
const counted = (name, fn) =>
  function (...args) {
    counts[name] = (counts[name] ?? 0) + 1;
    return fn.apply(this, args);
  };
const Instance = WebAssembly.Instance;
WebAssembly.Instance = function (module, imports) {
  const wrapped = {};
  for (const [space, functions] of Object.entries(imports)) {
    wrapped[space] = {};
    for (const [name, value] of Object.entries(functions)) {
      wrapped[space][name] = typeof value === 'function' ? counted('import ' + name, value) : value;
    }
  }
  const instance = new Instance(module, wrapped);
  const exports = {};
  for (const [name, value] of Object.entries(instance.exports)) {
    exports[name] = typeof value === 'function' ? counted('export ' + name, value) : value;
  }
  return { exports };
};
`;

const COUNTED_DEFAULT = (target) => `import target from '${target}';
export default {
  ...target,
  fetch(request, env, ctx) {
    if (new URL(request.url).pathname === '/__crossings') {
      const counts = globalThis.__hookgateCrossings;
      const answer = JSON.stringify(counts);
      for (const name of Object.keys(counts)) delete counts[name];
      return new Response(answer);
    }
    return target.fetch(request, env, ctx);
  },
};`;

/**
 * One target Worker in its own workerd (Miniflare), in front of `originUrl`.
 * `target` is { scriptPath, wasm, durable, queue, twoKeys } as in run.mjs's
 * TARGETS; `memoryKv` puts MEMORY_KV in place of Miniflare's local KV;
 * `countCrossings` counts every call between the target's JavaScript and
 * its wasm (CROSSINGS_MODULE; with `memoryKv` only);
 * `inspect` opens workerd's inspector on a free loopback port (read it
 * with `mf.getInspectorURL()`).
 */
export async function startTarget(target, { originUrl, memoryKv = false, productionConsole = false, inspect = false, countCrossings = false }) {
  const worker = {
    name: 'target',
    modules: true,
    scriptPath: target.scriptPath,
    modulesRoot: dirname(target.scriptPath),
    modulesRules: target.wasm ? [{ type: 'CompiledWasm', include: ['**/*.wasm'] }] : undefined,
    compatibilityDate: '2026-04-20',
    kvNamespaces: memoryKv ? undefined : ['REPLAY_KV'],
    wrappedBindings: memoryKv ? { REPLAY_KV: 'memory-kv' } : undefined,
    durableObjects: target.durable ? { REPLAY_DO: { className: 'ReplayShard', useSQLite: true } } : undefined,
    // Queue mode as wrangler.toml's queue-mode block sets it up.
    queueProducers: target.queue ? { DELIVERY_QUEUE: { queueName: 'hookgate-deliveries' } } : undefined,
    queueConsumers: target.queue ? QUEUE_CONSUMERS : undefined,
    bindings: {
      ...(target.queue ? { DELIVERY: 'queue', ORIGIN_SECRET: SECOND_KEY } : {}),
      REPLAY_STORE: target.durable ? 'durable-object' : 'kv',
      // One key for every target, so all do the same work; two for the
      // rotation target, where the delivery is signed with the second.
      WEBHOOK_SECRET: target.twoKeys ? `${SECOND_KEY} ${KEY}` : KEY,
      ORIGIN_URL: originUrl,
      MAX_BODY_BYTES: String(2 * 1024 * 1024),
    },
  };
  if (memoryKv) {
    // The location's cache (the Cache API) as a Map in the isolate too: in
    // Miniflare it is another local storage service whose CPU (about 0.1 ms
    // a call) would drown the Worker's own, as local KV's does; in
    // production both are I/O. The Worker's calls are the same.
    const entry = `${dirname(target.scriptPath)}/bench-memory-cache-entry.mjs`;
    worker.scriptPath = undefined;
    worker.modules = [
      { type: 'ESModule', path: entry, contents: memoryCacheEntry(`./${basename(target.scriptPath)}`, productionConsole, countCrossings) },
      ...(countCrossings ? [{ type: 'ESModule', path: `${dirname(target.scriptPath)}/bench-crossings.mjs`, contents: CROSSINGS_MODULE }] : []),
      { type: 'ESModule', path: target.scriptPath },
      ...(target.wasm ? [{ type: 'CompiledWasm', path: `${dirname(target.scriptPath)}/index_bg.wasm` }] : []),
    ];
    worker.modulesRules = undefined;
  }
  const mf = new Miniflare({
    workers: memoryKv ? [worker, { name: 'memory-kv', modules: true, script: MEMORY_KV }] : [worker],
    cf: false,
    host: '127.0.0.1',
    port: 0,
    ...(inspect ? { inspectorPort: 0 } : {}),
    // The Workers' per-request log lines would swamp the output; they are
    // read and dropped (a stream left unread fills its pipe and stalls
    // workerd on its next log line).
    handleRuntimeStdio(stdout, stderr) {
      stdout.resume();
      stderr.resume();
    },
  });
  const url = await mf.ready;
  return { url: url.href, mf };
}

export const LUA = `
local ids, sigs, body, ts, i = {}, {}, nil, nil, 0
function init(args)
  local f = assert(io.open(args[1], "r"))
  ts = f:read("*l")
  for line in f:lines() do
    local id, sig = line:match("^(%S+) (.+)$")
    ids[#ids + 1] = id
    sigs[#sigs + 1] = sig
  end
  f:close()
  local b = assert(io.open(args[2], "rb"))
  body = b:read("*a")
  b:close()
end
function request()
  i = i + 1
  local k = ((i - 1) % #ids) + 1
  return wrk.format("POST", "/", {
    ["content-type"] = "application/json",
    ["webhook-id"] = ids[k],
    ["webhook-timestamp"] = ts,
    ["webhook-signature"] = sigs[k],
  }, body)
end
`;

export function makeBody(size) {
  const head = '{"id":"EVbench","apiVersion":"2026-03-30","type":"message.received","data":{"resource":{"text":"';
  const tail = '"}}}';
  return Buffer.from(head + 'x'.repeat(Math.max(0, size - head.length - tail.length)) + tail);
}

/** Signs `count` deliveries of `body`, each with its own id, into a file wrk reads. */
export function presign(body, count, tag) {
  const secret = Buffer.from(KEY.slice(6), 'base64');
  const timestamp = Math.floor(Date.now() / 1000);
  const lines = [String(timestamp)];
  const run = randomUUID().slice(0, 8);
  for (let n = 0; n < count; n += 1) {
    const id = `msg_${run}_${tag}_${n}`;
    const mac = createHmac('sha256', secret).update(`${id}.${timestamp}.`).update(body).digest('base64');
    lines.push(`${id} v1,${mac}`);
  }
  const file = `${OUT}ids-${tag}.txt`;
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** Runs wrk without blocking this process: the origin lives in its event loop. */
export function runWrk(url, seconds, idsFile, bodyFile, connections = 8) {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '--latency', '-s', `${OUT}deliveries.lua`, url, '--', idsFile, bodyFile];
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const killer = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      if (code !== 0 || !/requests in/.test(stdout)) reject(new Error(`wrk failed (${code}): ${stderr || stdout}`));
      else resolve(parseWrk(stdout));
    });
  });
}

function toMs(text) {
  const match = text.match(/([\d.]+)(us|ms|s)/);
  if (!match) return NaN;
  const value = Number(match[1]);
  return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
}

function parseWrk(out) {
  const requests = Number(out.match(/(\d+) requests in/)?.[1] ?? 0);
  const non2xx = Number(out.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
  const socket = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const socketErrors = socket ? socket.slice(1).map(Number).reduce((a, b) => a + b, 0) : 0;
  return {
    requests,
    rps: Number(out.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? 0),
    p50: toMs(out.match(/ 50%\s+(\S+)/)?.[1] ?? ''),
    p99: toMs(out.match(/ 99%\s+(\S+)/)?.[1] ?? ''),
    errors: non2xx + socketErrors,
  };
}

