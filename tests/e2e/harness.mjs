// Runs the built Worker (build/index.js, made by scripts/build.sh) in real
// workerd through Miniflare, in front of a real HTTP origin on a random
// loopback port, and signs deliveries with the standardwebhooks npm library
// as a sender would.
import { Miniflare } from 'miniflare';
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { Webhook } from 'standardwebhooks';
// Node 20 has no global WebSocket client.
import WebSocket from 'ws';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const SENDER_KEY = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
export const ROTATED_KEY = 'whsec_cm90YXRlZC1rZXktZm9yLWVuZC10by1lbmQ=';
export const ORIGIN_KEY = 'whsec_b3JpZ2luLWtleS1mb3ItZW5kLXRvLWVuZA==';
export const STRANGER_KEY = 'whsec_c29tZW9uZS1lbHNlcy1rZXk=';

/** Each sender scheme's route secret in the tests, as its sender shows it. */
export const SCHEME_SECRETS = {
  'standard-webhooks': SENDER_KEY,
  'quo-legacy': 'R2ZLM2o0bFhBNVpyUnU2NG9mYXQ1MHNyR3pvSUhIVVg=',
  github: "It's a Secret to Everybody",
  stripe: 'whsec_c3RyaXBlLWxvb2tpbmctc2VjcmV0LW5vdC1iYXNlNjQtZGVjb2RlZA',
  slack: '8f742231b10e8888abcd99yyyzzz85a5',
  shopify: 'shpss_0123456789abcdef0123456789abcdef',
};
/** For each scheme, a secret of the right shape that is not the route's. */
export const WRONG_SECRETS = {
  'standard-webhooks': STRANGER_KEY,
  'quo-legacy': 'cm90YXRlZC1xdW8tbGVnYWN5LWtleS0x',
  github: 'not the github secret',
  stripe: 'whsec_bm90LXRoZS1zdHJpcGUtc2VjcmV0',
  slack: '00000000000000000000000000000000',
  shopify: 'shpss_not_the_shopify_secret_000000',
};
/** The name of the binding that holds a scheme's route secret. */
export const secretBinding = (scheme) => `${scheme.toUpperCase().replace('-', '_')}_SECRET`;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const nowSeconds = () => Math.floor(Date.now() / 1000);
export const newId = () => `msg_${randomUUID().replaceAll('-', '')}`;

/** Polls `check` every 100 ms until it returns true (true), or `ms` passed (false). */
export async function poll(check, ms) {
  const until = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await sleep(100);
  }
}

/** Polls `check` until it returns true, or fails after `ms`. */
export async function eventually(check, ms, what) {
  if (!(await poll(check, ms))) assert.fail(`not within ${ms} ms: ${what}`);
}

/**
 * An origin that records every request and answers with `behavior(entry)`:
 * `{ status, delayMs, headers }`. The default accepts with 200.
 */
export async function startOrigin() {
  const received = [];
  let behavior = () => ({ status: 200 });
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', async () => {
      const entry = { method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks) };
      received.push(entry);
      const answer = await behavior(entry);
      if (answer.delayMs) await sleep(answer.delayMs);
      if (res.destroyed) return;
      res.writeHead(answer.status ?? 200, answer.headers ?? {});
      res.end(answer.body ?? 'origin body: must never reach the sender');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/in`,
    received,
    /** Requests that carried this webhook-id. */
    receivedFor: (id) => received.filter((entry) => entry.headers['webhook-id'] === id),
    answer(fn) {
      behavior = fn;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  };
}

/** A loopback URL where nothing listens: the origin refuses connections. */
export async function refusedUrl() {
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}/in`;
}

/**
 * The webhook-id whose replay-store read, on a switchable KV (route `/`),
 * throws a WebAssembly.RuntimeError out of the wasm module mid-delivery, as
 * a trap (a panic, running out of memory) would.
 */
export const SIMULATED_TRAP_ID = 'msg_simulated_trap';
const SIMULATED_TRAP_KEY = `hookgate:v1:${createHash('sha256').update(SIMULATED_TRAP_ID).digest('hex')}`;

/**
 * A KV binding in front of a real local namespace that fails on command, to
 * show what the gate does when the store is down. It runs as a wrapped
 * binding: the gate sees an object with KV's methods.
 */
const SWITCHABLE_KV = `
export default function (env) {
  async function check(operation, value) {
    const answer = await env.CONTROL.fetch('http://control/' + operation + '/' + (value ?? ''));
    if ((await answer.text()) === 'fail') throw new Error('KV unavailable (simulated)');
  }
  return {
    get(key, options) {
      if (key === '${SIMULATED_TRAP_KEY}') throw new WebAssembly.RuntimeError('unreachable (simulated trap)');
      return check('get').then(() => env.INNER.get(key, options));
    },
    async getWithMetadata(key, options) { await check('get'); return env.INNER.getWithMetadata(key, options); },
    async put(key, value, options) { await check('put', value); return env.INNER.put(key, value, options); },
    async delete(key) { await check('delete'); return env.INNER.delete(key); },
    async list(options) { return env.INNER.list(options); },
  };
}`;

/**
 * An Analytics Engine dataset that records what it is given (the real one is
 * a no-op locally): `gate.metricPoints()` lists the points written.
 */
const RECORDING_METRICS = `
export default function (env) {
  return {
    writeDataPoint(point) {
      env.POINTS.fetch('http://points/', { method: 'POST', body: JSON.stringify(point) });
    },
  };
}`;

/**
 * A Queues producer in front of the real local queue that refuses on
 * command, to show what the gate does when the queue is down.
 */
const SWITCHABLE_QUEUE = `
export default function (env) {
  return {
    async send(body, options) {
      const answer = await env.CONTROL.fetch('http://control/queue');
      if ((await answer.text()) === 'fail') throw new Error('queue unavailable (simulated)');
      return env.INNER.send(body, options);
    },
    async sendBatch(messages, options) {
      return env.INNER.sendBatch(messages, options);
    },
  };
}`;

/**
 * The meter (option `meter`): a wrapped binding in front of each billable
 * binding, telling the harness (service METER, a function in this process)
 * of every operation as it is passed on, so what the gate does is counted
 * where the runtime would bill it, never estimated. It cannot see what the
 * runtime does by itself: a message it moves to the dead-letter queue, its
 * own retries, an object's alarm storage (getAlarm, setAlarm); nor the
 * Cache API (free) and Analytics Engine; nor counts an isolate still holds
 * (written to the log once a minute).
 *
 * KV: each call by kind (get, getWithMetadata, put, delete, list).
 */
const METERED_KV = `
export default function (env) {
  const count = (kind) => env.METER.fetch('http://meter/kv/' + kind);
  return {
    async get(key, options) { await count('get'); return env.INNER.get(key, options); },
    async getWithMetadata(key, options) { await count('getWithMetadata'); return env.INNER.getWithMetadata(key, options); },
    async put(key, value, options) { await count('put'); return env.INNER.put(key, value, options); },
    async delete(key) { await count('delete'); return env.INNER.delete(key); },
    async list(options) { await count('list'); return env.INNER.list(options); },
  };
}`;

/**
 * The Durable Object namespace bound as `namespace`: every stub.fetch is
 * one request to the object of that name, counted with the SQLite rows the
 * object says its request wrote (the x-hookgate-rows-written header of its
 * answer, src/glue/io.rs). A call that throws is counted without rows.
 */
const meteredObjects = (namespace) => `
export default function (env) {
  const names = new Map();
  const stubOf = (name, stub) => ({
    async fetch(input, init) {
      let written = '';
      try {
        const response = await stub.fetch(input, init);
        written = response.headers.get('x-hookgate-rows-written') ?? '';
        return response;
      } finally {
        await env.METER.fetch('http://meter/do/${namespace}/' + encodeURIComponent(name) + '?' + new URLSearchParams({ written }));
      }
    },
  });
  return {
    idFromName(name) {
      const id = env.INNER.idFromName(name);
      names.set(id.toString(), name);
      return id;
    },
    idFromString: (text) => env.INNER.idFromString(text),
    newUniqueId: (options) => env.INNER.newUniqueId(options),
    get(id, options) {
      const name = names.get(id.toString()) ?? id.toString();
      return stubOf(name, env.INNER.get(id, options));
    },
  };
}`;

/**
 * A Queues producer: each message sent, with the key hookgate gave it and
 * its size (the bytes of its strings and byte arrays, a little under the
 * structured clone's: Queues bills per 64 KB, and hookgate's messages are
 * a body and a few short fields).
 */
const METERED_QUEUE = `
const encoder = new TextEncoder();
function sizeOf(value) {
  if (value === null || value === undefined) return 1;
  if (typeof value === 'string') return encoder.encode(value).length;
  if (typeof value === 'number' || typeof value === 'boolean') return 8;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value.byteLength;
  let size = 0;
  for (const [name, field] of Object.entries(value)) size += (Array.isArray(value) ? 0 : sizeOf(name)) + sizeOf(field);
  return size;
}
export default function (env) {
  const count = (messages) =>
    env.METER.fetch('http://meter/queue', {
      method: 'POST',
      body: JSON.stringify(messages.map((body) => ({ key: typeof body?.key === 'string' ? body.key : null, bytes: sizeOf(body) }))),
    });
  return {
    async send(body, options) { await count([body]); return env.INNER.send(body, options); },
    async sendBatch(messages, options) { await count(messages.map((m) => m.body)); return env.INNER.sendBatch(messages, options); },
  };
}`;

/** Queues bill each message's write, read and delete per 64 KB. */
export const QUEUE_CHUNK_BYTES = 64 * 1024;

/** A DELIVERY_LOG binding that is down: every call throws. */
const BROKEN_LOG = `
export default function () {
  const down = () => { throw new Error('delivery log unavailable (simulated)'); };
  return { idFromName: down, get: down };
}`;

/**
 * Starts the gate in workerd with these settings (strings, as wrangler
 * passes vars; without ROUTES, WEBHOOK_SECRET is SENDER_KEY unless given; a
 * setting given as undefined is left unbound). `logs` holds what the Worker printed.
 * Options:
 * - `switchableKv`: REPLAY_KV fails on command: `failKv({ get, put, delete })`
 *   makes those operations throw; `put` may name a value prefix ('done') to
 *   fail only those writes. A read for SIMULATED_TRAP_ID traps.
 * - `noDurable`: with REPLAY_STORE=durable-object, REPLAY_DO is left unbound.
 * - `twin`: a second isolate of the gate over the same stores, `twinFetch()`.
 * - `neighbour`: settings over the gate's for a second gate on the same
 *   zone, another deployment: its own KV namespace and objects, the same
 *   location cache (the zone's), `neighbourFetch()`. Not with the switches.
 * - `metrics`: METRICS records the data points written, `metricPoints()`.
 * - `noLog`: DELIVERY_LOG is left unbound.
 * - `brokenLog`: DELIVERY_LOG is bound, and every call to it throws.
 * - `queues`: the delivery and dead-letter queues with their consumers, and
 *   `sendDeadLetter()`.
 * - `switchableQueue`: with `queues`, DELIVERY_QUEUE refuses sends while
 *   `failQueue(true)`.
 * - `inspect`: workerd's inspector on a free port, for `isolateMemory()`.
 * - `meter`: every billable binding the gate has (REPLAY_KV, REPLAY_DO,
 *   DELIVERY_LOG, DELIVERY_QUEUE) counts what it is asked: `meter()`.
 *   Not with the other bindings' switches.
 * - `persist`: a directory the Durable Objects' storage is kept in, across
 *   gates (an upgrade: what an older build, or a stand-in, left there).
 */
export async function startGate(
  settings,
  {
    switchableKv = false,
    noDurable = false,
    twin = false,
    neighbour,
    metrics = false,
    noLog = false,
    brokenLog = false,
    queues = false,
    switchableQueue = false,
    inspect = false,
    meter = false,
    persist,
  } = {},
) {
  if (meter && (switchableKv || brokenLog || switchableQueue)) {
    throw new Error('startGate: the meter wraps the bindings the switches would');
  }
  const durable = settings.REPLAY_STORE === 'durable-object' && !noDurable;
  const logs = [];
  // The switches of `failKv` and `failQueue`.
  let kvRules = {};
  let queueDown = false;
  const gate = {
    name: 'gate',
    modules: true,
    scriptPath: `${ROOT}build/index.js`,
    modulesRules: [{ type: 'CompiledWasm', include: ['**/*.wasm'] }],
    compatibilityDate: '2026-04-20',
    // A setting given as undefined is left unbound. The single route's
    // secret is the default only without ROUTES (beside ROUTES it is refused).
    bindings: Object.fromEntries(
      Object.entries({ ...(settings.ROUTES === undefined ? { WEBHOOK_SECRET: SENDER_KEY } : {}), ...settings }).filter(
        ([, value]) => value !== undefined,
      ),
    ),
  };
  const workers = [gate];
  if (switchableKv) {
    gate.wrappedBindings = { REPLAY_KV: 'switchable-kv' };
    workers.push({
      name: 'switchable-kv',
      modules: true,
      script: SWITCHABLE_KV,
      kvNamespaces: { INNER: 'replay' },
      serviceBindings: {
        async CONTROL(request) {
          const [, operation, value] = new URL(request.url).pathname.split('/');
          const rule = kvRules[operation];
          const fail = rule === true || (typeof rule === 'string' && decodeURIComponent(value).startsWith(rule));
          return new Response(fail ? 'fail' : 'ok');
        },
      },
    });
  } else {
    gate.kvNamespaces = { REPLAY_KV: 'replay' };
  }
  gate.durableObjects = {};
  if (durable) {
    gate.durableObjects.REPLAY_DO = { className: 'ReplayShard', useSQLite: true };
  }
  if (brokenLog) {
    gate.wrappedBindings = { ...gate.wrappedBindings, DELIVERY_LOG: 'broken-log' };
    workers.push({ name: 'broken-log', modules: true, script: BROKEN_LOG });
  } else if (!noLog) {
    gate.durableObjects.DELIVERY_LOG = { className: 'DeliveryLog', useSQLite: true };
  }
  if (queues) {
    gate.queueConsumers = QUEUE_CONSUMERS;
    // Producers on both queues, for tests that put a message there as the
    // runtime would after the queue's own retries ran out, or as a gate
    // with other settings accepted it earlier.
    gate.queueProducers = {
      TEST_DEAD_LETTERS: { queueName: 'hookgate-dead-letters' },
      TEST_DELIVERIES: { queueName: 'hookgate-deliveries' },
    };
    if (switchableQueue) {
      gate.wrappedBindings = { ...gate.wrappedBindings, DELIVERY_QUEUE: 'switchable-queue' };
      workers.push({
        name: 'switchable-queue',
        modules: true,
        script: SWITCHABLE_QUEUE,
        queueProducers: { INNER: { queueName: 'hookgate-deliveries' } },
        serviceBindings: {
          async CONTROL() {
            return new Response(queueDown ? 'fail' : 'ok');
          },
        },
      });
    } else {
      gate.queueProducers.DELIVERY_QUEUE = { queueName: 'hookgate-deliveries' };
    }
  }
  const points = [];
  if (metrics) {
    gate.wrappedBindings = { ...gate.wrappedBindings, METRICS: 'recording-metrics' };
    workers.push({
      name: 'recording-metrics',
      modules: true,
      script: RECORDING_METRICS,
      serviceBindings: {
        async POINTS(request) {
          points.push(JSON.parse(await request.text()));
          return new Response('ok');
        },
      },
    });
  }
  const metered = newMeter();
  if (meter) {
    const meterService = { async METER(request) { return metered.record(request); } };
    gate.wrappedBindings = { ...gate.wrappedBindings, REPLAY_KV: 'metered-kv' };
    delete gate.kvNamespaces;
    workers.push({ name: 'metered-kv', modules: true, script: METERED_KV, kvNamespaces: { INNER: 'replay' }, serviceBindings: meterService });
    for (const [name, object] of Object.entries(gate.durableObjects)) {
      const wrapper = `metered-${name.toLowerCase().replaceAll('_', '-')}`;
      gate.wrappedBindings[name] = wrapper;
      // The same class, bound again without the meter: the harness's own
      // calls (shardRows, logMeta, the meter's reading) are not the gate's.
      gate.durableObjects[`UNMETERED_${name}`] = object;
      delete gate.durableObjects[name];
      workers.push({
        name: wrapper,
        modules: true,
        script: meteredObjects(name),
        durableObjects: { INNER: { ...object, scriptName: 'gate' } },
        serviceBindings: meterService,
      });
    }
    if (queues) {
      gate.wrappedBindings.DELIVERY_QUEUE = 'metered-queue';
      delete gate.queueProducers.DELIVERY_QUEUE;
      workers.push({
        name: 'metered-queue',
        modules: true,
        script: METERED_QUEUE,
        queueProducers: { INNER: { queueName: 'hookgate-deliveries' } },
        serviceBindings: meterService,
      });
    }
  }
  /** The namespace the harness itself calls an object class through. */
  const objectsOf = (name) => mf.getDurableObjectNamespace(meter ? `UNMETERED_${name}` : name, 'gate');
  if (twin) {
    // A second isolate of the same Worker over the same stores, as another
    // machine or location would be: what one isolate holds, it does not see.
    workers.push({
      ...gate,
      name: 'gate-twin',
      durableObjects: Object.fromEntries(
        Object.entries(gate.durableObjects).map(([name, object]) => [name, { ...object, scriptName: 'gate' }]),
      ),
    });
  }
  if (neighbour) {
    workers.push({
      ...gate,
      name: 'gate-neighbour',
      bindings: { ...gate.bindings, ...neighbour },
      kvNamespaces: { REPLAY_KV: 'replay-neighbour' },
    });
  }
  const mf = new Miniflare({
    workers,
    cf: false, // a placeholder Request.cf: never fetch the real one from the network
    ...(persist ? { durableObjectsPersist: persist } : {}),
    host: '127.0.0.1',
    port: 0,
    // With `inspect`: workerd's inspector on a free loopback port, for
    // `isolateMemory()`.
    ...(inspect ? { inspectorPort: 0 } : {}),
    handleRuntimeStdio(stdout, stderr) {
      for (const stream of [stdout, stderr]) {
        stream.setEncoding('utf8');
        stream.on('data', (text) => logs.push(...text.split('\n').filter(Boolean)));
      }
    },
  });
  const url = await mf.ready;
  const logShard = async (shard, path, body = '') => {
    const namespace = await objectsOf('DELIVERY_LOG');
    const stub = namespace.get(namespace.idFromName(shard === 0 ? 'delivery-log' : `delivery-log-${shard}`));
    return stub.fetch(`https://delivery-log${path}`, { method: 'POST', body });
  };
  const twinWorker = twin ? await mf.getWorker('gate-twin') : null;
  const neighbourWorker = neighbour ? await mf.getWorker('gate-neighbour') : null;
  return {
    url: url.href,
    mf,
    /** With `metrics`: the Analytics Engine data points written. */
    metricPoints: () => points,
    /**
     * The delivery log's own account, summed over its shards, and each
     * shard's in `shards`: requests handled (but these), write commands,
     * SQLite rows written, parts of records and dead letters held.
     */
    async logMeta() {
      const shards = [];
      for (let shard = 0; shard < LOG_SHARDS; shard += 1) shards.push(await (await logShard(shard, '/meta')).json());
      const total = { shards };
      for (const field of ['writes', 'requests', 'rows_written', 'deliveries', 'letters']) {
        total[field] = shards.reduce((sum, meta) => sum + meta[field], 0);
      }
      return total;
    },
    /**
     * The counts the delivery log holds since `sinceMs`, read from its
     * shards themselves and summed (as the admin API's stats, without
     * needing the API): `{ routes: { route: { reason: count } } }`.
     */
    async logStats(sinceMs = 0) {
      const routes = {};
      // Summed over the whole range (a span of 2^40 minutes, src/log/command.rs WHOLE).
      const whole = 2 ** 40;
      const query = `since=${Math.floor(sinceMs / 60_000)}&by=${whole}&span=${whole}`;
      for (let shard = 0; shard < LOG_SHARDS; shard += 1) {
        const rows = [...new URLSearchParams(await (await logShard(shard, '/stats', query)).text())];
        for (let i = 0; i + 3 < rows.length; i += 4) {
          const [, [, route], [, reason], [, count]] = rows.slice(i, i + 4);
          if (reason.startsWith('latency:')) continue; // the chart's latency buckets, not requests
          routes[route] ??= {};
          routes[route][reason] = (routes[route][reason] ?? 0) + Number(count);
        }
      }
      return { routes };
    },
    /**
     * POSTs `body` to `path` of one shard of the delivery log (0 to
     * LOG_SHARDS - 1), as the gate does: for tests that put parts of a
     * record in chosen shards.
     */
    logShard: (shard, path, body = '') => logShard(shard, path, body),
    /** Runs the cron trigger as if scheduled at `time` (a Date). */
    async scheduled(time) {
      const worker = await mf.getWorker('gate');
      return worker.scheduled({ scheduledTime: time, cron: '17 * * * *' });
    },
    /** With `twin`: a fetch to the second isolate. */
    twinFetch: (input, init) => twinWorker.fetch(input, init),
    /** With `neighbour`: a fetch to the other deployment. */
    neighbourFetch: (input, init) => neighbourWorker.fetch(input, init),
    logs,
    /**
     * Forgets what the location's cache holds for a replay text (the
     * single route's key): its one entry, the claim, queued or done mark or
     * cool-down, as a copy arriving at another location would find it.
     */
    async forgetCached(text) {
      if (settings.ROUTES !== undefined) throw new Error('forgetCached: for the single route only');
      const caches = await mf.getCaches();
      const sha256 = (value) => createHash('sha256').update(value).digest('hex');
      // The gate's part of the name: its routes' origins (src/glue/settings.rs).
      const scope = sha256(`${settings.ORIGIN_URL} `);
      await caches.default.delete(`https://hookgate.cache.invalid/${scope}/claim/v1/${sha256(text)}`);
    },
    /** With `switchableKv`: the store fails by these rules (see startGate). */
    failKv(rules) {
      kvRules = rules;
    },
    /** With `switchableQueue`: the delivery queue refuses while `down`. */
    failQueue(down) {
      queueDown = down;
    },
    /** With `queues`: puts a message on the dead-letter queue directly. */
    async sendDeadLetter(message) {
      const producer = await mf.getQueueProducer('TEST_DEAD_LETTERS', 'gate');
      await producer.send(message, { contentType: 'v8' });
    },
    /**
     * With `queues`: puts a message on the delivery queue directly, as a
     * gate (perhaps with other routes) would have queued it.
     */
    async sendQueued(message) {
      const producer = await mf.getQueueProducer('TEST_DELIVERIES', 'gate');
      await producer.send(message, { contentType: 'v8' });
    },
    /** Rows stored in every replay shard (Durable Object mode), expired or not. */
    async shardRows() {
      const namespace = await objectsOf('REPLAY_DO');
      let total = 0;
      for (let shard = 0; shard < 16; shard += 1) {
        const stub = namespace.get(namespace.idFromName(`replay-shard-${shard}`));
        const response = await stub.fetch('https://replay-shard/rows');
        total += Number(await response.text());
      }
      return total;
    },
    /**
     * With `inspect`: the gate isolate's own memory after a forced garbage
     * collection, in bytes: the V8 heap in use and the Wasm linear memory
     * (which never shrinks). Unlike the process's RSS, this leaves out
     * Miniflare's own services (KV, queues, storage) that share the process.
     */
    isolateMemory: () => isolateMemory(mf, url),
    /**
     * With `meter`: what the gate asked of its billable bindings so far
     * (see newMeter), with what each object it called says its start-up and
     * alarms used.
     */
    meter: () => metered.snapshot({ objectsOf, logs }),
    /** The namespace behind REPLAY_KV, to look at what the gate stored. */
    kv: () => {
      const wrapper = switchableKv ? 'switchable-kv' : meter ? 'metered-kv' : null;
      return wrapper ? mf.getKVNamespace('INNER', wrapper) : mf.getKVNamespace('REPLAY_KV', 'gate');
    },
    close: () => mf.dispose(),
  };
}

/** An object's count header as a number: 0 when missing (the log has no alarms). */
const countOf = (header) => Number(header ?? 0);
/** How many shards the delivery log has (src/log/mod.rs, SHARDS). */
export const LOG_SHARDS = 8;

/**
 * What the meter's wrapped bindings report (see METERED_KV), counted here.
 * `snapshot()` adds what each object the gate called says of its own
 * start-up and alarms (an alarm is billed as a request), and the queue
 * consumer's attempts: each message handed to the consumer is one read and
 * makes one structured log line (`hookgate: 'queue'`, src/observe.rs),
 * whose reason says whether it was then acknowledged (delivered, duplicate,
 * dead: kept in the log), a delete, or retried, to be read again.
 */
function newMeter() {
  const kv = { get: 0, getWithMetadata: 0, put: 0, delete: 0, list: 0 };
  const objects = {};
  const sent = [];
  return {
    async record(request) {
      const url = new URL(request.url);
      const [, kind, ...rest] = url.pathname.split('/');
      if (kind === 'kv') {
        kv[rest[0]] += 1;
      } else if (kind === 'do') {
        const [namespace, name] = rest.map(decodeURIComponent);
        const ns = (objects[namespace] ??= { requests: 0, rowsWritten: 0, unreported: 0, byObject: {} });
        ns.requests += 1;
        ns.byObject[name] = (ns.byObject[name] ?? 0) + 1;
        const written = url.searchParams.get('written');
        if (!/^\d+$/.test(written)) ns.unreported += 1;
        else ns.rowsWritten += Number(written);
      } else if (kind === 'queue') {
        sent.push(...JSON.parse(await request.text()));
      }
      return new Response('ok');
    },
    async snapshot({ objectsOf, logs }) {
      const copy = structuredClone(objects);
      for (const [namespace, counted] of Object.entries(copy)) {
        counted.startRowsWritten = 0;
        counted.alarms = 0;
        counted.alarmRowsWritten = 0;
        const stubs = await objectsOf(namespace);
        for (const name of Object.keys(counted.byObject)) {
          // The objects' test paths: a shard's /rows, the log's /meta.
          const stub = stubs.get(stubs.idFromName(name));
          const answer =
            namespace === 'DELIVERY_LOG'
              ? await stub.fetch('https://delivery-log/meta', { method: 'POST', body: '' })
              : await stub.fetch('https://replay-shard/rows');
          await answer.arrayBuffer();
          counted.startRowsWritten += countOf(answer.headers.get('x-hookgate-start-rows-written'));
          counted.alarms += countOf(answer.headers.get('x-hookgate-alarms'));
          counted.alarmRowsWritten += countOf(answer.headers.get('x-hookgate-alarm-rows-written'));
        }
      }
      const chunksOf = (bytes) => Math.max(1, Math.ceil(bytes / QUEUE_CHUNK_BYTES));
      const chunksByKey = new Map(sent.map((message) => [message.key, chunksOf(message.bytes)]));
      const queue = { messages: sent.length, writes: 0, reads: 0, deletes: 0, retries: 0, attempts: {} };
      for (const message of sent) queue.writes += chunksOf(message.bytes);
      // Each attempt's line, however the runtime broke it over lines.
      const attempts = logs.join('\n').matchAll(/hookgate: 'queue',[^}]*?reason: '([^']*)',[^}]*?key: '([^']*)'/g);
      for (const [, reason, key] of attempts) {
        const chunks = chunksByKey.get(key) ?? 1;
        queue.attempts[reason] = (queue.attempts[reason] ?? 0) + 1;
        queue.reads += chunks;
        if (['delivered', 'duplicate', 'dead'].includes(reason)) queue.deletes += chunks;
        else queue.retries += 1;
      }
      return { kv: { ...kv }, objects: copy, queue };
    },
  };
}

/**
 * Queue mode's consumers as wrangler.toml's queue-mode block sets them up
 * (deploy.test.mjs holds them to it), for the tests and the bench alike. Every field is set explicitly: Miniflare's defaults differ
 * from production's. Retries are hookgate's own (QUEUE_MAX_ATTEMPTS); the
 * queue's max_retries is only the outer bound.
 */
export const QUEUE_CONSUMERS = {
  'hookgate-deliveries': { maxBatchSize: 10, maxBatchTimeout: 1, maxRetries: 100, retryDelay: 300, deadLetterQueue: 'hookgate-dead-letters' },
  'hookgate-dead-letters': { maxBatchSize: 10, maxBatchTimeout: 1, maxRetries: 10, retryDelay: 300 },
};

/**
 * A Chrome DevTools Protocol session with the workerd inspector target that
 * `pick` chooses from GET /json: `send(method, params)` resolves to the
 * command's result, `onEvent` sees every event, `close()` ends it. The
 * profile (bench/profile.mjs) and `isolateMemory()` both use it.
 */
export async function devtools(port, pick, { onEvent = () => {}, timeoutMs = 20_000 } = {}) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const target = pick(targets);
  if (!target) throw new Error('the inspector has no such target');
  const socket = new WebSocket(target.webSocketDebuggerUrl.replace('localhost', '127.0.0.1'));
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  const waiting = new Map();
  let next = 0;
  socket.on('message', (data) => {
    const message = JSON.parse(data.toString());
    if (message.method) onEvent(message);
    const settle = waiting.get(message.id);
    if (!settle) return;
    waiting.delete(message.id);
    settle(message);
  });
  return {
    async send(method, params = {}) {
      next += 1;
      const id = next;
      let timer;
      const message = await new Promise((resolve, reject) => {
        waiting.set(id, resolve);
        timer = setTimeout(() => reject(new Error(`${method}: no answer from the inspector in ${timeoutMs / 1000} s`)), timeoutMs);
        socket.send(JSON.stringify({ id, method, params }));
      }).finally(() => clearTimeout(timer));
      if (message.error) throw new Error(`${method}: ${message.error.message}`);
      return message.result;
    },
    close: () => socket.close(),
  };
}

/**
 * The gate worker's isolate memory, through the inspector. workerd serves
 * the inspector's commands only while the isolate runs something, so the
 * gate is sent a request (404) every 50 ms until done.
 */
async function isolateMemory(mf, url) {
  const contexts = [];
  const session = await devtools(
    (await mf.getInspectorURL()).port,
    (targets) => targets.find((t) => t.webSocketDebuggerUrl.endsWith('/core:user:gate')),
    {
      onEvent: (message) => {
        if (message.method === 'Runtime.executionContextCreated') contexts.push(message.params.context.id);
      },
    },
  );
  const cdp = session.send;
  let poking = true;
  const poke = (async () => {
    while (poking) {
      await fetch(new URL('/__inspector-poke', url)).then((r) => r.arrayBuffer(), () => {});
      await sleep(50);
    }
  })();
  try {
    await cdp('HeapProfiler.collectGarbage');
    const heap = await cdp('Runtime.getHeapUsage');
    await cdp('Runtime.enable');
    const prototype = await cdp('Runtime.evaluate', { expression: 'WebAssembly.Memory.prototype', contextId: contexts[0] });
    const memories = await cdp('Runtime.queryObjects', { prototypeObjectId: prototype.result.objectId });
    const sizes = await cdp('Runtime.callFunctionOn', {
      objectId: memories.objects.objectId,
      functionDeclaration: 'function () { return this.map((memory) => memory.buffer.byteLength); }',
      returnByValue: true,
    });
    const wasm = sizes.result.value.reduce((sum, size) => sum + size, 0);
    return { heapUsed: heap.usedSize, wasm, total: heap.usedSize + wasm };
  } finally {
    poking = false;
    await poke;
    session.close();
  }
}

/**
 * For a describe block: a fresh origin and a gate in front of it, started
 * before its tests and closed after them. Without ROUTES, the gate's
 * ORIGIN_URL is the origin's unless `settings` says otherwise. Read `rig.origin` and
 * `rig.gate` inside tests.
 */
export function useGate(settings = {}, options = {}) {
  const rig = {};
  before(async () => {
    rig.origin = await startOrigin();
    const single = settings.ROUTES === undefined ? { ORIGIN_URL: rig.origin.url } : {};
    rig.gate = await startGate({ ...single, ...settings }, options);
  });
  after(async () => {
    await rig.gate?.close();
    await rig.origin?.close();
  });
  return rig;
}

/** `count` signed Quo events sent at once: their webhook-ids, and the answers. */
export async function sendMany(url, count) {
  const ids = [];
  const answers = await Promise.all(
    Array.from({ length: count }, () => {
      const body = quoEvent();
      const headers = signed(body);
      ids.push(headers['webhook-id']);
      return send(url, { headers, body });
    }),
  );
  return { ids, answers };
}

/**
 * Headers for one delivery, signed by the standardwebhooks library. `body`
 * is a string; `id`, `timestamp` (seconds) and `key` may be overridden.
 */
export function signed(body, { id = newId(), timestamp = nowSeconds(), key = SENDER_KEY } = {}) {
  const signature = new Webhook(key).sign(id, new Date(timestamp * 1000), body);
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signature,
  };
}

/**
 * The same, for bodies that are not UTF-8. The standardwebhooks library
 * turns a Buffer into a string before signing, which replaces invalid bytes,
 * so such a body can only be signed over its raw bytes here.
 */
export function signedBytes(bytes, { id = newId(), timestamp = nowSeconds(), key = SENDER_KEY } = {}) {
  const secret = Buffer.from(key.slice('whsec_'.length), 'base64');
  const mac = createHmac('sha256', secret);
  mac.update(`${id}.${timestamp}.`);
  mac.update(bytes);
  return {
    'content-type': 'application/octet-stream',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': `v1,${mac.digest('base64')}`,
  };
}

/** POSTs (or other methods) to the gate and returns status, headers and parsed body. */
export async function send(url, { method = 'POST', headers = {}, body, path = '' } = {}) {
  const init = { method, headers, body };
  if (body instanceof ReadableStream) init.duplex = 'half';
  const response = await fetch(new URL(path, url), init);
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // a non-JSON answer fails the test that looks at it
  }
  return { status: response.status, headers: response.headers, text, json };
}

/**
 * One POST on `agent` (an http.Agent, or false for a fresh connection), for
 * tests about the connection: resolves `{ status, socket }` once the answer
 * was read. With `parts` the body is sent chunked, one write per part;
 * otherwise `body` is sent with its Content-Length.
 */
export function postOn(agent, url, { path = '/', headers = {}, body = '', parts } = {}) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: hostname,
        port,
        method: 'POST',
        path,
        agent,
        headers: parts ? { ...headers, 'transfer-encoding': 'chunked' } : { ...headers, 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve({ status: response.statusCode, socket: request.socket }));
      },
    );
    request.on('error', reject);
    if (parts) {
      for (const part of parts) request.write(part);
      request.end();
    } else {
      request.end(body);
    }
  });
}

/**
 * A queued event as the gate's producer writes it (`queueSend` in
 * src/js/edge.js, version 1), for `sendQueued` and `sendDeadLetter`: a Quo
 * event of `eventType` under `key` on `route`.
 */
export function queuedMessage({ route = '/', key, eventType = 'message.received' }) {
  return {
    v: 1,
    route,
    key,
    contentType: 'application/json',
    eventType,
    headers: [['webhook-id', key]],
    body: new Uint8Array(Buffer.from(quoEvent(eventType))),
  };
}

/** A Quo-shaped event body. */
export function quoEvent(type = 'message.received', extra = {}) {
  return JSON.stringify({
    id: `EV${randomUUID().replaceAll('-', '').slice(0, 24)}`,
    apiVersion: '2026-03-30',
    createdAt: new Date().toISOString(),
    type,
    data: {
      resource: { id: 'AC123', body: 'Hello from the test suite', ...extra },
      context: {},
      links: { quo: 'https://example.invalid/inbox' },
    },
  });
}

/**
 * One HTTP/1.1 request over a raw socket, for what fetch and node:http will
 * not send: repeated or padded header lines, Content-Length beside chunked
 * framing, a body trickled in over seconds. `headers` is a list of
 * [name, value] lines, written as given. `body` is a list of parts, each
 * `{ data, delayMs }`; with `chunked`, each part is sent as one chunk. The
 * request is done when the answer has arrived (the rest of the body is not
 * sent once an answer came, as a client that reads answers would do).
 * `halfClose` ends the write side after the body; with `timeoutMs`, no
 * answer by then rejects (code 'timeout'). The answer has `headers`, the
 * head as received, and `fields`, its header fields by lower-case name.
 */
export function rawRequest(url, { method = 'POST', path = '/', headers = [], body = [], chunked = false, halfClose = false, timeoutMs }) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    let received = Buffer.alloc(0);
    let answered = false;
    const timer =
      timeoutMs &&
      setTimeout(() => {
        reject(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'timeout' }));
        socket.destroy();
      }, timeoutMs);
    socket.on('data', (data) => {
      received = Buffer.concat([received, data]);
      const text = received.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0 || answered) return;
      const head = text.slice(0, end);
      const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (received.length < end + 4 + length) return;
      answered = true;
      const status = Number(head.split(' ')[1]);
      const fields = {};
      for (const line of head.split('\r\n').slice(1)) {
        const at = line.indexOf(':');
        fields[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
      }
      const bodyText = received.subarray(end + 4, end + 4 + length).toString('utf8');
      let json = null;
      try {
        json = JSON.parse(bodyText);
      } catch {
        // not JSON
      }
      socket.destroy();
      resolve({ status, text: bodyText, json, headers: head, fields });
    });
    socket.on('error', (error) => (answered ? undefined : reject(error)));
    socket.on('close', () => {
      clearTimeout(timer);
      if (!answered) reject(new Error(`connection closed before an answer: ${received.toString('latin1')}`));
    });
    socket.on('connect', async () => {
      const lines = [`${method} ${path} HTTP/1.1`, `host: ${hostname}:${port}`, ...headers.map(([n, v]) => `${n}: ${v}`)];
      if (chunked) lines.push('transfer-encoding: chunked');
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      for (const part of body) {
        if (part.delayMs) await sleep(part.delayMs);
        if (answered || socket.destroyed) return;
        const data = Buffer.from(part.data);
        const ok = socket.write(chunked ? Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]) : data);
        if (!ok) await new Promise((resume) => socket.once('drain', resume));
      }
      if (answered || socket.destroyed) return;
      if (chunked) socket.write('0\r\n\r\n');
      if (halfClose) socket.end();
    });
  });
}

/** The resident memory of each workerd process this process started, in
 * bytes, by pid. */
export function workerdProcesses() {
  const found = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const command = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (Number(fields[1]) !== process.pid || !command.startsWith('workerd')) continue;
      const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${entry}/status`, 'utf8'));
      found.set(Number(entry), Number(rss?.[1] ?? 0) * 1024);
    } catch {
      // the process ended while being read
    }
  }
  return found;
}

/** The resident memory of the workerd processes this test process started, in bytes. */
export function workerdMemory() {
  let total = 0;
  for (const rss of workerdProcesses().values()) total += rss;
  return total;
}
