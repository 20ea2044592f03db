// Cloudflare's published rates for what a hookgate delivery uses, as data:
// the free plan's daily allowance and the paid rate per million, for each
// billable operation the meter counts (tests/e2e/harness.mjs, `meter`).
// Copied by hand from the pricing pages below, as of the date given; check
// them before relying on a figure, and change the numbers here only.
//
// Not priced here: Workers requests on the paid plan and CPU time (the
// rates below give only the free plan's daily requests), storage (GB-month),
// the paid plan's monthly minimum and included usage, and SQLite rows read
// (5,000,000 a day free, $0.001 per million; the meter does not count them:
// at a few per delivery they are never the limit that binds).

export const PRICES_AS_OF = '2026-12';

export const PRICE_SOURCES = {
  workers: 'https://developers.cloudflare.com/workers/platform/pricing/',
  kv: 'https://developers.cloudflare.com/kv/platform/pricing/',
  durableObjects: 'https://developers.cloudflare.com/durable-objects/platform/pricing/',
  queues: 'https://developers.cloudflare.com/queues/platform/pricing/',
};

/**
 * Each billable operation: `freePerDay` on the free plan (null: no free
 * allowance given), `paidPerMillion` in US dollars (null: not priced
 * here), the measures of tests/e2e/cost.mjs it is made of, and its page.
 */
export const PRICES = {
  workerRequests: { label: 'Workers requests', freePerDay: 100_000, paidPerMillion: null, measures: ['workerRequests'], source: 'workers' },
  kvReads: { label: 'KV reads', freePerDay: 100_000, paidPerMillion: 0.5, measures: ['kvReads'], source: 'kv' },
  // KV bills put, delete and list at one rate.
  kvWrites: { label: 'KV writes (put, delete, list)', freePerDay: 1_000, paidPerMillion: 5.0, measures: ['kvWrites', 'kvLists'], source: 'kv' },
  objectRequests: { label: 'Durable Object requests', freePerDay: 100_000, paidPerMillion: 0.15, measures: ['objectRequests'], source: 'durableObjects' },
  rowsWritten: { label: 'SQLite rows written', freePerDay: 100_000, paidPerMillion: 1.0, measures: ['rowsWritten'], source: 'durableObjects' },
  // Three operations per message (write, read, delete), each per 64 KB.
  queueOps: { label: 'Queues operations', freePerDay: 10_000, paidPerMillion: 0.4, measures: ['queueOps'], source: 'queues' },
};
