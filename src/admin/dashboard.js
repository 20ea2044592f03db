// The hookgate dashboard: recent deliveries, counts per reason, one
// delivery's detail. Everything shown comes from the admin API with the
// token the user entered, kept in sessionStorage (this tab only). Every
// value reaches the page through h(), which only ever creates text nodes:
// a key or an event type is a sender's choice and may well be "<script>".
'use strict';

// One block: its names are the script's own, not the page's globals, so
// the minifier shortens every one of them (module size).
{
  const API = '/_hookgate';
  // The outcomes a delivery record can have (src/log/mod.rs `records`, and the
  // queue consumer's retrying and dead): duplicates and rejections are only
  // counted, so filtering by them would find nothing.
  const OUTCOMES = ['delivered', 'origin-failed', 'origin-timeout', 'store-unavailable', 'queue-unavailable', 'internal-error', 'queued', 'retrying', 'dead'];
  const $ = (id) => document.getElementById(id);

  /** An element with attributes and children; strings become text nodes. */
  function h(tag, attributes = {}, ...children) {
    return fill(document.createElement(tag), attributes, children);
  }

  /** The same for the chart's SVG elements. */
  function svg(tag, attributes = {}, ...children) {
    return fill(document.createElementNS('http://www.w3.org/2000/svg', tag), attributes, children);
  }

  function fill(element, attributes, children) {
    for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
    for (const child of children) {
      element.append(child instanceof Node ? child : document.createTextNode(child == null ? '' : String(child)));
    }
    return element;
  }

  let cursor = null;
  // Bumped by each listing and detail request and by signing out: an answer
  // that is no longer the latest is dropped, so a slow one cannot overwrite a
  // newer filter's rows or show data after "Forget token".
  let listing = 0;
  let detailing = 0;

  function token() {
    return sessionStorage.getItem('hookgate-token');
  }

  async function api(path, method = 'GET') {
    const sent = token();
    const response = await fetch(`${API}${path}`, { method, headers: { authorization: `Bearer ${sent}` }, cache: 'no-store' });
    if (token() !== sent) throw new Error('unauthorized'); // signed out meanwhile
    if (response.status === 401) {
      signOut('That token was not accepted.');
      throw new Error('unauthorized');
    }
    const body = await response.json();
    if (!response.ok) throw new Error(body.detail ?? `HTTP ${response.status}`);
    return body;
  }

  function when(ms) {
    return new Date(ms).toLocaleString();
  }

  function outcomeBadge(outcome) {
    return h('span', { class: `outcome ${outcome}` }, outcome);
  }

  function countsTable(caption, stats) {
    const table = h('table', {}, h('caption', {}, caption));
    const routes = Object.entries(stats.routes);
    if (routes.length === 0) table.append(h('tr', {}, h('td', {}, 'nothing yet')));
    for (const [route, reasons] of routes) {
      for (const [reason, count] of Object.entries(reasons)) {
        table.append(h('tr', {}, h('td', {}, route), h('td', {}, outcomeBadge(reason)), h('td', {}, count)));
      }
    }
    return table;
  }

  /** Adds a route to pick, once, in order after the first option ("all"). */
  function addOption(select, value) {
    const options = [...select.options].slice(1);
    if (options.some((option) => option.value === value)) return;
    select.insertBefore(h('option', { value }, value), options.find((option) => option.value > value) ?? null);
  }

  /** A route worth filtering by: not the admin API's own counts, the KV writes, nor requests to no route. */
  function isRoute(route) {
    return route !== '(none)' && route !== KV && route !== API && !route.startsWith(`${API}/`);
  }

  // The "route" the gate counts its KV writes under (src/log/counts.rs), and
  // the free plan's daily limit on them, which resets at midnight UTC.
  const KV = '(kv)';
  const FREE_KV_WRITES = 1000;

  /** Today's KV writes (UTC) beside the free plan's limit: the wall, before it is hit. */
  function kvWrites(today) {
    const counts = today.routes[KV] ?? {};
    const made = counts.write ?? 0;
    const refused = counts['write-refused'] ?? 0;
    const near = made >= FREE_KV_WRITES * 0.8 || refused > 0;
    return h(
      'p',
      { id: 'kv-writes', class: near ? 'warn' : '' },
      `KV writes today (UTC): ${made} of the free plan's ${FREE_KV_WRITES} a day`,
      refused > 0 ? `; ${refused} refused (events were still delivered; their done marks were lost)` : '',
    );
  }

  /**
   * Bars of every route's counts (GET /stats/series, `key` "minutes" or
   * "hours"), stacked by reason; each bar says its time and counts in its
   * title and data attributes.
   */
  function chart(caption, series, key, step) {
    const from = series[`${key}_from`];
    const bars = [];
    for (const [route, numbers] of Object.entries(series.routes)) {
      if (!isRoute(route)) continue;
      for (const [reason, counts] of Object.entries(numbers[key])) {
        counts.forEach((count, i) => {
          bars[i] ??= {};
          if (count) bars[i][reason] = (bars[i][reason] ?? 0) + count;
        });
      }
    }
    const slots = key === 'minutes' ? 60 : 24;
    const sum = (bar = {}) => Object.values(bar).reduce((a, b) => a + b, 0);
    const top = Math.max(1, ...[...bars].map(sum));
    const graphic = svg('svg', { viewBox: `0 0 ${slots * 10} 100`, preserveAspectRatio: 'none', class: 'chart' });
    for (let i = 0; i < slots; i += 1) {
      const at = from + i * step;
      const counts = bars[i] ?? {};
      const listed = Object.entries(counts).map(([reason, count]) => `${reason} ${count}`);
      const bar = svg('g', { 'data-at': at, 'data-counts': JSON.stringify(counts) }, svg('title', {}, `${when(at)}: ${listed.join(', ') || 'nothing'}`));
      let y = 100;
      for (const [reason, count] of Object.entries(counts)) {
        const height = (count / top) * 100;
        y -= height;
        bar.append(svg('rect', { x: i * 10, y, width: 9, height, class: reason }));
      }
      graphic.append(bar);
    }
    return h('figure', {}, h('figcaption', {}, `${caption} (highest bar: ${top})`), graphic);
  }

  /** Every route: over the last day its success rate and origin latency; a
   * pause or resume, and a retry of its dead letters, each once confirmed. */
  function routesTable(series, routes) {
    const table = h('table', { id: 'routes' }, h('caption', {}, 'Last day per route'));
    table.append(h('tr', {}, ...['route', 'delivered', 'failed', 'success', 'median', '95th', ''].map((name) => h('th', {}, name))));
    for (const { route, paused } of routes) {
      const { delivered = 0, failed: failures = 0, latency } = series.routes[route] ?? {};
      const tried = delivered + failures;
      const action = paused ? 'Resume' : 'Pause';
      const pause = h('button', { type: 'button', 'data-route': route }, action);
      pause.addEventListener('click', async () => {
        if (!confirm(`${action} ${route}?`)) return;
        try {
          await api(`/routes/${action.toLowerCase()}?route=${encodeURIComponent(route)}`, 'POST');
          await loadCounts();
        } catch (error) {
          failed(error);
        }
      });
      const retry = h('button', { type: 'button', class: 'retry-all' }, 'Retry dead letters');
      retry.addEventListener('click', () => retryDead(route, retry));
      table.append(
        h(
          'tr',
          { 'data-route': route },
          h('td', {}, route, paused ? h('span', { class: 'paused' }, ' paused') : ''),
          h('td', {}, delivered),
          h('td', {}, failures),
          h('td', {}, tried ? `${((100 * delivered) / tried).toFixed(1)}%` : '—'),
          h('td', {}, latency ? `${latency.p50_ms} ms` : '—'),
          h('td', {}, latency ? `${latency.p95_ms} ms` : '—'),
          h('td', {}, pause, ' ', retry),
        ),
      );
    }
    return table;
  }

  async function loadCounts() {
    const midnight = new Date();
    midnight.setUTCHours(0, 0, 0, 0);
    const [hour, day, today, series, { routes }] = await Promise.all([
      api('/stats?since=1h'),
      api('/stats?since=24h'),
      api(`/stats?since=${midnight.getTime()}`),
      api('/stats/series'),
      api('/routes'),
    ]);
    $('chart').replaceChildren(chart('Last hour, per minute', series, 'minutes', 60e3), chart('Last day, per hour', series, 'hours', 3600e3), routesTable(series, routes));
    $('counts').replaceChildren(countsTable('Last hour', hour), countsTable('Last day', day), kvWrites(today));
    for (const route of Object.keys(day.routes)) if (isRoute(route)) addOption($('route'), route);
  }

  function row(delivery) {
    const tr = h(
      'tr',
      { 'data-key': delivery.key, 'data-route': delivery.route },
      h('td', {}, when(delivery.last_seen)),
      h('td', {}, delivery.route, delivery.route_gone ? h('span', { class: 'gone' }, ' (gone)') : ''),
      h('td', { class: 'cut', title: delivery.event_type ?? '' }, delivery.event_type ?? ''),
      h('td', { class: 'cut key', title: delivery.key }, delivery.key),
      h('td', {}, outcomeBadge(delivery.outcome), retryButton(delivery)),
      h('td', {}, delivery.attempts),
      h('td', {}, delivery.origin_status ?? ''),
      h('td', {}, delivery.duration_ms),
    );
    tr.addEventListener('click', () => showDetail(delivery.route, delivery.key, tr).catch(failed));
    return tr;
  }

  async function loadDeliveries(append = false) {
    const query = new URLSearchParams();
    if ($('route').value) query.set('route', $('route').value);
    if ($('outcome').value) query.set('outcome', $('outcome').value);
    const eventType = $('event-type').value.trim();
    if (eventType) query.set('event_type', eventType);
    const keyPrefix = $('key-prefix').value.trim();
    if (keyPrefix) query.set('key_prefix', keyPrefix);
    if (append && cursor) query.set('cursor', cursor);
    const mine = ++listing;
    const page = await api(`/deliveries?${query}`);
    if (mine !== listing) return;
    const body = $('deliveries').tBodies[0];
    const rows = page.deliveries.map(row);
    if (append) body.append(...rows);
    else body.replaceChildren(...rows);
    if (!append && rows.length === 0) body.append(h('tr', {}, h('td', { colspan: '8' }, 'No deliveries match.')));
    for (const delivery of page.deliveries) addOption($('route'), delivery.route);
    cursor = page.cursor;
    $('more').hidden = !cursor;
  }

  async function showDetail(route, key, tr) {
    for (const selected of document.querySelectorAll('tr.selected')) selected.classList.remove('selected');
    tr?.classList.add('selected');
    const mine = ++detailing;
    const delivery = await api(`/deliveries/${encodeURIComponent(key)}?route=${encodeURIComponent(route)}`);
    if (mine !== detailing) return;
    const fields = [
      ['key', delivery.key],
      ['route', delivery.route_gone ? `${delivery.route} (gone: no route has this path now)` : delivery.route],
      ['scheme', delivery.scheme],
      ['event type', delivery.event_type ?? '—'],
      ['outcome', outcomeBadge(delivery.outcome)],
      ['attempts', delivery.attempts],
      ['origin status', delivery.origin_status ?? '—'],
      ['duration', `${delivery.duration_ms} ms`],
      ['first seen', when(delivery.first_seen)],
      ['last seen', when(delivery.last_seen)],
    ];
    // A dead letter of a route removed since cannot be retried (the API
    // refuses, 409 route-gone) until a route has its path again.
    if (delivery.dead_letter && delivery.route_gone) {
      fields.push(['dead letter', 'kept; its route is gone, so it can be retried only once a route has this path again']);
    } else if (delivery.dead_letter) {
      fields.push(['dead letter', 'kept; queue it again once the origin is back']);
    }
    const list = h('dl');
    for (const [name, value] of fields) list.append(h('dt', {}, name), h('dd', {}, value));
    $('detail').replaceChildren(h('h2', {}, 'Delivery'), list, attemptsTable(delivery));
    $('detail').append(retryButton(delivery, 'retry'));
    $('detail').hidden = false;
  }

  /** A delivery's attempts (its `history`, the newest 20), newest first. */
  function attemptsTable(delivery) {
    const table = h('table', { id: 'attempts' }, h('caption', {}, 'Attempts'));
    table.append(h('tr', {}, h('th', {}, 'when'), h('th', {}, 'outcome'), h('th', {}, 'origin'), h('th', {}, 'took')));
    const history = delivery.history ?? [];
    for (const attempt of [...history].reverse()) {
      table.append(h('tr', {}, h('td', {}, when(attempt.at)), h('td', {}, outcomeBadge(attempt.outcome)), h('td', {}, attempt.origin_status ?? '—'), h('td', {}, `${attempt.duration_ms} ms`)));
    }
    if (delivery.attempts > history.length) {
      table.append(h('tr', {}, h('td', { colspan: '4' }, `and ${delivery.attempts - history.length} earlier, counted only`)));
    }
    return table;
  }

  /** A dead letter's retry button (none unless it can be retried: its route is there). */
  function retryButton(delivery, id) {
    if (!delivery.dead_letter || delivery.route_gone) return '';
    const button = h('button', { type: 'button', class: 'retry', ...(id && { id }) }, id ? 'Retry delivery' : 'Retry');
    button.addEventListener('click', (event) => {
      event.stopPropagation(); // not the row's click too
      retry(delivery, button);
    });
    return button;
  }

  /** Queues a dead letter again (POST …/retry), once confirmed, then shows the record anew. */
  async function retry(delivery, button) {
    if (!confirm(`Queue the dead letter ${delivery.key} of ${delivery.route} again?`)) return;
    button.disabled = true;
    const path = `/deliveries/${encodeURIComponent(delivery.key)}/retry?route=${encodeURIComponent(delivery.route)}`;
    try {
      const answer = await api(path, 'POST');
      $('status').textContent = `${answer.status} again: ${delivery.key}`;
      await loadDeliveries();
      await showDetail(delivery.route, delivery.key, null);
    } catch (error) {
      failed(error);
      button.disabled = false;
    }
  }

  /** Queues again every dead letter of a route, once confirmed, 12 a request while the API says there are more. */
  async function retryDead(route, button) {
    if (!confirm(`Queue every dead letter of ${route} again?`)) return;
    button.disabled = true;
    let requeued = 0;
    try {
      for (let more = true, round = 0; more && round < 100; round += 1) {
        const answer = await api(`/dead-letters/retry?route=${encodeURIComponent(route)}`, 'POST');
        requeued += answer.requeued;
        more = answer.more;
      }
      $('status').textContent = `${route}: requeued ${requeued}`;
      await loadDeliveries();
    } catch (error) {
      failed(error);
    }
    button.disabled = false;
  }

  async function refresh() {
    $('status').textContent = 'loading…';
    try {
      await Promise.all([loadCounts(), loadDeliveries()]);
      $('status').textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (error) {
      failed(error);
    }
  }

  /** Says why a request failed; a refused token has already signed out and said so. */
  function failed(error) {
    $('status').textContent = error.message === 'unauthorized' ? '' : `could not load: ${error.message}`;
  }

  function signIn() {
    $('sign-in-error').textContent = '';
    $('sign-in').hidden = true;
    $('app').hidden = false;
    $('refresh').hidden = false;
    $('sign-out').hidden = false;
    refresh();
  }

  function signOut(message = '') {
    sessionStorage.removeItem('hookgate-token');
    $('app').hidden = true;
    $('refresh').hidden = true;
    $('sign-out').hidden = true;
    $('sign-in').hidden = false;
    $('sign-in-error').textContent = message;
    $('status').textContent = '';
    // Nothing the token showed stays in the page, hidden or not.
    listing += 1;
    detailing += 1;
    cursor = null;
    $('deliveries').tBodies[0].replaceChildren();
    $('counts').replaceChildren();
    $('chart').replaceChildren();
    $('detail').replaceChildren();
    $('detail').hidden = true;
    $('more').hidden = true;
    $('route').replaceChildren($('route').options[0]);
    $('route').value = '';
    $('outcome').value = '';
  }

  $('outcome').append(...OUTCOMES.map((outcome) => h('option', { value: outcome }, outcome)));
  $('sign-in').addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem('hookgate-token', $('token').value);
    $('token').value = '';
    signIn();
  });
  $('filters').addEventListener('submit', (event) => {
    event.preventDefault();
    loadDeliveries().catch(failed);
  });
  $('more').addEventListener('click', () => loadDeliveries(true).catch(failed));
  $('refresh').addEventListener('click', refresh);
  $('sign-out').addEventListener('click', () => signOut());
  if (token()) signIn();
}
