// What a delivery costs on Cloudflare, per mode: the metered mix of
// tests/e2e/cost.mjs (the same measurement tests/e2e/cost.test.mjs holds to
// its budgets), priced with bench/prices.mjs. For each mode: every billable
// operation per unique delivery, the free plan's ceiling (deliveries a day
// before one of its limits stops the gate, and which), and the paid cost of
// 10 million deliveries a month.
//
//   npm run bench -- --cost [--cost-mix 200,50,100] [--skip-build]
//   node bench/cost.mjs [--cost-mix 200,50,100]   (after scripts/build.sh)
import { writeFileSync, mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { MIX, MODES, costTable, fixed, measureMode, measureSweep, perDelivery, runSummary } from '../tests/e2e/cost.mjs';
import { PRICES, PRICES_AS_OF, PRICE_SOURCES } from './prices.mjs';

const MONTH = 10_000_000;
/** The most alarms 16 shards run a day: one each a minute (SWEEP_GAP_MS, src/glue/replay_shard.rs). */
const SHARD_ALARMS_A_DAY = 16 * 24 * 60;

/** `--cost-mix unique,duplicates,forgeries`, or the mix. */
export function parseMix(text) {
  if (!text) return MIX;
  const [unique, duplicates, forgeries] = text.split(',').map(Number);
  if (![unique, duplicates, forgeries].every((n) => Number.isInteger(n) && n >= 0) || unique === 0 || duplicates > unique) {
    throw new Error(`--cost-mix wants unique,duplicates,forgeries (duplicates at most unique), got ${text}`);
  }
  return { unique, duplicates, forgeries };
}

/**
 * Prices per-delivery measures: each operation's use, the deliveries a day
 * its free allowance allows, its paid cost per 10 million deliveries; the
 * free plan's ceiling (the smallest of those) and the month's paid total.
 */
export function priced(per) {
  const items = Object.entries(PRICES).map(([name, price]) => {
    const use = price.measures.reduce((sum, measure) => sum + (per[measure] ?? 0), 0);
    const allows = price.freePerDay !== null && use > 0 ? Math.floor(price.freePerDay / use) : Infinity;
    const month = price.paidPerMillion !== null ? (use * MONTH * price.paidPerMillion) / 1e6 : null;
    return { name, price, use, allows, month };
  });
  const stopper = items.reduce((least, item) => (item.allows < least.allows ? item : least));
  const month = items.reduce((sum, item) => sum + (item.month ?? 0), 0);
  return { items, ceiling: stopper.allows, limit: stopper.price.label, month };
}

const dollars = (n) => (n === null ? '—' : `$${n < 1000 ? n.toFixed(2) : n.toFixed(0)}`);
/** A rate: at least two decimals, more where it has them ($0.001). */
const rate = (n) => (n === null ? '—' : `$${n.toFixed(Math.max(2, (String(n).split('.')[1] ?? '').length))}`);
const whole = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'no limit');

/** One mode's priced table (markdown). */
function pricedTable(priceOf) {
  const lines = [
    '| operation | per delivery | free plan, per day | deliveries/day it allows | paid, per million | per 10 M deliveries |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const item of priceOf.items) {
    const { price } = item;
    lines.push(
      `| ${price.label} | ${fixed(item.use)} | ${whole(price.freePerDay)} | ${whole(item.allows)} | ${rate(price.paidPerMillion)} | ${dollars(item.month)} |`,
    );
  }
  return lines.join('\n');
}

/**
 * Measures every mode and the shards' sweep, and returns the report
 * (markdown) with the runs.
 */
export async function costReport({ mix = MIX, log = () => {} } = {}) {
  const runs = [];
  for (const mode of Object.keys(MODES)) {
    log(`cost: ${MODES[mode].label}, ${mix.unique} unique, ${mix.duplicates} retries, ${mix.forgeries} forgeries`);
    runs.push(await measureMode(mode, { mix }));
  }
  log('cost: the replay shards\u2019 sweep, with a two-second memory');
  const sweep = await measureSweep();
  const lines = [];
  lines.push(
    `What a delivery costs, counted by the harness's meter: ${mix.unique} unique deliveries, ${mix.duplicates} retries of them ` +
      `(the sender's, re-signed) and ${mix.forgeries} forgeries, per unique delivery; ${new Date().toISOString().slice(0, 10)}.`,
  );
  lines.push('');
  lines.push(costTable(runs));
  lines.push('');
  lines.push('(a budget in brackets, ✗ where the figure is over it: tests/e2e/cost.mjs BUDGETS)');
  lines.push('');
  for (const run of runs) lines.push(`- ${runSummary(run)}`);
  const swept = sweep.written / sweep.keys;
  lines.push(
    `- the replay shards' clean-up, later (a key is kept DEDUPE_TTL_SECONDS, 3 days by default): ${sweep.alarms} alarms ` +
      `wrote ${sweep.written} rows to delete ${sweep.keys} keys: rows written per key ${fixed(swept)}. ` +
      'durable-object mode keeps one key per unique delivery, so it writes that much more per delivery three days on; ' +
      `its alarms are requests too, about one per shard a minute at most (${SHARD_ALARMS_A_DAY.toLocaleString('en-US')} a day for 16 shards), whatever the volume`,
  );
  lines.push('');
  lines.push(`Priced with Cloudflare's rates as of ${PRICES_AS_OF} (bench/prices.mjs; ${Object.values(PRICE_SOURCES).join(', ')}):`);
  const summary = [
    '| mode | free plan: deliveries a day | stopped by | paid: 10 M deliveries a month |',
    '|---|---:|---|---:|',
  ];
  for (const run of runs) {
    const { per } = perDelivery(run);
    const priceOf = priced(per);
    lines.push('');
    lines.push(`${MODES[run.mode].label}:`);
    lines.push('');
    lines.push(pricedTable(priceOf));
    summary.push(`| ${MODES[run.mode].label} | ${whole(priceOf.ceiling)} | ${priceOf.limit} | ${dollars(priceOf.month)} |`);
    if (run.mode === 'durable-object') {
      const later = priced({ ...per, rowsWritten: per.rowsWritten + swept * (run.own.storedKeys / run.mix.unique) });
      summary.push(
        `| ${MODES[run.mode].label}, with the later sweep's rows | ${whole(later.ceiling)} | ${later.limit} | ${dollars(later.month)} |`,
      );
    }
  }
  lines.push('');
  lines.push(...summary);
  lines.push('');
  lines.push(
    'A delivery here is a unique delivery with its share of the mix\u2019s retries and forgeries. ' +
      'The paid figures are use times rate, before the paid plan\u2019s monthly minimum and included usage, ' +
      'and without Workers requests and CPU time.',
  );
  return { report: lines.join('\n'), runs, sweep };
}

/** Measures, prints the report and keeps it in bench/out/cost.md. */
export async function printCostReport({ mix = MIX } = {}) {
  const { report } = await costReport({ mix, log: (m) => process.stderr.write(`bench: ${m}\n`) });
  const out = fileURLToPath(new URL('out/', import.meta.url));
  mkdirSync(out, { recursive: true });
  writeFileSync(`${out}cost.md`, `${report}\n`);
  console.log(report);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { 'cost-mix': { type: 'string' } } });
  await printCostReport({ mix: parseMix(values['cost-mix']) });
}
