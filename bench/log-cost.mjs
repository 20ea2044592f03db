// `npm run bench:log -- [--deliveries 300] [--rate 100] [--burst]`: what the
// delivery log costs per delivery, as the log's own objects count it
// (`/meta`: requests handled, write commands, SQLite rows written as
// `cursor.rowsWritten` reports them, which is what Cloudflare bills). One
// isolate, in front of a healthy origin, in direct mode and in queue mode:
// deliveries are sent at `--rate` per second (a steady load), or all at
// once with `--burst`; then the gate is left to flush and the objects are
// asked. The numbers include the counts every request adds to. The objects
// count since their instance started: one the runtime evicts while idle
// starts again from zero (the shard a run writes to is never idle).
import { parseArgs } from 'node:util';
import { ORIGIN_KEY, quoEvent, send, signed, sleep, startGate, startOrigin } from '../tests/e2e/harness.mjs';

const { values } = parseArgs({
  options: {
    deliveries: { type: 'string', default: '300' },
    rate: { type: 'string', default: '100' },
    burst: { type: 'boolean', default: false },
    modes: { type: 'string', default: 'direct,queue' },
  },
});
const deliveries = Number(values.deliveries);
const rate = Number(values.rate);

async function measure(mode) {
  const origin = await startOrigin();
  const queue = mode === 'queue';
  const gate = await startGate(
    { ORIGIN_URL: origin.url, ...(queue ? { DELIVERY: 'queue', ORIGIN_SECRET: ORIGIN_KEY } : {}) },
    { queues: queue },
  );
  try {
    const before = await gate.logMeta();
    const started = Date.now();
    const sent = [];
    for (let i = 0; i < deliveries; i += 1) {
      if (!values.burst) await sleep(Math.max(0, started + (i * 1000) / rate - Date.now()));
      const body = quoEvent();
      sent.push(send(gate.url, { headers: signed(body), body }).then((answer) => answer.status));
    }
    const statuses = await Promise.all(sent);
    const expected = queue ? 202 : 200;
    const refused = statuses.filter((status) => status !== expected).length;
    if (queue) {
      // Until the consumer has forwarded every event.
      const until = Date.now() + 60_000;
      while (origin.received.length < deliveries - refused && Date.now() < until) await sleep(200);
    }
    await sleep(3_000); // past the flush interval: what is buffered is written
    const after = await gate.logMeta();
    const per = (field) => ((after[field] - before[field]) / deliveries).toFixed(3);
    console.log(
      `${mode}, ${deliveries} deliveries ${values.burst ? 'at once' : `at ${rate}/s`} (${refused} not ${expected}): ` +
        `log requests ${after.requests - before.requests} (${per('requests')} per delivery), ` +
        `write commands ${after.writes - before.writes} (${per('writes')}), ` +
        `rows written ${after.rows_written - before.rows_written} (${per('rows_written')})` +
        (after.shards ? `; shards written: ${after.shards.filter((shard) => shard.writes > 0).length} of ${after.shards.length}` : ''),
    );
  } finally {
    await gate.close();
    await origin.close();
  }
}

for (const mode of values.modes.split(',')) await measure(mode);
