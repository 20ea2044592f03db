// `npm run send-test-event -- [--route /github] [--all] [--type TYPE] [--url URL] [--id ID]`
// Signs a realistic sample event the way the route's sender does (its own
// library where npm has one), with the secret .dev.vars names for that
// route, posts it to the local gate and prints the answer: the local twin
// of a sender's "send test event" button. Without ROUTES in .dev.vars the
// one Standard Webhooks route of WEBHOOK_SECRET and WEBHOOK_PATH is used.
import { parseArgs } from 'node:util';
import { readDevVars } from './dev-vars.mjs';
import { SCHEMES, sampleEvent, signFor } from './senders.mjs';

const { values } = parseArgs({
  options: {
    route: { type: 'string' },
    all: { type: 'boolean', default: false },
    type: { type: 'string' },
    url: { type: 'string' },
    id: { type: 'string' },
    base: { type: 'string', default: 'http://127.0.0.1:8787' },
  },
});

const fail = (message) => {
  console.error(`send-test-event: ${message}`);
  process.exit(2);
};

const vars = { ...readDevVars(), ...process.env };

/** The routes of the local settings: path → { scheme, secret text }. */
function localRoutes() {
  if (!vars.ROUTES) {
    if (!vars.WEBHOOK_SECRET) fail('no ROUTES and no WEBHOOK_SECRET in .dev.vars (run `npm run setup` to create it)');
    return { [vars.WEBHOOK_PATH || '/']: { scheme: 'standard-webhooks', secret: vars.WEBHOOK_SECRET } };
  }
  let routes;
  try {
    routes = JSON.parse(vars.ROUTES);
  } catch (error) {
    fail(`ROUTES in .dev.vars is not JSON: ${error.message}`);
  }
  const local = {};
  for (const [path, route] of Object.entries(routes)) {
    const name = [route.secret].flat()[0];
    if (!vars[name]) fail(`route ${path} names the secret ${name}, which .dev.vars does not set`);
    local[path] = { scheme: route.scheme, secret: vars[name] };
  }
  return local;
}

async function sendOne(path, { scheme, secret }) {
  if (!SCHEMES.includes(scheme)) fail(`route ${path} has scheme ${scheme}, which this script cannot sign`);
  const event = sampleEvent(scheme, { type: values.type });
  const signature = await signFor(scheme, { secret, body: event.body, ...(values.id ? { id: values.id } : {}) });
  const url = values.url ?? new URL(path, values.base).href;
  console.log(`POST ${url} (${scheme}, ${event.body.length} bytes)`);
  let response;
  try {
    response = await fetch(url, { method: 'POST', headers: { ...event.headers, ...signature }, body: event.body });
  } catch (error) {
    console.error(`send-test-event: could not reach ${url}: ${error.cause?.message ?? error.message}. Is \`npm run dev\` running?`);
    process.exit(1);
  }
  console.log(`${response.status} ${response.statusText} ${await response.text()}`);
  return response.ok;
}

const routes = localRoutes();
const paths = Object.keys(routes);
let chosen;
if (values.all) {
  chosen = paths;
} else if (values.route) {
  if (!routes[values.route]) fail(`no route ${values.route}; the local routes are ${paths.join(', ')}`);
  chosen = [values.route];
} else {
  chosen = [paths[0]];
}
let ok = true;
for (const path of chosen) ok = (await sendOne(path, routes[path])) && ok;
process.exitCode = ok ? 0 : 1;
