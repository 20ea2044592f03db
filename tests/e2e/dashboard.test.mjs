// End to end in a real browser: the dashboard under /_hookgate/, served by
// the built Worker in workerd, driven in Debian's headless Chromium through
// puppeteer-core, as a person would use it: nothing before the token, an
// error for a wrong one, then deliveries, counts, filters and one
// delivery's detail. A sender picks webhook-ids and event types, so one
// delivery carries markup in both: it must show as text and run nothing.
//
// With HOOKGATE_SCREENSHOT=docs/dashboard.png, the page with data and a
// delivery's detail open is saved there (a path from the repository root).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import puppeteer from 'puppeteer-core';
import { sampleEvent, signFor } from '../../scripts/senders.mjs';
import { ROOT, ORIGIN_KEY, SENDER_KEY, STRANGER_KEY, newId, poll, queuedMessage, quoEvent, send, signed, sleep, startGate, startOrigin } from './harness.mjs';

const CHROMIUM = process.env.HOOKGATE_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOT = process.env.HOOKGATE_SCREENSHOT;
const TOKEN = 'admin-token-for-the-dashboard-test-01';
const GITHUB_SECRET = 'github secret of the dashboard test';
// Valid webhook-id (printable ASCII, no '.') and event type, both markup.
const XSS_KEY = '<script>__xss=1;alert(1)</script><img src=x onerror=__xss=2>';
const XSS_TYPE = '<img src=x onerror=alert(2)><b>bold</b>';
const WAIT = { timeout: 5000 };
// The outcomes a delivery record can have (src/log/mod.rs `records`, and the
// queue consumer's retrying and dead); not duplicate, which is only counted.
const RECORD_OUTCOMES = ['delivered', 'origin-failed', 'origin-timeout', 'store-unavailable', 'queue-unavailable', 'internal-error', 'queued', 'retrying', 'dead'];

/** GET an admin path with the token, parsed. */
const admin = (gate, path) => send(gate.url, { method: 'GET', path: `/_hookgate${path}`, headers: { authorization: `Bearer ${TOKEN}` } });

/** Launches Chromium with a fresh profile and nothing that calls out. */
async function launch() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: run bash scripts/setup.sh (it installs Debian's chromium)`);
  }
  const profile = mkdtempSync(join(tmpdir(), 'hookgate-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    pipe: true, // no debugging port at all
    userDataDir: profile,
    defaultViewport: { width: 1280, height: 800 },
    args: [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--lang=en-US',
    ],
  });
  return {
    browser,
    async close() {
      await browser.close().catch(() => browser.process()?.kill('SIGKILL'));
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * A tab watched for what must never happen: a dialog, a CSP violation (an
 * injected inline script or handler would be one), a script error. A
 * dialog is dismissed, unless `watch.accept` is set (an admin action's
 * confirmation, which a test accepts).
 */
async function watchedPage(context) {
  const page = await context.newPage();
  const watch = { dialogs: [], errors: [], requests: [], accept: false };
  page.on('dialog', async (dialog) => {
    // A confirmation a test expects (`watch.accept`) is accepted, once;
    // any other dialog is recorded and dismissed.
    if (watch.accept && dialog.type() === 'confirm') {
      watch.accept = false;
      watch.confirmed = dialog.message();
      await dialog.accept();
      return;
    }
    watch.dialogs.push(dialog.message());
    await (watch.accept ? dialog.accept() : dialog.dismiss());
  });
  page.on('pageerror', (error) => watch.errors.push(error.message));
  page.on('request', (request) => watch.requests.push(`${request.method() === 'GET' ? '' : `${request.method()} `}${new URL(request.url()).pathname}`));
  await page.evaluateOnNewDocument(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (event) => window.__violations.push(`${event.violatedDirective} ${event.sample}`));
  });
  await page.emulateTimezone('UTC');
  return { page, watch };
}

/** The rows shown: key (as text), route, event, outcome badge's classes, attempts. */
function rows(page) {
  return page.$$eval('#deliveries tbody tr[data-key]', (trs) =>
    trs.map((tr) => ({
      key: tr.querySelector('td.key').textContent,
      dataKey: tr.getAttribute('data-key'),
      route: tr.cells[1].textContent,
      event: tr.cells[2].textContent,
      badge: [...tr.querySelector('.outcome').classList],
      outcome: tr.querySelector('.outcome').textContent,
      attempts: tr.cells[5].textContent,
    })),
  );
}

/** Waits until the table shows exactly `count` delivery rows, all of `route` and `outcome` when given. */
async function waitForRows(page, count, { route, outcome } = {}) {
  await page.waitForFunction(
    (count, route, outcome) => {
      const trs = [...document.querySelectorAll('#deliveries tbody tr[data-key]')];
      return (
        trs.length === count &&
        trs.every((tr) => (route === null || tr.dataset.route === route) && (outcome === null || tr.querySelector('.outcome').textContent === outcome))
      );
    },
    WAIT,
    count,
    route ?? null,
    outcome ?? null,
  );
}

describe('the dashboard in Chromium', () => {
  const origins = {};
  const made = {};
  let gate;
  let chromium;
  let page;
  let watch;
  let started;

  before(async () => {
    started = Date.now();
    origins.quo = await startOrigin();
    origins.github = await startOrigin();
    gate = await startGate({
      ROUTES: {
        '/quo': { scheme: 'standard-webhooks', secret: 'QUO_SECRET', origin: origins.quo.url, origin_secret: 'ORIGIN_SECRET' },
        '/github': { scheme: 'github', secret: 'GITHUB_SECRET', origin: origins.github.url },
      },
      QUO_SECRET: SENDER_KEY,
      GITHUB_SECRET,
      ORIGIN_SECRET: ORIGIN_KEY,
      ADMIN_TOKEN: TOKEN,
      WEBHOOK_SECRET: undefined,
      // A one-second cool-down after a failed forward (the default is 10).
      FAILURE_COOL_DOWN_SECONDS: '1',
    });
    const deliver = async (path, headers, body, status) => {
      const answer = await send(gate.url, { path, headers, body });
      assert.equal(answer.status, status, `${path}: ${answer.text}`);
      await sleep(5); // distinct last_seen, so "newest first" is one order
    };

    // A valid delivery whose webhook-id and event type are markup.
    const xssBody = quoEvent(XSS_TYPE);
    await deliver('/quo', signed(xssBody, { id: XSS_KEY }), xssBody, 200);
    // A valid delivery on each route, and a duplicate of the GitHub one.
    const quoBody = quoEvent('message.received');
    made.quo = newId();
    await deliver('/quo', signed(quoBody, { id: made.quo }), quoBody, 200);
    const github = sampleEvent('github');
    const githubHeaders = { ...github.headers, ...(await signFor('github', { secret: GITHUB_SECRET, body: github.body })) };
    // An origin that takes 250 ms: the chart's latency for /github.
    origins.github.answer(() => ({ status: 200, delayMs: 250 }));
    await deliver('/github', githubHeaders, github.body, 200);
    await deliver('/github', githubHeaders, github.body, 200); // the duplicate
    // One that fails at the origin, then succeeds on the sender's retry.
    const retriedBody = quoEvent('call.completed');
    made.retried = newId();
    origins.quo.answer(() => ({ status: 503 }));
    await deliver('/quo', signed(retriedBody, { id: made.retried }), retriedBody, 502);
    origins.quo.answer(() => ({ status: 200 }));
    await sleep(1_100); // the cool-down after the failure
    await deliver('/quo', signed(retriedBody, { id: made.retried }), retriedBody, 200);
    // One that failed and was not retried (yet).
    const failedBody = quoEvent('contact.updated');
    made.failed = newId();
    origins.quo.answer(() => ({ status: 500 }));
    await deliver('/quo', signed(failedBody, { id: made.failed }), failedBody, 502);
    origins.quo.answer(() => ({ status: 200 }));
    // Forged ones on both routes.
    for (let i = 0; i < 2; i += 1) {
      const forged = quoEvent('forged.event');
      await deliver('/quo', signed(forged, { key: STRANGER_KEY }), forged, 401);
    }
    await deliver('/github', { ...github.headers, 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` }, github.body, 401);

    // The log is written after each answer: wait (a bounded while) for all five records.
    await poll(async () => {
      made.records = (await admin(gate, '/deliveries')).json.deliveries;
      const retried = made.records.find((d) => d.key === made.retried);
      return made.records.length === 5 && retried?.attempts === 2;
    }, 2_500);
    assert.equal(made.records.length, 5, JSON.stringify(made.records));
    made.github = made.records.find((d) => d.route === '/github').key;

    chromium = await launch();
    ({ page, watch } = await watchedPage(chromium.browser));
  });

  after(async () => {
    await chromium?.close();
    await gate?.close();
    for (const origin of Object.values(origins)) await origin?.close();
    if (started) console.log(`dashboard test: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });

  const keys = () => [made.quo, made.retried, made.failed, made.github, XSS_KEY];
  const pageText = () => page.evaluate(() => document.documentElement.textContent);
  const dataRequests = () => watch.requests.filter((path) => /^\/_hookgate\/(deliveries|stats)/.test(path));

  test('before the token: a sign-in form and no delivery data', async () => {
    const answer = await page.goto(`${gate.url}_hookgate/`, { waitUntil: 'load' });
    assert.equal(answer.status(), 200);
    await page.waitForSelector('#sign-in', { visible: true, ...WAIT });
    assert.equal(await page.$eval('#app', (app) => app.hidden), true);
    assert.equal(await page.$$eval('#deliveries tbody tr', (trs) => trs.length), 0);
    const text = await pageText();
    for (const key of keys()) assert.ok(!text.includes(key), `the page shows ${key}`);
    assert.ok(!text.includes('bad-signature'));
    assert.deepEqual(dataRequests(), [], 'no data was asked for');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('hookgate-token')), null);
  });

  test('a wrong token: an error, and still no data', async () => {
    await page.type('#token', 'admin-token-for-the-dashboard-test-02');
    await page.click('#sign-in button[type=submit]');
    await page.waitForFunction(() => document.getElementById('sign-in-error').textContent !== '', WAIT);
    assert.match(await page.$eval('#sign-in-error', (p) => p.textContent), /not accepted/);
    await page.waitForFunction(() => !document.getElementById('status').textContent.includes('loading'), WAIT);
    assert.ok(dataRequests().length > 0, 'the API was asked, and said no');
    assert.equal(await page.$eval('#app', (app) => app.hidden), true);
    assert.equal(await page.$eval('#sign-in', (form) => form.hidden), false);
    assert.equal(await page.$$eval('#deliveries tbody tr', (trs) => trs.length), 0);
    const text = await pageText();
    for (const key of keys()) assert.ok(!text.includes(key), `the page shows ${key}`);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('hookgate-token')), null, 'a refused token is not kept');
  });

  test('the right token: every delivery listed, newest first, keys as text, outcomes as badges', async () => {
    await page.type('#token', TOKEN);
    await page.click('#sign-in button[type=submit]');
    await waitForRows(page, 5);
    assert.equal(await page.$eval('#sign-in-error', (p) => p.textContent), '', 'the old error is gone');
    assert.equal(await page.$eval('#sign-in', (form) => form.hidden), true);
    const shown = await rows(page);
    assert.deepEqual(
      shown.map((row) => row.key),
      made.records.map((record) => record.key),
      'the API order: newest first',
    );
    assert.deepEqual(new Set(shown.map((row) => row.key)), new Set(keys()));
    for (const row of shown) {
      const record = made.records.find((r) => r.key === row.key);
      assert.equal(row.dataKey, row.key);
      assert.equal(row.route, record.route);
      assert.equal(row.outcome, record.outcome);
      assert.ok(row.badge.includes('outcome') && row.badge.includes(record.outcome), `${row.key}: ${row.badge}`);
      assert.equal(row.attempts, String(record.attempts));
    }
    const byKey = Object.fromEntries(shown.map((row) => [row.key, row]));
    assert.equal(byKey[made.retried].attempts, '2');
    assert.equal(byKey[made.retried].outcome, 'delivered');
    assert.equal(byKey[made.failed].outcome, 'origin-failed');
    assert.equal(byKey[made.github].event, 'push');
    assert.equal(byKey[made.github].route, '/github');
    // Delivered and failed rows look different.
    const colours = await page.$$eval('#deliveries tbody .outcome', (badges) => [...new Set(badges.map((b) => getComputedStyle(b).backgroundColor))]);
    assert.ok(colours.length >= 2, `badge colours: ${colours}`);
    await page.waitForFunction(() => /^updated /.test(document.getElementById('status').textContent), WAIT);
  });

  test('the counts per route and reason, forged ones included, for the last hour and day', async () => {
    await page.waitForFunction(() => document.querySelectorAll('#counts table').length === 2, WAIT);
    const tables = await page.$$eval('#counts table', (tables) =>
      tables.map((table) => ({
        caption: table.caption?.textContent,
        rows: [...table.querySelectorAll('tr')].filter((tr) => tr.cells.length === 3).map((tr) => [...tr.cells].map((td) => td.textContent)),
        badges: [...table.querySelectorAll('.outcome')].map((b) => [...b.classList]),
      })),
    );
    assert.deepEqual(tables.map((t) => t.caption), ['Last hour', 'Last day']);
    for (const table of tables) {
      const count = (route, reason) => table.rows.find(([r, why]) => r === route && why === reason)?.[2];
      assert.equal(count('/quo', 'bad-signature'), '2', JSON.stringify(table.rows));
      assert.equal(count('/github', 'bad-signature'), '1');
      assert.equal(count('/github', 'duplicate'), '1');
      assert.equal(count('/quo', 'delivered'), '3');
      assert.equal(count('/quo', 'origin-failed'), '2');
      assert.ok(table.badges.some((classes) => classes.includes('bad-signature')));
    }
  });

  test('the chart: a bar per minute of the last hour and per hour of the day, drawn from the counts', async () => {
    await page.waitForFunction(() => document.querySelectorAll('#chart svg').length === 2, WAIT);
    const charts = await page.$$eval('#chart figure', (figures) =>
      figures.map((figure) => ({
        caption: figure.querySelector('figcaption').textContent,
        bars: [...figure.querySelectorAll('svg > g')].map((g) => ({
          at: Number(g.dataset.at),
          counts: JSON.parse(g.dataset.counts),
          title: g.querySelector('title').textContent,
          rects: [...g.querySelectorAll('rect')].map((rect) => [rect.getAttribute('class'), Number(rect.getAttribute('height'))]),
        })),
      })),
    );
    assert.match(charts[0].caption, /^Last hour, per minute/);
    assert.match(charts[1].caption, /^Last day, per hour/);
    const series = (await admin(gate, '/stats/series')).json;
    const now = Date.now();
    for (const [chart, key, slots, step] of [
      [charts[0], 'minutes', 60, 60_000],
      [charts[1], 'hours', 24, 3_600_000],
    ]) {
      assert.equal(chart.bars.length, slots);
      chart.bars.forEach((bar, i) => assert.equal(bar.at, chart.bars[0].at + i * step));
      const last = chart.bars.at(-1).at;
      assert.ok(last <= now && now < last + 2 * step, `the last ${key} bar is the current one`);
      // Every delivery of the test is in the bars, by outcome, all routes.
      const total = {};
      for (const bar of chart.bars) for (const [reason, count] of Object.entries(bar.counts)) total[reason] = (total[reason] ?? 0) + count;
      assert.deepEqual(total, { delivered: 4, 'origin-failed': 2, duplicate: 1, 'bad-signature': 3 }, key);
      // Each bar carries what the API counted for its minute or hour, on the routes (not the admin API's own counts).
      for (const bar of chart.bars) {
        const counted = {};
        for (const [route, numbers] of Object.entries(series.routes)) {
          if (!route.startsWith('/') || route.startsWith('/_hookgate')) continue;
          const i = (bar.at - series[`${key}_from`]) / step;
          for (const [reason, counts] of Object.entries(numbers[key])) if (counts[i]) counted[reason] = (counted[reason] ?? 0) + counts[i];
        }
        if (bar.at >= series[`${key}_from`]) assert.deepEqual(bar.counts, counted, `${key} bar at ${bar.at}`);
        // A part of the bar per reason, as tall as its count.
        assert.deepEqual(bar.rects.map(([reason]) => reason), Object.keys(bar.counts));
        const top = Math.max(...chart.bars.map((b) => Object.values(b.counts).reduce((a, n) => a + n, 0)));
        for (const [reason, height] of bar.rects) assert.ok(Math.abs(height - (bar.counts[reason] / top) * 100) < 1e-6, `${reason} ${height}`);
        for (const [reason, count] of Object.entries(bar.counts)) assert.ok(bar.title.includes(`${reason} ${count}`), bar.title);
      }
      // The minutes with counts are those of this test.
      if (key === 'minutes') {
        for (const bar of chart.bars.filter((b) => Object.keys(b.counts).length > 0)) {
          assert.ok(bar.at >= started - 60_000 && bar.at <= now, `a count at ${bar.at}, the test ran from ${started}`);
        }
      }
    }
    // Delivered and failed parts look different.
    const fills = await page.$$eval('#chart rect', (rects) => [...new Set(rects.map((r) => getComputedStyle(r).fill))]);
    assert.ok(fills.length >= 3, `fills: ${fills}`);
  });

  test('per route over the day: success rate and origin latency (median, 95th percentile)', async () => {
    const shown = await page.$$eval('#routes tr[data-route]', (trs) => Object.fromEntries(trs.map((tr) => [tr.dataset.route, [...tr.cells].slice(1, 6).map((td) => td.textContent)])));
    assert.deepEqual(Object.keys(shown).sort(), ['/github', '/quo']);
    // /quo: 3 delivered, 2 refused by the origin (503, then 500).
    assert.deepEqual(shown['/quo'].slice(0, 3), ['3', '2', '60.0%']);
    assert.deepEqual(shown['/github'].slice(0, 3), ['1', '0', '100.0%']);
    const series = (await admin(gate, '/stats/series')).json;
    for (const [route, samples] of [
      ['/quo', 5],
      ['/github', 1],
    ]) {
      const { latency } = series.routes[route];
      assert.equal(latency.samples, samples, `${route}: every attempt the origin answered, not the duplicate`);
      assert.ok(latency.p50_ms <= latency.p95_ms, JSON.stringify(latency));
      assert.deepEqual(shown[route].slice(3), [`${latency.p50_ms} ms`, `${latency.p95_ms} ms`]);
    }
    // The origin took 250 ms: its one sample's bucket reads at least that.
    assert.ok(series.routes['/github'].latency.p50_ms >= 250, JSON.stringify(series.routes['/github']));
    // The stats still count requests only.
    const stats = (await admin(gate, '/stats?since=1h')).json;
    assert.ok(!Object.keys(stats.routes['/quo']).some((reason) => reason.startsWith('latency')), JSON.stringify(stats.routes['/quo']));
  });

  test("today's KV writes beside the free plan's 1,000 a day", async () => {
    await page.waitForSelector('#kv-writes', WAIT);
    // One done mark per delivered event: three on /quo, one on /github (its
    // duplicate is answered from the location's cache, no write).
    assert.equal(await page.$eval('#kv-writes', (p) => p.textContent), "KV writes today (UTC): 4 of the free plan's 1000 a day");
    const options = await page.$$eval('#route option', (options) => options.map((o) => o.value));
    assert.ok(!options.includes('(kv)'), 'the KV writes are no route to filter by');
  });

  test('the route filter offers the routes, and shows only that route', async () => {
    const options = await page.$$eval('#route option', (options) => options.map((o) => o.value));
    assert.deepEqual(options, ['', '/github', '/quo'], 'routes of deliveries, not the admin API');
    await page.select('#route', '/github');
    await page.click('#filters button[type=submit]');
    await waitForRows(page, 1, { route: '/github' });
    assert.deepEqual((await rows(page)).map((row) => row.key), [made.github]);
    await page.select('#route', '/quo');
    await page.click('#filters button[type=submit]');
    await waitForRows(page, 4, { route: '/quo' });
  });

  test('the outcome filter offers what a record can be, and shows only that outcome', async () => {
    const options = await page.$$eval('#outcome option', (options) => options.map((o) => o.value));
    assert.deepEqual(options, ['', ...RECORD_OUTCOMES]);
    await page.select('#route', '');
    await page.select('#outcome', 'origin-failed');
    await page.click('#filters button[type=submit]');
    await waitForRows(page, 1, { outcome: 'origin-failed' });
    const [row] = await rows(page);
    assert.equal(row.key, made.failed);
    assert.ok(row.badge.includes('origin-failed'));
    await page.select('#route', '/github');
    await page.click('#filters button[type=submit]');
    await page.waitForFunction(() => /No deliveries match/.test(document.querySelector('#deliveries tbody').textContent), WAIT);
    await page.select('#route', '');
    await page.select('#outcome', 'delivered');
    await page.click('#filters button[type=submit]');
    await waitForRows(page, 4, { outcome: 'delivered' });
    await page.select('#outcome', '');
    await page.click('#filters button[type=submit]');
    await waitForRows(page, 5);
  });

  /** Clicks the row of `key` and returns the detail panel's fields once it shows that key. */
  async function openDetail(key) {
    const rowHandles = await page.$$('#deliveries tbody tr[data-key]');
    let clicked = false;
    for (const handle of rowHandles) {
      if ((await handle.evaluate((tr) => tr.getAttribute('data-key'))) === key) {
        await handle.click();
        clicked = true;
      }
    }
    assert.ok(clicked, `a row for ${key}`);
    await page.waitForFunction(
      (key) => {
        const detail = document.getElementById('detail');
        return !detail.hidden && [...detail.querySelectorAll('dd')].some((dd) => dd.textContent === key);
      },
      WAIT,
      key,
    );
    return page.$eval('#detail', (detail) => {
      const fields = {};
      for (const dt of detail.querySelectorAll('dt')) fields[dt.textContent] = dt.nextElementSibling.textContent;
      fields.selected = document.querySelector('#deliveries tr.selected')?.getAttribute('data-key');
      return fields;
    });
  }

  test('a search by event type and by the start of a key shows only what matches', async () => {
    // Waits for exactly these rows: the page keeps the last answer's rows
    // until the next arrives, so a count alone could be the old one.
    const showing = (keys) =>
      page.waitForFunction(
        (keys) => {
          const shown = [...document.querySelectorAll('#deliveries tbody tr[data-key]')].map((tr) => tr.dataset.key);
          return shown.length === keys.length && shown.every((key, i) => key === keys[i]);
        },
        WAIT,
        keys,
      );
    const search = async (eventType, keyPrefix) => {
      await page.$eval('#event-type', (input, value) => {
        input.value = value;
      }, eventType);
      await page.$eval('#key-prefix', (input, value) => {
        input.value = value;
      }, keyPrefix);
      await page.click('#filters button[type=submit]');
    };
    await search('call.completed', '');
    await showing([made.retried]);
    await search('', made.failed.slice(0, 12));
    await showing([made.failed]);
    // Both at once: the failed one is no call.completed.
    await search('call.completed', made.failed.slice(0, 12));
    await page.waitForFunction(() => /No deliveries match/.test(document.querySelector('#deliveries tbody').textContent), WAIT);
    await search('', '');
    await waitForRows(page, 5);
  });

  test('a row opens its detail: attempts, outcome, first and last seen', async () => {
    const record = (await admin(gate, `/deliveries/${encodeURIComponent(made.retried)}?route=%2Fquo`)).json;
    const fields = await openDetail(made.retried);
    assert.equal(fields.selected, made.retried);
    assert.equal(fields.key, made.retried);
    assert.equal(fields.route, '/quo');
    assert.equal(fields.scheme, 'standard-webhooks');
    assert.equal(fields['event type'], 'call.completed');
    assert.equal(fields.attempts, '2');
    assert.equal(fields.outcome, 'delivered');
    assert.equal(fields['origin status'], '200');
    const when = (ms) => page.evaluate((ms) => new Date(ms).toLocaleString(), ms);
    assert.equal(fields['first seen'], await when(record.first_seen));
    assert.equal(fields['last seen'], await when(record.last_seen));
    assert.ok(record.last_seen > record.first_seen);
    // Its attempts, newest first, from the record's history.
    const attempts = await page.$$eval('#attempts tr', (trs) => trs.slice(1).map((tr) => [...tr.cells].map((td) => td.textContent)));
    assert.deepEqual(
      attempts.map(([, outcome, status]) => [outcome, status]),
      [['delivered', '200'], ['origin-failed', '503']],
    );
    assert.equal(attempts[0][0], await when(record.history[1].at));
    assert.equal(attempts[1][3], `${record.history[0].duration_ms} ms`);
    // Beside the table and on screen at 1280 pixels, not pushed off it.
    const layout = await page.evaluate(() => {
      const detail = document.getElementById('detail').getBoundingClientRect();
      const value = document.querySelector('#detail dd').getBoundingClientRect();
      return { detailRight: detail.right, valueRight: value.right, width: innerWidth, scrollWidth: document.documentElement.scrollWidth };
    });
    assert.ok(layout.detailRight <= layout.width && layout.valueRight <= layout.width, JSON.stringify(layout));
    assert.ok(layout.scrollWidth <= layout.width, `the page scrolls sideways: ${JSON.stringify(layout)}`);

    const github = await openDetail(made.github);
    assert.equal(github.attempts, '1', 'the duplicate is counted, not an attempt');
    assert.equal(github.scheme, 'github');
  });

  test('markup in a key or an event type shows as text and runs nothing', async () => {
    const [row] = (await rows(page)).filter((r) => r.dataKey === XSS_KEY);
    assert.ok(row, 'the row is there');
    assert.equal(row.key, XSS_KEY);
    assert.equal(row.event, XSS_TYPE);
    const fields = await openDetail(XSS_KEY);
    assert.equal(fields.key, XSS_KEY);
    assert.equal(fields['event type'], XSS_TYPE);
    assert.equal(fields.attempts, '1');
    await sleep(100); // an injected image would have failed to load by now
    const dom = await page.evaluate(() => ({
      xss: typeof window.__xss,
      scripts: [...document.scripts].map((s) => s.getAttribute('src')),
      images: document.images.length,
      bold: document.querySelectorAll('main b').length,
      violations: window.__violations,
    }));
    assert.deepEqual(dom, { xss: 'undefined', scripts: ['/_hookgate/dashboard.js'], images: 0, bold: 0, violations: [] });
    assert.deepEqual(watch.dialogs, []);
    assert.deepEqual(watch.errors, []);
  });

  test('the token is kept for this tab only', async () => {
    assert.equal(await page.evaluate(() => sessionStorage.getItem('hookgate-token')), TOKEN);
    for (const [what, context] of [
      ['another tab', chromium.browser],
      ['a new incognito context', await chromium.browser.createBrowserContext()],
    ]) {
      const other = await watchedPage(context);
      await other.page.goto(`${gate.url}_hookgate/`, { waitUntil: 'load' });
      await other.page.waitForSelector('#sign-in', { visible: true, ...WAIT });
      assert.equal(await other.page.evaluate(() => sessionStorage.getItem('hookgate-token')), null, what);
      assert.equal(await other.page.$eval('#app', (app) => app.hidden), true, what);
      await sleep(100);
      assert.deepEqual(other.watch.requests.filter((path) => /^\/_hookgate\/(deliveries|stats)/.test(path)), [], what);
      const text = await other.page.evaluate(() => document.documentElement.textContent);
      for (const key of keys()) assert.ok(!text.includes(key), `${what} shows ${key}`);
      await other.page.close();
      if (context !== chromium.browser) await context.close();
    }
  });

  test('a reload keeps the token; the page comes back with data', async () => {
    await page.reload({ waitUntil: 'load' });
    await waitForRows(page, 5);
    assert.equal(await page.$eval('#sign-in', (form) => form.hidden), true);
  });

  // The docs' screenshot is this view; it is written to a file only when
  // HOOKGATE_SCREENSHOT names one, so a test run never rewrites tracked files.
  test('at 1280×800 with a delivery open, the page renders (the docs screenshot)', async () => {
    await page.setViewport({ width: 1280, height: 800 });
    await page.waitForFunction(() => document.querySelectorAll('#counts table').length === 2, WAIT);
    await openDetail(made.retried);
    await page.mouse.move(0, 0); // no hover highlight
    const png = await page.screenshot({ type: 'png' });
    assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
    assert.equal(png.readUInt32BE(16), 1280, 'width');
    assert.equal(png.readUInt32BE(20), 800, 'height');
    if (SCREENSHOT) {
      const file = resolve(ROOT, SCREENSHOT);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, png);
      console.log(`screenshot written to ${file}`);
    }
  });

  test('a route\'s pause button pauses it once confirmed, and its resume button resumes it', async () => {
    const button = '#routes button[data-route="/quo"]';
    await page.waitForSelector(button, WAIT);
    assert.equal(await page.$eval(button, (b) => b.textContent), 'Pause');
    watch.accept = true;
    await page.click(button);
    await page.waitForFunction((button) => document.querySelector(button)?.textContent === 'Resume', WAIT, button);
    assert.equal(watch.confirmed, 'Pause /quo?');
    const paused = Object.fromEntries((await admin(gate, '/routes')).json.routes.map((r) => [r.route, r.paused]));
    assert.deepEqual(paused, { '/quo': true, '/github': false });
    assert.match(await page.$eval('#routes tr[data-route="/quo"] td', (td) => td.textContent), /^\/quo paused$/, 'marked paused');
    // A dismissed confirmation sends nothing.
    await page.click(button);
    await sleep(300);
    assert.equal(watch.dialogs.pop(), 'Resume /quo?');
    assert.equal((await admin(gate, '/routes')).json.routes[0].paused, true, 'still paused');
    watch.accept = true;
    await page.click(button);
    await page.waitForFunction((button) => document.querySelector(button)?.textContent === 'Pause', WAIT, button);
    assert.equal((await admin(gate, '/routes')).json.routes[0].paused, false);
  });

  test('"Forget token" signs out and leaves no data on the page', async () => {
    await openDetail(made.retried);
    await page.click('#sign-out');
    await page.waitForSelector('#sign-in', { visible: true, ...WAIT });
    assert.equal(await page.evaluate(() => sessionStorage.getItem('hookgate-token')), null);
    const text = await pageText();
    for (const key of keys()) assert.ok(!text.includes(key), `the page still holds ${key}`);
    assert.ok(!text.includes('/github'), 'nor the routes');
    assert.ok(!text.includes('bad-signature'), 'nor the counts');
    assert.deepEqual(watch.dialogs, []);
    assert.deepEqual(watch.errors, []);
    assert.deepEqual(await page.evaluate(() => window.__violations), []);
  });
});

describe('a dead letter in the dashboard', () => {
  let origin;
  let gate;
  let chromium;
  let id;

  before(async () => {
    origin = await startOrigin();
    gate = await startGate(
      { ORIGIN_URL: origin.url, ORIGIN_SECRET: ORIGIN_KEY, DELIVERY: 'queue', QUEUE_MAX_ATTEMPTS: '1', ADMIN_TOKEN: TOKEN },
      { queues: true },
    );
    origin.answer(() => ({ status: 500 }));
    const body = quoEvent('message.received');
    id = newId();
    assert.equal((await send(gate.url, { headers: signed(body, { id }), body })).status, 202);
    await poll(async () => (await admin(gate, `/deliveries/${id}?route=%2F`)).json?.dead_letter, 10_000);
    chromium = await launch();
  });

  after(async () => {
    await chromium?.close();
    await gate?.close();
    await origin?.close();
  });

  test('shows the dead letter with a retry button that delivers it once the origin is back', async () => {
    const { page, watch } = await watchedPage(chromium.browser);
    await page.goto(`${gate.url}_hookgate/`, { waitUntil: 'load' });
    await page.type('#token', TOKEN);
    await page.click('#sign-in button[type=submit]');
    await waitForRows(page, 1, { outcome: 'dead' });
    await page.click(`#deliveries tbody tr[data-key="${id}"]`);
    await page.waitForSelector('#retry', { visible: true, ...WAIT });
    origin.answer(() => ({ status: 200 }));
    // Dismissed, the confirmation sends nothing.
    await page.click('#retry');
    await sleep(300);
    assert.match(watch.dialogs[0] ?? '', /^Queue the dead letter .+ of \/ again\?$/);
    assert.deepEqual(watch.requests.filter((r) => r.startsWith('POST')), [], 'nothing sent');
    assert.equal(origin.receivedFor(id).length, 1);
    watch.accept = true;
    await page.click('#retry');
    await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('queued again'), WAIT);
    assert.deepEqual(watch.requests.filter((r) => r.startsWith('POST')), [`POST /_hookgate/deliveries/${id}/retry`]);
    await poll(() => origin.receivedFor(id).length >= 2, 10_000);
    assert.equal(origin.receivedFor(id).length, 2, 'the failed attempt, then the retried delivery');
    // Refreshed once the log has it delivered (the consumer records the
    // batch after its forward).
    const delivered = async () => (await admin(gate, `/deliveries/${id}?route=%2F`)).json?.outcome === 'delivered';
    await poll(delivered, 10_000);
    assert.ok(await delivered(), 'the log has it delivered');
    await page.click('#refresh');
    await waitForRows(page, 1, { outcome: 'delivered' });
    assert.deepEqual(watch.errors, []);
  });

  test('a dead letter whose route is gone says so, with no retry button', async () => {
    const gone = 'msg_of_a_removed_route';
    await gate.sendQueued(queuedMessage({ route: '/removed', key: gone }));
    await poll(async () => (await admin(gate, `/deliveries/${gone}?route=%2Fremoved`)).json?.dead_letter, 10_000);
    const { page, watch } = await watchedPage(chromium.browser);
    await page.goto(`${gate.url}_hookgate/`, { waitUntil: 'load' });
    await page.type('#token', TOKEN);
    await page.click('#sign-in button[type=submit]');
    await waitForRows(page, 2);
    const route = await page.$eval(`#deliveries tbody tr[data-key="${gone}"]`, (tr) => tr.cells[1].textContent);
    assert.equal(route, '/removed (gone)');
    await page.click(`#deliveries tbody tr[data-key="${gone}"]`);
    await page.waitForFunction(() => !document.getElementById('detail').hidden, WAIT);
    const detail = await page.$eval('#detail', (detail) => detail.textContent);
    assert.match(detail, /\/removed \(gone: no route has this path now\)/);
    assert.match(detail, /its route is gone/);
    assert.equal(await page.$('#retry'), null, 'no retry button');
    assert.equal(await page.$(`#deliveries tbody tr[data-key="${gone}"] .retry`), null, 'none in its row either');
    assert.deepEqual(watch.errors, []);
  });

  test('"Retry dead letters" of a route, once confirmed, requeues them all; each reaches the origin once', async () => {
    origin.answer(() => ({ status: 500 }));
    const ids = [newId(), newId()];
    for (const dead of ids) {
      const body = quoEvent('message.received');
      assert.equal((await send(gate.url, { headers: signed(body, { id: dead }), body })).status, 202);
    }
    const allDead = async () => {
      for (const dead of ids) if (!(await admin(gate, `/deliveries/${dead}?route=%2F`)).json?.dead_letter) return false;
      return true;
    };
    await poll(allDead, 10_000);
    assert.ok(await allDead(), 'both are dead letters');
    const { page, watch } = await watchedPage(chromium.browser);
    await page.goto(`${gate.url}_hookgate/`, { waitUntil: 'load' });
    await page.type('#token', TOKEN);
    await page.click('#sign-in button[type=submit]');
    await waitForRows(page, 4);
    for (const dead of ids) assert.ok(await page.$(`#deliveries tbody tr[data-key="${dead}"] .retry`), 'a retry button in its row');
    origin.answer(() => ({ status: 200 }));
    watch.accept = true;
    const button = '#routes tr[data-route="/"] button.retry-all';
    await page.waitForSelector(button, WAIT);
    await page.click(button);
    await page.waitForFunction(() => document.getElementById('status').textContent === '/: requeued 2', WAIT);
    assert.equal(watch.confirmed, 'Queue every dead letter of / again?');
    assert.deepEqual(watch.requests.filter((r) => r.startsWith('POST')), ['POST /_hookgate/dead-letters/retry']);
    await poll(() => ids.every((dead) => origin.receivedFor(dead).length >= 2), 10_000);
    await sleep(500); // a second delivery would have arrived by now
    for (const dead of ids) assert.equal(origin.receivedFor(dead).length, 2, 'the failed attempt, then the retried delivery');
    // The consumer records the batch after its forwards: the page is
    // refreshed once the log has both (one refresh shows what the log held
    // at that moment, and a busy machine may still be writing it).
    const delivered = async () => {
      for (const dead of ids) if ((await admin(gate, `/deliveries/${dead}?route=%2F`)).json?.outcome !== 'delivered') return false;
      return true;
    };
    await poll(delivered, 10_000);
    assert.ok(await delivered(), 'the log has both delivered');
    await page.click('#refresh');
    await page.waitForFunction(
      (ids) => ids.every((dead) => document.querySelector(`#deliveries tbody tr[data-key="${dead}"] .outcome`)?.textContent === 'delivered'),
      WAIT,
      ids,
    );
    assert.deepEqual(watch.errors, []);
  });
});
