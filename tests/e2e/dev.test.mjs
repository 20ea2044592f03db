// End to end: `npm run dev` as a user runs it, with the local settings it
// starts from (.dev.vars.example): wrangler dev in front of the demo origin.
// An oversize chunked delivery is refused and the next deliveries go
// through on the same kept-alive connection and a fresh one; a client that
// aborts a request to / mid-body makes wrangler 4.86 exit, and the script
// starts it again. Also: the build is not run twice.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sampleEvent, signFor } from '../../scripts/senders.mjs';
import { describeRoutes, readDevVars } from '../../scripts/dev-vars.mjs';
import { ROOT, postOn, sleep } from './harness.mjs';

/** A free loopback port. */
function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

test("npm run dev's start line names the routes .dev.vars gives, or says wrangler.toml's apply", () => {
  assert.equal(describeRoutes(readDevVars(`${ROOT}.dev.vars.example`)), '/quo, /quo-legacy, /github, /stripe, /slack, /shopify');
  assert.equal(describeRoutes({ ROUTES: '', WEBHOOK_PATH: '/webhooks' }), '/webhooks');
  assert.equal(describeRoutes({}), "wrangler.toml's [vars.ROUTES]");
});

test('a second build with nothing changed is skipped', () => {
  const run = spawnSync('bash', ['scripts/build.sh'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /up to date/);
});

describe('npm run dev', () => {
  let dir;
  let dev;
  let output = '';
  let port;
  const vars = readDevVars(`${ROOT}.dev.vars.example`);

  before(async () => {
    port = await freePort();
    const originPort = await freePort();
    const inspectorPort = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'hookgate-dev-'));
    // The project's own settings, with the demo origin on its test port, and
    // the project's wrangler.toml without its build step (the suite built).
    const example = readFileSync(`${ROOT}.dev.vars.example`, 'utf8').replaceAll('127.0.0.1:8788', `127.0.0.1:${originPort}`);
    writeFileSync(join(dir, '.dev.vars'), example);
    const toml = readFileSync(`${ROOT}wrangler.toml`, 'utf8')
      .replace(/^\[build\][\s\S]*?watch_dir = .*$/m, '')
      .replace('main = "build/index.js"', `main = "${ROOT}build/index.js"`);
    writeFileSync(join(dir, 'wrangler.toml'), toml);
    dev = spawn(process.execPath, [`${ROOT}scripts/dev.mjs`, '--config', join(dir, 'wrangler.toml'), '--inspector-port', String(inspectorPort)], {
      cwd: ROOT,
      env: {
        ...process.env,
        HOOKGATE_DEV_PORT: String(port),
        HOOKGATE_DEMO_ORIGIN_PORT: String(originPort),
        HOOKGATE_DEV_VARS: join(dir, '.dev.vars'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [dev.stdout, dev.stderr]) stream.on('data', (chunk) => (output += chunk));
    await until(() => /Ready on http:\/\/127\.0\.0\.1/.test(output), 60_000, 'wrangler dev ready');
  });
  after(async () => {
    if (dev && dev.exitCode === null) {
      dev.kill('SIGINT');
      await Promise.race([new Promise((resolve) => dev.once('exit', resolve)), sleep(10_000)]);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  async function until(check, ms, what) {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (Date.now() > deadline) assert.fail(`not within ${ms} ms: ${what}\n${output.slice(-3000)}`);
      await sleep(100);
    }
  }

  /** A GitHub-signed delivery to /github, on `agent`; `chunks` sends a chunked body. */
  async function github(agent, { body, chunks } = {}) {
    const event = sampleEvent('github');
    const payload = body ?? event.body;
    const headers = { ...event.headers, ...(await signFor('github', { secret: vars.GITHUB_WEBHOOK_SECRET, body: payload })) };
    const parts = chunks ? Array.from({ length: chunks }, () => payload.slice(0, 64 * 1024)) : undefined;
    return postOn(agent, `http://127.0.0.1:${port}`, { path: '/github', headers, body: payload, parts });
  }

  test('an oversize chunked delivery, then valid ones: 413, 200, 200, on one kept-alive connection and a fresh one', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const big = `{"pad":"${'x'.repeat(70 * 1024)}"}`;
      const refused = await github(agent, { body: big, chunks: 20 }); // about 1.3 MB, over the 1 MiB default
      assert.equal(refused.status, 413);
      const next = await github(agent);
      assert.equal(next.status, 200);
      assert.equal(next.socket, refused.socket, 'the same connection');
      const fresh = await github(false);
      assert.equal(fresh.status, 200);
      await until(() => (output.match(/\[demo origin\] POST \/github scheme=github/g) ?? []).length >= 2, 5_000, 'the demo origin printed both');
    } finally {
      agent.destroy();
    }
  });

  test('a client that aborts a request to / mid-body: wrangler exits, is started again, and deliveries go on', async () => {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(`POST / HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-length: 3000\r\n\r\n${'a'.repeat(1024)}`);
    await sleep(300);
    socket.destroy();
    await until(() => /dev: wrangler dev exited/.test(output), 20_000, 'wrangler 4.86 exits (if it no longer does, the restart is not needed)');
    await until(() => (output.match(/Ready on http:\/\/127\.0\.0\.1/g) ?? []).length >= 2, 60_000, 'started again');
    const answer = await github(false);
    assert.equal(answer.status, 200);
  });
});
