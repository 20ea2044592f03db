// End to end: one Worker with a route for every scheme, each route in front
// of its own origin. Deliveries are signed by the senders' own libraries
// where npm has them (svix, standardwebhooks, stripe, @octokit/webhooks-methods).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { verify as githubVerify } from '@octokit/webhooks-methods';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';
import { SCHEMES, sampleEvent, signFor, slackUrlVerification } from '../../scripts/senders.mjs';
import { ORIGIN_KEY, ROTATED_KEY, SCHEME_SECRETS as SECRETS, secretBinding as binding, send, startGate, startOrigin } from './harness.mjs';

const NEXT_GITHUB_SECRET = 'the next github secret, during a rotation';
const pathOf = (scheme) => `/hooks/${scheme}`;

describe('six senders, one gate', () => {
  const origins = {};
  let gate;

  before(async () => {
    const routes = {};
    const bindings = { ORIGIN_SECRET: ORIGIN_KEY, GITHUB_SECRET_NEXT: NEXT_GITHUB_SECRET };
    for (const scheme of SCHEMES) {
      origins[scheme] = await startOrigin();
      routes[pathOf(scheme)] = {
        scheme,
        secret: scheme === 'github' ? [binding(scheme), 'GITHUB_SECRET_NEXT'] : binding(scheme),
        origin: origins[scheme].url,
      };
      bindings[binding(scheme)] = SECRETS[scheme];
    }
    routes['/hooks/resigned-github'] = { scheme: 'github', secret: binding('github'), origin: origins.github.url, origin_secret: 'ORIGIN_SECRET' };
    routes['/hooks/resigned-stripe'] = { scheme: 'stripe', secret: binding('stripe'), origin: origins.stripe.url, origin_secret: 'ORIGIN_SECRET' };
    // As wrangler passes a [vars.ROUTES] table: an object.
    gate = await startGate({ ...bindings, ROUTES: routes, WEBHOOK_SECRET: undefined });
  });
  after(async () => {
    await gate?.close();
    for (const origin of Object.values(origins)) await origin.close();
  });

  async function deliver(scheme, { path = pathOf(scheme), secret = SECRETS[scheme], event = sampleEvent(scheme), ...options } = {}) {
    const signature = await signFor(scheme, { secret, body: event.body, ...options });
    const headers = { ...event.headers, ...signature, cookie: 'session=secret-cookie', authorization: 'Bearer secret-token' };
    const answer = await send(gate.url, { path, headers, body: event.body });
    return { answer, event, headers };
  }

  for (const scheme of SCHEMES) {
    test(`${scheme}: verified, and forwarded byte for byte to its own origin with its own headers`, async () => {
      const before = Object.fromEntries(SCHEMES.map((s) => [s, origins[s].received.length]));
      const { answer, event, headers } = await deliver(scheme);
      assert.equal(answer.status, 200, answer.text);
      assert.deepEqual(answer.json, { status: 'delivered' });
      for (const other of SCHEMES) {
        assert.equal(origins[other].received.length, before[other] + (other === scheme ? 1 : 0), `${other}'s origin`);
      }
      const got = origins[scheme].received.at(-1);
      assert.ok(got.body.equals(Buffer.from(event.body)), 'body bytes differ');
      for (const [name, value] of Object.entries(headers)) {
        if (['cookie', 'authorization', 'user-agent'].includes(name)) continue;
        assert.equal(got.headers[name], value, `${name} forwarded as received`);
      }
      assert.equal(got.headers.cookie, undefined);
      assert.equal(got.headers.authorization, undefined);
    });
  }

  test('standard-webhooks: svix-* headers signed by the svix library verify', async () => {
    const { answer, headers } = await deliver('standard-webhooks', { svix: true });
    assert.equal(answer.status, 200, answer.text);
    const got = origins['standard-webhooks'].received.at(-1);
    assert.equal(got.headers['svix-id'], headers['svix-id']);
  });

  test('github: a secret from the second named binding verifies (rotation)', async () => {
    const { answer } = await deliver('github', { secret: NEXT_GITHUB_SECRET });
    assert.equal(answer.status, 200, answer.text);
  });

  for (const scheme of SCHEMES) {
    test(`${scheme}: forgeries are refused with the right reason and never forwarded`, async () => {
      const before = origins[scheme].received.length;
      const wrongKey = scheme === 'standard-webhooks' ? ROTATED_KEY : scheme === 'quo-legacy' ? 'cm90YXRlZC1xdW8tbGVnYWN5LWtleS0x' : 'not the secret';
      const forged = await deliver(scheme, { secret: wrongKey });
      assert.equal(forged.answer.status, 401, forged.answer.text);
      assert.equal(forged.answer.json.reason, 'bad-signature');

      const event = sampleEvent(scheme);
      const signature = await signFor(scheme, { secret: SECRETS[scheme], body: event.body });
      const tampered = await send(gate.url, { path: pathOf(scheme), headers: { ...event.headers, ...signature }, body: `${event.body} ` });
      assert.equal(tampered.status, 401);
      assert.equal(tampered.json.reason, 'bad-signature');

      const missing = await send(gate.url, { path: pathOf(scheme), headers: event.headers, body: event.body });
      assert.equal(missing.status, 401);
      assert.equal(missing.json.reason, 'missing-header');
      if (scheme !== 'standard-webhooks') {
        assert.doesNotMatch(missing.json.detail, /webhook-/, 'names only this sender\'s headers');
      }
      assert.equal(origins[scheme].received.length, before);
    });
  }

  test("a signature spelled otherwise than its sender writes it is refused, as the sender's own library refuses it", async () => {
    const before = SCHEMES.map((s) => origins[s].received.length);
    const refused = async (scheme, event, headers, reason) => {
      const answer = await send(gate.url, { path: pathOf(scheme), headers: { ...event.headers, ...headers }, body: event.body });
      assert.equal(answer.status, 401, `${scheme} ${JSON.stringify(headers)}: ${answer.text}`);
      assert.equal(answer.json.reason, reason, `${scheme} ${JSON.stringify(headers)}`);
    };
    const upper = (hex) => hex.replace(/[a-f]/g, (c) => c.toUpperCase());

    const github = sampleEvent('github');
    const githubHeader = (await signFor('github', { secret: SECRETS.github, body: github.body }))['x-hub-signature-256'];
    const githubUpper = `sha256=${upper(githubHeader.slice(7))}`;
    assert.equal(await githubVerify(SECRETS.github, github.body, githubUpper), false, 'octokit refuses upper-case hex');
    await refused('github', github, { 'x-hub-signature-256': githubUpper }, 'bad-signature');

    const stripeEvent = sampleEvent('stripe');
    const stripeHeader = (await signFor('stripe', { secret: SECRETS.stripe, body: stripeEvent.body }))['stripe-signature'];
    const [, t, v1] = stripeHeader.match(/^t=(\d+),v1=([0-9a-f]{64})$/);
    const library = new Stripe('sk_test_hookgate_local_only');
    for (const header of [`t=${t},v1=${upper(v1)}`, `t=${t}, v1=${v1}`]) {
      assert.throws(() => library.webhooks.constructEvent(stripeEvent.body, header, SECRETS.stripe), /No signatures found/, header);
      await refused('stripe', stripeEvent, { 'stripe-signature': header }, 'bad-signature');
    }
    // Stripe's Node library reads t=0… as the same number; Ruby's Integer reads it as octal.
    await refused('stripe', stripeEvent, { 'stripe-signature': `t=0${t},v1=${v1}` }, 'bad-timestamp');

    const slack = sampleEvent('slack');
    const slackHeaders = await signFor('slack', { secret: SECRETS.slack, body: slack.body });
    await refused('slack', slack, { ...slackHeaders, 'x-slack-signature': `v0=${upper(slackHeaders['x-slack-signature'].slice(3))}` }, 'bad-signature');
    await refused('slack', slack, { ...slackHeaders, 'x-slack-request-timestamp': `0${slackHeaders['x-slack-request-timestamp']}` }, 'bad-timestamp');

    const shopify = sampleEvent('shopify');
    const shopifyHeader = (await signFor('shopify', { secret: SECRETS.shopify, body: shopify.body }))['x-shopify-hmac-sha256'];
    assert.ok(shopifyHeader.endsWith('='), 'Shopify writes padded base64');
    await refused('shopify', shopify, { 'x-shopify-hmac-sha256': shopifyHeader.replace(/=+$/, '') }, 'bad-signature');

    const sw = sampleEvent('standard-webhooks');
    const swHeaders = await signFor('standard-webhooks', { secret: SECRETS['standard-webhooks'], body: sw.body });
    await refused('standard-webhooks', sw, { ...swHeaders, 'webhook-timestamp': `0${swHeaders['webhook-timestamp']}` }, 'bad-timestamp');

    assert.deepEqual(SCHEMES.map((s) => origins[s].received.length), before, 'nothing forwarded');
  });

  for (const scheme of ['standard-webhooks', 'quo-legacy', 'stripe', 'slack']) {
    test(`${scheme}: a timestamp six minutes old is stale, one six minutes ahead is in the future`, async () => {
      const old = await deliver(scheme, { timestamp: new Date(Date.now() - 360_000) });
      assert.equal(old.answer.status, 401);
      assert.equal(old.answer.json.reason, 'stale-timestamp');
      const ahead = await deliver(scheme, { timestamp: new Date(Date.now() + 360_000) });
      assert.equal(ahead.answer.json.reason, 'future-timestamp');
    });
  }

  test("stripe: a retry (same event id, new t, new signature) is answered 200 and not forwarded twice", async () => {
    const event = sampleEvent('stripe');
    const first = await deliver('stripe', { event, timestamp: new Date(Date.now() - 30_000) });
    const retry = await deliver('stripe', { event });
    assert.notEqual(first.headers['stripe-signature'], retry.headers['stripe-signature']);
    assert.deepEqual(first.answer.json, { status: 'delivered' });
    assert.deepEqual(retry.answer.json, { status: 'duplicate' });
    const id = JSON.parse(event.body).id;
    assert.equal(origins.stripe.received.filter((r) => r.body.toString().includes(id)).length, 1);
  });

  test('stripe: an event id holding a dot still keys its retries: two retries with a new t each, forwarded once, with a valid webhook-id', async () => {
    const sample = sampleEvent('stripe');
    const id = `evt_${Date.now()}.retry`;
    const event = { ...sample, body: JSON.stringify({ ...JSON.parse(sample.body), id }, null, 2) };
    const path = '/hooks/resigned-stripe';
    const first = await deliver('stripe', { path, event, timestamp: new Date(Date.now() - 60_000) });
    const second = await deliver('stripe', { path, event, timestamp: new Date(Date.now() - 30_000) });
    const third = await deliver('stripe', { path, event });
    assert.equal(new Set([first, second, third].map((d) => d.headers['stripe-signature'])).size, 3, 'each retry signed anew');
    assert.deepEqual(
      [first, second, third].map((d) => d.answer.json),
      [{ status: 'delivered' }, { status: 'duplicate' }, { status: 'duplicate' }],
    );
    const got = origins.stripe.received.filter((r) => r.body.toString().includes(id));
    assert.equal(got.length, 1);
    assert.match(got[0].headers['webhook-id'], /^id_[0-9a-f]{32}$/);
    assert.deepEqual(new Webhook(ORIGIN_KEY).verify(got[0].body.toString(), got[0].headers), JSON.parse(event.body));
    assert.equal(got[0].headers['stripe-signature'], first.headers['stripe-signature']);
  });

  test('github: a captured delivery replayed with a new x-github-delivery is not forwarded again', async () => {
    const event = sampleEvent('github');
    const first = await deliver('github', { event });
    const replayed = { ...event, headers: { ...event.headers, 'x-github-delivery': 'forged-new-delivery-id' } };
    const again = await deliver('github', { event: replayed });
    assert.deepEqual(first.answer.json, { status: 'delivered' });
    assert.deepEqual(again.answer.json, { status: 'duplicate' });
    assert.equal(origins.github.received.filter((r) => r.body.equals(Buffer.from(event.body))).length, 1);
  });

  for (const [scheme, header, names, signature] of [
    ['shopify', 'x-shopify-topic', ['orders/create', 'orders/paid'], 'x-shopify-hmac-sha256'],
    ['github', 'x-github-event', ['push', 'create'], 'x-hub-signature-256'],
  ]) {
    test(`${scheme}: one body under two ${header} values (${names.join(', ')}) is two events, both delivered; a retry of each is a duplicate`, async () => {
      const event = sampleEvent(scheme);
      const under = (name) => ({ ...event, headers: { ...event.headers, [header]: name } });
      const first = await deliver(scheme, { event: under(names[0]) });
      const second = await deliver(scheme, { event: under(names[1]) });
      assert.equal(first.headers[signature], second.headers[signature], 'one body, one signature');
      assert.deepEqual([first.answer.json, second.answer.json], [{ status: 'delivered' }, { status: 'delivered' }]);
      for (const name of names) assert.deepEqual((await deliver(scheme, { event: under(name) })).answer.json, { status: 'duplicate' }, name);
      const got = origins[scheme].received.filter((r) => r.body.equals(Buffer.from(event.body)));
      assert.deepEqual(got.map((r) => r.headers[header]), names);
    });
  }

  test('a delivery sent to another route\'s path is refused', async () => {
    const before = SCHEMES.map((s) => origins[s].received.length);
    const onStripe = await deliver('github', { path: pathOf('stripe') });
    assert.equal(onStripe.answer.status, 401);
    assert.equal(onStripe.answer.json.reason, 'missing-header');
    // Signed with the Shopify secret the way Shopify signs, sent to GitHub's path.
    const event = sampleEvent('shopify');
    const shopifyHeaders = await signFor('shopify', { secret: SECRETS.github, body: event.body });
    const crossed = await send(gate.url, { path: pathOf('github'), headers: { ...event.headers, ...shopifyHeaders }, body: event.body });
    assert.equal(crossed.status, 401);
    assert.deepEqual(SCHEMES.map((s) => origins[s].received.length), before);
    const nowhere = await deliver('github', { path: '/hooks/gitlab' });
    assert.equal(nowhere.answer.status, 404);
  });

  test('slack: the signed url_verification handshake is answered with its challenge and not forwarded', async () => {
    const before = origins.slack.received.length;
    const body = slackUrlVerification('3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P');
    const headers = await signFor('slack', { secret: SECRETS.slack, body });
    const answer = await send(gate.url, { path: pathOf('slack'), headers: { 'content-type': 'application/json', ...headers }, body });
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json, { challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P' });
    const forged = await signFor('slack', { secret: 'not the secret', body });
    const refused = await send(gate.url, { path: pathOf('slack'), headers: forged, body });
    assert.equal(refused.status, 401);
    assert.ok(!refused.text.includes('3eZbrw1a'), 'a forged handshake learns nothing');
    assert.equal(origins.slack.received.length, before);
  });

  test('a re-signed route: the origin verifies with standardwebhooks and ORIGIN_SECRET, the sender headers stay', async () => {
    const event = sampleEvent('github');
    const { answer, headers } = await deliver('github', { path: '/hooks/resigned-github', event });
    assert.equal(answer.status, 200, answer.text);
    const got = origins.github.received.at(-1);
    assert.equal(got.headers['x-hub-signature-256'], headers['x-hub-signature-256']);
    assert.equal(got.headers['x-github-event'], 'push');
    assert.deepEqual(new Webhook(ORIGIN_KEY).verify(got.body.toString(), got.headers), JSON.parse(event.body));
    assert.match(got.headers['webhook-id'], /^sig_[0-9a-f]{32}$/);
  });
});

describe('ROUTES as a JSON string (.dev.vars, --var)', () => {
  let gate;
  let origin;
  before(async () => {
    origin = await startOrigin();
    const routes = JSON.stringify({ '/shopify': { scheme: 'shopify', secret: 'SHOPIFY_SECRET', origin: origin.url, max_body_bytes: 2048 } });
    gate = await startGate({ ROUTES: routes, SHOPIFY_SECRET: SECRETS.shopify, WEBHOOK_SECRET: undefined });
  });
  after(async () => {
    await gate?.close();
    await origin?.close();
  });

  test('routes and per-route limits apply', async () => {
    const event = sampleEvent('shopify');
    const headers = { ...event.headers, ...(await signFor('shopify', { secret: SECRETS.shopify, body: event.body })) };
    assert.equal((await send(gate.url, { path: '/shopify', headers, body: event.body })).status, 200);
    const big = 'x'.repeat(2049);
    const bigHeaders = await signFor('shopify', { secret: SECRETS.shopify, body: big });
    const answer = await send(gate.url, { path: '/shopify', headers: bigHeaders, body: big });
    assert.equal(answer.status, 413);
    assert.equal((await send(gate.url, { path: '/', headers, body: event.body })).status, 404, 'the plain settings do not apply');
  });
});

describe('a bad route', () => {
  const cases = [
    ['an unknown scheme', { '/a': { scheme: 'gitlab', secret: 'S', origin: 'http://127.0.0.1:9/' } }, /route "\/a", field scheme is invalid/],
    ['a secret that is not bound', { '/a': { scheme: 'github', secret: 'NOT_BOUND', origin: 'http://127.0.0.1:9/' } }, /route "\/a", field secret is invalid: it names the secret NOT_BOUND, which is not set/],
    ['a bad origin URL', { '/a': { scheme: 'github', secret: 'S', origin: 'https://admin:s3cret-pw@127.0.0.1/' } }, /route "\/a", field origin is invalid: it holds credentials/],
    ['a path under /_hookgate/', { '/_hookgate/x': { scheme: 'github', secret: 'S', origin: 'http://127.0.0.1:9/' } }, /route "\/_hookgate\/x", field path is invalid/],
    [
      'a secret pasted as a field name',
      { '/a': { scheme: 'github', secret: 'S', origin: 'http://127.0.0.1:9/', 'hunter2-pasted-where-a-field-goes': 1 } },
      /route "\/a", field field is invalid: a route has a field hookgate does not know \(its name is not shown/,
    ],
  ];
  for (const [name, routes, message] of cases) {
    test(`${name}: 500 misconfigured, a log line naming route and field, never a value`, async () => {
      const gate = await startGate({ ROUTES: routes, S: 'hunter2-the-secret-value', WEBHOOK_SECRET: undefined });
      try {
        const answer = await send(gate.url, { path: '/a', headers: { 'x-hub-signature-256': 'sha256=00' }, body: '{}' });
        assert.equal(answer.status, 500);
        assert.equal(answer.json.reason, 'misconfigured');
        const text = gate.logs.join('\n');
        assert.match(text, message);
        assert.ok(!text.includes('hunter2') && !text.includes('s3cret'), text);
      } finally {
        await gate.close();
      }
    });
  }

  test('two routes on one path (JSON text)', async () => {
    const routes = '{"/a": {"scheme": "github", "secret": "S", "origin": "http://127.0.0.1:9/"}, "/a": {"scheme": "stripe", "secret": "S", "origin": "http://127.0.0.1:9/"}}';
    const gate = await startGate({ ROUTES: routes, S: 'hunter2-the-secret-value', WEBHOOK_SECRET: undefined });
    try {
      const answer = await send(gate.url, { path: '/a', body: '{}' });
      assert.equal(answer.status, 500);
      assert.match(gate.logs.join('\n'), /route "\/a", field path is invalid: two routes have this path/);
    } finally {
      await gate.close();
    }
  });
});
