// The demo origin for `npm run dev`: prints every event hookgate forwards —
// the route it came through (its path here), the sender's scheme (from the
// sender's own headers), the event — and, when ORIGIN_SECRET is set in
// .dev.vars, whether hookgate's re-signature verifies with it. Answers 200.
// Run alone: node scripts/demo-origin.mjs [port]
import http from 'node:http';
import { Webhook } from 'standardwebhooks';
import { readDevVars } from './dev-vars.mjs';

/** The sender's scheme, from the headers only that sender sends. */
function schemeOf(headers) {
  if (headers['x-hub-signature-256']) return 'github';
  if (headers['stripe-signature']) return 'stripe';
  if (headers['x-slack-signature']) return 'slack';
  if (headers['x-shopify-hmac-sha256']) return 'shopify';
  if (headers['openphone-signature']) return 'quo-legacy';
  if (headers['svix-signature'] || headers['webhook-signature']) return 'standard-webhooks';
  return 'unknown';
}

export function startDemoOrigin({ port = 8788, host = '127.0.0.1', originSecret, log = console.log } = {}) {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let summary = `${body.length} bytes`;
      try {
        const event = JSON.parse(body.toString('utf8'));
        const type = req.headers['x-github-event'] ?? req.headers['x-shopify-topic'] ?? event.type ?? 'event';
        summary = `${type} ${event.id ?? event.event_id ?? ''} (${body.length} bytes)`;
      } catch {
        // not JSON: the byte count says enough
      }
      let check = 'not re-signed (no origin_secret)';
      if (req.headers['webhook-signature'] && originSecret && schemeOf(req.headers) !== 'standard-webhooks') {
        check = verify(originSecret, body, req.headers);
      } else if (originSecret && req.headers['webhook-signature']) {
        check = verify(originSecret, body, req.headers, true);
      }
      log(`[demo origin] ${req.method} ${req.url} scheme=${schemeOf(req.headers)} ${summary}; ${check}`);
      log(`[demo origin] body: ${body.toString('utf8').slice(0, 300)}`);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('received\n');
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

function verify(secret, body, headers, maybeSender = false) {
  try {
    new Webhook(secret).verify(body.toString('utf8'), headers);
    return `hookgate's signature verifies with ORIGIN_SECRET (webhook-id=${headers['webhook-id']})`;
  } catch (error) {
    return maybeSender
      ? `the Standard Webhooks signature is the sender's, not hookgate's (${error.message})`
      : `hookgate's signature does NOT verify with ORIGIN_SECRET: ${error.message}`;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.argv[2] ?? 8788);
  await startDemoOrigin({ port, originSecret: readDevVars().ORIGIN_SECRET });
  console.log(`[demo origin] listening on http://127.0.0.1:${port}/`);
}
