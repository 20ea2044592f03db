// End to end: the built Worker in workerd, in front of a real origin. Every
// delivery is signed by the standardwebhooks npm library, as senders sign.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import {
  ORIGIN_KEY,
  ROTATED_KEY,
  SENDER_KEY,
  STRANGER_KEY,
  newId,
  nowSeconds,
  quoEvent,
  refusedUrl,
  send,
  signed,
  signedBytes,
  startGate,
  useGate,
} from './harness.mjs';

const PATH = '/webhooks/quo';
const MAX_BODY = 4096;

/** The answer must be a problem+json with this status and reason, and leak nothing. */
function assertProblem(answer, status, reason) {
  assert.equal(answer.status, status, answer.text);
  assert.equal(answer.headers.get('content-type'), 'application/problem+json');
  assert.equal(answer.json?.reason, reason, answer.text);
  assert.equal(answer.json?.status, status);
  for (const secret of [SENDER_KEY, ROTATED_KEY, ORIGIN_KEY, 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'origin body']) {
    assert.ok(!answer.text.includes(secret), `answer leaks ${secret}`);
  }
}

describe('a gate in front of a healthy origin', () => {
  const rig = useGate({
      WEBHOOK_SECRET: `${SENDER_KEY} ${ROTATED_KEY}`,
      WEBHOOK_PATH: PATH,
      MAX_BODY_BYTES: String(MAX_BODY),
    });

  const post = (headers, body, extra = {}) => send(rig.gate.url, { path: PATH, headers, body, ...extra });

  test('a valid delivery is answered 200 and reaches the origin byte for byte', async () => {
    const body = quoEvent('message.received', { text: 'héllo ✓ \\u0000 "quoted"' });
    const headers = signed(body);
    const answer = await post(headers, body);
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(answer.json, { status: 'delivered' });
    const got = rig.origin.receivedFor(headers['webhook-id']);
    assert.equal(got.length, 1);
    assert.equal(got[0].method, 'POST');
    assert.equal(got[0].url, '/in');
    assert.ok(got[0].body.equals(Buffer.from(body)), 'body bytes differ');
    assert.equal(got[0].headers['content-type'], 'application/json');
    assert.equal(got[0].headers['webhook-timestamp'], headers['webhook-timestamp']);
    assert.equal(got[0].headers['webhook-signature'], headers['webhook-signature']);
    // The origin can verify the sender's own signature on what it received.
    new Webhook(SENDER_KEY).verify(got[0].body.toString(), got[0].headers);
  });

  test('a delivery signed with the second key (rotation) is accepted', async () => {
    const body = quoEvent('call.completed');
    const headers = signed(body, { key: ROTATED_KEY });
    assert.equal((await post(headers, body)).status, 200);
    assert.equal(rig.origin.receivedFor(headers['webhook-id']).length, 1);
  });

  test('a header carrying an old and a new signature is accepted', async () => {
    const body = quoEvent('contact.updated');
    const headers = signed(body);
    const stale = signed(body, { id: headers['webhook-id'], timestamp: Number(headers['webhook-timestamp']), key: STRANGER_KEY });
    headers['webhook-signature'] = `${stale['webhook-signature']} ${headers['webhook-signature']}`;
    assert.equal((await post(headers, body)).status, 200);
  });

  test('a non-UTF-8 body arrives intact', async () => {
    const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0x7b, 0x7d, 0xed, 0xa0, 0x80]);
    const headers = signedBytes(bytes);
    const answer = await post(headers, bytes);
    assert.equal(answer.status, 200, answer.text);
    const got = rig.origin.receivedFor(headers['webhook-id']);
    assert.equal(got.length, 1);
    assert.ok(got[0].body.equals(bytes), `got ${got[0].body.toString('hex')}`);
    assert.equal(got[0].headers['content-type'], 'application/octet-stream');
  });

  test('an empty body is a body like any other', async () => {
    const headers = signed('');
    assert.equal((await post(headers, '')).status, 200);
    assert.equal(rig.origin.receivedFor(headers['webhook-id'])[0].body.length, 0);
  });

  test('cookies, authorization, cf-* and hop-by-hop headers never reach the origin', async () => {
    const body = quoEvent();
    const headers = {
      ...signed(body),
      cookie: 'session=secret-cookie',
      authorization: 'Bearer secret-token',
      'cf-connecting-ip': '203.0.113.9',
      'cf-ray': 'spoofed-ray',
      'x-forwarded-for': '203.0.113.9',
      'x-custom': 'anything',
      'proxy-authorization': 'Basic c2VjcmV0',
      te: 'trailers',
    };
    assert.equal((await post(headers, body)).status, 200);
    const [got] = rig.origin.receivedFor(headers['webhook-id']);
    const names = Object.keys(got.headers);
    for (const name of ['cookie', 'authorization', 'cf-connecting-ip', 'cf-ray', 'x-forwarded-for', 'x-custom', 'proxy-authorization', 'te']) {
      assert.ok(!names.includes(name), `${name} was forwarded`);
    }
    // The runtime itself stamps every subrequest with cf-worker; nothing the
    // sender wrote starts with cf-.
    assert.deepEqual(names.filter((n) => n.startsWith('cf-')), ['cf-worker']);
    assert.ok(!JSON.stringify(got.headers).includes('secret'), 'a credential was forwarded');
  });

  describe('refused with 401 and never forwarded', () => {
    const cases = {
      'signed with another key': () => {
        const body = quoEvent();
        return [signed(body, { key: STRANGER_KEY }), body];
      },
      'tampered body': () => {
        const body = quoEvent();
        return [signed(body), body.replace('Hello', 'Hellp')];
      },
      'stale timestamp (6 minutes old)': () => {
        const body = quoEvent();
        return [signed(body, { timestamp: nowSeconds() - 360 }), body];
      },
      'future timestamp (6 minutes ahead)': () => {
        const body = quoEvent();
        return [signed(body, { timestamp: nowSeconds() + 360 }), body];
      },
      'no webhook-id': () => drop('webhook-id'),
      'no webhook-timestamp': () => drop('webhook-timestamp'),
      'no webhook-signature': () => drop('webhook-signature'),
      '"v1," alone': () => replaceSignature('v1,'),
      'garbage signature header': () => replaceSignature('garbage,,, v9 %%%'),
      'only an unknown version': () => replaceSignature('v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='),
      'timestamp that is not a number': () => {
        const body = quoEvent();
        return [{ ...signed(body), 'webhook-timestamp': 'yesterday' }, body];
      },
    };
    const reasons = {
      'stale timestamp (6 minutes old)': 'stale-timestamp',
      'future timestamp (6 minutes ahead)': 'future-timestamp',
      'no webhook-id': 'missing-header',
      'no webhook-timestamp': 'missing-header',
      'no webhook-signature': 'missing-header',
      'timestamp that is not a number': 'bad-timestamp',
    };
    function drop(name) {
      const body = quoEvent();
      const headers = signed(body);
      delete headers[name];
      return [headers, body];
    }
    function replaceSignature(value) {
      const body = quoEvent();
      return [{ ...signed(body), 'webhook-signature': value }, body];
    }

    for (const [name, make] of Object.entries(cases)) {
      test(name, async () => {
        const [headers, body] = make();
        const before = rig.origin.received.length;
        const answer = await post(headers, body);
        assertProblem(answer, 401, reasons[name] ?? 'bad-signature');
        assert.equal(rig.origin.received.length, before, 'something was forwarded');
      });
    }
  });

  test('a body over MAX_BODY_BYTES with Content-Length is 413, not forwarded', async () => {
    const body = 'x'.repeat(MAX_BODY + 1);
    const headers = signed(body);
    assertProblem(await post(headers, body), 413, 'too-large');
    assert.equal(rig.origin.receivedFor(headers['webhook-id']).length, 0);
  });

  test('a body over MAX_BODY_BYTES without Content-Length (chunked) is 413, not forwarded', async () => {
    const body = 'y'.repeat(MAX_BODY + 1);
    const headers = signed(body);
    const chunks = [body.slice(0, 1000), body.slice(1000, 3000), body.slice(3000)];
    const stream = new ReadableStream({
      pull(controller) {
        const next = chunks.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(new TextEncoder().encode(next));
      },
    });
    assertProblem(await post(headers, stream), 413, 'too-large');
    assert.equal(rig.origin.receivedFor(headers['webhook-id']).length, 0);
  });

  test('a chunked body within the limit is delivered', async () => {
    const body = 'z'.repeat(MAX_BODY);
    const headers = signed(body);
    const bytes = new TextEncoder().encode(body);
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(bytes.slice(0, 100));
        controller.enqueue(bytes.slice(100));
        controller.close();
      },
    });
    assert.equal((await post(headers, stream)).status, 200);
    assert.ok(rig.origin.receivedFor(headers['webhook-id'])[0].body.equals(Buffer.from(body)));
  });

  test('GET on the webhook path is 405 with Allow: POST', async () => {
    const answer = await send(rig.gate.url, { method: 'GET', path: PATH });
    assertProblem(answer, 405, 'method-not-allowed');
    assert.equal(answer.headers.get('allow'), 'POST');
  });

  test('another path is 404, even with a valid signature', async () => {
    const body = quoEvent();
    const headers = signed(body);
    assertProblem(await send(rig.gate.url, { path: '/', headers, body }), 404, 'not-found');
    assertProblem(await send(rig.gate.url, { path: `${PATH}/x`, headers, body }), 404, 'not-found');
    assert.equal(rig.origin.receivedFor(headers['webhook-id']).length, 0);
  });

  test('one structured log object per request names the outcome, never a key or a signature', () => {
    const text = rig.gate.logs.join('\n');
    assert.match(text, /reason: 'bad-signature',\s+status: 401,\s+key: null/);
    assert.match(text, /route: '\(none\)',\s+scheme: null,\s+reason: 'not-found'/);
    assert.match(text, /reason: 'delivered',\s+status: 200,\s+key: 'msg_/);
    for (const secret of ['MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', ROTATED_KEY.slice(6), 'v1,', 'Hello from the test suite']) {
      assert.ok(!text.includes(secret), `logs contain ${secret}`);
    }
  });
});

describe('large bodies (hashed by WebCrypto, never copied into wasm)', () => {
  const rig = useGate({
      WEBHOOK_SECRET: `${SENDER_KEY} ${ROTATED_KEY}`,
      MAX_BODY_BYTES: String(2 * 1024 * 1024),
    });

  /** A JSON event padded to exactly `size` bytes, with every byte value in its text. */
  function eventOfSize(size) {
    const head = quoEvent().slice(0, -1);
    const filler = ',"pad":"' ;
    const room = size - head.length - filler.length - 2;
    let pad = '';
    for (let i = 0; pad.length < room; i += 1) pad += String.fromCharCode(0x21 + (i % 90)).replace(/["\\]/, '_');
    return `${head}${filler}${pad.slice(0, room)}"}`;
  }

  for (const size of [4095, 4096, 4097, 65536, 1048576]) {
    test(`${size} bytes: delivered byte for byte; the same body tampered is refused`, async () => {
      const body = eventOfSize(size);
      assert.equal(Buffer.byteLength(body), size);
      const headers = signed(body, { key: size % 2 ? ROTATED_KEY : SENDER_KEY });
      assert.equal((await send(rig.gate.url, { headers, body })).status, 200);
      const got = rig.origin.receivedFor(headers['webhook-id']);
      assert.equal(got.length, 1);
      assert.ok(got[0].body.equals(Buffer.from(body)), 'body bytes differ');

      const flipped = `${body.slice(0, size - 10)}${body[size - 10] === 'A' ? 'B' : 'A'}${body.slice(size - 9)}`;
      const tampered = signed(body);
      assertProblem(await send(rig.gate.url, { headers: tampered, body: flipped }), 401, 'bad-signature');
      assert.equal(rig.origin.receivedFor(tampered['webhook-id']).length, 0);
    });
  }

  test('a large non-UTF-8 body arrives intact', async () => {
    const bytes = Buffer.alloc(300_000);
    for (let i = 0; i < bytes.length; i += 1) bytes[i] = (i * 131 + 7) % 256;
    const headers = signedBytes(bytes);
    assert.equal((await send(rig.gate.url, { headers, body: bytes })).status, 200);
    assert.ok(rig.origin.receivedFor(headers['webhook-id'])[0].body.equals(bytes));
  });
});

describe('re-signing large bodies', () => {
  const rig = useGate({ ORIGIN_SECRET: ORIGIN_KEY, MAX_BODY_BYTES: '2000000' });

  test('a 500 KB forward verifies with ORIGIN_SECRET', async () => {
    const body = JSON.stringify({ type: 'call.transcript.completed', data: { text: 'ü'.repeat(250_000) } });
    const headers = signed(body);
    assert.equal((await send(rig.gate.url, { headers, body })).status, 200);
    const [got] = rig.origin.receivedFor(headers['webhook-id']);
    assert.ok(got.body.equals(Buffer.from(body)));
    assert.deepEqual(new Webhook(ORIGIN_KEY).verify(got.body.toString(), got.headers), JSON.parse(body));
  });
});

describe('origin failures', () => {
  const rig = useGate({ ORIGIN_TIMEOUT_MS: '500' });

  for (const status of [500, 410, 404, 302, 301, 307]) {
    test(`origin ${status} is 502, never relayed`, async () => {
      // A redirect points back at the origin, which would accept: following
      // it would turn a failure into a delivery the origin never confirmed.
      rig.origin.answer((entry) =>
        entry.url.includes('followed')
          ? { status: 200 }
          : { status, headers: status >= 300 && status < 400 ? { location: `${rig.origin.url}?followed` } : {} },
      );
      const body = quoEvent();
      const headers = signed(body);
      assertProblem(await send(rig.gate.url, { headers, body }), 502, 'origin-failed');
      // Redirects are not followed: the origin saw exactly one request.
      assert.equal(rig.origin.receivedFor(headers['webhook-id']).length, 1);
    });
  }

  test('an origin slower than ORIGIN_TIMEOUT_MS is 504', async () => {
    rig.origin.answer(() => ({ status: 200, delayMs: 2000 }));
    const body = quoEvent();
    const started = Date.now();
    const answer = await send(rig.gate.url, { headers: signed(body), body });
    assertProblem(answer, 504, 'origin-timeout');
    assert.ok(Date.now() - started < 1900, 'the gate waited for the slow origin');
  });

  test('a 2xx other than 200 counts as delivered', async () => {
    rig.origin.answer(() => ({ status: 202 }));
    const body = quoEvent();
    assert.equal((await send(rig.gate.url, { headers: signed(body), body })).status, 200);
  });
});

describe('an origin that refuses connections', () => {
  let gate;
  before(async () => {
    gate = await startGate({ ORIGIN_URL: await refusedUrl() });
  });
  after(() => gate?.close());

  test('is 502', async () => {
    const body = quoEvent();
    assertProblem(await send(gate.url, { headers: signed(body), body }), 502, 'origin-failed');
  });
});

describe('re-signing with ORIGIN_SECRET', () => {
  const rig = useGate({ ORIGIN_SECRET: ORIGIN_KEY });

  test('the forward verifies with standardwebhooks and ORIGIN_SECRET, not with the sender key', async () => {
    const body = quoEvent('call.summary.completed');
    const headers = signed(body, { timestamp: nowSeconds() - 200 });
    assert.equal((await send(rig.gate.url, { headers, body })).status, 200);
    const [got] = rig.origin.receivedFor(headers['webhook-id']);
    assert.ok(got.body.equals(Buffer.from(body)));
    assert.deepEqual(new Webhook(ORIGIN_KEY).verify(got.body.toString(), got.headers), JSON.parse(body));
    assert.throws(() => new Webhook(SENDER_KEY).verify(got.body.toString(), got.headers));
    assert.notEqual(got.headers['webhook-signature'], headers['webhook-signature']);
    assert.ok(Math.abs(Number(got.headers['webhook-timestamp']) - nowSeconds()) <= 5, 'stamped now');
  });
});

describe('invalid settings', () => {
  const cases = [
    ['WEBHOOK_SECRET', { WEBHOOK_SECRET: 'whsec_!!!notbase64!!!', ORIGIN_URL: 'http://127.0.0.1:9/' }],
    ['ORIGIN_URL', { ORIGIN_URL: 'ftp://127.0.0.1/' }],
    ['ORIGIN_URL', { WEBHOOK_SECRET: SENDER_KEY }],
    ['MAX_BODY_BYTES', { ORIGIN_URL: 'http://127.0.0.1:9/', MAX_BODY_BYTES: 'lots' }],
  ];
  for (const [setting, settings] of cases) {
    test(`${setting} invalid: 500 misconfigured, a log line naming it, never its value`, async () => {
      const gate = await startGate(settings);
      try {
        const body = quoEvent();
        assertProblem(await send(gate.url, { headers: signed(body), body }), 500, 'misconfigured');
        const text = gate.logs.join('\n');
        assert.match(text, new RegExp(`misconfigured: (setting|binding) ${setting}`));
        assert.ok(!text.includes('notbase64'), 'the log shows the value');
      } finally {
        await gate.close();
      }
    });
  }
});
