// The judge and the end checks: every answer against what the contract
// allows for its kind of request at that moment (with the faults then on and
// the incidents the Worker logged), and the origin's own record against the
// events sent: none lost, none forged, none repeated where a mode promises
// once.
import { overlapped } from './faults.mjs';
import { FORGED, TOLERANCE_SECONDS } from './shared.mjs';

/** The faults during which a verified request may be answered 503 store-unavailable. */
const STORE_REFUSING = ['kv-down', 'kv-reads', 'kv-writes'];
const ORIGIN_FAILING = ['origin-error', 'origin-reset', 'origin-refuse'];

/** Every accepted event's accepted arrival at the origin, by body hash. */
export function arrivals(lane) {
  const byHash = new Map();
  for (const entry of lane.origin.record) {
    if (!byHash.has(entry.hash)) byHash.set(entry.hash, []);
    byHash.get(entry.hash).push(entry);
  }
  return byHash;
}

/** What the Worker logged about each key: incidents, and the queue consumer's outcomes. */
function readLogs(lane) {
  const text = lane.gate.logs.join('\n');
  const incidents = new Map();
  const consumer = {};
  for (const chunk of text.split(/(?=\{\s*hookgate: ')/)) {
    const kind = /^\{\s*hookgate: '([a-z-]+)'/.exec(chunk)?.[1];
    if (!kind) continue;
    const key = /\bkey: '([^']*)'/.exec(chunk)?.[1];
    const reason = /\breason: '([^']*)'/.exec(chunk)?.[1];
    const found = /\bincidents: '([^']*)'/.exec(chunk)?.[1];
    if (found && key) {
      if (!incidents.has(key)) incidents.set(key, new Set());
      for (const incident of found.split(',')) incidents.get(key).add(incident);
    }
    if (kind === 'queue') consumer[reason] = (consumer[reason] ?? 0) + 1;
  }
  lane.incidents = incidents;
  lane.consumer = consumer;
}

function hasIncident(lane, event, names) {
  const found = lane.incidents.get(event.key);
  return !!found && names.some((name) => found.has(name));
}

/**
 * Whether an answer is one the contract allows for this kind of request at
 * that moment. Returns null when it is, or the reason it is not.
 */
function judge(lane, entry) {
  const said = `${entry.status} ${entry.reason}`;
  const { t0, t1 } = entry;
  const problem = entry.status >= 400;
  // The shape every answer has (src/outcome.rs).
  if (entry.status === 0) return `no answer (${entry.reason})`;
  if (entry.text.includes('origin body')) return `${said}: the origin's body reached the sender`;
  if (problem && (entry.json?.status !== entry.status || !String(entry.headers['content-type']).startsWith('application/problem+json'))) {
    return `${said}: not a problem+json answer (${entry.text.slice(0, 80)})`;
  }
  if (!problem && entry.text !== `{"status":"${entry.reason}"}`) return `${said}: body ${entry.text.slice(0, 80)}`;
  if (entry.reason === 'cooling-down') {
    const wait = Number(entry.headers['retry-after']);
    if (!(Number.isInteger(wait) && wait >= 1 && wait <= 300)) return `${said} with Retry-After ${entry.headers['retry-after']}`;
  } else if ([409, 503].includes(entry.status) && entry.headers['retry-after'] !== '30') return `${said} without Retry-After: 30`;
  if (entry.status === 405 && entry.headers.allow !== 'POST') return `${said} without Allow: POST`;

  if (entry.kind === 'forged') {
    return FORGED[entry.sub].includes(said) ? null : `forged (${entry.sub}) answered ${said}; allowed: ${FORGED[entry.sub].join(', ')}`;
  }
  const event = entry.event;
  const queued = event.queued;
  const kv = lane.spec.settings.REPLAY_STORE === 'kv';
  const storeDown = kv && overlapped(lane, STORE_REFUSING, t0, t1);
  const originFailing = overlapped(lane, ORIGIN_FAILING, t0, t1);
  const originSlow = overlapped(lane, ['origin-timeout'], t0, t1);
  const queueDown = lane.spec.queue && overlapped(lane, ['queue-refuse'], t0, t1);
  // The store kept a claim it should have settled (a done write or a
  // release that failed, logged as an incident): copies meet it until it
  // expires, and after that the gate no longer knows the event.
  const leftClaim = kv && hasIncident(lane, event, ['MarkDoneFailed', 'ReleaseFailed']);
  const lostMark = kv && hasIncident(lane, event, ['MarkDoneFailed']);
  const allowed = new Set();
  const delivering = () => {
    if (queued) {
      allowed.add('202 queued');
      if (queueDown) allowed.add('503 queue-unavailable');
    } else {
      allowed.add('200 delivered');
      if (originFailing) allowed.add('502 origin-failed');
      if (originSlow) allowed.add('504 origin-timeout');
    }
  };
  if (storeDown) allowed.add('503 store-unavailable');
  // A forward of this event failed before: its copies wait out a cool-down.
  if (lane.failedAt?.get(event) < t1) allowed.add('503 cooling-down');
  if (entry.kind === 'valid') {
    delivering();
    if (event.firstTakenT0 <= t1) allowed.add('200 duplicate');
    if (entry.sub === 'burst' || leftClaim) allowed.add('409 in-flight');
  } else {
    // A duplicate (the sender again) or a replay of an accepted event.
    allowed.add('200 duplicate');
    if (entry.kind === 'replay') {
      const stamp = Number(entry.captured['webhook-timestamp'] ?? entry.captured['svix-timestamp'] ?? entry.captured['x-slack-request-timestamp'] ?? NaN);
      if (Number.isFinite(stamp) && t0 / 1000 - stamp > TOLERANCE_SECONDS) allowed.add('401 stale-timestamp');
    }
    if (leftClaim) allowed.add('409 in-flight');
    if (lostMark) delivering();
  }
  return allowed.has(said) ? null : `${entry.kind} (${event.scheme}${entry.sub === 'burst' ? ', burst copy' : ''}, ${event.bytes} B) answered ${said}; allowed then: ${[...allowed].join(', ')}`;
}

export function check(lane) {
  readLogs(lane);
  const byHash = arrivals(lane);
  const validHashes = new Set(lane.events.map((e) => e.hash));
  const stats = { valid: lane.events.length, accepted: 0, arrived: 0, exactlyOnce: 0, duplicates: 0, duplicatesExplained: 0, refusedAttempts: 0 };
  for (const event of lane.events) {
    const got = byHash.get(event.hash) ?? [];
    const accepted = got.filter((a) => a.accepted);
    if (event.accepted) stats.accepted += 1;
    else lane.violation(`a valid ${event.scheme} event (${event.bytes} B) was never accepted by the gate (${event.attempts} attempts${event.gaveUp ? ', the sender gave up' : ''})`);
    if (accepted.length === 0) {
      const record = lane.records?.get(event);
      const history = lane.answers
        .filter((a) => a.event === event)
        .map((a) => `${a.kind} ${a.status} ${a.reason} at ${new Date(a.t0).toISOString().slice(11, 23)}`)
        .join('; ');
      lane.violation(`lost: a valid ${event.scheme} event (key ${event.key}) never reached the origin; answers: ${history}${record ? `; its delivery record: ${record}` : ''}`);
      continue;
    }
    stats.arrived += 1;
    if (accepted.length === 1) stats.exactlyOnce += 1;
    const extra = accepted.length - 1;
    stats.duplicates += extra;
    if (extra > 0) {
      if (hasIncident(lane, event, ['MarkDoneFailed', 'ReleaseFailed'])) stats.duplicatesExplained += extra;
      if (lane.spec.exact) lane.violation(`duplicated: ${event.scheme} event ${event.key} reached the origin ${accepted.length} times (${lane.mode} promises once)`);
    }
    // After the accepted arrival nothing more of this event may reach the
    // origin in the exact modes: no replay, no late retry.
    const first = accepted[0];
    const after = got.filter((a) => a.at > first.at);
    if (lane.spec.exact && after.length > 0) lane.violation(`${event.scheme} event ${event.key}: ${after.length} more request(s) reached the origin after it accepted the event`);
    for (const arrival of accepted) {
      if (arrival.path !== `/o/${event.scheme}`) lane.violation(`${event.scheme} event arrived at ${arrival.path}`);
      if (!arrival.verified) lane.violation(`${event.scheme} event ${event.key}: the forward's re-signature does not verify with ORIGIN_SECRET`);
      if (arrival.id !== event.key) lane.violation(`${event.scheme} event: forwarded as webhook-id ${arrival.id}, its replay key is ${event.key}`);
    }
  }
  stats.refusedAttempts = lane.origin.record.filter((a) => !a.accepted).length;
  let forgedArrived = 0;
  let unknownArrived = 0;
  for (const entry of lane.origin.record) {
    if (!entry.path.startsWith('/o/')) lane.violation(`a request reached the origin at ${entry.path}, where no route forwards (a redirect followed?)`);
    if (validHashes.has(entry.hash)) continue;
    if (lane.forgedHashes.has(entry.hash)) forgedArrived += 1;
    else unknownArrived += 1;
    lane.violation(`the origin received a request that is no valid event: ${entry.path} (${entry.bytes} B, webhook-id ${entry.id})`);
  }
  stats.forgedArrived = forgedArrived;
  stats.unknownArrived = unknownArrived;
  // Replays and duplicates the gate took for new deliveries (kv mode, after
  // a failed done write; judged with the answers).
  stats.replaysThrough = lane.answers.filter((e) => (e.kind === 'replay' || e.kind === 'duplicate') && ['delivered', 'queued'].includes(e.reason)).length;
  // When each event's forward first failed (502, 504, or the queue refused).
  lane.failedAt = new Map();
  for (const entry of lane.answers) {
    if (entry.event && ['origin-failed', 'origin-timeout', 'queue-unavailable'].includes(entry.reason)) {
      lane.failedAt.set(entry.event, Math.min(lane.failedAt.get(entry.event) ?? Infinity, entry.t0));
    }
  }
  for (const entry of lane.answers) {
    const wrong = judge(lane, entry);
    if (wrong) lane.violation(`answer outside the contract: ${wrong}`);
  }
  lane.stats = stats;
}
