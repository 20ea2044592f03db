// `npm run soak -- --minutes N`: the built Worker in workerd (Miniflare),
// one gate per mode (kv, durable-object, queue), each with a route per sender
// scheme in front of its own real loopback origin, under a mixed load and
// injected faults, all at once for N minutes. At the end it proves, from the
// origin's own record of what it received:
//
// - every unique valid event arrived: exactly once in durable-object and
//   queue mode, at least once in kv mode (duplicates counted and printed);
// - no forged request and no replay reached the origin (a replay never a
//   second time in durable-object and queue mode);
// - every answer is one the contract allows for that kind of request, at
//   that moment (a 502 only while an origin fault was on, a 503 only while
//   the store or the queue was down, …; see `judge` below);
// - in queue mode, every dead letter stayed listed as dead until retried,
//   and each was delivered once the soak retried it through the admin API;
// - workerd's memory (RSS, from /proc) did not grow without bound, and
//   hookgate's own isolate (V8 heap after a forced GC plus Wasm memory, read
//   through workerd's inspector on loopback) did not grow.
//
// It exits non-zero on any violated property. The simulated senders retry
// what a fault refused (same event, new timestamp and signature, back-off)
// until it is accepted, as real senders do, so at the end every valid event
// must have reached the origin. Loopback only.
//
// Flags: --minutes N (default 1), --rate R (new requests per second per mode,
// default 5), --modes kv,durable-object,queue, --seed S, --sequential (run the
// modes one after the other, splitting the minutes, instead of at once),
// --verbose (print every violation instead of the first 20 per mode).
import { createHash, createHmac, randomUUID } from 'node:crypto';
import http from 'node:http';
import { parseArgs } from 'node:util';
import { Webhook } from 'standardwebhooks';
import {
  ORIGIN_KEY,
  SCHEME_SECRETS as SECRETS,
  WRONG_SECRETS,
  newId,
  rawRequest,
  secretBinding as binding,
  sleep,
  startGate,
  workerdProcesses,
} from '../tests/e2e/harness.mjs';
import { SCHEMES, sampleEvent, signFor } from './senders.mjs';

const { values: flags } = parseArgs({
  options: {
    minutes: { type: 'string', default: '1' },
    rate: { type: 'string', default: '5' },
    modes: { type: 'string', default: 'kv,durable-object,queue' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    sequential: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
});

const MINUTES = Number(flags.minutes);
const RATE = Number(flags.rate);
const MODES = flags.modes.split(',').map((m) => m.trim()).filter(Boolean);
const SEED = Number(flags.seed);
if (!(MINUTES > 0) || !(RATE > 0) || !Number.isInteger(SEED)) {
  console.error('usage: npm run soak -- --minutes N [--rate R] [--modes kv,durable-object,queue] [--seed S] [--sequential]');
  process.exit(2);
}
for (const mode of MODES) {
  if (!['kv', 'durable-object', 'queue'].includes(mode)) {
    console.error(`soak: unknown mode ${mode}`);
    process.exit(2);
  }
}

// ---------------------------------------------------------------------------
// Settings shared by every gate.

const ORIGIN_TIMEOUT_MS = 2500;
/** An origin "timeout" holds its answer this long: well past the gate's abort. */
const ORIGIN_HOLD_MS = ORIGIN_TIMEOUT_MS + 2000;
const MAX_BODY_BYTES = 256 * 1024;
/** Bodies above this on a queue route are forwarded directly (src/queue.rs). */
const MAX_QUEUED_BODY_BYTES = 96 * 1024;
const TOLERANCE_SECONDS = 300;
/**
 * Queue mode's forward attempts before a dead letter, with a 1 s base
 * delay, doubling. Two routes have 8 (the back-off reaches 64 s, which no
 * fault stretch outlasts); the others 2, so an event whose forward fails
 * twice in a second or two goes dead. Every run has dead letters: they
 * wait out the load (meeting its replays and store outages), and the soak
 * retries them through the admin API at the end, as an operator would.
 */
const QUEUE_MAX_ATTEMPTS = 8;
const QUICKLY_DEAD = { 'standard-webhooks': 2, 'quo-legacy': 2, github: 2, slack: 2 };
const ADMIN_TOKEN = 'soak-admin-token-0123456789';
const MB = 1024 * 1024;
/**
 * The memory criteria. workerd's RSS (the whole process: hookgate's isolate
 * and Miniflare's own KV, queue and storage services) may grow by this much
 * after warm-up, or by more only while levelling off (see memoryVerdict).
 * hookgate's own isolate (V8 heap after a forced GC, plus Wasm memory) may
 * grow by ISOLATE_GROWTH_LIMIT.
 */
const MEMORY_GROWTH_LIMIT = 64 * MB;
const ISOLATE_GROWTH_LIMIT = 16 * MB;

const TIMESTAMPED = ['standard-webhooks', 'quo-legacy', 'stripe', 'slack'];
const pathOf = (scheme) => `/hooks/${scheme}`;

// ---------------------------------------------------------------------------
// Small tools.

/** A seeded PRNG (mulberry32): the same seed makes the same choices. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sha = (data) => createHash('sha256').update(data).digest('hex');
const fmtMB = (bytes) => `${(bytes / MB).toFixed(1)} MB`;

/**
 * The replay key hookgate derives for an event (src/schemes): the signed id,
 * a body field, or the fingerprint of the signature and the event header
 * (src/keys.rs fingerprint_with). The origin receives it as the forward's
 * webhook-id, so in kv mode it can dedupe on it.
 */
function replayKey(scheme, body, headers) {
  switch (scheme) {
    case 'standard-webhooks':
      return headers['webhook-id'] ?? headers['svix-id'];
    case 'quo-legacy':
    case 'stripe':
      return JSON.parse(body).id;
    case 'slack':
      return JSON.parse(body).event_id;
    default: {
      const tag = createHmac('sha256', SECRETS[scheme]).update(body).digest();
      const name = headers[scheme === 'github' ? 'x-github-event' : 'x-shopify-topic'] ?? '';
      return `sig_${createHash('sha256').update(tag).update(name).digest('hex').slice(0, 32)}`;
    }
  }
}

/** A sample event of `scheme`, padded to about `size` bytes when given. */
function makeEvent(scheme, size) {
  const event = sampleEvent(scheme);
  if (!size) return event;
  const value = JSON.parse(event.body);
  const room = Math.max(0, size - event.body.length - 20);
  value.soak_padding = 'p'.repeat(room);
  return { ...event, body: scheme === 'stripe' ? JSON.stringify(value, null, 2) : JSON.stringify(value) };
}

/** One request to the gate with fetch: status, reason, timing. Never throws. */
async function call(base, { method = 'POST', path, headers = {}, body }) {
  const t0 = Date.now();
  try {
    const response = await fetch(new URL(path, base), { method, headers, body, signal: AbortSignal.timeout(60_000) });
    const text = await response.text();
    return answerOf(response.status, Object.fromEntries(response.headers), text, t0);
  } catch (error) {
    return { status: 0, reason: `transport:${error.cause?.code ?? error.name}`, t0, t1: Date.now(), headers: {}, text: '' };
  }
}

function answerOf(status, headers, text, t0) {
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // judged below: every hookgate answer is JSON
  }
  const reason = status >= 200 && status < 300 ? json?.status : json?.reason;
  return { status, reason: reason ?? '(none)', json, text, headers, t0, t1: Date.now() };
}

/**
 * One HTTP/1.1 request over a raw socket (harness rawRequest), for framing
 * fetch will not send (chunked bodies of a chosen shape, a Content-Length
 * that lies, a body that ends early): status, reason, timing, 2 ms between
 * parts. The rest of the body is not sent once an answer came. `halfClose`
 * ends the write side after the parts. Never throws.
 */
async function rawCall(base, { path, headers, parts, chunked = false, halfClose = false }) {
  const t0 = Date.now();
  try {
    const body = parts.map((data, i) => ({ data, delayMs: i === 0 ? 0 : 2 }));
    const answer = await rawRequest(base, { path, headers: Object.entries(headers), body, chunked, halfClose, timeoutMs: 60_000 });
    return answerOf(answer.status, answer.fields, answer.text, t0);
  } catch (error) {
    return { status: 0, reason: `transport:${error.code ?? 'closed'}`, t0, t1: Date.now(), headers: {}, text: '' };
  }
}

// ---------------------------------------------------------------------------
// The origin: a real loopback server that records everything it receives and
// answers as the current fault says. An event "arrived" when the origin
// accepted it (answered 2xx); a request it refused (5xx, reset, held past
// the gate's timeout) is recorded but is not an arrival.

async function startSoakOrigin() {
  const record = [];
  let fault = null;
  const holds = new Set();
  const resigned = new Webhook(ORIGIN_KEY);
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const entry = {
        at: Date.now(),
        path: req.url,
        id: req.headers['webhook-id'],
        hash: sha(body),
        bytes: body.length,
        fault: fault ?? 'none',
        accepted: false,
        verified: false,
      };
      record.push(entry);
      if (!req.url.startsWith('/o/')) {
        // A redirect followed, or a forward to a path no route names.
        res.writeHead(404).end();
        return;
      }
      switch (fault) {
        case null: {
          try {
            resigned.verify(body.toString('utf8'), req.headers);
            entry.verified = true;
          } catch {
            entry.verified = false;
          }
          entry.accepted = true;
          const status = [200, 200, 200, 200, 202, 204][record.length % 6];
          res.writeHead(status, { 'content-type': 'text/plain' });
          res.end(status === 204 ? undefined : 'origin body: must never reach the sender');
          return;
        }
        case 'origin-error': {
          const status = [500, 502, 503, 429, 410, 302][record.length % 6];
          const headers = status === 302 ? { location: `http://127.0.0.1:${server.address()?.port ?? 9}/redirected` } : {};
          res.writeHead(status, headers);
          res.end('origin body: must never reach the sender');
          return;
        }
        case 'origin-timeout': {
          const timer = setTimeout(() => {
            holds.delete(timer);
            if (!res.destroyed) res.writeHead(503).end();
          }, ORIGIN_HOLD_MS);
          holds.add(timer);
          return;
        }
        default:
          // origin-reset, and origin-refuse for a request on a connection
          // opened before the listener closed: the connection dies.
          req.socket.destroy();
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    base: `http://127.0.0.1:${port}`,
    record,
    async setFault(next) {
      if (next === 'origin-refuse') {
        server.close();
        server.closeIdleConnections();
      }
      if (fault === 'origin-refuse' && next !== 'origin-refuse') {
        await new Promise((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, '127.0.0.1', () => {
            server.off('error', reject);
            resolve();
          });
        });
      }
      fault = next;
    },
    close: () =>
      new Promise((resolve) => {
        for (const timer of holds) clearTimeout(timer);
        server.closeAllConnections();
        if (server.listening) server.close(() => resolve());
        else resolve();
      }),
  };
}

// ---------------------------------------------------------------------------
// The modes.

const LANES = {
  kv: {
    label: 'kv (REPLAY_STORE=kv, direct delivery)',
    settings: { REPLAY_STORE: 'kv' },
    options: { switchableKv: true },
    faults: ['kv-down', 'origin-error', 'kv-reads', 'origin-timeout', 'kv-writes', 'origin-reset', 'kv-done', 'origin-refuse'],
    exact: false,
  },
  'durable-object': {
    label: 'durable-object (REPLAY_STORE=durable-object, direct delivery)',
    settings: { REPLAY_STORE: 'durable-object' },
    options: {},
    faults: ['origin-error', 'origin-timeout', 'origin-reset', 'origin-refuse'],
    exact: true,
  },
  queue: {
    label: 'queue (delivery=queue, REPLAY_STORE=kv)',
    settings: {
      REPLAY_STORE: 'kv',
      QUEUE_RETRY_BASE_SECONDS: '1',
      QUEUE_MAX_ATTEMPTS: String(QUEUE_MAX_ATTEMPTS),
    },
    options: { queues: true, switchableQueue: true, switchableKv: true },
    // Whole-store outages only: a store that takes the claim and then loses
    // only the done writes is kv mode's documented duplicate, not queue mode's.
    faults: ['queue-refuse', 'origin-error', 'kv-down', 'origin-timeout', 'origin-reset', 'origin-refuse'],
    queue: true,
    exact: true,
  },
};

/** KV failure rules per fault (harness failKv: get/put/delete; put may name a value prefix). */
const KV_RULES = {
  'kv-down': { get: true, put: true, delete: true },
  'kv-reads': { get: true },
  'kv-writes': { put: true, delete: true },
  'kv-done': { put: 'done' },
};
/** The faults during which a verified request may be answered 503 store-unavailable. */
const STORE_REFUSING = ['kv-down', 'kv-reads', 'kv-writes'];
const ORIGIN_FAILING = ['origin-error', 'origin-reset', 'origin-refuse'];

/** Forged kinds, each with the only answers (status reason) it may get. */
const FORGED = {
  'wrong-key': ['401 bad-signature'],
  tampered: ['401 bad-signature'],
  stale: ['401 stale-timestamp'],
  future: ['401 future-timestamp'],
  'missing-headers': ['401 missing-header'],
  'other-route': ['401 missing-header', '401 bad-signature'],
  'bad-id': ['400 bad-id'],
  oversize: ['413 too-large'],
  'chunked-oversize': ['413 too-large'],
  'length-short': ['401 bad-signature'],
  'length-long': ['400 bad-body'],
  'length-beside-chunked': ['413 too-large'],
  'wrong-method': ['405 method-not-allowed'],
  'no-route': ['404 not-found'],
};

class Lane {
  constructor(mode, seed) {
    this.mode = mode;
    this.spec = LANES[mode];
    this.random = prng(seed);
    this.faultRandom = prng(seed ^ 0x5eed5);
    this.events = [];
    this.answers = [];
    this.forgedHashes = new Set();
    this.faultLog = [];
    this.memory = [];
    this.isolate = [];
    this.violations = [];
    this.pending = new Set();
    this.operatorRetries = 0;
    this.deadSeen = new Map();
    this.deadEver = new Set();
  }

  pick(list) {
    return list[Math.floor(this.random() * list.length)];
  }

  chance(p) {
    return this.random() < p;
  }

  violation(text) {
    this.violations.push(text);
  }

  async start() {
    this.origin = await startSoakOrigin();
    const routes = {};
    const secrets = { ORIGIN_SECRET: ORIGIN_KEY };
    for (const scheme of SCHEMES) {
      routes[pathOf(scheme)] = {
        scheme,
        secret: binding(scheme),
        origin: `${this.origin.base}/o/${scheme}`,
        origin_secret: 'ORIGIN_SECRET',
        ...(this.spec.queue ? { delivery: 'queue', queue_max_attempts: QUICKLY_DEAD[scheme] ?? QUEUE_MAX_ATTEMPTS } : {}),
      };
      secrets[binding(scheme)] = SECRETS[scheme];
    }
    const before = new Set(workerdProcesses().keys());
    this.gate = await startGate(
      {
        ...secrets,
        ...this.spec.settings,
        ROUTES: routes,
        WEBHOOK_SECRET: undefined,
        ORIGIN_TIMEOUT_MS: String(ORIGIN_TIMEOUT_MS),
        MAX_BODY_BYTES: String(MAX_BODY_BYTES),
        TOLERANCE_SECONDS: String(TOLERANCE_SECONDS),
        ADMIN_TOKEN,
      },
      { ...this.spec.options, inspect: true },
    );
    this.pids = [...workerdProcesses().keys()].filter((pid) => !before.has(pid));
    if (this.pids.length === 0) throw new Error(`${this.mode}: no workerd process found`);
  }

  /** Records this lane's workerd RSS from `now` (one `workerdProcesses()` read for every lane). */
  sampleMemory(phase, now) {
    const rss = this.pids.reduce((sum, pid) => sum + (now.get(pid) ?? 0), 0);
    this.memory.push({ at: Date.now(), rss, phase });
  }

  async sampleIsolate(phase) {
    try {
      this.isolate.push({ at: Date.now(), phase, ...(await this.gate.isolateMemory()) });
    } catch (error) {
      this.violation(`the gate isolate's memory could not be read (${phase}): ${error.message}`);
    }
  }

  // -- faults ---------------------------------------------------------------

  /**
   * Turns a fault on (or, with null, off). A stretch is logged from before it
   * takes effect until after it stopped, so an answer judged against the log
   * can never have met a fault the log does not show.
   */
  async setFault(name) {
    const ending = this.fault ? this.faultLog.at(-1) : null;
    if (name) this.faultLog.push({ name, start: Date.now(), end: Infinity });
    this.fault = name;
    // Both are no-ops on a gate without the switch.
    this.gate.failKv(KV_RULES[name] ?? {});
    this.gate.failQueue(name === 'queue-refuse');
    await this.origin.setFault(name?.startsWith('origin-') ? name : null);
    if (ending) ending.end = Date.now();
  }

  /** Whether a fault among `names` was on at any moment of [t0, t1]. */
  overlapped(names, t0, t1) {
    return this.faultLog.some((f) => names.includes(f.name) && f.start <= t1 && f.end >= t0);
  }

  async runFaults(from, until) {
    await sleep(Math.max(0, from - Date.now()));
    let turn = 0;
    while (Date.now() < until) {
      const name = this.spec.faults[turn % this.spec.faults.length];
      turn += 1;
      const length = 2000 + this.faultRandom() * 2500;
      if (Date.now() + length > until) break;
      await this.setFault(name);
      await sleep(length);
      await this.setFault(null);
      await sleep(2500 + this.faultRandom() * 3000);
    }
  }

  // -- load -----------------------------------------------------------------

  track(promise) {
    const settled = promise
      .catch((error) => this.violation(`the soak itself failed: ${error.stack}`))
      .finally(() => this.pending.delete(settled));
    this.pending.add(settled);
  }

  record(kind, sub, answer, extra = {}) {
    const entry = { kind, sub, ...answer, ...extra };
    this.answers.push(entry);
    // When the event was first sent by a copy the gate took, for judging
    // its other copies (a later one may be a duplicate).
    if (kind === 'valid' && ['delivered', 'queued'].includes(entry.reason)) {
      entry.event.firstTakenT0 = Math.min(entry.event.firstTakenT0 ?? Infinity, entry.t0);
    }
    return entry;
  }

  async runLoad(until, drainUntil) {
    this.drainUntil = drainUntil;
    let nextWatch = Date.now() + 5000;
    while (Date.now() < until) {
      if (this.spec.queue && Date.now() >= nextWatch) {
        nextWatch = Date.now() + 5000;
        this.track(this.watchDeadLetters());
      }
      const roll = this.random();
      if (roll < 0.55) this.track(this.valid());
      else if (roll < 0.95) this.track(this.forged(this.pick(Object.keys(FORGED))));
      else this.track(this.forged(this.pick(['wrong-method', 'no-route'])));
      await sleep((1000 / RATE) * (0.5 + this.random()));
    }
  }

  /** A new valid event, sent until accepted, as a sender retries. */
  async valid() {
    const scheme = this.pick(SCHEMES);
    const roll = this.random();
    const size = roll < 0.05 ? 100_000 + Math.floor(this.random() * 60_000) : roll < 0.2 ? 4_000 + Math.floor(this.random() * 20_000) : 0;
    const { body, headers: senderHeaders } = makeEvent(scheme, size);
    const svix = scheme === 'standard-webhooks' && this.chance(0.25);
    const id = newId();
    const event = {
      scheme,
      body,
      hash: sha(body),
      bytes: Buffer.byteLength(body),
      svix,
      id,
      key: null,
      accepted: null,
      attempts: 0,
      gaveUp: false,
      queued: this.spec.queue && Buffer.byteLength(body) <= MAX_QUEUED_BODY_BYTES,
    };
    this.events.push(event);
    const sign = async () => ({ ...senderHeaders, ...(await signFor(scheme, { secret: SECRETS[scheme], body, id, svix })) });
    let backoff = 300;
    let burst = this.chance(0.06) ? 2 + Math.floor(this.random() * 3) : 0;
    for (;;) {
      const headers = await sign();
      event.key ??= replayKey(scheme, body, headers);
      const copies = burst || 1;
      const answers = await Promise.all(
        Array.from({ length: copies }, () => call(this.gate.url, { path: pathOf(scheme), headers, body })),
      );
      event.attempts += 1;
      const entries = answers.map((answer) => this.record('valid', burst ? 'burst' : event.attempts > 1 ? 'retry' : 'first', answer, { event }));
      burst = 0;
      const good = entries.find((e) => (e.status === 200 && e.reason !== 'challenge') || e.status === 202);
      if (good) {
        event.accepted = true;
        this.afterAccepted(event, headers);
        return;
      }
      const retryable = entries.every((e) => [0, 409, 502, 503, 504].includes(e.status));
      if (!retryable || Date.now() > this.drainUntil) {
        event.gaveUp = true;
        return;
      }
      await sleep(backoff * (0.75 + this.random() / 2));
      backoff = Math.min(backoff * 2, 4000);
    }
  }

  /** What a sender (and an attacker who captured the delivery) may send next. */
  afterAccepted(event, captured) {
    if (Date.now() > this.loadUntil) return;
    if (this.chance(0.25)) {
      // The sender again (it missed the answer): new timestamp, new signature.
      this.track(
        sleep(500 + this.random() * 10_000).then(async () => {
          const { headers: senderHeaders } = sampleEvent(event.scheme);
          const signature = await signFor(event.scheme, { secret: SECRETS[event.scheme], body: event.body, id: event.id, svix: event.svix });
          const answer = await call(this.gate.url, { path: pathOf(event.scheme), headers: { ...senderHeaders, ...signature }, body: event.body });
          this.record('duplicate', event.scheme, answer, { event });
        }),
      );
    }
    if (this.chance(0.25)) {
      // A replay: the captured delivery, byte for byte, sent again later;
      // now and then after a minute, once any claim a failed store write
      // left behind has expired (while the load still runs).
      const late = this.chance(0.15) && Date.now() + 80_000 < this.loadUntil;
      this.track(
        sleep(late ? 65_000 + this.random() * 15_000 : 500 + this.random() * 20_000).then(async () => {
          const answer = await call(this.gate.url, { path: pathOf(event.scheme), headers: captured, body: event.body });
          this.record('replay', event.scheme, answer, { event, captured });
        }),
      );
    }
  }

  /** A request that must never be forwarded, of kind `sub`. */
  async forged(sub) {
    const scheme = sub === 'bad-id' ? 'standard-webhooks' : ['stale', 'future'].includes(sub) ? this.pick(TIMESTAMPED) : this.pick(SCHEMES);
    const path = pathOf(scheme);
    const size = ['oversize', 'chunked-oversize', 'length-beside-chunked'].includes(sub) ? MAX_BODY_BYTES + 1 + Math.floor(this.random() * 300_000) : 0;
    const event = makeEvent(scheme, size);
    let body = event.body;
    const sign = (options = {}) => signFor(options.scheme ?? scheme, { secret: SECRETS[scheme], body, ...options });
    let answer;
    switch (sub) {
      case 'wrong-key':
        answer = await call(this.gate.url, { path, headers: { ...event.headers, ...(await sign({ secret: WRONG_SECRETS[scheme] })) }, body });
        break;
      case 'tampered': {
        const headers = { ...event.headers, ...(await sign()) };
        body = body.replace('Hello', 'Jello').replace('"usd"', '"eur"').replace('hookgate', 'hookgame');
        if (body === event.body) body = `${body} `;
        answer = await call(this.gate.url, { path, headers, body });
        break;
      }
      case 'stale':
      case 'future': {
        const shift = (sub === 'stale' ? -1 : 1) * (TOLERANCE_SECONDS + 60 + Math.floor(this.random() * 3600)) * 1000;
        answer = await call(this.gate.url, { path, headers: { ...event.headers, ...(await sign({ timestamp: new Date(Date.now() + shift) })) }, body });
        break;
      }
      case 'missing-headers': {
        // Every signature header gone, or (timestamped schemes) one of them.
        const signature = await sign();
        const names = Object.keys(signature);
        const drop = this.chance(0.5) ? names : [this.pick(names)];
        const headers = { ...event.headers, ...Object.fromEntries(Object.entries(signature).filter(([n]) => !drop.includes(n))) };
        answer = await call(this.gate.url, { path, headers, body });
        break;
      }
      case 'other-route': {
        // Signed for another route: with that route's scheme and secret, or
        // in this route's way with the other route's secret.
        const other = this.pick(SCHEMES.filter((s) => s !== scheme));
        const signature = this.chance(0.5)
          ? await signFor(other, { secret: SECRETS[other], body })
          : await signFor(scheme, { secret: scheme === 'standard-webhooks' ? SECRETS['quo-legacy'] : SECRETS[other], body });
        answer = await call(this.gate.url, { path, headers: { ...event.headers, ...signature }, body });
        break;
      }
      case 'bad-id': {
        const id = `msg_${randomUUID().slice(0, 8)}.${randomUUID().slice(0, 8)}`;
        answer = await call(this.gate.url, { path, headers: { ...event.headers, ...(await sign({ id })) }, body });
        break;
      }
      case 'oversize':
        answer = await call(this.gate.url, { path, headers: { ...event.headers, ...(await sign()) }, body });
        break;
      case 'chunked-oversize':
      case 'length-beside-chunked': {
        const headers = { ...event.headers, ...(await sign()) };
        if (sub === 'length-beside-chunked') headers['content-length'] = '10';
        const parts = [];
        for (let at = 0; at < body.length; at += 32 * 1024) parts.push(body.slice(at, at + 32 * 1024));
        answer = await rawCall(this.gate.url, { path, headers, parts, chunked: true });
        break;
      }
      case 'length-short':
      case 'length-long': {
        // Content-Length says less than the body (the gate hashes a prefix),
        // or more (the client then ends its side: the body ends early).
        const headers = { ...event.headers, ...(await sign()), connection: 'close' };
        const bytes = Buffer.byteLength(body);
        headers['content-length'] = String(sub === 'length-short' ? bytes - 1 - Math.floor(this.random() * 20) : bytes + 1 + Math.floor(this.random() * 500));
        if (sub === 'length-short') this.forgedHashes.add(sha(Buffer.from(body).subarray(0, Number(headers['content-length']))));
        answer = await rawCall(this.gate.url, { path, headers, parts: [body], halfClose: sub === 'length-long' });
        break;
      }
      case 'wrong-method': {
        const method = this.pick(['GET', 'PUT', 'DELETE', 'PATCH']);
        answer = await call(this.gate.url, { method, path, headers: { ...event.headers, ...(await sign()) }, body: method === 'GET' ? undefined : body });
        break;
      }
      case 'no-route':
        answer = await call(this.gate.url, { path: this.pick(['/', '/hooks', `${path}/x`, '/hooks/GitHub', '/_hookgatex']), headers: { ...event.headers, ...(await sign()) }, body });
        break;
      default:
        throw new Error(sub);
    }
    this.forgedHashes.add(sha(body));
    this.forgedHashes.add(sha(event.body));
    this.record('forged', sub, answer, { scheme });
  }

  // -- the end --------------------------------------------------------------

  async admin(path, method = 'GET') {
    return call(this.gate.url, { method, path: `/_hookgate${path}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  }

  /** Every accepted event's accepted arrival at the origin, by body hash. */
  arrivals() {
    const byHash = new Map();
    for (const entry of this.origin.record) {
      if (!byHash.has(entry.hash)) byHash.set(entry.hash, []);
      byHash.get(entry.hash).push(entry);
    }
    return byHash;
  }

  /**
   * Waits for the senders still retrying, then (queue mode) for the queue to
   * drain: every accepted event at the origin. Dead letters are retried
   * through the admin API, as an operator would. Bounded by `until`.
   */
  async drain(until) {
    while (this.pending.size > 0 && Date.now() < until) await Promise.race([sleep(500), ...this.pending]);
    if (this.spec.queue) {
      await this.watchDeadLetters();
      let lastDeadCheck = 0;
      for (;;) {
        const byHash = this.arrivals();
        const waiting = this.events.filter((e) => e.accepted && !(byHash.get(e.hash) ?? []).some((a) => a.accepted));
        if (waiting.length === 0 || Date.now() > until) break;
        if (Date.now() - lastDeadCheck > 3000) {
          lastDeadCheck = Date.now();
          await this.retryDeadLetters();
        }
        await sleep(250);
      }
    }
    // A stray second forward (a redelivered message, a late retry) would
    // arrive within this.
    await sleep(3000);
    if (this.spec.queue) {
      for (const letter of (await this.deadLetters()) ?? []) this.violation(`a dead letter is left after the drain: ${letter.route} ${letter.key}`);
      // What the delivery log says about any event still missing, for the report.
      const byHash = this.arrivals();
      this.records = new Map();
      for (const event of this.events.filter((e) => !(byHash.get(e.hash) ?? []).some((a) => a.accepted)).slice(0, 10)) {
        const record = await this.admin(`/deliveries/${encodeURIComponent(event.key)}?route=${encodeURIComponent(pathOf(event.scheme))}`);
        this.records.set(event, record.text.slice(0, 600));
      }
    }
  }

  /** Every dead letter the admin API lists, page by page; null if it failed. */
  async deadLetters() {
    const letters = [];
    let cursor = null;
    do {
      const listed = await this.admin(`/deliveries?outcome=dead&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      if (listed.status !== 200) {
        this.violation(`admin: GET /deliveries?outcome=dead answered ${listed.status} ${listed.reason}`);
        return null;
      }
      letters.push(...listed.json.deliveries);
      cursor = listed.json.cursor;
    } while (cursor);
    return letters;
  }

  /**
   * During the load: a dead letter, once listed, must stay listed until the
   * event moves on (queued again, retried, delivered), or the operator who
   * looks for dead letters there never finds it.
   */
  async watchDeadLetters() {
    const letters = await this.deadLetters();
    if (!letters) return;
    const listed = new Set(letters.map((letter) => `${letter.route} ${letter.key}`));
    for (const letter of letters) {
      this.deadSeen.set(`${letter.route} ${letter.key}`, letter);
      this.deadEver.add(`${letter.route} ${letter.key}`);
    }
    for (const [id, letter] of this.deadSeen) {
      if (listed.has(id)) continue;
      this.deadSeen.delete(id);
      const record = (await this.admin(`/deliveries/${encodeURIComponent(letter.key)}?route=${encodeURIComponent(letter.route)}`)).json;
      if (record?.dead_letter && !['queued', 'retrying', 'delivered', 'dead'].includes(record.outcome)) {
        this.violation(`a dead letter left the listing of dead letters while still kept: ${letter.route} ${letter.key} now shows outcome ${record.outcome}`);
      }
    }
  }

  async retryDeadLetters() {
    const letters = await this.deadLetters();
    for (const letter of letters ?? []) {
      const answer = await this.admin(`/deliveries/${encodeURIComponent(letter.key)}/retry?route=${encodeURIComponent(letter.route)}`, 'POST');
      if (answer.status === 202) this.operatorRetries += 1;
      else if (answer.status !== 409) this.violation(`admin retry of ${letter.key}: ${answer.status} ${answer.reason}`);
    }
  }

  /** What the Worker logged about each key: incidents, and the queue consumer's outcomes. */
  readLogs() {
    const text = this.gate.logs.join('\n');
    const incidents = new Map();
    const consumer = {};
    for (const chunk of text.split(/(?=\{\s*hookgate: ')/)) {
      const kind = /^\{\s*hookgate: '([a-z-]+)'/.exec(chunk)?.[1];
      if (!kind) continue;
      const key = /\bkey: '([^']*)'/.exec(chunk)?.[1];
      const reason = /\breason: '([^']*)'/.exec(chunk)?.[1];
      const found = /\bincidents: '([^']*)'/.exec(chunk)?.[1];
      if (found && key) {
        if (!incidents.has(key)) incidents.set(key, new Set());
        for (const incident of found.split(',')) incidents.get(key).add(incident);
      }
      if (kind === 'queue') consumer[reason] = (consumer[reason] ?? 0) + 1;
    }
    this.incidents = incidents;
    this.consumer = consumer;
  }

  hasIncident(event, names) {
    const found = this.incidents.get(event.key);
    return !!found && names.some((name) => found.has(name));
  }

  /**
   * Whether an answer is one the contract allows for this kind of request at
   * that moment. Returns null when it is, or the reason it is not.
   */
  judge(entry) {
    const said = `${entry.status} ${entry.reason}`;
    const { t0, t1 } = entry;
    const problem = entry.status >= 400;
    // The shape every answer has (src/outcome.rs).
    if (entry.status === 0) return `no answer (${entry.reason})`;
    if (entry.text.includes('origin body')) return `${said}: the origin's body reached the sender`;
    if (problem && (entry.json?.status !== entry.status || !String(entry.headers['content-type']).startsWith('application/problem+json'))) {
      return `${said}: not a problem+json answer (${entry.text.slice(0, 80)})`;
    }
    if (!problem && entry.text !== `{"status":"${entry.reason}"}`) return `${said}: body ${entry.text.slice(0, 80)}`;
    if ([409, 503].includes(entry.status) && entry.headers['retry-after'] !== '30') return `${said} without Retry-After: 30`;
    if (entry.status === 405 && entry.headers.allow !== 'POST') return `${said} without Allow: POST`;

    if (entry.kind === 'forged') {
      return FORGED[entry.sub].includes(said) ? null : `forged (${entry.sub}) answered ${said}; allowed: ${FORGED[entry.sub].join(', ')}`;
    }
    const event = entry.event;
    const queued = event.queued;
    const kv = this.spec.settings.REPLAY_STORE === 'kv';
    const storeDown = kv && this.overlapped(STORE_REFUSING, t0, t1);
    const originFailing = this.overlapped(ORIGIN_FAILING, t0, t1);
    const originSlow = this.overlapped(['origin-timeout'], t0, t1);
    const queueDown = this.spec.queue && this.overlapped(['queue-refuse'], t0, t1);
    // The store kept a claim it should have settled (a done write or a
    // release that failed, logged as an incident): copies meet it until it
    // expires, and after that the gate no longer knows the event.
    const leftClaim = kv && this.hasIncident(event, ['MarkDoneFailed', 'ReleaseFailed']);
    const lostMark = kv && this.hasIncident(event, ['MarkDoneFailed']);
    const allowed = new Set();
    const delivering = () => {
      if (queued) {
        allowed.add('202 queued');
        if (queueDown) allowed.add('503 queue-unavailable');
      } else {
        allowed.add('200 delivered');
        if (originFailing) allowed.add('502 origin-failed');
        if (originSlow) allowed.add('504 origin-timeout');
      }
    };
    if (storeDown) allowed.add('503 store-unavailable');
    if (entry.kind === 'valid') {
      delivering();
      if (event.firstTakenT0 <= t1) allowed.add('200 duplicate');
      if (entry.sub === 'burst' || leftClaim) allowed.add('409 in-flight');
    } else {
      // A duplicate (the sender again) or a replay of an accepted event.
      allowed.add('200 duplicate');
      if (entry.kind === 'replay') {
        const stamp = Number(entry.captured['webhook-timestamp'] ?? entry.captured['svix-timestamp'] ?? entry.captured['x-slack-request-timestamp'] ?? NaN);
        if (Number.isFinite(stamp) && t0 / 1000 - stamp > TOLERANCE_SECONDS) allowed.add('401 stale-timestamp');
      }
      if (leftClaim) allowed.add('409 in-flight');
      if (lostMark) delivering();
    }
    return allowed.has(said) ? null : `${entry.kind} (${event.scheme}${entry.sub === 'burst' ? ', burst copy' : ''}, ${event.bytes} B) answered ${said}; allowed then: ${[...allowed].join(', ')}`;
  }

  check() {
    this.readLogs();
    const byHash = this.arrivals();
    const validHashes = new Set(this.events.map((e) => e.hash));
    const stats = { valid: this.events.length, accepted: 0, arrived: 0, exactlyOnce: 0, duplicates: 0, duplicatesExplained: 0, refusedAttempts: 0 };
    for (const event of this.events) {
      const got = byHash.get(event.hash) ?? [];
      const accepted = got.filter((a) => a.accepted);
      if (event.accepted) stats.accepted += 1;
      else this.violation(`a valid ${event.scheme} event (${event.bytes} B) was never accepted by the gate (${event.attempts} attempts${event.gaveUp ? ', the sender gave up' : ''})`);
      if (accepted.length === 0) {
        const record = this.records?.get(event);
        const history = this.answers
          .filter((a) => a.event === event)
          .map((a) => `${a.kind} ${a.status} ${a.reason} at ${new Date(a.t0).toISOString().slice(11, 23)}`)
          .join('; ');
        this.violation(`lost: a valid ${event.scheme} event (key ${event.key}) never reached the origin; answers: ${history}${record ? `; its delivery record: ${record}` : ''}`);
        continue;
      }
      stats.arrived += 1;
      if (accepted.length === 1) stats.exactlyOnce += 1;
      const extra = accepted.length - 1;
      stats.duplicates += extra;
      if (extra > 0) {
        if (this.hasIncident(event, ['MarkDoneFailed', 'ReleaseFailed'])) stats.duplicatesExplained += extra;
        if (this.spec.exact) this.violation(`duplicated: ${event.scheme} event ${event.key} reached the origin ${accepted.length} times (${this.mode} promises once)`);
      }
      // After the accepted arrival nothing more of this event may reach the
      // origin in the exact modes: no replay, no late retry.
      const first = accepted[0];
      const after = got.filter((a) => a.at > first.at);
      if (this.spec.exact && after.length > 0) this.violation(`${event.scheme} event ${event.key}: ${after.length} more request(s) reached the origin after it accepted the event`);
      for (const arrival of accepted) {
        if (arrival.path !== `/o/${event.scheme}`) this.violation(`${event.scheme} event arrived at ${arrival.path}`);
        if (!arrival.verified) this.violation(`${event.scheme} event ${event.key}: the forward's re-signature does not verify with ORIGIN_SECRET`);
        if (arrival.id !== event.key) this.violation(`${event.scheme} event: forwarded as webhook-id ${arrival.id}, its replay key is ${event.key}`);
      }
    }
    stats.refusedAttempts = this.origin.record.filter((a) => !a.accepted).length;
    let forgedArrived = 0;
    let unknownArrived = 0;
    for (const entry of this.origin.record) {
      if (!entry.path.startsWith('/o/')) this.violation(`a request reached the origin at ${entry.path}, where no route forwards (a redirect followed?)`);
      if (validHashes.has(entry.hash)) continue;
      if (this.forgedHashes.has(entry.hash)) forgedArrived += 1;
      else unknownArrived += 1;
      this.violation(`the origin received a request that is no valid event: ${entry.path} (${entry.bytes} B, webhook-id ${entry.id})`);
    }
    stats.forgedArrived = forgedArrived;
    stats.unknownArrived = unknownArrived;
    // Replays and duplicates the gate took for new deliveries (kv mode, after
    // a failed done write; judged with the answers).
    stats.replaysThrough = this.answers.filter((e) => (e.kind === 'replay' || e.kind === 'duplicate') && ['delivered', 'queued'].includes(e.reason)).length;
    for (const entry of this.answers) {
      const wrong = this.judge(entry);
      if (wrong) this.violation(`answer outside the contract: ${wrong}`);
    }
    this.stats = stats;
  }

  /**
   * RSS: the sample after warm-up against the last one. Growth beyond the
   * limit fails unless it is levelling off: an unbounded leak grows at a
   * steady rate under a steady load, while warm-up (V8 heaps sized up, the
   * storage services' caches filling) slows down. So it fails when the
   * second half of the load (after warm-up) still grew by three quarters of
   * what the first half grew, or more. The isolate's own memory (after a
   * forced GC) has a plain limit.
   */
  memoryVerdict() {
    const samples = this.memory;
    const warmAt = samples.findIndex((s) => s.phase === 'warm');
    // Halves over the load (from warm-up to the end of the load); growth to
    // the very last sample, after the drain.
    const window = samples.slice(Math.max(0, warmAt)).filter((s) => s.phase !== 'drain' && s.phase !== 'end');
    const start = window[0];
    const end = samples.at(-1);
    const loadEnd = window.at(-1);
    const max = samples.reduce((m, s) => Math.max(m, s.rss), 0);
    const at = (fraction) => {
      const t = start.at + (loadEnd.at - start.at) * fraction;
      // the median of the samples within 5 s of t, against a GC's saw-tooth
      const near = window.filter((s) => Math.abs(s.at - t) <= 5000).map((s) => s.rss).sort((a, b) => a - b);
      return near.length ? near[Math.floor(near.length / 2)] : start.rss;
    };
    const firstHalf = at(0.5) - at(0);
    const secondHalf = at(1) - at(0.5);
    const halfMinutes = (loadEnd.at - start.at) / 2 / 60_000;
    const verdict = {
      start: start.rss,
      max,
      end: end.rss,
      growth: end.rss - start.rss,
      firstRate: halfMinutes > 0 ? firstHalf / halfMinutes : 0,
      lastRate: halfMinutes > 0 ? secondHalf / halfMinutes : 0,
      levelling: secondHalf <= 0 || secondHalf < 0.75 * firstHalf,
    };
    if (verdict.growth > MEMORY_GROWTH_LIMIT && !verdict.levelling) {
      this.violation(
        `workerd memory grew from ${fmtMB(verdict.start)} to ${fmtMB(verdict.end)} (limit +${fmtMB(MEMORY_GROWTH_LIMIT)}) and is not levelling off (${fmtMB(verdict.firstRate)}/min in the first half after warm-up, ${fmtMB(verdict.lastRate)}/min in the second)`,
      );
    }
    const isolateStart = this.isolate.find((s) => s.phase === 'warm') ?? this.isolate[0];
    const isolateEnd = this.isolate.at(-1);
    if (isolateStart && isolateEnd) {
      verdict.isolate = {
        start: isolateStart.total,
        end: isolateEnd.total,
        max: this.isolate.reduce((m, s) => Math.max(m, s.total), 0),
        heap: isolateEnd.heapUsed,
        wasm: isolateEnd.wasm,
      };
      if (isolateEnd.total - isolateStart.total > ISOLATE_GROWTH_LIMIT) {
        this.violation(`the gate isolate's memory (after GC) grew from ${fmtMB(isolateStart.total)} to ${fmtMB(isolateEnd.total)} (limit +${fmtMB(ISOLATE_GROWTH_LIMIT)})`);
      }
    }
    return verdict;
  }

  async close() {
    await this.setFault(null).catch(() => {});
    await this.gate?.close();
    await this.origin?.close();
  }
}

// ---------------------------------------------------------------------------
// The report.

/** A plain text table: the first column aligned left, the others right. */
function table(rows, header) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `  ${cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ')}`.trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function report(lane, timing) {
  const out = [];
  const { stats } = lane;
  out.push(`\n== ${lane.spec.label}`);
  out.push(`   load ${(timing.load / 1000).toFixed(0)} s at ~${RATE} new requests/s, drain ${(timing.drain / 1000).toFixed(1)} s, seed ${timing.seed}`);
  const kinds = new Map();
  for (const entry of lane.answers) {
    const name = entry.kind === 'forged' ? `forged: ${entry.sub}` : entry.kind === 'valid' ? `valid: ${entry.sub === 'first' ? 'first attempt' : entry.sub === 'retry' ? 'sender retry' : 'burst copy'}` : entry.kind;
    kinds.set(name, (kinds.get(name) ?? 0) + 1);
  }
  out.push('\n  requests by kind');
  out.push(table([...kinds].sort((a, b) => a[0].localeCompare(b[0])), ['kind', 'requests']));
  const answers = new Map();
  for (const entry of lane.answers) {
    const name = `${entry.status} ${entry.reason}`;
    const row = answers.get(name) ?? { valid: 0, duplicate: 0, replay: 0, forged: 0 };
    row[entry.kind] += 1;
    answers.set(name, row);
  }
  out.push('\n  answers by status and reason');
  out.push(
    table(
      [...answers].sort((a, b) => a[0].localeCompare(b[0])).map(([name, r]) => [name, r.valid, r.duplicate, r.replay, r.forged, r.valid + r.duplicate + r.replay + r.forged]),
      ['answer', 'valid', 'duplicate', 'replay', 'forged', 'total'],
    ),
  );
  const faults = new Map();
  for (const f of lane.faultLog) {
    const row = faults.get(f.name) ?? { count: 0, ms: 0 };
    row.count += 1;
    row.ms += (Number.isFinite(f.end) ? f.end : Date.now()) - f.start;
    faults.set(f.name, row);
  }
  out.push('\n  injected faults');
  out.push(table([...faults].map(([name, r]) => [name, r.count, `${(r.ms / 1000).toFixed(1)} s`]), ['fault', 'stretches', 'total']));
  const incidentCounts = {};
  for (const set of lane.incidents.values()) {
    for (const name of set) {
      const group = name.startsWith('OriginStatus') ? 'OriginStatus(…)' : name;
      incidentCounts[group] = (incidentCounts[group] ?? 0) + 1;
    }
  }
  out.push("\n  events (from the origin's record)");
  const rows = [
    ['valid events sent', stats.valid],
    ['accepted by the gate (200/202)', stats.accepted],
    ['arrived at the origin', stats.arrived],
    ['arrived exactly once', stats.exactlyOnce],
    [`duplicate arrivals${lane.spec.exact ? ' (must be 0)' : ' (allowed in kv mode)'}`, stats.duplicates],
    ['  of them after a logged done-mark/release failure', stats.duplicatesExplained],
    ['origin requests refused by a fault (not arrivals)', stats.refusedAttempts],
    ['duplicates/replays taken as new deliveries (200/202)', stats.replaysThrough],
    ['forged requests that reached the origin (must be 0)', stats.forgedArrived],
    ['unknown requests at the origin (must be 0)', stats.unknownArrived],
  ];
  for (const [name, count] of Object.entries(incidentCounts).sort()) rows.push([`keys with logged incident ${name}`, count]);
  if (lane.spec.queue) {
    for (const [reason, count] of Object.entries(lane.consumer).sort()) rows.push([`queue consumer attempts: ${reason}`, count]);
    const byRoute = {};
    for (const id of lane.deadEver) byRoute[id.split(' ')[0]] = (byRoute[id.split(' ')[0]] ?? 0) + 1;
    const routes = Object.entries(byRoute).sort().map(([route, n]) => `${route.replace('/hooks/', '')} ${n}`).join(', ');
    rows.push(['dead letters listed by the admin API during the load', `${lane.deadEver.size}${routes ? ` (${routes})` : ''}`]);
    rows.push(['dead letters retried via the admin API at the end', lane.operatorRetries]);
  }
  out.push(table(rows, ['', 'count']));
  const m = lane.memoryVerdict();
  const signed = (bytes) => `${bytes >= 0 ? '+' : ''}${fmtMB(bytes)}`;
  out.push(
    `\n  workerd memory (RSS of its process, ${lane.memory.length} samples): start ${fmtMB(m.start)} (after warm-up), max ${fmtMB(m.max)}, end ${fmtMB(m.end)} (${signed(m.growth)}; limit ${signed(MEMORY_GROWTH_LIMIT)} unless levelling off)`,
  );
  out.push(`  growth rate: ${fmtMB(m.firstRate)}/min in the first half of the load after warm-up, ${fmtMB(m.lastRate)}/min in the second (${m.levelling ? 'levelling off' : 'not levelling off'})`);
  const t0 = lane.memory[0].at;
  const step = Math.max(1, Math.floor(lane.memory.length / 10));
  const points = lane.memory.filter((_, i) => i % step === 0 || i === lane.memory.length - 1);
  out.push(`  over time: ${points.map((s) => `${((s.at - t0) / 1000).toFixed(0)}s ${(s.rss / MB).toFixed(0)}`).join(', ')} (MB)`);
  if (m.isolate) {
    out.push(
      `  hookgate's isolate after a forced GC (V8 heap + Wasm memory): start ${fmtMB(m.isolate.start)}, max ${fmtMB(m.isolate.max)}, end ${fmtMB(m.isolate.end)} (heap ${fmtMB(m.isolate.heap)}, Wasm ${fmtMB(m.isolate.wasm)}; ${signed(m.isolate.end - m.isolate.start)}, limit ${signed(ISOLATE_GROWTH_LIMIT)})`,
    );
  }
  if (lane.violations.length === 0) {
    out.push(`\n  PASS: ${lane.mode}`);
  } else {
    const shown = flags.verbose ? lane.violations : lane.violations.slice(0, 20);
    out.push(`\n  FAIL: ${lane.mode}: ${lane.violations.length} violation(s)`);
    for (const v of shown) out.push(`    - ${v}`);
    if (shown.length < lane.violations.length) out.push(`    … ${lane.violations.length - shown.length} more (--verbose shows all)`);
  }
  console.log(out.join('\n'));
}

// ---------------------------------------------------------------------------
// The run.

async function runLanes(modes, loadMs, seed) {
  const lanes = modes.map((mode, i) => new Lane(mode, seed + i * 7919));
  try {
    // One at a time, so each gate's workerd process is known by its pid.
    for (const lane of lanes) await lane.start();
    const started = Date.now();
    const loadUntil = started + loadMs;
    // Faults from a few seconds in until a healthy stretch before the end,
    // long enough for claims a failed store left behind to expire (KV's
    // minimum TTL is 60 s) and for queue back-offs to run out.
    const faultsFrom = started + Math.min(5000, loadMs * 0.1);
    const faultsUntil = loadUntil - Math.min(45_000, Math.max(12_000, loadMs * 0.2));
    // RSS rises for the first minutes of any load in Miniflare (see
    // memoryVerdict): measure from a good part of the way in.
    const warmAt = started + Math.min(loadMs * 0.6, Math.max(15_000, Math.min(120_000, loadMs * 0.4)));
    const drainUntil = loadUntil + 90_000;
    const processes = workerdProcesses();
    for (const lane of lanes) {
      lane.loadUntil = loadUntil;
      lane.sampleMemory('start', processes);
    }
    let warm = false;
    let nextIsolateSample = warmAt;
    const sampler = setInterval(() => {
      const phase = Date.now() >= loadUntil ? 'drain' : !warm && Date.now() >= warmAt ? 'warm' : 'run';
      if (phase === 'warm') warm = true;
      const now = workerdProcesses();
      for (const lane of lanes) lane.sampleMemory(phase, now);
      if (Date.now() >= nextIsolateSample) {
        nextIsolateSample = Date.now() + 60_000;
        for (const lane of lanes) lane.track(lane.sampleIsolate(phase === 'warm' ? 'warm' : 'run'));
      }
    }, 2000);
    const progress = setInterval(() => {
      const line = lanes.map((l) => `${l.mode}: ${l.answers.length} requests, ${l.events.filter((e) => e.accepted).length}/${l.events.length} accepted${l.fault ? `, fault ${l.fault}` : ''}`);
      console.log(`soak +${((Date.now() - started) / 1000).toFixed(0)} s  ${line.join(' | ')}`);
    }, 15_000);
    try {
      await Promise.all(lanes.map((lane) => Promise.all([lane.runLoad(loadUntil, drainUntil), lane.runFaults(faultsFrom, faultsUntil)])));
      const drainStarted = Date.now();
      await Promise.all(lanes.map((lane) => lane.drain(drainUntil)));
      const ending = workerdProcesses();
      for (const lane of lanes) lane.sampleMemory('end', ending);
      for (const lane of lanes) await lane.sampleIsolate('end');
      const timing = { load: loadMs, drain: Date.now() - drainStarted, seed };
      for (const lane of lanes) {
        lane.check();
        report(lane, timing);
      }
    } finally {
      clearInterval(sampler);
      clearInterval(progress);
    }
  } finally {
    for (const lane of lanes) await lane.close().catch((error) => console.error(`soak: closing ${lane.mode}: ${error.message}`));
  }
  return lanes;
}

console.log(
  `soak: ${MINUTES} min, modes ${MODES.join(', ')}${flags.sequential ? ' one after the other' : ' at once'}, ~${RATE} new requests/s per mode, seed ${SEED}; loopback only`,
);
const totalMs = MINUTES * 60_000;
const lanes = [];
if (flags.sequential) {
  for (const mode of MODES) lanes.push(...(await runLanes([mode], totalMs / MODES.length, SEED)));
} else {
  lanes.push(...(await runLanes(MODES, totalMs, SEED)));
}
const failed = lanes.filter((lane) => lane.violations.length > 0);
console.log(failed.length === 0 ? `\nsoak: PASS (${lanes.map((l) => l.mode).join(', ')})` : `\nsoak: FAIL (${failed.map((l) => l.mode).join(', ')})`);
process.exit(failed.length === 0 ? 0 : 1);
