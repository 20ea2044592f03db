// `npm run bench:race -- [--rounds 20] [--copies 20]`: how many copies of one
// delivery reach the origin when they arrive together, in kv mode (Workers
// KV has no compare-and-set) and in durable-object mode, with a clean
// origin and with an origin that fails the first forward; the copies land
// on one isolate, or alternate between two isolates over the same stores
// (as two machines or locations would). Prints one line per scenario:
// origin hits and 2xx deliveries per round (min / median / max, and every
// round), so the docs can say what was measured.
import { parseArgs } from 'node:util';
import { quoEvent, send, signed, startGate, startOrigin } from '../tests/e2e/harness.mjs';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '20' },
    copies: { type: 'string', default: '20' },
  },
});
const rounds = Number(values.rounds);
const copies = Number(values.copies);

const stats = (list) => {
  const sorted = [...list].sort((a, b) => a - b);
  return `min ${sorted[0]}, median ${sorted[Math.floor(sorted.length / 2)]}, max ${sorted.at(-1)}`;
};

const origin = await startOrigin();
for (const [store, isolates] of [['kv', 1], ['kv', 2], ['durable-object', 1], ['durable-object', 2]]) {
  // No cool-down: the sender's retry right after a failed forward is part of
  // the race measured here.
  const gate = await startGate(
    { ORIGIN_URL: origin.url, REPLAY_STORE: store, FAILURE_COOL_DOWN_SECONDS: '0' },
    { twin: isolates === 2 },
  );
  const deliver = (i, headers, body) =>
    i % isolates === 0
      ? send(gate.url, { headers, body })
      : gate.twinFetch(gate.url, { method: 'POST', headers, body }).then((r) => r.text());
  for (const failFirst of [false, true]) {
    const hits = [];
    const delivered = [];
    for (let round = 0; round < rounds; round += 1) {
      const body = quoEvent();
      const headers = signed(body);
      const id = headers['webhook-id'];
      let seen = 0;
      let accepted = 0;
      origin.answer((entry) => {
        if (entry.headers['webhook-id'] !== id) return { status: 200 };
        seen += 1;
        const fail = failFirst && seen === 1;
        if (!fail) accepted += 1;
        return { status: fail ? 503 : 200, delayMs: 50 };
      });
      await Promise.all(Array.from({ length: copies }, (_, i) => deliver(i, headers, body)));
      // The sender retries what failed; one retry after the burst.
      await send(gate.url, { headers, body });
      hits.push(seen);
      delivered.push(accepted);
    }
    console.log(
      `${store}, ${isolates} isolate${isolates > 1 ? 's' : ''}, ${copies} simultaneous copies, origin ${failFirst ? 'fails the first forward' : 'healthy'}: ` +
        `origin hits per round ${stats(hits)}; 2xx deliveries ${stats(delivered)}; ` +
        `rounds with more than one 2xx delivery: ${delivered.filter((n) => n > 1).length}/${rounds} ` +
        `(hits ${JSON.stringify(hits)}; 2xx ${JSON.stringify(delivered)})`,
    );
  }
  await gate.close();
}
await origin.close();
