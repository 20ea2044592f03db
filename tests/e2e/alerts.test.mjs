// End to end: alerts (docs/operations.md, "Alerts"). A recording endpoint on
// loopback stands where a Slack or Discord incoming webhook would, and
// verifies each alert's Standard Webhooks signature with the standardwebhooks
// library. A dead letter sends one alert, and a second one of the route
// within ten minutes none; ten failed forwards send one; a refusing replay
// store or delivery queue sends one; a route's alert_url goes before
// ALERT_URL; no alert carries a body, a signature or a secret; an alert URL
// that fails changes no answer.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { ORIGIN_KEY, SENDER_KEY, STRANGER_KEY, eventually, quoEvent, refusedUrl, send, signed, sleep, useGate } from './harness.mjs';

const ALERT_KEY = 'whsec_YWxlcnQta2V5LWZvci10aGUtZTJlLXRlc3Rz';
const TOKEN = 'admin-token-for-the-alert-tests-01';
/** In every event's body: no alert may carry it. */
const MARKER = 'body-marker-that-no-alert-may-carry';

/** An endpoint that records each alert and checks its signature with `key`. */
async function startRecorder(key) {
  const alerts = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      let verified = false;
      try {
        new Webhook(key).verify(body, req.headers);
        verified = true;
      } catch {}
      alerts.push({ method: req.method, url: req.url, headers: req.headers, body, verified, json: JSON.parse(body) });
      res.writeHead(200);
      res.end('ok');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/alerts`,
    alerts,
    of: (type) => alerts.filter((alert) => alert.json.type === type),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  };
}

/** A recorder for a describe block, started before the gate (settings.ALERT_URL is set to it). */
function useRecorder(key, settings, name = 'ALERT_URL') {
  const recorder = {};
  before(async () => {
    Object.assign(recorder, await startRecorder(key));
    settings[name] = recorder.url;
  });
  after(() => recorder.close?.());
  return recorder;
}

/** Every alert verified, each a JSON payload Slack and Discord show, and none carrying a body or secret. */
function assertClean(recorder, signatures = []) {
  for (const alert of recorder.alerts) {
    assert.equal(alert.method, 'POST');
    assert.ok(alert.verified, `signed: ${alert.body}`);
    assert.equal(alert.headers['content-type'], 'application/json');
    const { json } = alert;
    assert.match(json.type, /^hookgate\.[a-z_]+$/);
    assert.equal(json.type, `hookgate.${json.cause}`);
    assert.equal(typeof json.text, 'string');
    assert.equal(json.content, json.text, 'Discord shows content');
    assert.equal(typeof json.time, 'number');
    assert.ok(Math.abs(json.time - Date.now()) < 120_000);
    const everything = alert.body + JSON.stringify(alert.headers);
    for (const needle of [MARKER, SENDER_KEY, ORIGIN_KEY, ALERT_KEY, ...signatures]) {
      assert.ok(!everything.includes(needle), `an alert carries ${needle.slice(0, 12)}…`);
    }
    for (const secret of [SENDER_KEY, ORIGIN_KEY, ALERT_KEY]) {
      assert.ok(!everything.includes(secret.slice('whsec_'.length)), 'no key, even without its prefix');
    }
  }
}

/** The alerts' quiet period: the clock's ten minutes (docs/operations.md). */
const PERIOD_MS = 600_000;

/** Waits, when the clock's current ten minutes have less than `ms` left,
 * for the next ten to begin: a test that holds alerts to one per cause and
 * period then runs within one period (a new period may send one more). */
async function roomInPeriod(ms) {
  const left = PERIOD_MS - (Date.now() % PERIOD_MS);
  if (left < ms) await sleep(left + 100);
}

function event() {
  const body = quoEvent('contact.updated', { note: MARKER });
  return { body, headers: signed(body) };
}

/** Sends `count` fresh events to `url`, one after another, each answer to
 * `check`; keeps their signatures in `signatures` (no alert may carry one). */
async function sendEvents(url, count, signatures, check) {
  for (let i = 0; i < count; i += 1) {
    const { body, headers } = event();
    signatures.push(headers['webhook-signature']);
    check(await send(url, { headers, body }));
  }
}

function admin(gate, path) {
  return send(gate.url, { method: 'GET', path: `/_hookgate${path}`, headers: { authorization: `Bearer ${TOKEN}` } });
}

describe('alerts from queue mode: dead letters and a refusing queue', () => {
  const settings = {
    ORIGIN_SECRET: ORIGIN_KEY,
    DELIVERY: 'queue',
    QUEUE_MAX_ATTEMPTS: '1',
    ADMIN_TOKEN: TOKEN,
    ALERT_SECRET: ALERT_KEY,
  };
  const recorder = useRecorder(ALERT_KEY, settings);
  const rig = useGate(settings, { queues: true, switchableQueue: true });
  const signatures = [];

  const deadLetter = async () => {
    const { body, headers } = event();
    signatures.push(headers['webhook-signature']);
    assert.equal((await send(rig.gate.url, { headers, body })).status, 202);
    const id = headers['webhook-id'];
    await eventually(
      async () => (await admin(rig.gate, `/deliveries/${id}?route=%2F`)).json?.outcome === 'dead',
      15_000,
      'the event is a dead letter',
    );
  };

  test('a dead letter sends exactly one alert, signed with ALERT_SECRET', async () => {
    await roomInPeriod(60_000); // this test and the next
    rig.origin.answer(() => ({ status: 500 }));
    await deadLetter();
    await eventually(() => recorder.of('hookgate.dead_letter').length === 1, 10_000, 'the alert');
    await sleep(1_500);
    const [alert] = recorder.of('hookgate.dead_letter');
    assert.equal(recorder.of('hookgate.dead_letter').length, 1, 'exactly one');
    assert.equal(alert.url, '/alerts', 'sent to ALERT_URL');
    assert.deepEqual([alert.json.cause, alert.json.route, alert.json.count], ['dead_letter', '/', 1]);
    assert.match(alert.json.text, /^hookgate: route `\/`: dead letters: 1 \(queued events out of attempts/);
    assertClean(recorder, signatures);
  });

  test('a second dead letter of the route within ten minutes sends none', async () => {
    await deadLetter();
    await sleep(2_000);
    assert.equal(recorder.of('hookgate.dead_letter').length, 1);
    assert.equal(recorder.alerts.length, 1, 'one failure is no origin alert either');
  });

  test('a refusing delivery queue sends one alert; the sender is still answered 503', async () => {
    await roomInPeriod(20_000);
    rig.gate.failQueue(true);
    try {
      await sendEvents(rig.gate.url, 2, signatures, (answer) => {
        assert.equal(answer.status, 503);
        assert.equal(answer.json.reason, 'queue-unavailable');
      });
    } finally {
      rig.gate.failQueue(false);
    }
    await eventually(() => recorder.of('hookgate.queue_refused').length === 1, 10_000, 'the alert');
    await sleep(1_500);
    assert.equal(recorder.of('hookgate.queue_refused').length, 1);
    assert.equal(recorder.of('hookgate.queue_refused')[0].json.route, '/');
    assertClean(recorder, signatures);
  });
});

describe('alerts from direct delivery: origin failures and a refusing replay store', () => {
  const settings = { ALERT_SECRET: ALERT_KEY, FAILURE_COOL_DOWN_SECONDS: '1' };
  const recorder = useRecorder(ALERT_KEY, settings);
  const rig = useGate(settings, { switchableKv: true });
  const signatures = [];

  const fail = (count) => sendEvents(rig.gate.url, count, signatures, (answer) => assert.equal(answer.status, 502));

  test('forgeries send no alert, however many, while the origin fails', async () => {
    rig.origin.answer(() => ({ status: 500 }));
    for (let i = 0; i < 15; i += 1) {
      const { body } = event();
      const forged = signed(body, { key: STRANGER_KEY });
      assert.equal((await send(rig.gate.url, { headers: forged, body })).status, 401);
    }
    await sleep(1_500);
    assert.equal(recorder.alerts.length, 0, 'a forgery is no failure of the origin');
    assert.equal(rig.origin.received.length, 0);
  });

  test('nine failed forwards send nothing; the tenth within five minutes sends one alert; more send none', async () => {
    await roomInPeriod(40_000);
    rig.origin.answer(() => ({ status: 500 }));
    await fail(9);
    await sleep(1_500);
    assert.equal(recorder.alerts.length, 0, 'below the threshold');
    await fail(1);
    await eventually(() => recorder.of('hookgate.origin_failures').length === 1, 10_000, 'the alert');
    const [alert] = recorder.of('hookgate.origin_failures');
    assert.deepEqual([alert.json.cause, alert.json.route, alert.json.count], ['origin_failures', '/', 10]);
    await fail(12);
    await sleep(1_500);
    assert.equal(recorder.of('hookgate.origin_failures').length, 1, 'one per ten minutes');
    assertClean(recorder, signatures);
  });

  test('a replay store that refuses writes sends one alert; the events are still delivered', async () => {
    await roomInPeriod(20_000);
    rig.origin.answer(() => ({ status: 200 }));
    rig.gate.failKv({ put: 'done' });
    try {
      await sendEvents(rig.gate.url, 3, signatures, (answer) => {
        assert.equal(answer.status, 200);
        assert.deepEqual(answer.json, { status: 'delivered' });
      });
    } finally {
      rig.gate.failKv({});
    }
    await eventually(() => recorder.of('hookgate.store_refused').length === 1, 10_000, 'the alert');
    await sleep(1_500);
    assert.equal(recorder.of('hookgate.store_refused').length, 1);
    assert.match(recorder.of('hookgate.store_refused')[0].json.text, /refusals of the replay store: 1 \(KV/);
    assertClean(recorder, signatures);
  });
});

describe("a route's alert_url goes before ALERT_URL, signed with the route's origin_secret", () => {
  const settings = { QUO_SECRET: SENDER_KEY, ORIGIN_SECRET: ORIGIN_KEY, FAILURE_COOL_DOWN_SECONDS: '1' };
  const shared = useRecorder(ORIGIN_KEY, settings, 'ALERT_URL');
  const own = useRecorder(ORIGIN_KEY, settings, 'OWN');
  before(() => {
    const route = { scheme: 'standard-webhooks', secret: 'QUO_SECRET', origin: 'http://127.0.0.1:9/in', origin_secret: 'ORIGIN_SECRET' };
    settings.ROUTES = JSON.stringify({ '/own': { ...route, alert_url: settings.OWN }, '/shared': route });
    delete settings.OWN;
  });
  const rig = useGate(settings);

  test("each route's failures alert its own URL", async () => {
    for (const path of ['/own', '/shared']) {
      for (let i = 0; i < 10; i += 1) {
        const { body, headers } = event();
        const answer = await send(rig.gate.url, { path, headers, body });
        assert.equal(answer.status, 502, 'nothing listens at the origin');
      }
    }
    await eventually(() => own.alerts.length === 1 && shared.alerts.length === 1, 10_000, 'one alert each');
    assert.equal(own.alerts[0].json.route, '/own');
    assert.equal(shared.alerts[0].json.route, '/shared');
    assertClean(own);
    assertClean(shared);
  });
});

// Another isolate of the location finds the first one's mark in the
// location's cache and stays quiet: one alert per cause and route per ten
// minutes of the clock for the location, not one per isolate.
describe('a second isolate of the location', () => {
  const settings = { ALERT_SECRET: ALERT_KEY, FAILURE_COOL_DOWN_SECONDS: '1' };
  const recorder = useRecorder(ALERT_KEY, settings);
  const rig = useGate(settings, { twin: true });

  const fail = async (count, fetch) => {
    for (let i = 0; i < count; i += 1) {
      const { body, headers } = event();
      const answer = await fetch(rig.gate.url, { method: 'POST', headers, body });
      assert.equal(answer.status, 502);
      await answer.arrayBuffer();
    }
  };

  test('sends no alert of a cause the first one sent in the same ten minutes of the clock, though it crossed the threshold itself', async () => {
    await roomInPeriod(40_000);
    rig.origin.answer(() => ({ status: 500 }));
    await fail(10, (url, init) => fetch(url, init));
    await eventually(() => recorder.of('hookgate.origin_failures').length === 1, 10_000, 'the first isolate alerts');
    await fail(10, rig.gate.twinFetch);
    await sleep(1_500);
    assert.equal(recorder.of('hookgate.origin_failures').length, 1, "the other isolate found the first one's mark");
    assertClean(recorder);
  });
});

describe('an alert URL that cannot be reached', () => {
  const settings = { ALERT_SECRET: ALERT_KEY, FAILURE_COOL_DOWN_SECONDS: '1' };
  before(async () => {
    settings.ALERT_URL = await refusedUrl();
  });
  const rig = useGate(settings, { switchableKv: true });

  test('is only logged, without its URL; the answer is the same', async () => {
    rig.gate.failKv({ put: 'done' });
    try {
      const { body, headers } = event();
      const answer = await send(rig.gate.url, { headers, body });
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.json, { status: 'delivered' });
    } finally {
      rig.gate.failKv({});
    }
    const logged = () => rig.gate.logs.join('\n');
    await eventually(() => /an alert \(store_refused, route "\/"\) was not taken by its URL: it could not be reached/.test(logged()), 15_000, 'the log line');
    assert.ok(!logged().includes(settings.ALERT_URL), 'the URL is not logged');
  });
});
