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
//   the store or the queue was down, …; see `judge` in checks.mjs);
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
//
// The parts, in scripts/soak/: lane.mjs (a mode's gate, origin and state),
// load.mjs (the senders), faults.mjs (the fault schedule), origin.mjs (the
// recording origin), deadletters.mjs (queue mode's dead letters via the admin
// API), checks.mjs (the judge and the end checks), memory.mjs, report.mjs,
// client.mjs (requests to the gate) and shared.mjs (settings). This file:
// the flags, the run of the lanes (load, faults, drain, checks, report) and
// the exit code.
import { parseArgs } from 'node:util';
import { sleep, workerdProcesses } from '../../tests/e2e/harness.mjs';
import { arrivals, check } from './checks.mjs';
import { admin, deadLetters, retryDeadLetters, watchDeadLetters } from './deadletters.mjs';
import { runFaults } from './faults.mjs';
import { Lane } from './lane.mjs';
import { runLoad } from './load.mjs';
import { sampleIsolate, sampleMemory } from './memory.mjs';
import { report } from './report.mjs';
import { pathOf } from './shared.mjs';

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
// The end of the load.

/**
 * Waits for the senders still retrying, then (queue mode) for the queue to
 * drain: every accepted event at the origin. Dead letters are retried
 * through the admin API, as an operator would. Bounded by `until`.
 */
async function drain(lane, until) {
  while (lane.pending.size > 0 && Date.now() < until) await Promise.race([sleep(500), ...lane.pending]);
  if (lane.spec.queue) {
    await watchDeadLetters(lane);
    let lastDeadCheck = 0;
    for (;;) {
      const byHash = arrivals(lane);
      const waiting = lane.events.filter((e) => e.accepted && !(byHash.get(e.hash) ?? []).some((a) => a.accepted));
      if (waiting.length === 0 || Date.now() > until) break;
      if (Date.now() - lastDeadCheck > 3000) {
        lastDeadCheck = Date.now();
        await retryDeadLetters(lane);
      }
      await sleep(250);
    }
  }
  // A stray second forward (a redelivered message, a late retry) would
  // arrive within this.
  await sleep(3000);
  if (lane.spec.queue) {
    for (const letter of (await deadLetters(lane)) ?? []) lane.violation(`a dead letter is left after the drain: ${letter.route} ${letter.key}`);
    // What the delivery log says about any event still missing, for the report.
    const byHash = arrivals(lane);
    lane.records = new Map();
    for (const event of lane.events.filter((e) => !(byHash.get(e.hash) ?? []).some((a) => a.accepted)).slice(0, 10)) {
      const record = await admin(lane, `/deliveries/${encodeURIComponent(event.key)}?route=${encodeURIComponent(pathOf(event.scheme))}`);
      lane.records.set(event, record.text.slice(0, 600));
    }
  }
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
      sampleMemory(lane, 'start', processes);
    }
    let warm = false;
    let nextIsolateSample = warmAt;
    const sampler = setInterval(() => {
      const phase = Date.now() >= loadUntil ? 'drain' : !warm && Date.now() >= warmAt ? 'warm' : 'run';
      if (phase === 'warm') warm = true;
      const now = workerdProcesses();
      for (const lane of lanes) sampleMemory(lane, phase, now);
      if (Date.now() >= nextIsolateSample) {
        nextIsolateSample = Date.now() + 60_000;
        for (const lane of lanes) lane.track(sampleIsolate(lane, phase === 'warm' ? 'warm' : 'run'));
      }
    }, 2000);
    const progress = setInterval(() => {
      const line = lanes.map((l) => `${l.mode}: ${l.answers.length} requests, ${l.events.filter((e) => e.accepted).length}/${l.events.length} accepted${l.fault ? `, fault ${l.fault}` : ''}`);
      console.log(`soak +${((Date.now() - started) / 1000).toFixed(0)} s  ${line.join(' | ')}`);
    }, 15_000);
    try {
      await Promise.all(lanes.map((lane) => Promise.all([runLoad(lane, loadUntil, drainUntil, RATE), runFaults(lane, faultsFrom, faultsUntil)])));
      const drainStarted = Date.now();
      await Promise.all(lanes.map((lane) => drain(lane, drainUntil)));
      const ending = workerdProcesses();
      for (const lane of lanes) sampleMemory(lane, 'end', ending);
      for (const lane of lanes) await sampleIsolate(lane, 'end');
      const timing = { load: loadMs, drain: Date.now() - drainStarted, seed };
      for (const lane of lanes) {
        check(lane);
        report(lane, timing, { rate: RATE, verbose: flags.verbose });
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
