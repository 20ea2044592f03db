// How each sender signs, and a realistic sample event of each: used by
// `npm run send-test-event` and by the end-to-end tests. Wherever the sender
// publishes a signing library on npm, that library signs (standardwebhooks
// and svix for Standard Webhooks, stripe, @octokit/webhooks-methods for
// GitHub); Slack, Shopify and Quo's legacy webhooks publish none, so those
// are signed here with node:crypto, as their docs describe.
import { createHmac, randomUUID } from 'node:crypto';
import { sign as githubSign } from '@octokit/webhooks-methods';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';
import { Webhook as SvixWebhook } from 'svix';

export const SCHEMES = ['standard-webhooks', 'quo-legacy', 'github', 'stripe', 'slack', 'shopify'];

const hex = (n = 24) => randomUUID().replaceAll('-', '').slice(0, n);
const stripe = new Stripe('sk_test_hookgate_local_only');

/**
 * Headers that sign `body` (a string) for `scheme` with `secret` (as the
 * route's secret binding holds it). `id` and `timestamp` (a Date) may be
 * given; `svix` signs Standard Webhooks with the svix library and headers.
 */
export async function signFor(scheme, { secret, body, id = `msg_${hex(27)}`, timestamp = new Date(), svix = false }) {
  const seconds = Math.floor(timestamp.getTime() / 1000);
  switch (scheme) {
    case 'standard-webhooks': {
      const key = secret.trim().split(/\s+/)[0];
      if (svix) {
        return {
          'svix-id': id,
          'svix-timestamp': String(seconds),
          'svix-signature': new SvixWebhook(key).sign(id, timestamp, body),
        };
      }
      return {
        'webhook-id': id,
        'webhook-timestamp': String(seconds),
        'webhook-signature': new Webhook(key).sign(id, timestamp, body),
      };
    }
    case 'quo-legacy': {
      const key = Buffer.from(secret.trim().split(/\s+/)[0], 'base64');
      const ms = timestamp.getTime();
      const signature = createHmac('sha256', key).update(`${ms}.`).update(body).digest('base64');
      return { 'openphone-signature': `hmac;1;${ms};${signature}` };
    }
    case 'github':
      return { 'x-hub-signature-256': await githubSign(secret, body) };
    case 'stripe':
      return { 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp: seconds }) };
    case 'slack': {
      const signature = createHmac('sha256', secret).update(`v0:${seconds}:`).update(body).digest('hex');
      return { 'x-slack-signature': `v0=${signature}`, 'x-slack-request-timestamp': String(seconds) };
    }
    case 'shopify':
      return { 'x-shopify-hmac-sha256': createHmac('sha256', secret).update(body).digest('base64') };
    default:
      throw new Error(`unknown scheme ${scheme}`);
  }
}

/**
 * A realistic event for `scheme`: `{ body, headers }`, where `headers` are
 * the sender's own unsigned headers (event names, delivery ids).
 */
export function sampleEvent(scheme, { type } = {}) {
  const now = new Date();
  const seconds = Math.floor(now.getTime() / 1000);
  switch (scheme) {
    case 'standard-webhooks':
      return {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          id: `EV${hex()}`,
          apiVersion: '2026-03-30',
          createdAt: now.toISOString(),
          type: type ?? 'message.received',
          data: {
            resource: { id: `AC${hex()}`, object: 'message', direction: 'incoming', text: 'Hello from hookgate' },
            context: { phoneNumberId: 'PN123', userId: 'US123' },
            links: { quo: 'https://example.invalid/inbox' },
          },
        }),
      };
    case 'quo-legacy':
      return {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          id: `EV${hex(32)}`,
          object: 'event',
          apiVersion: 'v2',
          createdAt: now.toISOString(),
          type: type ?? 'message.received',
          data: { object: { id: `AC${hex()}`, object: 'message', from: '+15555550100', to: ['+15555550101'], direction: 'incoming', body: 'Hello from hookgate' } },
        }),
      };
    case 'github':
      return {
        headers: {
          'content-type': 'application/json',
          'user-agent': 'GitHub-Hookshot/hookgate',
          'x-github-event': type ?? 'push',
          'x-github-delivery': randomUUID(),
          'x-github-hook-id': '123456789',
          'x-github-hook-installation-target-id': '42',
          'x-github-hook-installation-target-type': 'repository',
        },
        body: JSON.stringify({
          ref: 'refs/heads/main',
          before: hex(40),
          after: hex(40),
          repository: { id: 42, full_name: 'example/hookgate-demo', private: true },
          pusher: { name: 'octocat', email: 'octocat@example.invalid' },
          commits: [{ id: hex(40), message: 'Update README', timestamp: now.toISOString() }],
        }),
      };
    case 'stripe':
      return {
        headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)' },
        body: JSON.stringify(
          {
            id: `evt_${hex()}`,
            object: 'event',
            api_version: '2024-06-20',
            created: seconds,
            data: { object: { id: `pi_${hex()}`, object: 'payment_intent', amount: 2000, currency: 'usd', status: 'succeeded' } },
            livemode: false,
            pending_webhooks: 1,
            request: { id: null, idempotency_key: null },
            type: type ?? 'payment_intent.succeeded',
          },
          null,
          2,
        ),
      };
    case 'slack':
      return {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          token: 'verification-token-unused',
          team_id: 'T0HOOKGATE',
          api_app_id: 'A0HOOKGATE',
          event: { type: 'message', channel: 'C0HOOKGATE', user: 'U0HOOKGATE', text: 'Hello from hookgate', ts: `${seconds}.000100` },
          type: 'event_callback',
          event_id: `Ev${hex(10).toUpperCase()}`,
          event_time: seconds,
        }),
      };
    case 'shopify':
      return {
        headers: {
          'content-type': 'application/json',
          'x-shopify-topic': type ?? 'orders/create',
          'x-shopify-shop-domain': 'hookgate-demo.myshopify.com',
          'x-shopify-api-version': '2026-01',
          'x-shopify-webhook-id': randomUUID(),
          'x-shopify-event-id': randomUUID(),
          'x-shopify-triggered-at': now.toISOString(),
        },
        body: JSON.stringify({
          id: Number(`8209${Date.now()}`.slice(0, 16)),
          email: 'customer@example.invalid',
          created_at: now.toISOString(),
          total_price: '199.00',
          currency: 'USD',
          line_items: [{ title: 'hookgate sticker', quantity: 2, price: '99.50' }],
        }),
      };
    default:
      throw new Error(`unknown scheme ${scheme}`);
  }
}

/** Slack's handshake when an events URL is saved. */
export function slackUrlVerification(challenge = hex(48)) {
  return JSON.stringify({ token: 'verification-token-unused', challenge, type: 'url_verification' });
}
