// End to end, in workerd with real local Queues: pausing and resuming a
// route (issue 22 item 6) and a queue route's origin rate limit,
// max_per_second (item 8). A paused queue route holds its events without
// spending attempts and delivers each once after the resume; a paused
// direct route answers 503 with Retry-After, and the sender's retry after
// the resume is delivered once; a route limited to 5 a second delivers a
// burst of 50 at that pace.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ORIGIN_KEY, SENDER_KEY, STRANGER_KEY, eventually, quoEvent, send, signed, sleep, startGate, startOrigin, useGate } from './harness.mjs';

const TOKEN = 'admin-token-for-the-steer-tests-01';

function admin(gate, path, { method = 'GET', token = TOKEN } = {}) {
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  return send(gate.url, { method, path: `/_hookgate${path}`, headers });
}

const pause = (gate, route) => admin(gate, `/routes/pause?route=${encodeURIComponent(route)}`, { method: 'POST' });
const resume = (gate, route) => admin(gate, `/routes/resume?route=${encodeURIComponent(route)}`, { method: 'POST' });

async function routes(gate) {
  const answer = await admin(gate, '/routes');
  assert.equal(answer.status, 200, answer.text);
  return Object.fromEntries(answer.json.routes.map((r) => [r.route, r.paused]));
}

describe('pause and resume', () => {
  const rig = useGate(
    {
      DELIVERY: 'queue',
      ORIGIN_SECRET: ORIGIN_KEY,
      QUEUE_RETRY_BASE_SECONDS: '1',
      // Fewer attempts than the holds a pause of several seconds makes: a
      // hold that spent one would make every event a dead letter.
      QUEUE_MAX_ATTEMPTS: '2',
      ADMIN_TOKEN: TOKEN,
    },
    { queues: true },
  );

  test('need the token: 401 without it or with another; 404 for a path no route has; 405 for a GET', async () => {
    const { gate } = rig;
    for (const action of ['pause', 'resume']) {
      for (const token of [null, 'not-the-token-at-all-0123']) {
        const answer = await admin(gate, `/routes/${action}?route=%2F`, { method: 'POST', token });
        assert.equal(answer.status, 401, `${action} with ${token}`);
        assert.equal(answer.json.reason, 'unauthorized');
      }
    }
    assert.equal((await admin(gate, '/routes', { token: null })).status, 401);
    assert.deepEqual(await routes(gate), { '/': false }, 'nothing was paused');
    const unknown = await admin(gate, '/routes/pause?route=%2Fnowhere', { method: 'POST' });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.reason, 'unknown-route');
    assert.equal((await admin(gate, '/routes/pause?route=%2F')).status, 405);
    assert.equal((await admin(gate, '/routes/pause', { method: 'POST' })).status, 400);
  });

  test('a paused queue route holds five events without spending attempts, and delivers each once after the resume', async () => {
    const { gate, origin } = rig;
    const paused = await pause(gate, '/');
    assert.equal(paused.status, 200, paused.text);
    assert.deepEqual(paused.json, { routes: [{ route: '/', paused: true }] }, 'answered with the routes');
    assert.deepEqual(await routes(gate), { '/': true });
    const ids = [];
    for (let i = 0; i < 5; i += 1) {
      const body = quoEvent('message.received', { n: i });
      const headers = signed(body);
      const answer = await send(gate.url, { headers, body });
      assert.equal(answer.status, 202, answer.text);
      ids.push(headers['webhook-id']);
    }
    // Held for longer than QUEUE_MAX_ATTEMPTS holds: 1, 2 and 4 seconds.
    await sleep(8_000);
    assert.equal(origin.received.length, 0, 'nothing reached the origin while paused');
    const resumed = await resume(gate, '/');
    assert.deepEqual(resumed.json, { routes: [{ route: '/', paused: false }] });
    assert.deepEqual(await routes(gate), { '/': false });
    await eventually(() => ids.every((id) => origin.receivedFor(id).length >= 1), 30_000, 'every held event delivered after the resume');
    await sleep(3_000); // a stray second copy would arrive by now
    for (const id of ids) assert.equal(origin.receivedFor(id).length, 1, `${id} delivered once`);
    const records = (await admin(gate, '/deliveries')).json.deliveries;
    for (const id of ids) {
      const record = records.find((r) => r.key === id);
      assert.equal(record.outcome, 'delivered', JSON.stringify(record));
      assert.equal(record.attempts, 2, 'accepted, then delivered: no attempt spent on the holds');
      assert.equal(record.dead_letter, false);
    }
  });
});

describe('a paused queue route whose queue refuses the held copy', () => {
  const rig = useGate(
    { DELIVERY: 'queue', ORIGIN_SECRET: ORIGIN_KEY, QUEUE_RETRY_BASE_SECONDS: '1', ADMIN_TOKEN: TOKEN },
    { queues: true, switchableQueue: true },
  );

  test('retries the message instead, and still delivers each event once after the resume, none a dead letter', async () => {
    const { gate, origin } = rig;
    assert.equal((await pause(gate, '/')).status, 200);
    const ids = [];
    for (let i = 0; i < 3; i += 1) {
      const body = quoEvent('message.received', { n: i });
      const headers = signed(body);
      assert.equal((await send(gate.url, { headers, body })).status, 202);
      ids.push(headers['webhook-id']);
    }
    gate.failQueue(true); // the consumer's copies are refused from now on
    await sleep(4_000);
    gate.failQueue(false);
    assert.equal(origin.received.length, 0, 'held all the same');
    assert.equal((await resume(gate, '/')).status, 200);
    await eventually(() => ids.every((id) => origin.receivedFor(id).length >= 1), 30_000, 'each delivered after the resume');
    await sleep(2_000);
    for (const id of ids) assert.equal(origin.receivedFor(id).length, 1, `${id} delivered once`);
    const records = (await admin(gate, '/deliveries')).json.deliveries;
    for (const id of ids) {
      const record = records.find((r) => r.key === id);
      assert.equal(record?.outcome, 'delivered', id);
      assert.equal(record.dead_letter, false, id);
    }
  });
});

describe('a paused direct route', () => {
  const rig = useGate({ ADMIN_TOKEN: TOKEN, FAILURE_COOL_DOWN_SECONDS: '1' });

  test('answers 503 paused with Retry-After to a verified delivery, 401 to a forgery, and delivers the sender\'s retry once after the resume', async () => {
    const { gate, origin } = rig;
    assert.equal((await pause(gate, '/')).status, 200);
    const body = quoEvent();
    const headers = signed(body);
    const answer = await send(gate.url, { headers, body });
    assert.equal(answer.status, 503, answer.text);
    assert.equal(answer.json.reason, 'paused');
    assert.equal(answer.headers.get('retry-after'), '60');
    const forged = await send(gate.url, { headers: signed(body, { key: STRANGER_KEY }), body });
    assert.equal(forged.status, 401, 'a forgery learns nothing of the pause');
    assert.equal(origin.received.length, 0);
    assert.equal((await resume(gate, '/')).status, 200);
    // The sender's retry: the same id, signed again.
    const retry = signed(body, { id: headers['webhook-id'] });
    const delivered = await send(gate.url, { headers: retry, body });
    assert.equal(delivered.status, 200, delivered.text);
    assert.deepEqual(delivered.json, { status: 'delivered' });
    const again = await send(gate.url, { headers: signed(body, { id: headers['webhook-id'] }), body });
    assert.deepEqual(again.json, { status: 'duplicate' });
    assert.equal(origin.receivedFor(headers['webhook-id']).length, 1);
    const stats = (await admin(gate, '/stats?since=1h')).json.routes['/'];
    assert.equal(stats.paused, 1, JSON.stringify(stats));
  });

  test('every admin action is recorded: a log line each, refused ones too, and a count under /_hookgate by its name', async () => {
    const { gate } = rig;
    const counted = async () => (await admin(gate, '/stats?since=1h')).json.routes['/_hookgate'] ?? {};
    const before = await counted();
    const lines = gate.logs.length;
    assert.equal((await pause(gate, '/')).status, 200);
    assert.equal((await resume(gate, '/')).status, 200);
    assert.equal((await admin(gate, '/routes/pause?route=%2Fnowhere', { method: 'POST' })).status, 404);
    const retried = await admin(gate, '/deliveries/nothing-here/retry?route=%2F', { method: 'POST' });
    assert.equal(retried.status, 404, retried.text);
    const after = await counted();
    for (const name of ['pause', 'resume']) {
      assert.equal((after[name] ?? 0) - (before[name] ?? 0), 1, `${name} counted once: ${JSON.stringify(after)}`);
    }
    assert.equal(after.retry, before.retry, 'a refused retry is counted by its reason, not as done');
    const printed = gate.logs.slice(lines).join('\n');
    for (const [name, route, status] of [['pause', '/', 200], ['resume', '/', 200], ['pause', '/nowhere', 404], ['retry', '/', 404]]) {
      const line = `admin: '${name}', route: '${route}', status: ${status}`;
      assert.ok(printed.includes(line), `a log line for ${name} ${route} ${status}:\n${printed}`);
    }
    assert.ok(!printed.includes(TOKEN), 'the token is never logged');
  });
});

describe('a pause an isolate has not read yet', () => {
  // Paused by one gate; a second one, on the same stored log, starts cold:
  // it knows of no pause until it reads the paused routes, and every
  // request or message that arrives meanwhile waits for that one read.
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-steer-'));
  const routes = (origin) => ({
    ROUTES: {
      '/direct': { scheme: 'standard-webhooks', secret: 'QUO_SECRET', origin: origin.url },
      '/queued': { scheme: 'standard-webhooks', secret: 'QUO_SECRET', origin: origin.url, origin_secret: 'ORIGIN_SECRET', delivery: 'queue' },
    },
    QUO_SECRET: SENDER_KEY,
    ORIGIN_SECRET: ORIGIN_KEY,
    WEBHOOK_SECRET: undefined,
    QUEUE_RETRY_BASE_SECONDS: '1',
    ADMIN_TOKEN: TOKEN,
  });

  test('holds every queued event of a batch, and every concurrent delivery, of a route paused before the isolate started', async (t) => {
    const origin = await startOrigin();
    t.after(async () => {
      await origin.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const batch = (gate, path) =>
      Promise.all(
        Array.from({ length: 5 }, () => {
          const body = quoEvent();
          const headers = signed(body);
          return send(gate.url, { path, headers, body }).then((answer) => ({ answer, id: headers['webhook-id'] }));
        }),
      );
    // The first gate's origin fails: each queued event becomes a dead
    // letter at its first attempt; then both routes are paused.
    const first = await startGate({ ...routes(origin), QUEUE_MAX_ATTEMPTS: '1' }, { queues: true, persist: dir });
    origin.answer(() => ({ status: 500 }));
    const dead = await batch(first, '/queued');
    for (const { answer } of dead) assert.equal(answer.status, 202, answer.text);
    const deadLetters = async () => (await admin(first, '/deliveries?route=%2Fqueued&outcome=dead')).json?.deliveries?.length ?? 0;
    await eventually(async () => (await deadLetters()) === 5, 30_000, 'five dead letters');
    for (const route of ['/direct', '/queued']) assert.equal((await pause(first, route)).status, 200);
    await first.close();
    origin.answer(() => ({ status: 200 }));
    // A cold consumer: five dead letters retried at once come in one
    // batch, worked on together, by an isolate that has read nothing yet.
    let gate = await startGate(routes(origin), { queues: true, persist: dir });
    try {
      const retried = await admin(gate, '/dead-letters/retry?route=%2Fqueued', { method: 'POST' });
      assert.equal(retried.json?.requeued, 5, retried.text);
      await sleep(4_000); // the consumer's batch, and a hold or two
      assert.equal(dead.filter(({ id }) => origin.receivedFor(id).length > 1).length, 0, 'no retried letter reached the paused origin');
      assert.equal((await resume(gate, '/queued')).status, 200);
      await eventually(() => dead.every(({ id }) => origin.receivedFor(id).length >= 2), 30_000, 'each held event delivered after the resume');
      await sleep(2_000);
      for (const { id } of dead) assert.equal(origin.receivedFor(id).length, 2, `${id}: its failed attempt, then delivered once`);
    } finally {
      await gate.close();
    }
    // A cold gate again, five deliveries at once to the route still paused.
    gate = await startGate(routes(origin), { queues: true, persist: dir });
    try {
      const direct = await batch(gate, '/direct');
      for (const { answer } of direct) assert.equal(answer.json?.reason, 'paused', answer.text);
      assert.equal(origin.received.length, 10, 'only the queued events ever reached the origin: each failed once, then was delivered');
    } finally {
      await gate.close();
    }
  });

  test('a forgery costs no read of the paused routes: the log sees only its count', async (t) => {
    const origin = await startOrigin();
    const gate = await startGate({ ORIGIN_URL: origin.url, ADMIN_TOKEN: TOKEN }, { meter: true });
    t.after(async () => {
      await gate.close();
      await origin.close();
    });
    const body = quoEvent();
    assert.equal((await send(gate.url, { headers: signed(body, { key: STRANGER_KEY }), body })).status, 401);
    const logRequests = async () => (await gate.meter()).objects.DELIVERY_LOG?.requests ?? 0;
    await eventually(async () => (await logRequests()) >= 1, 10_000, 'the count written');
    await sleep(1_000);
    assert.equal(await logRequests(), 1, 'one request: the count, at once (a quiet gate\'s first)');
    for (let i = 0; i < 5; i += 1) {
      const forged = quoEvent();
      assert.equal((await send(gate.url, { headers: signed(forged, { key: STRANGER_KEY }), body: forged })).status, 401);
    }
    await sleep(1_000);
    assert.equal(await logRequests(), 1, 'the next forgeries wait for the next batch of counts; none reads the paused routes');
  });
});

describe('max_per_second: a queue route limited to 5 a second', () => {
  const rig = {};

  test('delivers a burst of 50 at the origin\'s pace, each once', async (t) => {
    rig.origin = await startOrigin();
    rig.gate = await startGate(
      {
        ROUTES: {
          '/paced': { scheme: 'standard-webhooks', secret: 'QUO_SECRET', origin: rig.origin.url, origin_secret: 'ORIGIN_SECRET', delivery: 'queue', max_per_second: 5 },
        },
        QUO_SECRET: SENDER_KEY,
        ORIGIN_SECRET: ORIGIN_KEY,
        WEBHOOK_SECRET: undefined,
      },
      { queues: true },
    );
    t.after(async () => {
      await rig.gate.close();
      await rig.origin.close();
    });
    const { gate, origin } = rig;
    const arrived = new Map();
    origin.answer((entry) => {
      arrived.set(entry.headers['webhook-id'], [...(arrived.get(entry.headers['webhook-id']) ?? []), Date.now()]);
      return { status: 200 };
    });
    const ids = [];
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => {
        const body = quoEvent();
        const headers = signed(body);
        ids.push(headers['webhook-id']);
        return send(gate.url, { path: '/paced', headers, body });
      }),
    );
    assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([202]), 'the burst is accepted at once');
    await eventually(() => ids.every((id) => arrived.has(id)), 40_000, 'every event delivered');
    await sleep(2_000);
    for (const id of ids) assert.equal(arrived.get(id).length, 1, `${id} delivered once`);
    const times = ids.map((id) => arrived.get(id)[0]).sort((a, b) => a - b);
    const span = times.at(-1) - times[0];
    t.diagnostic(`50 forwards over ${span} ms`);
    assert.ok(span >= 8_000, `spread over ${span} ms, not at the sender's pace`);
    // No window of one second holds more than the limit and one (a
    // window's edges may catch one slot early).
    let busiest = 0;
    for (let i = 0; i < times.length; i += 1) {
      let j = i;
      while (j < times.length && times[j] < times[i] + 1_000) j += 1;
      busiest = Math.max(busiest, j - i);
    }
    assert.ok(busiest <= 6, `${busiest} forwards within one second`);
  });
});
