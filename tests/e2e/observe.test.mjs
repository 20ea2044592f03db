// End to end: the delivery log, the admin API, counts, retention, the
// structured log and metrics, in workerd against real origins.
import { Miniflare } from 'miniflare';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { sampleEvent, signFor } from '../../scripts/senders.mjs';
import {
  ORIGIN_KEY,
  QUEUE_CONSUMERS,
  ROTATED_KEY,
  SENDER_KEY,
  STRANGER_KEY,
  eventually,
  quoEvent,
  send,
  sendMany,
  signed,
  sleep,
  startGate,
  startOrigin,
  useGate,
} from './harness.mjs';

const TOKEN = 'admin-token-for-the-e2e-tests-0001';
const GITHUB_SECRET = 'github secret of the observe tests';

/** GET an admin path with the token (or `token`), parsed. */
function admin(gate, path, { token = TOKEN } = {}) {
  const headers = token === null ? {} : { authorization: `Bearer ${token}` };
  return send(gate.url, { method: 'GET', path: `/_hookgate${path}`, headers });
}

describe('without ADMIN_TOKEN nothing under /_hookgate/ exists', () => {
  let gate;
  const paths = ['', '/', '/deliveries', '/stats', '/dashboard.js', '/deliveries/x?route=/', '/nope'];
  before(async () => {
    gate = await startGate({ ORIGIN_URL: 'http://127.0.0.1:9/', STATS_FLUSH_SECONDS: '1' });
  });
  after(() => gate?.close());

  for (const path of paths) {
    test(`GET /_hookgate${path} is 404, with or without a token`, async () => {
      for (const token of [null, TOKEN]) {
        const answer = await admin(gate, path, { token });
        assert.equal(answer.status, 404, answer.text);
        assert.equal(answer.json.reason, 'not-found');
      }
    });
  }

  // Found by the second hostile review: these 404s went uncounted.
  test('each is counted like any path no route has: (none), not-found', async () => {
    await sleep(1_100); // past STATS_FLUSH_SECONDS: the next count writes the batch
    assert.equal((await admin(gate, '/nope', { token: null })).status, 404);
    await sleep(200);
    const { routes } = await gate.logStats();
    assert.deepEqual(routes, { '(none)': { 'not-found': paths.length * 2 + 1 } });
  });
});

describe('the admin API checks the token before anything else, and counts every refusal', () => {
  const rig = useGate({ ADMIN_TOKEN: TOKEN });
  // Each answered, with the token, by what the request holds; without it
  // (or with another) only 401.
  const asked = [
    ['GET', '/deliveries?limit=0', 400, 'bad-query'],
    ['GET', '/deliveries?since=%zz', 400, 'bad-query'],
    ['GET', '/deliveries/x', 400, 'bad-query'],
    ['GET', '/deliveries/x/retry?route=/', 405, 'method-not-allowed'],
    ['POST', '/stats', 405, 'method-not-allowed'],
    ['POST', '/', 405, 'method-not-allowed'],
    ['GET', '/nope', 404, 'not-found'],
    ['GET', '/deliveries/x?route=/', 404, 'unknown-delivery'],
    ['POST', '/deliveries/x/retry?route=/', 404, 'unknown-delivery'],
  ];
  const call = (method, path, token) =>
    send(rig.gate.url, { method, path: `/_hookgate${path}`, headers: token === null ? {} : { authorization: `Bearer ${token}` } });

  // Found by the second hostile review: without a token these answered
  // 400 with guidance, 405 and 404, telling anyone what the API takes.
  test('without the token, or with another, every request but the dashboard files is 401', async () => {
    for (const token of [null, 'admin-token-for-the-e2e-tests-0002']) {
      for (const [method, path] of asked) {
        const answer = await call(method, path, token);
        assert.equal(answer.status, 401, `${method} ${path} (${token}): ${answer.text}`);
        assert.equal(answer.json.reason, 'unauthorized');
        assert.equal(answer.headers.get('www-authenticate'), 'Bearer realm="hookgate"');
      }
    }
    for (const path of ['', '/', '/dashboard.js', '/dashboard.css']) {
      assert.equal((await call('GET', path, null)).status, 200, `GET ${path}: the page a browser opens first`);
    }
  });

  test('with it, each is answered by what it asked', async () => {
    for (const [method, path, status, reason] of asked) {
      const answer = await call(method, path, TOKEN);
      assert.equal(answer.status, status, `${method} ${path}: ${answer.text}`);
      assert.equal(answer.json.reason, reason, `${method} ${path}`);
    }
  });

  test('every refusal is counted in the stats, by reason', async () => {
    await sleep(100);
    const { json } = await call('GET', '/stats?since=1h', TOKEN);
    const expected = { unauthorized: asked.length * 2 };
    for (const [, , , reason] of asked) expected[reason] = (expected[reason] ?? 0) + 1;
    assert.deepEqual(json.routes['/_hookgate'], expected);
  });
});

describe('a gate with ADMIN_TOKEN on two routes', () => {
  const origins = {};
  let gate;
  const made = {};

  before(async () => {
    origins.quo = await startOrigin();
    origins.github = await startOrigin();
    const routes = {
      '/quo': { scheme: 'standard-webhooks', secret: 'QUO_SECRET', origin: origins.quo.url, origin_secret: 'ORIGIN_SECRET' },
      '/github': { scheme: 'github', secret: 'GITHUB_SECRET', origin: origins.github.url },
    };
    gate = await startGate(
      {
        ROUTES: routes,
        QUO_SECRET: `${SENDER_KEY} ${ROTATED_KEY}`,
        GITHUB_SECRET,
        ORIGIN_SECRET: ORIGIN_KEY,
        ADMIN_TOKEN: TOKEN,
        WEBHOOK_SECRET: undefined,
        // A one-second cool-down after a failed forward (the default is 10).
        FAILURE_COOL_DOWN_SECONDS: '1',
      },
      { metrics: true },
    );

    // A valid delivery on each route.
    const quoBody = quoEvent('message.received');
    made.quo = signed(quoBody);
    assert.equal((await send(gate.url, { path: '/quo', headers: made.quo, body: quoBody })).status, 200);
    const github = sampleEvent('github');
    made.github = { ...github.headers, ...(await signFor('github', { secret: GITHUB_SECRET, body: github.body })) };
    made.githubBody = github.body;
    const first = await send(gate.url, { path: '/github', headers: made.github, body: github.body });
    assert.equal(first.status, 200);
    // A duplicate of it.
    assert.deepEqual((await send(gate.url, { path: '/github', headers: made.github, body: github.body })).json, { status: 'duplicate' });
    // A delivery that fails at the origin, then succeeds on the sender's retry.
    const retriedBody = quoEvent('call.completed');
    made.retried = signed(retriedBody);
    origins.quo.answer(() => ({ status: 503 }));
    assert.equal((await send(gate.url, { path: '/quo', headers: made.retried, body: retriedBody })).status, 502);
    origins.quo.answer(() => ({ status: 200 }));
    await sleep(1_100); // the cool-down after the failure
    const retry = signed(retriedBody, { id: made.retried['webhook-id'] });
    assert.equal((await send(gate.url, { path: '/quo', headers: retry, body: retriedBody })).status, 200);
    // Forged deliveries on both routes, and a request to no route.
    made.forgedBody = quoEvent('forged.event');
    for (let i = 0; i < 3; i += 1) {
      const forged = signed(made.forgedBody, { key: STRANGER_KEY });
      assert.equal((await send(gate.url, { path: '/quo', headers: forged, body: made.forgedBody })).status, 401);
    }
    const forgedGithub = { ...github.headers, 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` };
    assert.equal((await send(gate.url, { path: '/github', headers: forgedGithub, body: github.body })).status, 401);
    assert.equal((await send(gate.url, { path: '/nowhere', body: '{}' })).status, 404);
    await sleep(200); // the log is written after each answer
  });
  after(async () => {
    await gate?.close();
    for (const origin of Object.values(origins)) await origin?.close();
  });

  test('the API needs the token: 401 without it or with another, never echoing it', async () => {
    for (const token of [null, 'admin-token-for-the-e2e-tests-0002', '']) {
      for (const path of ['/deliveries', '/stats', `/deliveries/x?route=/quo`]) {
        const answer = await admin(gate, path, { token });
        assert.equal(answer.status, 401, `${path} ${token}`);
        assert.equal(answer.json.reason, 'unauthorized');
        assert.ok(!answer.text.includes('admin-token'), answer.text);
      }
    }
    const raw = await send(gate.url, { method: 'GET', path: '/_hookgate/stats', headers: { authorization: TOKEN } });
    assert.equal(raw.status, 401, 'the scheme word is required');
  });

  test('each verified delivery is listed, newest first, with its attempts and outcome', async () => {
    const answer = await admin(gate, '/deliveries');
    assert.equal(answer.status, 200, answer.text);
    const { deliveries, cursor } = answer.json;
    assert.equal(cursor, null);
    assert.equal(deliveries.length, 3, JSON.stringify(deliveries));
    const byKey = Object.fromEntries(deliveries.map((d) => [d.key, d]));
    const quo = byKey[made.quo['webhook-id']];
    assert.deepEqual(
      { route: quo.route, scheme: quo.scheme, event_type: quo.event_type, attempts: quo.attempts, outcome: quo.outcome, origin_status: quo.origin_status },
      { route: '/quo', scheme: 'standard-webhooks', event_type: 'message.received', attempts: 1, outcome: 'delivered', origin_status: 200 },
    );
    const retried = byKey[made.retried['webhook-id']];
    assert.deepEqual({ attempts: retried.attempts, outcome: retried.outcome, origin_status: retried.origin_status }, { attempts: 2, outcome: 'delivered', origin_status: 200 });
    assert.ok(retried.last_seen > retried.first_seen);
    const github = deliveries.find((d) => d.route === '/github');
    assert.match(github.key, /^sig_[0-9a-f]{32}$/);
    assert.deepEqual({ event_type: github.event_type, attempts: github.attempts, outcome: github.outcome }, { event_type: 'push', attempts: 1, outcome: 'delivered' });
    for (let i = 1; i < deliveries.length; i += 1) assert.ok(deliveries[i - 1].last_seen >= deliveries[i].last_seen, 'newest first');
    assert.deepEqual(deliveries[0].key, made.retried['webhook-id']);
  });

  test('nothing stored or shown holds a body, a signature or a secret', async () => {
    const shown = JSON.stringify([
      (await admin(gate, '/deliveries')).json,
      (await admin(gate, '/stats')).json,
      (await admin(gate, `/deliveries/${encodeURIComponent(made.quo['webhook-id'])}?route=/quo`)).json,
    ]);
    const secrets = [SENDER_KEY, ROTATED_KEY, ORIGIN_KEY, GITHUB_SECRET, TOKEN, 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'];
    const signatures = [made.quo['webhook-signature'], made.github['x-hub-signature-256'], made.github['x-hub-signature-256'].slice(7)];
    const bodies = ['Hello from the test suite', 'refs/heads/main', 'octocat'];
    for (const needle of [...secrets, ...signatures, ...bodies]) {
      assert.ok(!shown.includes(needle), `the admin API shows ${needle}`);
      assert.ok(!gate.logs.join('\n').includes(needle), `the logs show ${needle}`);
    }
    const points = JSON.stringify(gate.metricPoints());
    for (const needle of [...secrets, ...signatures, ...bodies]) assert.ok(!points.includes(needle), `metrics hold ${needle}`);
  });

  test('filters by route and outcome; pages with a cursor', async () => {
    const github = await admin(gate, '/deliveries?route=%2Fgithub');
    assert.deepEqual(github.json.deliveries.map((d) => d.route), ['/github']);
    const failed = await admin(gate, '/deliveries?outcome=origin-failed');
    assert.deepEqual(failed.json.deliveries, [], 'the retried delivery is delivered now');
    const delivered = await admin(gate, '/deliveries?outcome=delivered&route=/quo');
    assert.equal(delivered.json.deliveries.length, 2);
    const seen = [];
    let cursor = null;
    do {
      const page = await admin(gate, `/deliveries?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(page.status, 200, page.text);
      assert.ok(page.json.deliveries.length <= 1);
      seen.push(...page.json.deliveries.map((d) => d.key));
      cursor = page.json.cursor;
    } while (cursor);
    assert.equal(seen.length, 3);
    assert.equal(new Set(seen).size, 3, 'no record twice');
    assert.equal((await admin(gate, '/deliveries?limit=0')).status, 400);
    assert.equal((await admin(gate, '/deliveries?since=soon')).status, 400);
    assert.equal((await admin(gate, '/deliveries?since=1h')).json.deliveries.length, 3);
  });

  test('searches by event type, the start of a key, and a time range', async () => {
    const keys = async (query) => (await admin(gate, `/deliveries?${query}`)).json.deliveries.map((d) => d.key);
    assert.deepEqual(await keys('event_type=call.completed'), [made.retried['webhook-id']]);
    assert.deepEqual(await keys('event_type=push&route=%2Fgithub'), (await keys('route=%2Fgithub')));
    assert.deepEqual(await keys('event_type=nothing.like.it'), []);
    const quoKey = made.quo['webhook-id'];
    assert.deepEqual(await keys(`key_prefix=${encodeURIComponent(quoKey.slice(0, 10))}`), [quoKey]);
    assert.deepEqual(await keys(`key_prefix=${encodeURIComponent(quoKey)}&event_type=message.received`), [quoKey]);
    const all = (await admin(gate, '/deliveries')).json.deliveries;
    const oldest = all[all.length - 1];
    assert.deepEqual(await keys(`until=${oldest.last_seen}`), [oldest.key], 'until is inclusive');
    assert.deepEqual(await keys(`since=${oldest.last_seen}&until=${all[0].last_seen}`), all.map((d) => d.key));
    assert.deepEqual(await keys(`until=${oldest.last_seen - 1}`), []);
    assert.equal((await admin(gate, '/deliveries?until=later')).status, 400);
  });

  test('one record by key and route; an unknown one is 404', async () => {
    const key = made.retried['webhook-id'];
    const one = await admin(gate, `/deliveries/${encodeURIComponent(key)}?route=${encodeURIComponent('/quo')}`);
    assert.equal(one.status, 200, one.text);
    assert.equal(one.json.key, key);
    assert.equal(one.json.attempts, 2);
    // Each attempt, oldest first: the origin's 503, then the retry's 200.
    assert.deepEqual(
      one.json.history.map((a) => [a.outcome, a.origin_status]),
      [['origin-failed', 503], ['delivered', 200]],
    );
    assert.ok(one.json.history[0].at < one.json.history[1].at);
    assert.equal(one.json.history[1].at, one.json.last_seen);
    assert.ok(one.json.history.every((a) => Number.isInteger(a.duration_ms)));
    const other = await admin(gate, `/deliveries/${encodeURIComponent(key)}?route=/github`);
    assert.equal(other.status, 404);
    assert.equal(other.json.reason, 'unknown-delivery');
    assert.equal((await admin(gate, `/deliveries/${encodeURIComponent(key)}`)).status, 400, 'route= is required');
  });

  test('stats count every request per route and reason, forged ones included', async () => {
    const { json } = await admin(gate, '/stats?since=1h');
    assert.equal(json.routes['/quo']['bad-signature'], 3);
    assert.equal(json.routes['/quo']['delivered'], 2);
    assert.equal(json.routes['/quo']['origin-failed'], 1);
    assert.equal(json.routes['/github']['bad-signature'], 1);
    assert.equal(json.routes['/github']['duplicate'], 1);
    assert.equal(json.routes['(none)']['not-found'], 1);
    assert.ok(json.routes['/_hookgate'].unauthorized >= 9, 'refused admin requests are counted too');
  });

  test('one metrics data point per request: route, scheme, reason; status, duration, size', () => {
    const points = gate.metricPoints();
    assert.ok(points.length >= 9, `${points.length} points`);
    const forged = points.filter((p) => p.blobs[0] === '/quo' && p.blobs[2] === 'bad-signature');
    assert.equal(forged.length, 3);
    assert.deepEqual(forged[0].blobs, ['/quo', 'standard-webhooks', 'bad-signature']);
    assert.equal(forged[0].doubles[0], 401);
    assert.equal(forged[0].doubles[2], Buffer.byteLength(made.forgedBody));
    assert.deepEqual(forged[0].indexes, ['/quo']);
  });

  test('the dashboard page, script and style are served without data and with a strict policy', async () => {
    for (const [path, type] of [['/', 'text/html'], ['/dashboard.js', 'text/javascript'], ['/dashboard.css', 'text/css']]) {
      const answer = await admin(gate, path, { token: null });
      assert.equal(answer.status, 200);
      assert.match(answer.headers.get('content-type'), new RegExp(type));
      assert.match(answer.headers.get('content-security-policy'), /default-src 'none'; script-src 'self'/);
      assert.equal(answer.headers.get('x-frame-options'), 'DENY');
      assert.equal(answer.headers.get('cache-control'), 'no-store');
      assert.ok(!answer.text.includes(made.quo['webhook-id']), 'no data in the page');
    }
  });
});

describe('counts cost a handful of writes, however many requests', () => {
  let gate;
  before(async () => {
    gate = await startGate({ ORIGIN_URL: 'http://127.0.0.1:9/', ADMIN_TOKEN: TOKEN });
  });
  after(() => gate?.close());

  test('500 forged requests: at most two writes to the log, every one counted', async () => {
    const body = quoEvent();
    const before = (await gate.logMeta()).writes;
    const batches = [];
    for (let batch = 0; batch < 10; batch += 1) {
      batches.push(
        ...(await Promise.all(
          Array.from({ length: 50 }, () => send(gate.url, { headers: signed(body, { key: STRANGER_KEY }), body }).then((a) => a.status)),
        )),
      );
    }
    assert.ok(batches.every((s) => s === 401));
    await sleep(200);
    const writes = (await gate.logMeta()).writes - before;
    assert.ok(writes <= 2, `${writes} writes for 500 forged requests`);
    const { json } = await admin(gate, '/stats?since=5m');
    assert.equal(json.routes['/']['bad-signature'], 500);
  });
});

/** Every record the admin API lists, page by page (`query` without `?`). */
async function listAll(gate, query = '', limit = 100) {
  const listed = [];
  let cursor = null;
  do {
    const page = await admin(gate, `/deliveries?limit=${limit}${query ? `&${query}` : ''}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    assert.equal(page.status, 200, page.text);
    listed.push(...page.json.deliveries);
    cursor = page.json.cursor;
  } while (cursor);
  return listed;
}

describe('the log is written in batches, off the per-delivery path', () => {
  const rig = useGate({ ADMIN_TOKEN: TOKEN });

  test('100 deliveries at once: at most 10 requests to the log, about one row written each, every one listed', async () => {
    const { gate } = rig;
    const before = await gate.logMeta();
    const { ids, answers } = await sendMany(gate.url, 100);
    assert.ok(answers.every((answer) => answer.status === 200));
    await sleep(1_500); // past the flush interval: the request that started the batch wrote it
    const after = await gate.logMeta();
    const requests = after.requests - before.requests;
    assert.ok(requests <= 10, `${requests} requests to the log for 100 deliveries`);
    const rows = after.rows_written - before.rows_written;
    assert.ok(rows <= 110, `${rows} SQLite rows written for 100 deliveries`);
    assert.equal(after.shards.filter((shard) => shard.writes > 0).length, 1, 'one isolate writes to one shard');
    const listed = new Set((await listAll(gate)).map((record) => record.key));
    for (const id of ids) assert.ok(listed.has(id), `${id} listed`);
  });
});

describe('a delivery whose attempts were written to several shards', () => {
  const rig = useGate({ ADMIN_TOKEN: TOKEN });
  const now = Date.now();
  const attempt = (key, ago, outcome, status) =>
    `a=%2F&key=${key}&scheme=standard-webhooks&type=message.received&at=${now - ago}&outcome=${outcome}${status ? `&status=${status}` : ''}&ms=7`;
  before(async () => {
    // As isolates writing to their shards would have: a failure in one and
    // the sender's retry delivered in another; a dead letter's event, and
    // a copy refused later elsewhere.
    const batches = [
      [2, [attempt('msg_split', 3_000, 'origin-failed', 503)]],
      [5, [attempt('msg_split', 1_000, 'delivered', 200), attempt('msg_other', 2_000, 'delivered', 200)]],
      [1, [attempt('msg_dead', 4_000, 'dead', 500)]],
      [6, [attempt('msg_dead', 500, 'store-unavailable')]],
    ];
    for (const [shard, attempts] of batches) {
      const answer = await rig.gate.logShard(shard, '/batch', attempts.join('&'));
      assert.equal(answer.status, 200, await answer.text());
    }
  });

  test('is listed once, newest first, with its attempts combined', async () => {
    const listed = await listAll(rig.gate);
    assert.deepEqual(
      listed.map((d) => [d.key, d.attempts, d.outcome, d.origin_status]),
      [
        ['msg_dead', 2, 'dead', 500],
        ['msg_split', 2, 'delivered', 200],
        ['msg_other', 1, 'delivered', 200],
      ],
    );
    const split = listed[1];
    assert.deepEqual([split.first_seen, split.last_seen], [now - 3_000, now - 1_000]);
    assert.equal(split.event_type, 'message.received');
  });

  test('filters by the combined outcome, and pages across the shards', async () => {
    const keys = async (query, limit) => (await listAll(rig.gate, query, limit)).map((d) => d.key);
    assert.deepEqual(await keys('outcome=origin-failed'), [], 'delivered since, in another shard');
    assert.deepEqual(await keys('outcome=store-unavailable'), [], 'a copy refused while the event is dead');
    assert.deepEqual(await keys('outcome=dead'), ['msg_dead']);
    assert.deepEqual(await keys('outcome=delivered'), ['msg_split', 'msg_other']);
    assert.deepEqual(await keys('', 1), ['msg_dead', 'msg_split', 'msg_other'], 'one per page, each once');
    assert.deepEqual(await keys(`since=${now - 1_500}`), ['msg_dead', 'msg_split']);
  });

  test('one record reads the same, by key', async () => {
    const { json } = await admin(rig.gate, '/deliveries/msg_split?route=%2F');
    assert.deepEqual(
      [json.attempts, json.first_seen, json.last_seen, json.outcome, json.origin_status, json.dead_letter],
      [2, now - 3_000, now - 1_000, 'delivered', 200, false],
    );
  });
});

/** The entry of a stand-in for an earlier build: every request to its log's shard 0. */
const TO_SHARD_ZERO = `
export default {
  fetch(request, env) {
    return env.DELIVERY_LOG.get(env.DELIVERY_LOG.idFromName('delivery-log')).fetch(request);
  },
};`;

/**
 * A stand-in for the build before the log had shards: its `DeliveryLog`
 * object (worker `gate`, as in the harness) with the tables it kept, and a
 * fetch that inserts rows as that build would have written them.
 */
const ONE_OBJECT_LOG = `
export class DeliveryLog {
  constructor(state) {
    this.sql = state.storage.sql;
    this.sql.exec('CREATE TABLE IF NOT EXISTS deliveries (route TEXT NOT NULL, key TEXT NOT NULL, scheme TEXT NOT NULL, event_type TEXT, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, attempts INTEGER NOT NULL, outcome TEXT NOT NULL, origin_status INTEGER, duration_ms INTEGER NOT NULL, PRIMARY KEY (route, key))');
    this.sql.exec('CREATE INDEX IF NOT EXISTS deliveries_recent ON deliveries (last_seen)');
    this.sql.exec('CREATE TABLE IF NOT EXISTS counts (minute INTEGER NOT NULL, route TEXT NOT NULL, reason TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (minute, route, reason))');
    this.sql.exec('ALTER TABLE deliveries ADD COLUMN letter_meta TEXT');
    this.sql.exec('ALTER TABLE deliveries ADD COLUMN letter_body BLOB');
  }
  async fetch(request) {
    const { records, counts } = await request.json();
    for (const r of records) {
      this.sql.exec('INSERT INTO deliveries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)', r.route, r.key, r.scheme, r.event_type, r.first_seen, r.last_seen, r.attempts, r.outcome, r.origin_status, r.duration_ms, r.letter_meta ?? null, r.letter_body ? new TextEncoder().encode(r.letter_body) : null);
    }
    for (const c of counts) this.sql.exec('INSERT INTO counts VALUES (?, ?, ?, ?)', c.minute, c.route, c.reason, c.count);
    return new Response('ok');
  }
}
${TO_SHARD_ZERO}`;

describe('the log one object kept before it had shards', () => {
  const persist = mkdtempSync(join(tmpdir(), 'hookgate-log-'));
  const now = Date.now();
  const letterBody = quoEvent('contact.updated');
  let origin;
  let gate;
  before(async () => {
    const old = new Miniflare({
      name: 'gate',
      modules: true,
      script: ONE_OBJECT_LOG,
      compatibilityDate: '2026-04-20',
      durableObjects: { DELIVERY_LOG: { className: 'DeliveryLog', useSQLite: true } },
      durableObjectsPersist: persist,
    });
    const base = { route: '/', scheme: 'standard-webhooks', event_type: 'message.received', duration_ms: 12 };
    const rows = {
      records: [
        { ...base, key: 'msg_old_delivered', first_seen: now - 60_000, last_seen: now - 30_000, attempts: 2, outcome: 'delivered', origin_status: 200 },
        {
          ...base,
          key: 'msg_old_dead',
          event_type: 'contact.updated',
          first_seen: now - 50_000,
          last_seen: now - 40_000,
          attempts: 3,
          outcome: 'dead',
          origin_status: 500,
          letter_meta: 'content_type=application%2Fjson&letter_type=contact.updated&h=webhook-id%3Amsg_old_dead&body=',
          letter_body: letterBody,
        },
      ],
      counts: [{ minute: Math.floor(now / 60_000), route: '/', reason: 'delivered', count: 5 }],
    };
    assert.equal(await (await old.dispatchFetch('http://old/', { method: 'POST', body: JSON.stringify(rows) })).text(), 'ok');
    await old.dispose();
    origin = await startOrigin();
    gate = await startGate(
      { ORIGIN_URL: origin.url, ORIGIN_SECRET: ORIGIN_KEY, DELIVERY: 'queue', ADMIN_TOKEN: TOKEN },
      { queues: true, persist },
    );
  });
  after(async () => {
    await gate?.close();
    await origin?.close();
    rmSync(persist, { recursive: true, force: true });
  });

  test('is read, counted and retried as before, after the upgrade', async () => {
    const listed = await listAll(gate);
    assert.deepEqual(
      listed.map((d) => [d.key, d.attempts, d.outcome, d.origin_status, d.dead_letter, d.first_seen, d.last_seen]),
      [
        ['msg_old_delivered', 2, 'delivered', 200, false, now - 60_000, now - 30_000],
        ['msg_old_dead', 3, 'dead', 500, true, now - 50_000, now - 40_000],
      ],
    );
    assert.equal((await admin(gate, '/stats?since=1h')).json.routes['/'].delivered, 5);
    const posted = await send(gate.url, { method: 'POST', path: '/_hookgate/deliveries/msg_old_dead/retry?route=%2F', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(posted.status, 202, posted.text);
    await eventually(() => origin.receivedFor('msg_old_dead').length === 1, 10_000, 'the old dead letter delivered');
    const forwarded = origin.receivedFor('msg_old_dead')[0];
    assert.ok(forwarded.body.equals(Buffer.from(letterBody)), 'its kept body');
    new Webhook(ORIGIN_KEY).verify(forwarded.body.toString(), forwarded.headers);
    await eventually(async () => (await admin(gate, '/deliveries/msg_old_dead?route=%2F')).json.outcome === 'delivered', 10_000, 'recorded');
    const meta = await gate.logMeta();
    assert.equal(meta.shards[0].letters, 0, 'the letter dropped once retried');
  });
});

describe('the log never delays or changes an answer', () => {
  const rig = useGate({ ADMIN_TOKEN: TOKEN }, { brokenLog: true });

  test('a delivery log that cannot be written: 200 all the same, and a log line', async () => {
    const { origin, gate } = rig;
    const body = quoEvent();
    const headers = signed(body);
    const answer = await send(gate.url, { headers, body });
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json, { status: 'delivered' });
    assert.equal(origin.receivedFor(headers['webhook-id']).length, 1);
    await sleep(100);
    assert.match(gate.logs.join('\n'), /the delivery log did not take an attempt; the answer stood/);
    assert.equal((await admin(gate, '/deliveries')).status, 503, 'reading it says so');
  });
});

describe('retention: the scheduled clean-up', () => {
  const rig = useGate({ ADMIN_TOKEN: TOKEN, LOG_RETENTION_DAYS: '7' });

  test('keeps records younger than LOG_RETENTION_DAYS and deletes older ones', async () => {
    const { gate } = rig;
    const body = quoEvent();
    assert.equal((await send(gate.url, { headers: signed(body), body })).status, 200);
    await sleep(100);
    const count = async () => (await admin(gate, '/deliveries')).json.deliveries.length;
    assert.equal(await count(), 1);
    await gate.scheduled(new Date(Date.now() + 6 * 86_400_000));
    assert.equal(await count(), 1, 'six days on: kept');
    await gate.scheduled(new Date(Date.now() + 8 * 86_400_000));
    assert.equal(await count(), 0, 'eight days on: gone');
    assert.equal((await admin(gate, `/stats?since=${Date.now() - 3_600_000}`)).json.routes['/'], undefined, 'counts too');
    assert.match(gate.logs.join('\n'), /hookgate: 'retention'[\s\S]*deleted: 1/);
  });
});

// A route's `events`: a verified event of another type is answered 200
// `filtered` and counted, never forwarded, recorded or stored.
describe('a route that forwards only some event types', () => {
  let origin;
  let gate;
  before(async () => {
    origin = await startOrigin();
    const routes = {
      '/quo': { scheme: 'standard-webhooks', secret: 'QUO_SECRET', origin: origin.url, events: ['message.*', 'call.completed'] },
      '/github': { scheme: 'github', secret: 'GITHUB_SECRET', origin: origin.url, events: 'push' },
    };
    gate = await startGate(
      { ROUTES: routes, QUO_SECRET: SENDER_KEY, GITHUB_SECRET, ADMIN_TOKEN: TOKEN, WEBHOOK_SECRET: undefined, STATS_FLUSH_SECONDS: '1' },
      { meter: true },
    );
  });
  after(async () => {
    await gate?.close();
    await origin?.close();
  });

  test('listed types are delivered; any other is 200 filtered, never forwarded, recorded or stored', async () => {
    const sent = {};
    for (const type of ['message.received', 'call.completed', 'contact.updated', 'message']) {
      const body = quoEvent(type);
      const headers = signed(body);
      sent[type] = headers['webhook-id'];
      const answer = await send(gate.url, { path: '/quo', headers, body });
      assert.equal(answer.status, 200, answer.text);
      const expected = type === 'message.received' || type === 'call.completed' ? 'delivered' : 'filtered';
      assert.deepEqual(answer.json, { status: expected }, type);
    }
    const github = sampleEvent('github');
    const issues = { ...github.headers, 'x-github-event': 'issues' };
    const signedIssues = { ...issues, ...(await signFor('github', { secret: GITHUB_SECRET, body: github.body })) };
    assert.deepEqual((await send(gate.url, { path: '/github', headers: signedIssues, body: github.body })).json, { status: 'filtered' });

    const forwarded = origin.received.map((entry) => entry.headers['webhook-id']);
    assert.deepEqual(forwarded.sort(), [sent['message.received'], sent['call.completed']].sort());
    const metered = await gate.meter();
    assert.equal(metered.kv.put, 2, 'a done mark for each delivered event, none for the filtered');
    let routes;
    const counted = async () => {
      routes = (await admin(gate, '/stats?since=1h')).json.routes;
      return routes['/quo']?.filtered === 2 && routes['/github']?.filtered === 1;
    };
    await eventually(counted, 5_000, 'the filtered events counted');
    assert.equal(routes['/quo'].delivered, 2, JSON.stringify(routes));
    const listed = (await admin(gate, '/deliveries')).json.deliveries.map((d) => d.key);
    assert.deepEqual(listed.sort(), [sent['message.received'], sent['call.completed']].sort());
  });
});

/**
 * A stand-in for the build before parts kept their attempts: its shard 0
 * (`delivery-log`) with the parts table of that build, holding one part.
 */
const PARTS_BEFORE_HISTORY = `
export class DeliveryLog {
  constructor(state) {
    this.sql = state.storage.sql;
    this.sql.exec('CREATE TABLE IF NOT EXISTS parts (bucket INTEGER NOT NULL, route TEXT NOT NULL, key TEXT NOT NULL, tie INTEGER NOT NULL, scheme TEXT NOT NULL, event_type TEXT, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, attempts INTEGER NOT NULL, last_outcome TEXT NOT NULL, last_status INTEGER, last_ms INTEGER NOT NULL, onward_at INTEGER, onward_outcome TEXT, onward_status INTEGER, onward_ms INTEGER, delivered_at INTEGER, delivered_status INTEGER, delivered_ms INTEGER, PRIMARY KEY (bucket, route, key)) WITHOUT ROWID');
    this.sql.exec('CREATE TABLE IF NOT EXISTS hours (bucket INTEGER PRIMARY KEY) WITHOUT ROWID');
  }
  async fetch(request) {
    const { key, first, last } = await request.json();
    const bucket = Math.floor(last / 3600000);
    this.sql.exec('INSERT INTO parts VALUES (?, ?, ?, 1, ?, ?, ?, ?, 2, ?, 503, 12, NULL, NULL, NULL, NULL, NULL, NULL, NULL)', bucket, '/', key, 'standard-webhooks', 'message.received', first, last, 'origin-failed');
    this.sql.exec('INSERT OR IGNORE INTO hours VALUES (?)', bucket);
    return new Response('ok');
  }
}
${TO_SHARD_ZERO}`;

describe('parts written before the log kept attempts', () => {
  const persist = mkdtempSync(join(tmpdir(), 'hookgate-history-'));
  const now = Date.now();
  const key = `msg_before_${now}`;
  let origin;
  let gate;
  before(async () => {
    const old = new Miniflare({
      name: 'gate',
      modules: true,
      script: PARTS_BEFORE_HISTORY,
      compatibilityDate: '2026-04-20',
      durableObjects: { DELIVERY_LOG: { className: 'DeliveryLog', useSQLite: true } },
      durableObjectsPersist: persist,
    });
    const made = await old.dispatchFetch('http://old/', { method: 'POST', body: JSON.stringify({ key, first: now - 20_000, last: now - 10_000 }) });
    assert.equal(await made.text(), 'ok');
    await old.dispose();
    origin = await startOrigin();
    gate = await startGate({ ORIGIN_URL: origin.url, ADMIN_TOKEN: TOKEN, STATS_FLUSH_SECONDS: '1' }, { persist });
  });
  after(async () => {
    await gate?.close();
    await origin?.close();
    rmSync(persist, { recursive: true, force: true });
  });

  test('are read as before, and a new attempt is listed beside the ones only counted', async () => {
    const before = await admin(gate, `/deliveries/${key}?route=%2F`);
    assert.equal(before.status, 200, before.text);
    assert.deepEqual([before.json.attempts, before.json.outcome, before.json.history], [2, 'origin-failed', []]);
    const body = quoEvent();
    assert.deepEqual((await send(gate.url, { headers: signed(body, { id: key }), body })).json, { status: 'delivered' });
    let record;
    await eventually(async () => {
      record = (await admin(gate, `/deliveries/${key}?route=%2F`)).json;
      return record.attempts === 3;
    }, 5_000, 'the new attempt logged');
    assert.equal(record.outcome, 'delivered');
    assert.deepEqual(record.history.map((a) => [a.outcome, a.origin_status]), [['delivered', 200]]);
    assert.equal((await listAll(gate)).length, 1);
  });
});
