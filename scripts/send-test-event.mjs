// `npm run send-test-event -- [--type message.received] [--url URL] [--id ID]`
// Signs a Quo-shaped sample event with the standardwebhooks library and the
// first key of WEBHOOK_SECRET in .dev.vars, posts it, and prints the answer:
// the local twin of the sender's "send test event" button.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Webhook } from 'standardwebhooks';
import { readDevVars } from './dev-vars.mjs';

const TYPES = {
  'message.received': { object: 'message', direction: 'incoming', text: 'Hello from hookgate test event' },
  'message.delivered': { object: 'message', direction: 'outgoing', status: 'delivered', text: 'Your order shipped' },
  'call.completed': { object: 'call', direction: 'incoming', status: 'completed', duration: 42 },
  'call.summary.completed': { object: 'callSummary', summary: ['Caller asked about pricing.'] },
  'call.transcript.completed': { object: 'callTranscript', dialogue: [{ identifier: '+15555550100', content: 'Hi!' }] },
  'contact.updated': { object: 'contact', firstName: 'Ada', lastName: 'Lovelace' },
  'contact.deleted': { object: 'contact', deleted: true },
};

const { values } = parseArgs({
  options: {
    type: { type: 'string', default: 'message.received' },
    url: { type: 'string' },
    id: { type: 'string' },
  },
});
if (!TYPES[values.type]) {
  console.error(`send-test-event: unknown --type ${values.type}; one of: ${Object.keys(TYPES).join(', ')}`);
  process.exit(2);
}
const vars = readDevVars();
const key = (process.env.WEBHOOK_SECRET ?? vars.WEBHOOK_SECRET ?? '').trim().split(/\s+/)[0];
if (!key) {
  console.error('send-test-event: no WEBHOOK_SECRET in .dev.vars (run `npm run setup` to create it)');
  process.exit(2);
}
const url = values.url ?? new URL(vars.WEBHOOK_PATH ?? '/', 'http://127.0.0.1:8787').href;

const hex = () => randomUUID().replaceAll('-', '');
const body = JSON.stringify({
  id: `EV${hex().slice(0, 24)}`,
  apiVersion: '2026-03-30',
  createdAt: new Date().toISOString(),
  type: values.type,
  data: {
    resource: { id: `AC${hex().slice(0, 24)}`, ...TYPES[values.type] },
    context: { phoneNumberId: 'PN123', userId: 'US123' },
    links: { quo: 'https://example.invalid/inbox' },
  },
});
const id = values.id ?? `msg_${hex()}`;
const now = new Date();
const headers = {
  'content-type': 'application/json',
  'webhook-id': id,
  'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
  'webhook-signature': new Webhook(key).sign(id, now, body),
};

console.log(`POST ${url} ${values.type} webhook-id=${id} (${body.length} bytes)`);
let response;
try {
  response = await fetch(url, { method: 'POST', headers, body });
} catch (error) {
  console.error(`send-test-event: could not reach ${url}: ${error.cause?.message ?? error.message}. Is \`npm run dev\` running?`);
  process.exit(1);
}
console.log(`${response.status} ${response.statusText}`);
console.log(await response.text());
process.exitCode = response.ok ? 0 : 1;
