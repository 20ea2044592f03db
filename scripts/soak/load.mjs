// The simulated senders and the load mix: new valid events of every scheme
// and size (some as simultaneous copies), sent until accepted with back-off
// as real senders retry; the sender again after acceptance; replays of
// captured deliveries; and every kind of forgery. Each answer is recorded on
// the lane for the judge.
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { SCHEME_SECRETS as SECRETS, WRONG_SECRETS, newId, sleep } from '../../tests/e2e/harness.mjs';
import { SCHEMES, sampleEvent, signFor } from '../senders.mjs';
import { call, rawCall } from './client.mjs';
import { watchDeadLetters } from './deadletters.mjs';
import { FORGED, MAX_BODY_BYTES, TOLERANCE_SECONDS, pathOf, sha } from './shared.mjs';

/** Bodies above this on a queue route are forwarded directly (src/queue.rs). */
const MAX_QUEUED_BODY_BYTES = 96 * 1024;
const TIMESTAMPED = ['standard-webhooks', 'quo-legacy', 'stripe', 'slack'];

/**
 * The replay key hookgate derives for an event (src/schemes): the signed id,
 * a body field, or the fingerprint of the signature and the event header
 * in one spelling (src/keys.rs fingerprint_with, src/gate.rs
 * event_name_key). The origin receives it as the forward's webhook-id, so in
 * kv mode it can dedupe on it.
 */
function replayKey(scheme, body, headers) {
  switch (scheme) {
    case 'standard-webhooks':
      return headers['webhook-id'] ?? headers['svix-id'];
    case 'quo-legacy':
    case 'stripe':
      return JSON.parse(body).id;
    case 'slack':
      return JSON.parse(body).event_id;
    default: {
      const tag = createHmac('sha256', SECRETS[scheme]).update(body).digest();
      // The event name in the key's one spelling (src/gate.rs event_name_key).
      const name = (headers[scheme === 'github' ? 'x-github-event' : 'x-shopify-topic'] ?? '').toLowerCase().replace(/[/.]/g, '_');
      return `sig_${createHash('sha256').update(tag).update(name).digest('hex').slice(0, 32)}`;
    }
  }
}

/** A sample event of `scheme`, padded to about `size` bytes when given. */
function makeEvent(scheme, size) {
  const event = sampleEvent(scheme);
  if (!size) return event;
  const value = JSON.parse(event.body);
  const room = Math.max(0, size - event.body.length - 20);
  value.soak_padding = 'p'.repeat(room);
  return { ...event, body: scheme === 'stripe' ? JSON.stringify(value, null, 2) : JSON.stringify(value) };
}

function record(lane, kind, sub, answer, extra = {}) {
  const entry = { kind, sub, ...answer, ...extra };
  lane.answers.push(entry);
  // When the event was first sent by a copy the gate took, for judging
  // its other copies (a later one may be a duplicate).
  if (kind === 'valid' && ['delivered', 'queued'].includes(entry.reason)) {
    entry.event.firstTakenT0 = Math.min(entry.event.firstTakenT0 ?? Infinity, entry.t0);
  }
  return entry;
}

export async function runLoad(lane, until, drainUntil, rate) {
  lane.drainUntil = drainUntil;
  let nextWatch = Date.now() + 5000;
  while (Date.now() < until) {
    if (lane.spec.queue && Date.now() >= nextWatch) {
      nextWatch = Date.now() + 5000;
      lane.track(watchDeadLetters(lane));
    }
    const roll = lane.random();
    if (roll < 0.55) lane.track(valid(lane));
    else if (roll < 0.95) lane.track(forged(lane, lane.pick(Object.keys(FORGED))));
    else lane.track(forged(lane, lane.pick(['wrong-method', 'no-route'])));
    await sleep((1000 / rate) * (0.5 + lane.random()));
  }
}

/** A new valid event, sent until accepted, as a sender retries. */
async function valid(lane) {
  const scheme = lane.pick(SCHEMES);
  const roll = lane.random();
  const size = roll < 0.05 ? 100_000 + Math.floor(lane.random() * 60_000) : roll < 0.2 ? 4_000 + Math.floor(lane.random() * 20_000) : 0;
  const { body, headers: senderHeaders } = makeEvent(scheme, size);
  const svix = scheme === 'standard-webhooks' && lane.chance(0.25);
  const id = newId();
  const event = {
    scheme,
    body,
    hash: sha(body),
    bytes: Buffer.byteLength(body),
    svix,
    id,
    key: null,
    accepted: null,
    attempts: 0,
    gaveUp: false,
    queued: lane.spec.queue && Buffer.byteLength(body) <= MAX_QUEUED_BODY_BYTES,
  };
  lane.events.push(event);
  const sign = async () => ({ ...senderHeaders, ...(await signFor(scheme, { secret: SECRETS[scheme], body, id, svix })) });
  let backoff = 300;
  let burst = lane.chance(0.06) ? 2 + Math.floor(lane.random() * 3) : 0;
  for (;;) {
    const headers = await sign();
    event.key ??= replayKey(scheme, body, headers);
    const copies = burst || 1;
    const answers = await Promise.all(
      Array.from({ length: copies }, () => call(lane.gate.url, { path: pathOf(scheme), headers, body })),
    );
    event.attempts += 1;
    const entries = answers.map((answer) => record(lane, 'valid', burst ? 'burst' : event.attempts > 1 ? 'retry' : 'first', answer, { event }));
    burst = 0;
    const good = entries.find((e) => (e.status === 200 && e.reason !== 'challenge') || e.status === 202);
    if (good) {
      event.accepted = true;
      afterAccepted(lane, event, headers);
      return;
    }
    const retryable = entries.every((e) => [0, 409, 502, 503, 504].includes(e.status));
    if (!retryable || Date.now() > lane.drainUntil) {
      event.gaveUp = true;
      return;
    }
    await sleep(backoff * (0.75 + lane.random() / 2));
    backoff = Math.min(backoff * 2, 4000);
  }
}

/** What a sender (and an attacker who captured the delivery) may send next. */
function afterAccepted(lane, event, captured) {
  if (Date.now() > lane.loadUntil) return;
  if (lane.chance(0.25)) {
    // The sender again (it missed the answer): new timestamp, new signature.
    lane.track(
      sleep(500 + lane.random() * 10_000).then(async () => {
        const { headers: senderHeaders } = sampleEvent(event.scheme);
        const signature = await signFor(event.scheme, { secret: SECRETS[event.scheme], body: event.body, id: event.id, svix: event.svix });
        const answer = await call(lane.gate.url, { path: pathOf(event.scheme), headers: { ...senderHeaders, ...signature }, body: event.body });
        record(lane, 'duplicate', event.scheme, answer, { event });
      }),
    );
  }
  if (lane.chance(0.25)) {
    // A replay: the captured delivery, byte for byte, sent again later;
    // now and then after a minute, once any claim a failed store write
    // left behind has expired (while the load still runs).
    const late = lane.chance(0.15) && Date.now() + 80_000 < lane.loadUntil;
    lane.track(
      sleep(late ? 65_000 + lane.random() * 15_000 : 500 + lane.random() * 20_000).then(async () => {
        const answer = await call(lane.gate.url, { path: pathOf(event.scheme), headers: captured, body: event.body });
        record(lane, 'replay', event.scheme, answer, { event, captured });
      }),
    );
  }
}

/** A request that must never be forwarded, of kind `sub`. */
async function forged(lane, sub) {
  const scheme = sub === 'bad-id' ? 'standard-webhooks' : ['stale', 'future'].includes(sub) ? lane.pick(TIMESTAMPED) : lane.pick(SCHEMES);
  const path = pathOf(scheme);
  const size = ['oversize', 'chunked-oversize', 'length-beside-chunked'].includes(sub) ? MAX_BODY_BYTES + 1 + Math.floor(lane.random() * 300_000) : 0;
  const event = makeEvent(scheme, size);
  let body = event.body;
  const sign = (options = {}) => signFor(options.scheme ?? scheme, { secret: SECRETS[scheme], body, ...options });
  let answer;
  switch (sub) {
    case 'wrong-key':
      answer = await call(lane.gate.url, { path, headers: { ...event.headers, ...(await sign({ secret: WRONG_SECRETS[scheme] })) }, body });
      break;
    case 'tampered': {
      const headers = { ...event.headers, ...(await sign()) };
      body = body.replace('Hello', 'Jello').replace('"usd"', '"eur"').replace('hookgate', 'hookgame');
      if (body === event.body) body = `${body} `;
      answer = await call(lane.gate.url, { path, headers, body });
      break;
    }
    case 'stale':
    case 'future': {
      const shift = (sub === 'stale' ? -1 : 1) * (TOLERANCE_SECONDS + 60 + Math.floor(lane.random() * 3600)) * 1000;
      answer = await call(lane.gate.url, { path, headers: { ...event.headers, ...(await sign({ timestamp: new Date(Date.now() + shift) })) }, body });
      break;
    }
    case 'missing-headers': {
      // Every signature header gone, or (timestamped schemes) one of them.
      const signature = await sign();
      const names = Object.keys(signature);
      const drop = lane.chance(0.5) ? names : [lane.pick(names)];
      const headers = { ...event.headers, ...Object.fromEntries(Object.entries(signature).filter(([n]) => !drop.includes(n))) };
      answer = await call(lane.gate.url, { path, headers, body });
      break;
    }
    case 'other-route': {
      // Signed for another route: with that route's scheme and secret, or
      // in this route's way with the other route's secret.
      const other = lane.pick(SCHEMES.filter((s) => s !== scheme));
      const signature = lane.chance(0.5)
        ? await signFor(other, { secret: SECRETS[other], body })
        : await signFor(scheme, { secret: scheme === 'standard-webhooks' ? SECRETS['quo-legacy'] : SECRETS[other], body });
      answer = await call(lane.gate.url, { path, headers: { ...event.headers, ...signature }, body });
      break;
    }
    case 'bad-id': {
      const id = `msg_${randomUUID().slice(0, 8)}.${randomUUID().slice(0, 8)}`;
      answer = await call(lane.gate.url, { path, headers: { ...event.headers, ...(await sign({ id })) }, body });
      break;
    }
    case 'oversize':
      answer = await call(lane.gate.url, { path, headers: { ...event.headers, ...(await sign()) }, body });
      break;
    case 'chunked-oversize':
    case 'length-beside-chunked': {
      const headers = { ...event.headers, ...(await sign()) };
      if (sub === 'length-beside-chunked') headers['content-length'] = '10';
      const parts = [];
      for (let at = 0; at < body.length; at += 32 * 1024) parts.push(body.slice(at, at + 32 * 1024));
      answer = await rawCall(lane.gate.url, { path, headers, parts, chunked: true });
      break;
    }
    case 'length-short':
    case 'length-long': {
      // Content-Length says less than the body (the gate hashes a prefix),
      // or more (the client then ends its side: the body ends early).
      const headers = { ...event.headers, ...(await sign()), connection: 'close' };
      const bytes = Buffer.byteLength(body);
      headers['content-length'] = String(sub === 'length-short' ? bytes - 1 - Math.floor(lane.random() * 20) : bytes + 1 + Math.floor(lane.random() * 500));
      if (sub === 'length-short') lane.forgedHashes.add(sha(Buffer.from(body).subarray(0, Number(headers['content-length']))));
      answer = await rawCall(lane.gate.url, { path, headers, parts: [body], halfClose: sub === 'length-long' });
      break;
    }
    case 'wrong-method': {
      const method = lane.pick(['GET', 'PUT', 'DELETE', 'PATCH']);
      answer = await call(lane.gate.url, { method, path, headers: { ...event.headers, ...(await sign()) }, body: method === 'GET' ? undefined : body });
      break;
    }
    case 'no-route':
      answer = await call(lane.gate.url, { path: lane.pick(['/', '/hooks', `${path}/x`, '/hooks/GitHub', '/_hookgatex']), headers: { ...event.headers, ...(await sign()) }, body });
      break;
    default:
      throw new Error(sub);
  }
  lane.forgedHashes.add(sha(body));
  lane.forgedHashes.add(sha(event.body));
  record(lane, 'forged', sub, answer, { scheme });
}
