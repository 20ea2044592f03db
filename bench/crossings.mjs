// `npm run bench:crossings -- [--target hookgate|DIR] [--deliveries 50] [--skip-build] [--at-most N]`
// (a DIR is a build of hookgate; one made with HOOKGATE_KEEP_NAMES=1 names its calls)
// How often one delivery crosses between JavaScript and wasm: every call
// the wasm module makes to an import and every call JavaScript makes to one
// of its exports, counted by name (CROSSINGS_MODULE in bench/common.mjs), in
// workerd with KV and the location's cache as Maps (as `npm run bench -- --kv
// memory`). Counts, not timings: the same on a quiet machine and a busy one,
// so a change to the boundary shows as a number. Three kinds of request,
// each sent one at a time after a warm-up: a delivered event (a new
// `webhook-id`), a duplicate of one (the same delivery again), and a
// forgery (a wrong signature). With `--at-most N` it fails when a delivered
// event crosses more than N times: CI holds the boundary to today's count,
// so a change can take crossings away and none can add them unseen.
import { parseArgs } from 'node:util';
import { send, signed } from '../tests/e2e/harness.mjs';
import { KEY, makeBody, namedBuild, startOrigin, startTarget } from './common.mjs';

const { values: options } = parseArgs({
  options: {
    target: { type: 'string', default: 'hookgate' },
    deliveries: { type: 'string', default: '50' },
    'skip-build': { type: 'boolean', default: false },
    'at-most': { type: 'string' },
  },
});
const COUNT = Number(options.deliveries);

// A build with its names, so each call is counted under its own name.
const script = options.target === 'hookgate' ? namedBuild('crossings-build', options['skip-build']) : `${options.target.replace(/\/$/, '')}/index.js`;

const origin = await startOrigin();
const { url, mf } = await startTarget({ scriptPath: script, wasm: true }, { originUrl: origin.url, memoryKv: true, productionConsole: true, countCrossings: true });
try {
  const body = makeBody(1024).toString();
  // Signed as the e2e tests sign, with the key the target was started with.
  const deliveries = Array.from({ length: COUNT + 10 }, () => signed(body, { key: KEY }));
  const post = async (headers) => (await send(url, { headers, body })).status;
  const counts = async () => JSON.parse(await (await fetch(`${url}__crossings`)).text());
  // Warm-up: settings parsed, keys imported, the cache scope set.
  for (const headers of deliveries.slice(COUNT)) await post(headers);
  await counts();

  const kinds = [
    ['delivered event', (n) => deliveries[n], 200],
    ['duplicate', (n) => deliveries[n], 200],
    ['forgery', (n) => ({ ...deliveries[n], 'webhook-id': `${deliveries[n]['webhook-id']}_forged` }), 401],
  ];
  const rows = [];
  let delivered;
  for (const [kind, delivery, expected] of kinds) {
    for (let n = 0; n < COUNT; n += 1) {
      const status = await post(delivery(n));
      if (status !== expected) throw new Error(`a ${kind} was answered ${status}, not ${expected}`);
    }
    // The last request's work under waitUntil (its log line, its cache
    // writes) may run on after its answer: the counts are read after it.
    await new Promise((resolve) => setTimeout(resolve, 200));
    rows.push([kind, await counts()]);
  }

  console.log(`Crossings per request between JavaScript and wasm, ${COUNT} of each kind, one at a time (1 KB body; KV and the cache as Maps); ${new Date().toISOString().slice(0, 10)}.\n`);
  console.log('| request | in all | calls into wasm | calls out of wasm | the calls out, by name (per request) |');
  console.log('|---|---:|---:|---:|---|');
  for (const [kind, counted] of rows) {
    const per = (n) => n / COUNT;
    const entries = Object.entries(counted).sort((a, b) => b[1] - a[1]);
    const into = entries.filter(([name]) => name.startsWith('export ')).reduce((sum, [, n]) => sum + n, 0);
    const out = entries.filter(([name]) => name.startsWith('import ')).reduce((sum, [, n]) => sum + n, 0);
    const named = entries
      .filter(([name]) => name.startsWith('import '))
      .map(([name, n]) => `${name.slice(7).replace(/^__wbg_/, '').replace(/^__?wbindgen_/, '').replace(/_[0-9a-f]{16}$/, '')} ${+per(n).toFixed(2)}`)
      .join(', ');
    console.log(`| ${kind} | ${+per(into + out).toFixed(2)} | ${+per(into).toFixed(2)} | ${+per(out).toFixed(2)} | ${named} |`);
    if (kind === 'delivered event') delivered = per(into + out);
  }
  if (options['at-most'] !== undefined && !(delivered <= Number(options['at-most']))) {
    console.error(`crossings: a delivered event crosses ${delivered} times, more than --at-most ${options['at-most']}`);
    process.exitCode = 1;
  }
} finally {
  await mf.dispose();
  origin.close();
}
