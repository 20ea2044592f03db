// End to end: the replay guard on Workers KV (Miniflare's local KV), with a
// real origin. Each delivery is forwarded once; a failed forward is retried
// by the sender and then delivered once; the store failing closes the gate.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { sampleEvent, signFor } from '../../scripts/senders.mjs';
import {
  SCHEME_SECRETS,
  SIMULATED_TRAP_ID,
  eventually,
  newId,
  nowSeconds,
  poll,
  quoEvent,
  send,
  signed,
  sleep,
  startGate,
  startOrigin,
  useGate,
} from './harness.mjs';

const storeKey = (id) => `hookgate:v1:${createHash('sha256').update(id).digest('hex')}`;

describe('replay guard on KV', () => {
  // A one-second cool-down after a failed forward (the default is 10), so a
  // retry after it is quick to test.
  const rig = useGate({ ORIGIN_TIMEOUT_MS: '3000', FAILURE_COOL_DOWN_SECONDS: '1' }, { switchableKv: true });

  const deliver = (headers, body) => send(rig.gate.url, { headers, body });

  test('the same delivery twice: 200 twice, forwarded once, marked done with the dedupe TTL', async () => {
    const body = quoEvent();
    const headers = signed(body);
    const first = await deliver(headers, body);
    const second = await deliver(headers, body);
    assert.equal(first.status, 200);
    assert.deepEqual(first.json, { status: 'delivered' });
    assert.equal(second.status, 200);
    assert.deepEqual(second.json, { status: 'duplicate' });
    assert.equal(rig.origin.receivedFor(headers['webhook-id']).length, 1);

    const kv = await rig.gate.kv();
    const { value, metadata } = await kv.getWithMetadata(storeKey(headers['webhook-id']));
    assert.match(value, /^done:\d+$/);
    const remembered = Number(value.slice('done:'.length)) - nowSeconds();
    assert.ok(remembered > 259_200 - 60 && remembered <= 259_200, `done until ${remembered}s from now`);
    assert.equal(metadata, null);
    const listed = await kv.list({ prefix: storeKey(headers['webhook-id']) });
    const expiration = listed.keys[0]?.expiration;
    assert.ok(expiration, 'done has an expiration');
    const ttl = expiration - nowSeconds();
    assert.ok(ttl > 259_200 - 60 && ttl <= 259_200, `done TTL ${ttl}`);
  });

  // src/js/shim.js: a trap mid-delivery must not leave the sender hanging,
  // and the module is set up again for the next event.
  test('a trap in the wasm module mid-delivery: 500 internal-error, nothing forwarded, the next delivery goes through', async () => {
    const body = quoEvent('contact.updated');
    const trapped = await deliver(signed(body, { id: SIMULATED_TRAP_ID }), body);
    assert.equal(trapped.status, 500, trapped.text);
    assert.equal(trapped.json.reason, 'internal-error');
    assert.equal(rig.origin.receivedFor(SIMULATED_TRAP_ID).length, 0);
    const next = signed(body);
    const answer = await deliver(next, body);
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(answer.json, { status: 'delivered' });
    assert.equal(rig.origin.receivedFor(next['webhook-id']).length, 1);
    const logged = () => rig.gate.logs.some((line) => line.includes('critical error in the wasm module'));
    await poll(logged, 5_000);
    assert.ok(logged(), `the trap is logged: ${JSON.stringify(rig.gate.logs.filter((l) => /error|trap|hookgate:/i.test(l)))}`);
  });

  // After a trap the module is set up again with no tasks; a delivery that
  // was in flight in the old one must be answered, and must never go on
  // with the work of a delivery that came after, under the same number.
  test('a delivery in flight across a trap is answered and never steps a later delivery', async () => {
    const delays = new Map();
    rig.origin.answer((entry) => ({ status: 200, delayMs: delays.get(entry.headers['webhook-id']) ?? 0 }));
    try {
      const body = quoEvent('contact.updated');
      const before = signed(body);
      const after = signed(body);
      delays.set(before['webhook-id'], 1_500);
      delays.set(after['webhook-id'], 2_000);
      // The trap of the test before left the trap id held in the location's
      // cache (a claim a trap cuts short is held until it lapses): forget it,
      // so this copy reaches the trap again.
      await rig.gate.forgetCached(SIMULATED_TRAP_ID);
      const inFlight = deliver(before, body);
      await sleep(300);
      const trapped = await deliver(signed(body, { id: SIMULATED_TRAP_ID }), body);
      assert.equal(trapped.status, 500, trapped.text);
      const later = deliver(after, body);
      const [first, second] = await Promise.all([inFlight, later]);
      // The first was forwarded by the old module, whose work is gone: it is
      // answered 500, and its sender's retry finds its claim.
      assert.equal(first.status, 500, `${first.status} ${first.text} / ${second.status} ${second.text}`);
      assert.equal(first.json?.reason, 'internal-error', `${first.text} / ${second.status} ${second.text}`);
      assert.equal(second.status, 200, second.text);
      assert.deepEqual(second.json, { status: 'delivered' });
      assert.equal(rig.origin.receivedFor(after['webhook-id']).length, 1);
    } finally {
      rig.origin.answer(() => ({ status: 200 }));
    }
  });

  test("the sender's retry of a delivered id (new timestamp, new signature) is 200 and not forwarded", async () => {
    const body = quoEvent('message.delivered');
    const id = newId();
    const first = signed(body, { id, timestamp: nowSeconds() - 30 });
    const retry = signed(body, { id });
    assert.notEqual(first['webhook-signature'], retry['webhook-signature']);
    assert.equal((await deliver(first, body)).status, 200);
    const again = await deliver(retry, body);
    assert.equal(again.status, 200);
    assert.deepEqual(again.json, { status: 'duplicate' });
    assert.equal(rig.origin.receivedFor(id).length, 1);
  });

  test('a replay of a captured delivery inside the window is not forwarded', async () => {
    const body = quoEvent('contact.deleted');
    const captured = signed(body, { timestamp: nowSeconds() - 120 });
    assert.equal((await deliver(captured, body)).status, 200);
    for (let i = 0; i < 3; i += 1) {
      assert.equal((await deliver({ ...captured }, body)).status, 200);
    }
    assert.equal(rig.origin.receivedFor(captured['webhook-id']).length, 1);
  });

  test('the origin fails, then recovers: the retry is delivered exactly once', async () => {
    const body = quoEvent('call.transcript.completed');
    const id = newId();
    rig.origin.answer((entry) => (entry.headers['webhook-id'] === id ? { status: 503 } : { status: 200 }));
    const failed = await deliver(signed(body, { id }), body);
    assert.equal(failed.status, 502);
    assert.equal(failed.json.reason, 'origin-failed');
    assert.equal(await (await rig.gate.kv()).get(storeKey(id)), null, 'claim released');

    rig.origin.answer(() => ({ status: 200 }));
    await sleep(1_100); // the cool-down after the failure
    const retried = await deliver(signed(body, { id }), body);
    assert.equal(retried.status, 200);
    assert.deepEqual(retried.json, { status: 'delivered' });
    const later = await deliver(signed(body, { id }), body);
    assert.deepEqual(later.json, { status: 'duplicate' });
    // Two attempts reached the origin: the failed one and the delivered one.
    const attempts = rig.origin.receivedFor(id);
    assert.equal(attempts.length, 2);
    assert.ok(attempts[1].body.equals(Buffer.from(body)));
  });

  test('an origin timeout releases the claim too', async () => {
    const body = quoEvent();
    const id = newId();
    rig.origin.answer(() => ({ status: 200, delayMs: 4000 }));
    assert.equal((await deliver(signed(body, { id }), body)).status, 504);
    rig.origin.answer(() => ({ status: 200 }));
    assert.equal(await (await rig.gate.kv()).get(storeKey(id)), null, 'claim released');
    await sleep(1_100); // the cool-down after the failure
    assert.deepEqual((await deliver(signed(body, { id }), body)).json, { status: 'delivered' });
  });

  test('a copy that arrives while the first is being forwarded is 409 with Retry-After', async () => {
    const body = quoEvent();
    const headers = signed(body);
    rig.origin.answer(() => ({ status: 200, delayMs: 800 }));
    const first = deliver(headers, body);
    await sleep(300);
    const copy = await deliver(headers, body);
    assert.equal(copy.status, 409, copy.text);
    assert.equal(copy.json.reason, 'in-flight');
    assert.equal(copy.headers.get('retry-after'), '30');
    assert.equal((await first).status, 200);
    rig.origin.answer(() => ({ status: 200 }));
    assert.equal(rig.origin.receivedFor(headers['webhook-id']).length, 1);
  });

  test('a sender that hangs up mid-forward: the delivery is still settled, and its retry is a duplicate', async () => {
    const body = quoEvent();
    const id = newId();
    rig.origin.answer(() => ({ status: 200, delayMs: 1200 }));
    const controller = new AbortController();
    const hungUp = fetch(rig.gate.url, { method: 'POST', headers: signed(body, { id }), body, signal: controller.signal });
    await sleep(300);
    controller.abort();
    await hungUp.catch(() => {});
    await sleep(2000);
    rig.origin.answer(() => ({ status: 200 }));
    assert.equal(rig.origin.receivedFor(id).length, 1, 'the origin got the event');
    const retry = await deliver(signed(body, { id }), body);
    assert.deepEqual(retry.json, { status: 'duplicate' }, 'the forward that outlived the sender was marked done');
    assert.equal(rig.origin.receivedFor(id).length, 1);
  });

  test('bad webhook-ids are 400 bad-id and touch neither store nor origin', async () => {
    const kv = await rig.gate.kv();
    const ids = ['', 'has.dot', 'x'.repeat(257), 'tab\there', 'ünicode'];
    for (const id of ids) {
      const body = quoEvent();
      const headers = signed(body, { id });
      // fetch refuses non-Latin-1 header values, so 'ünicode' goes as its UTF-8 bytes.
      headers['webhook-id'] = Buffer.from(id).toString('latin1');
      const answer = await deliver(headers, body);
      assert.equal(answer.status, 400, `${JSON.stringify(id)}: ${answer.text}`);
      assert.equal(answer.json.reason, 'bad-id');
    }
    for (const id of ids) {
      assert.equal(await kv.get(storeKey(Buffer.from(id).toString('latin1'))), null, JSON.stringify(id));
      assert.equal(await kv.get(storeKey(id)), null, JSON.stringify(id));
    }
    assert.ok(!rig.origin.received.some((entry) => entry.headers['webhook-id']?.includes('.')));
  });

  test('a 256-byte id is fine', async () => {
    const body = quoEvent();
    assert.equal((await deliver(signed(body, { id: `msg_${'a'.repeat(252)}` }), body)).status, 200);
  });

  test('unverified deliveries never touch the store', async () => {
    const kv = await rig.gate.kv();
    const body = quoEvent();
    const headers = { ...signed(body), 'webhook-signature': 'v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' };
    assert.equal((await deliver(headers, body)).status, 401);
    assert.equal(await kv.get(storeKey(headers['webhook-id'])), null);
  });

  test('store unreachable: 503 with Retry-After, nothing forwarded; the retry goes through once it is back', async () => {
    const body = quoEvent();
    const id = newId();
    try {
      rig.gate.failKv({ get: true });
      const down = await deliver(signed(body, { id }), body);
      assert.equal(down.status, 503);
      assert.equal(down.json.reason, 'store-unavailable');
      assert.equal(down.headers.get('retry-after'), '30');
      assert.equal(rig.origin.receivedFor(id).length, 0);
    } finally {
      rig.gate.failKv({});
    }
    assert.equal((await deliver(signed(body, { id }), body)).status, 200);
    assert.equal(rig.origin.receivedFor(id).length, 1);
  });

  test('a failed done write after the origin took the event still answers 200 and is logged', async () => {
    const body = quoEvent();
    const id = newId();
    try {
      rig.gate.failKv({ put: 'done' });
      const answer = await deliver(signed(body, { id }), body);
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.json, { status: 'delivered' });
    } finally {
      rig.gate.failKv({});
    }
    assert.equal(rig.origin.receivedFor(id).length, 1);
    assert.ok(
      rig.gate.logs.join('\n').includes(`key: '${id}'`) && rig.gate.logs.some((line) => line.includes("incidents: 'MarkDoneFailed'")),
      rig.gate.logs.join('\n'),
    );
  });
});

describe('simultaneous copies on plain local KV', () => {
  const rig = useGate({ FAILURE_COOL_DOWN_SECONDS: '1' }, { twin: true });
  const deliver = (headers, body) => send(rig.gate.url, { headers, body });

  // KV has no compare-and-set: without the isolate's own hold on the keys it
  // works on, copies whose reads all ran before the first claim was written
  // each forwarded (up to 16 of 20 seen in Miniflare).
  test('20 simultaneous copies on one isolate: forwarded once, every other copy 409 or 200', async () => {
    const body = quoEvent();
    const headers = signed(body);
    rig.origin.answer(() => ({ status: 200, delayMs: 50 }));
    const answers = await Promise.all(Array.from({ length: 20 }, () => deliver(headers, body)));
    rig.origin.answer(() => ({ status: 200 }));
    assert.equal(rig.origin.receivedFor(headers['webhook-id']).length, 1);
    assert.ok(answers.every((a) => a.status === 200 || a.status === 409), JSON.stringify(answers.map((a) => a.status)));
    assert.equal(answers.filter((a) => a.json?.status === 'delivered').length, 1);
  });

  test('the first forward fails: the retry after the burst is the one more forward', async () => {
    const body = quoEvent();
    const headers = signed(body);
    const id = headers['webhook-id'];
    let seen = 0;
    rig.origin.answer((entry) => {
      if (entry.headers['webhook-id'] !== id) return { status: 200 };
      seen += 1;
      return { status: seen === 1 ? 503 : 200, delayMs: 50 };
    });
    const answers = await Promise.all(Array.from({ length: 20 }, () => deliver(headers, body)));
    assert.equal(answers.filter((a) => a.status === 502).length, 1, JSON.stringify(answers.map((a) => a.status)));
    await sleep(1_100); // the cool-down after the failure
    const retry = await deliver(headers, body);
    rig.origin.answer(() => ({ status: 200 }));
    assert.deepEqual(retry.json, { status: 'delivered' });
    assert.equal(rig.origin.receivedFor(id).length, 2);
  });

  // Across isolates KV still races; this measures it (the docs report what
  // `npm run bench:race` saw), and holds only what KV can promise.
  test('copies spread over two isolates: at most one forward per isolate', async () => {
    const body = quoEvent();
    const headers = signed(body);
    rig.origin.answer(() => ({ status: 200, delayMs: 50 }));
    const copies = Array.from({ length: 20 }, (_, i) =>
      i % 2 ? rig.gate.twinFetch(rig.gate.url, { method: 'POST', headers, body }).then((r) => r.status) : deliver(headers, body).then((a) => a.status),
    );
    const statuses = await Promise.all(copies);
    rig.origin.answer(() => ({ status: 200 }));
    const forwarded = rig.origin.receivedFor(headers['webhook-id']).length;
    console.log(`# 20 simultaneous copies over two isolates on local KV: ${forwarded} forwarded`);
    assert.ok(forwarded >= 1 && forwarded <= 2, `${forwarded}`);
    assert.ok(statuses.every((s) => s === 200 || s === 409), JSON.stringify(statuses));
  });
});

// The location's cache holds what KV no longer writes: the in-flight hold,
// the copy of the `done` mark and the cool-down, one entry per key, written
// without the delivery waiting on it. A second isolate of the location sees
// each of them, and asks KV for none.
describe("the location's cache, seen from another isolate", () => {
  const rig = useGate({ FAILURE_COOL_DOWN_SECONDS: '5' }, { twin: true, meter: true });
  const twin = (headers, body) =>
    rig.gate.twinFetch(rig.gate.url, { method: 'POST', headers, body }).then(async (r) => ({ status: r.status, json: await r.json(), retryAfter: r.headers.get('retry-after') }));
  const deliver = (headers, body) => send(rig.gate.url, { headers, body });

  test('a copy while the first is forwarded waits (409), one after it is a duplicate, and KV is asked once', async () => {
    const body = quoEvent();
    const headers = signed(body);
    rig.origin.answer(() => ({ status: 200, delayMs: 400 }));
    const reads = (await rig.gate.meter()).kv.get;
    const first = deliver(headers, body);
    await sleep(150);
    const during = await twin(headers, body);
    assert.equal(during.status, 409, JSON.stringify(during.json));
    assert.equal(during.json.reason, 'in-flight');
    assert.deepEqual((await first).json, { status: 'delivered' });
    rig.origin.answer(() => ({ status: 200 }));
    await sleep(100); // the `done` copy is written after the answer
    const later = await twin(headers, body);
    assert.equal(later.status, 200);
    assert.equal(later.json.status, 'duplicate');
    assert.equal(rig.origin.receivedFor(headers['webhook-id']).length, 1);
    assert.equal((await rig.gate.meter()).kv.get - reads, 1, 'only the first copy read KV');
  });

  test("a failed forward's cool-down answers the other isolate's copy 503 with Retry-After", async () => {
    const body = quoEvent();
    const headers = signed(body);
    rig.origin.answer(() => ({ status: 503 }));
    const failed = await deliver(headers, body);
    rig.origin.answer(() => ({ status: 200 }));
    assert.equal(failed.status, 502);
    await sleep(100);
    const copy = await twin(headers, body);
    assert.equal(copy.status, 503, JSON.stringify(copy.json));
    assert.equal(copy.json.reason, 'cooling-down');
    assert.ok(Number(copy.retryAfter) >= 1 && Number(copy.retryAfter) <= 5, copy.retryAfter);
    assert.equal(rig.origin.receivedFor(headers['webhook-id']).length, 1);
  });
});

// The location's cache is the zone's: another gate on the zone (another
// deployment, with its own KV and its own origin) sees the same entries. An
// entry is a gate's only when it names the gate's routes' origins, so a
// delivery the one forwarded is no duplicate to the other, which would
// otherwise answer 200 and never forward it.
describe("another gate on the same zone", () => {
  const other = {};
  // The neighbour's settings are read when the gate starts, after this.
  const neighbour = {};
  before(async () => {
    other.origin = await startOrigin();
    neighbour.ORIGIN_URL = other.origin.url;
  });
  after(() => other.origin?.close());
  const rig = useGate({}, { neighbour, twin: true });

  test('forwards a delivery the first gate forwarded, to its own origin, and each answers its copies as duplicates', async () => {
    const body = quoEvent();
    const headers = signed(body);
    const first = await send(rig.gate.url, { headers, body });
    assert.deepEqual(first.json, { status: 'delivered' });
    await sleep(100); // the `done` copy is written after the answer
    const there = await rig.gate.neighbourFetch(rig.gate.url, { method: 'POST', headers, body });
    assert.equal(there.status, 200);
    assert.deepEqual(await there.json(), { status: 'delivered' }, 'not a duplicate of the other gate');
    assert.equal(rig.origin.receivedFor(headers['webhook-id']).length, 1);
    assert.equal(other.origin.receivedFor(headers['webhook-id']).length, 1);
    const again = await send(rig.gate.url, { headers, body });
    assert.equal(again.json.status, 'duplicate');
    const againThere = await rig.gate.neighbourFetch(rig.gate.url, { method: 'POST', headers, body });
    assert.equal((await againThere.json()).status, 'duplicate');
  });

  // Found by a review: the entries of both gates had one name per key, so
  // the other gate's hold and `done` copy replaced this gate's hold while
  // its forward was still under way, and a copy at a second isolate of this
  // gate then found no hold and forwarded the event again.
  test("the other gate's entries never replace this gate's hold: a copy at its second isolate waits", async () => {
    const body = quoEvent();
    const headers = signed(body);
    const id = headers['webhook-id'];
    rig.origin.answer(() => ({ status: 200, delayMs: 1500 }));
    const first = send(rig.gate.url, { headers, body });
    await eventually(() => rig.origin.receivedFor(id).length === 1, 5_000, 'the first forward is under way');
    const there = await rig.gate.neighbourFetch(rig.gate.url, { method: 'POST', headers, body });
    assert.deepEqual(await there.json(), { status: 'delivered' });
    await sleep(100); // the other gate's `done` copy is written after its answer
    const twin = await rig.gate.twinFetch(rig.gate.url, { method: 'POST', headers, body });
    assert.equal(twin.status, 409, 'held: the first forward is still under way');
    assert.equal((await first).json.status, 'delivered');
    assert.equal(rig.origin.receivedFor(id).length, 1, 'forwarded once');
    assert.equal(other.origin.receivedFor(id).length, 1);
  });
});

// A captured delivery of a sender that signs no timestamp (GitHub) stays
// valid for as long as its origin refuses it. After a failed forward its
// copies wait out a cool-down, answered 503 with Retry-After before the store
// or the origin is asked: a replay flood costs neither writes nor forwards.
describe('a captured delivery replayed while its origin fails', () => {
  const secret = SCHEME_SECRETS.github;
  let origin;
  let gate;
  before(async () => {
    origin = await startOrigin();
    const routes = { '/gh': { scheme: 'github', secret: 'GITHUB_SECRET', origin: origin.url } };
    gate = await startGate({ ROUTES: routes, GITHUB_SECRET: secret, WEBHOOK_SECRET: undefined }, { meter: true });
  });
  after(async () => {
    await gate?.close();
    await origin?.close();
  });

  test('100 copies within 5 seconds: at most 3 reach the origin and at most 3 KV writes', async () => {
    origin.answer(() => ({ status: 500 }));
    const event = sampleEvent('github');
    const headers = { ...event.headers, ...(await signFor('github', { secret, body: event.body })) };
    const before = (await gate.meter()).kv;
    const statuses = [];
    const started = Date.now();
    // Ten waves of ten simultaneous copies, half a second apart.
    for (let wave = 0; wave < 10; wave += 1) {
      const answers = await Promise.all(
        Array.from({ length: 10 }, () => send(gate.url, { path: '/gh', headers, body: event.body })),
      );
      statuses.push(...answers.map((a) => `${a.status} ${a.json?.reason}`));
      await sleep(Math.max(0, started + (wave + 1) * 500 - Date.now()));
    }
    assert.ok(Date.now() - started <= 6_000, 'the copies were sent within about 5 seconds');
    const after = (await gate.meter()).kv;
    const writes = after.put - before.put + (after.delete - before.delete);
    const reached = origin.received.filter((r) => r.body.equals(Buffer.from(event.body))).length;
    assert.ok(reached >= 1 && reached <= 3, `origin requests: ${reached}`);
    assert.ok(writes <= 3, `KV writes: ${writes}`);
    const counts = {};
    for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
    assert.ok(counts['503 cooling-down'] >= 90, JSON.stringify(counts));
    for (const status of Object.keys(counts)) {
      assert.ok(['502 origin-failed', '409 in-flight', '503 cooling-down'].includes(status), status);
    }
  });

  test('a copy in the cool-down says how long to wait; after it the retry is forwarded', async () => {
    const event = sampleEvent('github');
    const headers = { ...event.headers, ...(await signFor('github', { secret, body: event.body })) };
    origin.answer(() => ({ status: 503 }));
    assert.equal((await send(gate.url, { path: '/gh', headers, body: event.body })).status, 502);
    const waiting = await send(gate.url, { path: '/gh', headers, body: event.body });
    assert.equal(waiting.status, 503, waiting.text);
    assert.equal(waiting.json.reason, 'cooling-down');
    const wait = Number(waiting.headers.get('retry-after'));
    assert.ok(wait >= 9 && wait <= 10, `Retry-After: ${wait}`);
    origin.answer(() => ({ status: 200 }));
    await sleep(wait * 1000 + 200);
    const retried = await send(gate.url, { path: '/gh', headers, body: event.body });
    assert.deepEqual(retried.json, { status: 'delivered' });
  });
});

// KV's free plan allows 1,000 writes a day. The gate counts the writes it
// makes (and those KV refuses) so the stats and the dashboard show the wall
// before it is hit; a refused write loses a done mark, never the event.
describe('the KV writes a gate makes are counted', () => {
  const TOKEN = 'kv-writes-admin-token-0123456789';
  const rig = useGate({ ADMIN_TOKEN: TOKEN }, { switchableKv: true });
  const deliver = (headers, body) => send(rig.gate.url, { headers, body });
  const stats = async () =>
    (await send(rig.gate.url, { method: 'GET', path: '_hookgate/stats?since=1h', headers: { authorization: `Bearer ${TOKEN}` } })).json;

  test('one write per delivered event, and each write KV refused, under (kv)', async () => {
    const body = quoEvent();
    for (let i = 0; i < 3; i += 1) assert.equal((await deliver(signed(body), body)).status, 200);
    const refused = signed(body);
    try {
      rig.gate.failKv({ put: 'done' });
      assert.deepEqual((await deliver(refused, body)).json, { status: 'delivered' });
    } finally {
      rig.gate.failKv({});
    }
    assert.equal(rig.origin.receivedFor(refused['webhook-id']).length, 1, 'the event was delivered all the same');
    const counted = await stats();
    assert.deepEqual(counted.routes['(kv)'], { write: 3, 'write-refused': 1 }, JSON.stringify(counted));
  });
});
