// What a delivery costs, counted: a mix of deliveries like a real sender's
// (unique events, the sender's retries of some, and forgeries) sent to the
// built Worker with the harness's meter on (startGate's `meter`), in each
// mode, and every billable operation divided by the unique deliveries.
// tests/e2e/cost.test.mjs holds each mode to BUDGETS; `npm run bench --
// --cost` (bench/cost.mjs) prices the same measurement.
import { ORIGIN_KEY, STRANGER_KEY, nowSeconds, poll, quoEvent, send, signed, sleep, startGate, startOrigin } from './harness.mjs';

/** The mix, in the issue's ratios: per 4 unique deliveries, 1 retry of one of them and 2 forgeries. */
export const MIX = { unique: 200, duplicates: 50, forgeries: 100 };

/** As a team deploys it: with the admin API (and so the reads of the
 * paused routes it makes possible). */
const DEPLOYED = { ADMIN_TOKEN: 'admin-token-of-the-cost-run-0123' };

/** The modes measured: settings and harness options for each. */
export const MODES = {
  kv: { label: 'kv, direct', settings: { ...DEPLOYED, REPLAY_STORE: 'kv' }, options: {} },
  'durable-object': { label: 'durable-object, direct', settings: { ...DEPLOYED, REPLAY_STORE: 'durable-object' }, options: {} },
  queue: {
    label: 'kv, queue route',
    settings: { ...DEPLOYED, REPLAY_STORE: 'kv', DELIVERY: 'queue', ORIGIN_SECRET: ORIGIN_KEY },
    options: { queues: true },
  },
};

/**
 * Rows the delivery log writes by the clock, not per delivery: a shard's row
 * for an hour new to it and its count cells (per minute, route and reason),
 * a handful per shard an hour and minute whatever the load. The run's mix
 * fits in one hour and one or two flushes of counts, so the rows budgets
 * allow this many beside the per-delivery rows (the tables show the budget
 * with them spread over the run's unique deliveries).
 */
export const CLOCK_ROWS = 4;

/**
 * What each mode may cost per unique delivery (issue 20's targets). A
 * budget is `{ max }` (at most) or `{ below }` (less than). The measures
 * are those of `perDelivery`.
 */
export const BUDGETS = {
  kv: {
    kvWrites: { max: 1.0 },
    logRequests: { max: 0.1 },
    busiestObject: { below: 1 },
  },
  'durable-object': {
    rowsWritten: { max: 3 + CLOCK_ROWS / MIX.unique },
    objectRequests: { max: 2.2 },
    busiestObject: { below: 1 },
  },
  queue: {
    kvWrites: { max: 1 },
    objectRequests: { max: 0.2 },
    rowsWritten: { max: 2 + CLOCK_ROWS / MIX.unique },
    busiestObject: { below: 1 },
  },
};

/** The measures, in the order tables show them, with what each counts. */
export const MEASURES = {
  workerRequests: 'Worker requests (every delivery sent: unique, retries, forgeries)',
  kvReads: 'KV reads (get, getWithMetadata)',
  kvWrites: 'KV writes (put, delete)',
  kvLists: 'KV lists',
  replayRequests: 'REPLAY_DO requests',
  logRequests: 'DELIVERY_LOG requests',
  objectRequests: 'Durable Object requests in all (alarms included)',
  busiestObject: 'requests to the busiest single object',
  rowsWritten: 'SQLite rows written (requests and alarms)',
  queueOps: 'Queues operations (write, read, delete per 64 KB)',
};

/** Whether `value` keeps to `budget`. */
export const within = (value, budget) => (budget.max !== undefined ? value <= budget.max : value < budget.below);

/** A budget as text: `≤ 1` or `< 1`. */
export const budgetText = (budget) => (budget.max !== undefined ? `≤ ${budget.max}` : `< ${budget.below}`);

/** Sends `work` (functions returning promises) `width` at a time; their results in order. */
async function inTurn(work, width) {
  const results = new Array(work.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < work.length) {
        const at = next;
        next += 1;
        results[at] = await work[at]();
      }
    }),
  );
  return results;
}

/** A deterministic shuffle (the same order every run). */
function shuffled(list) {
  const out = [...list];
  let seed = 20;
  for (let i = out.length - 1; i > 0; i -= 1) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** The meter's counts, to see when they stop changing. */
const settledPart = (metered) => JSON.stringify([metered.kv, metered.objects, metered.queue]);

/**
 * Runs the mix against a fresh gate in `mode` and returns what was sent,
 * what came back, and the meter's counts once the log and queue settled.
 * `mix` scales the sizes (keep the ratios).
 */
export async function measureMode(mode, { mix = MIX, width = 4, settleMs = 60_000 } = {}) {
  const { settings, options } = MODES[mode];
  const origin = await startOrigin();
  const gate = await startGate({ ORIGIN_URL: origin.url, ...settings }, { ...options, meter: true });
  const started = Date.now();
  try {
    const events = Array.from({ length: mix.unique }, () => ({ body: quoEvent(), headers: null }));
    // Each event's first attempt was signed a minute ago; a retry is signed
    // anew, as senders do, with the same id.
    const firstSent = nowSeconds() - 60;
    for (const event of events) event.headers = signed(event.body, { timestamp: firstSent });
    const forgeries = Array.from({ length: mix.forgeries }, () => {
      const body = quoEvent();
      return { body, headers: signed(body, { key: STRANGER_KEY }), forged: true };
    });
    const deliver = ({ body, headers }) => send(gate.url, { headers, body });
    const first = shuffled([...events, ...forgeries]);
    const firstAnswers = await inTurn(first.map((item) => () => deliver(item)), width);
    const retried = events.slice(0, mix.duplicates).map((event) => ({
      body: event.body,
      headers: signed(event.body, { id: event.headers['webhook-id'] }),
    }));
    const retryAnswers = await inTurn(retried.map((item) => () => deliver(item)), width);
    const answers = {};
    const tally = (answer) => {
      // `status` in an accepting answer, `reason` in a problem+json refusal.
      const name = `${answer.status} ${answer.json?.reason ?? answer.json?.status ?? ''}`.trim();
      answers[name] = (answers[name] ?? 0) + 1;
    };
    firstAnswers.forEach(tally);
    retryAnswers.forEach(tally);
    // Settled: every event at the origin, and nothing counted for a while
    // (the log is written after each answer, the queue's consumer later).
    const ids = events.map((event) => event.headers['webhook-id']);
    let last = '';
    let quietSince = Date.now();
    const settled = await poll(async () => {
      const now = settledPart(await gate.meter());
      if (now !== last) {
        last = now;
        quietSince = Date.now();
      }
      const arrived = ids.every((id) => origin.receivedFor(id).length >= 1);
      return arrived && Date.now() - quietSince >= 2_000;
    }, settleMs);
    const metered = await gate.meter();
    const forwards = ids.map((id) => origin.receivedFor(id).length);
    // The stores' own account, to hold the meter to: the log's count of the
    // commands and of the writes it took, and the replay keys stored.
    const logMeta = await gate.logMeta();
    const own = {
      logRequests: logMeta.requests,
      logWrites: logMeta.writes,
      storedKeys: settings.REPLAY_STORE === 'durable-object' ? await gate.shardRows() : (await (await gate.kv()).list()).keys.length,
    };
    return {
      mode,
      mix,
      settled,
      seconds: (Date.now() - started) / 1000,
      answers,
      atOrigin: { events: forwards.filter((n) => n > 0).length, forwards: forwards.reduce((a, n) => a + n, 0) },
      metered,
      own,
    };
  } finally {
    await gate.close();
    await origin.close();
    // Let the last workerd go before the next mode starts.
    await sleep(200);
  }
}

/**
 * What the replay shards' clean-up costs, which a run of the mix is too
 * short to see (a key is kept DEDUPE_TTL_SECONDS, three days by default):
 * `keys` deliveries in durable-object mode with a two-second memory, then
 * a wait until the alarms have deleted every key. The alarms run, and the
 * rows they wrote, as the shards report them.
 */
export async function measureSweep({ keys = 8, waitMs = 15_000 } = {}) {
  const origin = await startOrigin();
  const gate = await startGate(
    { ORIGIN_URL: origin.url, REPLAY_STORE: 'durable-object', TOLERANCE_SECONDS: '1', DEDUPE_TTL_SECONDS: '2' },
    { meter: true },
  );
  try {
    const statuses = [];
    for (let i = 0; i < keys; i += 1) {
      const body = quoEvent();
      statuses.push((await send(gate.url, { headers: signed(body), body })).status);
    }
    const storedBefore = await gate.shardRows();
    let stored = storedBefore;
    for (let waited = 0; waited < waitMs && stored > 0; waited += 500) {
      await sleep(500);
      stored = await gate.shardRows();
    }
    const { REPLAY_DO: shards } = (await gate.meter()).objects;
    return { keys, statuses, storedBefore, storedAfter: stored, alarms: shards.alarms, written: shards.alarmRowsWritten, requestsWritten: shards.rowsWritten };
  } finally {
    await gate.close();
    await origin.close();
  }
}

/** The measures of one run, per unique delivery. */
export function perDelivery(run) {
  const { metered, mix } = run;
  const unique = mix.unique;
  const objects = Object.values(metered.objects);
  const sum = (pick) => objects.reduce((total, ns) => total + pick(ns), 0);
  const busiest = Math.max(0, ...objects.flatMap((ns) => Object.values(ns.byObject)));
  const queue = metered.queue;
  const totals = {
    workerRequests: mix.unique + mix.duplicates + mix.forgeries,
    kvReads: metered.kv.get + metered.kv.getWithMetadata,
    kvWrites: metered.kv.put + metered.kv.delete,
    kvLists: metered.kv.list,
    replayRequests: metered.objects.REPLAY_DO?.requests ?? 0,
    logRequests: metered.objects.DELIVERY_LOG?.requests ?? 0,
    objectRequests: sum((ns) => ns.requests + ns.alarms),
    busiestObject: busiest,
    rowsWritten: sum((ns) => ns.rowsWritten + ns.alarmRowsWritten),
    queueOps: queue.writes + queue.reads + queue.deletes,
  };
  return {
    totals,
    per: Object.fromEntries(Object.entries(totals).map(([name, total]) => [name, total / unique])),
    // Rows a new object's first start wrote (its tables): once per object
    // ever, not per delivery, so outside the measures.
    startRows: sum((ns) => ns.startRowsWritten),
    unreported: sum((ns) => ns.unreported),
  };
}

/** A figure to three decimals at most: 2, 1.005, 0.25. */
export const fixed = (n) => String(Number(n.toFixed(3)));

/**
 * The measures of several runs side by side (markdown), per unique
 * delivery, with each mode's budget beside its figure (✗ where it is over).
 */
export function costTable(runs) {
  const lines = [];
  lines.push(`| per unique delivery | ${runs.map((run) => MODES[run.mode].label).join(' | ')} |`);
  lines.push(`|---|${runs.map(() => '---:').join('|')}|`);
  const measured = runs.map(perDelivery);
  for (const [name, text] of Object.entries(MEASURES)) {
    const cells = runs.map((run, i) => {
      const value = measured[i].per[name];
      const budget = BUDGETS[run.mode][name];
      if (!budget) return fixed(value);
      return `${fixed(value)} (${budgetText(budget)}${within(value, budget) ? '' : ' ✗'})`;
    });
    lines.push(`| ${text} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** One run in words: the mix, the answers, what reached the origin, what the meter saw besides. */
export function runSummary(run) {
  const { totals, startRows, unreported } = perDelivery(run);
  const queue = run.metered.queue;
  const answers = Object.entries(run.answers).map(([name, n]) => `${n}× ${name}`).join(', ');
  const parts = [
    `${MODES[run.mode].label}: ${run.mix.unique} unique, ${run.mix.duplicates} retries, ${run.mix.forgeries} forgeries in ${run.seconds.toFixed(1)} s${run.settled ? '' : ' (NOT settled)'}`,
    `answers ${answers}; origin got ${run.atOrigin.events} events in ${run.atOrigin.forwards} forwards`,
    `totals: KV ${run.metered.kv.get} get, ${run.metered.kv.put} put, ${run.metered.kv.delete} delete; ` +
      `objects ${Object.entries(run.metered.objects).map(([ns, c]) => `${ns} ${c.requests} requests over ${Object.keys(c.byObject).length} object(s), ${c.rowsWritten} rows written, ${c.alarms} alarms`).join('; ') || 'none'}; ` +
      `rows written ${totals.rowsWritten}; queue ${queue.messages} messages, ${queue.writes} writes, ${queue.reads} reads, ${queue.deletes} deletes, ${queue.retries} retries`,
    `outside the measures: ${startRows} rows written by new objects' first start (their tables)` +
      (unreported ? `; ${unreported} object requests without a rows header (failed calls)` : ''),
  ];
  return parts.join('\n  ');
}
