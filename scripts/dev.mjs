// `npm run dev`: the demo origin on 127.0.0.1:8788 and the Worker under
// `wrangler dev` on 127.0.0.1:8787 with local KV. Ctrl-C stops both.
// (`npm run setup` has already made .dev.vars from .dev.vars.example.)
import { spawn } from 'node:child_process';
import { startDemoOrigin } from './demo-origin.mjs';
import { ROOT, readDevVars } from './dev-vars.mjs';

const vars = readDevVars();
const origin = await startDemoOrigin({ originSecret: vars.ORIGIN_SECRET }).catch((error) => {
  console.error(`dev: cannot start the demo origin on 127.0.0.1:8788: ${error.message}`);
  process.exit(1);
});
console.log('[demo origin] listening on http://127.0.0.1:8788/');

const wrangler = spawn(
  process.execPath,
  [`${ROOT}node_modules/wrangler/bin/wrangler.js`, 'dev', '--ip', '127.0.0.1', '--port', '8787', '--show-interactive-dev-session=false', ...process.argv.slice(2)],
  { cwd: ROOT, stdio: 'inherit', env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' } },
);
console.log('dev: hookgate will listen on http://127.0.0.1:8787/ once built; try `npm run send-test-event`');

function stop(code) {
  origin.close();
  if (wrangler.exitCode === null) wrangler.kill('SIGINT');
  process.exitCode = code;
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
wrangler.on('exit', (code) => {
  origin.close();
  process.exit(code ?? 0);
});
