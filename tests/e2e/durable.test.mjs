// End to end: REPLAY_STORE=durable-object. The claim is one atomic
// check-and-set in a Durable Object (SQLite storage), so simultaneous copies
// of a delivery reach the origin exactly once.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { newId, quoEvent, send, signed, sleep, startGate, useGate } from './harness.mjs';

describe('durable-object mode', () => {
  // A one-second cool-down after a failed forward (the default is 10), so a
  // retry after it is quick to test.
  const rig = useGate({ REPLAY_STORE: 'durable-object', ORIGIN_TIMEOUT_MS: '3000', FAILURE_COOL_DOWN_SECONDS: '1' });

  const deliver = (headers, body) => send(rig.gate.url, { headers, body });

  test('50 simultaneous copies of one delivery: exactly one reaches the origin', async () => {
    const body = quoEvent();
    const headers = signed(body);
    rig.origin.answer(() => ({ status: 200, delayMs: 100 }));
    const answers = await Promise.all(Array.from({ length: 50 }, () => deliver(headers, body)));
    rig.origin.answer(() => ({ status: 200 }));
    const statuses = answers.map((a) => a.status);
    assert.equal(rig.origin.receivedFor(headers['webhook-id']).length, 1, JSON.stringify(statuses));
    assert.ok(statuses.every((s) => s === 200 || s === 409), JSON.stringify(statuses));
    assert.equal(answers.filter((a) => a.json?.status === 'delivered').length, 1);
    console.log(`# 50 simultaneous copies, durable-object mode: 1 forwarded; ${statuses.filter((s) => s === 409).length} answered 409`);
  });

  test('several ids at once, 10 copies each: one forward per id', async () => {
    const deliveries = Array.from({ length: 8 }, () => {
      const body = quoEvent();
      return { body, headers: signed(body) };
    });
    await Promise.all(deliveries.flatMap(({ body, headers }) => Array.from({ length: 10 }, () => deliver(headers, body))));
    for (const { headers } of deliveries) assert.equal(rig.origin.receivedFor(headers['webhook-id']).length, 1);
  });

  test('a retry of a delivered id is 200 and not forwarded', async () => {
    const body = quoEvent();
    const id = newId();
    assert.deepEqual((await deliver(signed(body, { id }), body)).json, { status: 'delivered' });
    assert.deepEqual((await deliver(signed(body, { id }), body)).json, { status: 'duplicate' });
    assert.equal(rig.origin.receivedFor(id).length, 1);
  });

  test('the origin fails: the claim is released and the retry is delivered once', async () => {
    const body = quoEvent();
    const id = newId();
    rig.origin.answer(() => ({ status: 500 }));
    assert.equal((await deliver(signed(body, { id }), body)).status, 502);
    rig.origin.answer(() => ({ status: 200 }));
    await sleep(1_100); // the cool-down after the failure
    assert.deepEqual((await deliver(signed(body, { id }), body)).json, { status: 'delivered' });
    assert.deepEqual((await deliver(signed(body, { id }), body)).json, { status: 'duplicate' });
    assert.equal(rig.origin.receivedFor(id).length, 2, 'the failed attempt and the delivered retry');
  });

  test('a copy arriving while the first is forwarded is 409', async () => {
    const body = quoEvent();
    const headers = signed(body);
    rig.origin.answer(() => ({ status: 200, delayMs: 600 }));
    const first = deliver(headers, body);
    await sleep(200);
    const copy = await deliver(headers, body);
    rig.origin.answer(() => ({ status: 200 }));
    assert.equal(copy.status, 409);
    assert.equal(copy.headers.get('retry-after'), '30');
    assert.equal((await first).status, 200);
  });
});

describe('durable-object mode: expiry', () => {
  // A two-second memory (allowed without KV's one-minute floor) so the
  // clean-up alarm can be watched.
  const rig = useGate({
      REPLAY_STORE: 'durable-object',
      TOLERANCE_SECONDS: '1',
      DEDUPE_TTL_SECONDS: '2',
    });

  test('expired ids are deleted from storage by the alarm, and are then free again', async () => {
    const body = quoEvent();
    const id = newId();
    assert.equal((await send(rig.gate.url, { headers: signed(body, { id }), body })).status, 200);
    assert.equal(await rig.gate.shardRows(), 1);
    assert.deepEqual((await send(rig.gate.url, { headers: signed(body, { id }), body })).json, { status: 'duplicate' });
    let rows = 1;
    for (let waited = 0; waited < 10_000 && rows > 0; waited += 500) {
      await sleep(500);
      rows = await rig.gate.shardRows();
    }
    assert.equal(rows, 0, 'the done mark is gone from storage');
    // Past the memory, the same id is new again (the window is 1 s here).
    assert.deepEqual((await send(rig.gate.url, { headers: signed(body, { id }), body })).json, { status: 'delivered' });
  });
});

describe('durable-object mode without its binding', () => {
  test('is 500 misconfigured, naming REPLAY_DO', async () => {
    const gate = await startGate({ ORIGIN_URL: 'http://127.0.0.1:9/', REPLAY_STORE: 'durable-object' }, { noDurable: true });
    try {
      const body = quoEvent();
      const answer = await send(gate.url, { headers: signed(body), body });
      assert.equal(answer.status, 500);
      assert.equal(answer.json.reason, 'misconfigured');
      assert.match(gate.logs.join('\n'), /binding REPLAY_DO is missing/);
    } finally {
      await gate.close();
    }
  });
});
