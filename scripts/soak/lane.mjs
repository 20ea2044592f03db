// A lane: one mode of the soak, its gate (the built Worker in workerd, a
// route per sender scheme) in front of its own soak origin, with the state
// the load, the faults and the checks share: the events sent, the answers,
// the fault log, the memory samples and the violations found.
import {
  ORIGIN_KEY,
  SCHEME_SECRETS as SECRETS,
  secretBinding as binding,
  startGate,
  workerdProcesses,
} from '../../tests/e2e/harness.mjs';
import { SCHEMES } from '../senders.mjs';
import { setFault } from './faults.mjs';
import { startSoakOrigin } from './origin.mjs';
import { ADMIN_TOKEN, FAILURE_COOL_DOWN_SECONDS, MAX_BODY_BYTES, ORIGIN_TIMEOUT_MS, TOLERANCE_SECONDS, pathOf } from './shared.mjs';

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

export class Lane {
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
        // A one-second cool-down after a failed forward (the default is 10),
        // doubling with each failure in a row: the simulated senders retry
        // within seconds, and the fault stretches are a few seconds long.
        FAILURE_COOL_DOWN_SECONDS: String(FAILURE_COOL_DOWN_SECONDS),
        ADMIN_TOKEN,
      },
      { ...this.spec.options, inspect: true },
    );
    this.pids = [...workerdProcesses().keys()].filter((pid) => !before.has(pid));
    if (this.pids.length === 0) throw new Error(`${this.mode}: no workerd process found`);
  }

  track(promise) {
    const settled = promise
      .catch((error) => this.violation(`the soak itself failed: ${error.stack}`))
      .finally(() => this.pending.delete(settled));
    this.pending.add(settled);
  }

  async close() {
    await setFault(this, null).catch(() => {});
    await this.gate?.close();
    await this.origin?.close();
  }
}
