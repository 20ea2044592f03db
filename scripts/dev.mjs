// `npm run dev`: the demo origin on 127.0.0.1:8788 and the Worker under
// `wrangler dev` on 127.0.0.1:8787 with local KV, Durable Objects and Queues.
// Ctrl-C stops both. (`npm run setup` has already made .dev.vars from
// .dev.vars.example.)
//
// wrangler 4.86 (the last that runs on Node 20) exits when a client aborts a
// request to the path `/` in the middle of its body: an error in its dev
// proxy, fixed in later versions (docs/operations.md shows it with a
// five-line Worker). No Worker can prevent it, so this script starts wrangler
// again when it exits unasked, and says why.
import { spawn } from 'node:child_process';
import { startDemoOrigin } from './demo-origin.mjs';
import { ROOT, describeRoutes, readDevVars } from './dev-vars.mjs';

const RESTARTS_PER_MINUTE = 5;
// The ports, and the settings file, can be moved (the end-to-end test of
// this script runs it beside other work).
const PORT = process.env.HOOKGATE_DEV_PORT ?? '8787';
const ORIGIN_PORT = Number(process.env.HOOKGATE_DEMO_ORIGIN_PORT ?? 8788);

const vars = readDevVars(process.env.HOOKGATE_DEV_VARS);
const origin = await startDemoOrigin({ port: ORIGIN_PORT, originSecret: vars.ORIGIN_SECRET }).catch((error) => {
  console.error(`dev: cannot start the demo origin on 127.0.0.1:${ORIGIN_PORT}: ${error.message}`);
  process.exit(1);
});
console.log(`[demo origin] listening on http://127.0.0.1:${ORIGIN_PORT}/`);

let wrangler;
let stopping = false;
const restarts = [];

function startWrangler() {
  wrangler = spawn(
    process.execPath,
    [
      `${ROOT}node_modules/wrangler/bin/wrangler.js`,
      'dev',
      '--ip',
      '127.0.0.1',
      '--port',
      PORT,
      '--show-interactive-dev-session=false',
      ...process.argv.slice(2),
    ],
    { cwd: ROOT, stdio: 'inherit', env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' } },
  );
  wrangler.on('exit', (code, signal) => {
    if (stopping) {
      origin.close();
      process.exit(code ?? 0);
    }
    const now = Date.now();
    restarts.push(now);
    while (restarts[0] < now - 60_000) restarts.shift();
    if (restarts.length > RESTARTS_PER_MINUTE) {
      console.error(`dev: wrangler dev exited ${restarts.length} times within a minute (last: code ${code}, signal ${signal}); giving up`);
      origin.close();
      process.exit(code || 1);
    }
    console.error(
      `dev: wrangler dev exited (code ${code}). wrangler 4.86 does this when a client aborts a request to / mid-body ` +
        '(a bug in its dev proxy; see docs/operations.md). Starting it again.',
    );
    startWrangler();
  });
}

startWrangler();
const routes = describeRoutes(vars);
console.log(`dev: hookgate will listen on http://127.0.0.1:${PORT}/ once built (routes: ${routes}); try \`npm run send-test-event -- --all\``);

function stop() {
  stopping = true;
  origin.close();
  if (wrangler.exitCode === null) wrangler.kill('SIGINT');
  else process.exit(0);
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
