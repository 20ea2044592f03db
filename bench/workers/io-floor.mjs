// Measurement only: hookgate's I/O for a delivered event, done from
// JavaScript with no wasm at all. The WebCrypto Worker's verification
// (`signatureMatches` of bench/workers/webcrypto.mjs), then exactly the calls
// hookgate's wasm makes into src/js/edge.js, in its order and with its
// arguments' shapes (captured from a run of the built Worker): the
// request's facts, the body read under its deadline, a read and two writes
// of the location's cache, a KV read and the `done` write, the forward with
// its timeout and headers, the answer and the log line. Nothing is decided
// here and every value is the delivered event's: what this Worker costs
// over the WebCrypto Worker is the floor of what any shape of the boundary
// between JavaScript and wasm can reach while hookgate does this I/O
// (docs/benchmark.md, "The I/O floor"). Bundled by bench/run.mjs.
import { cacheGet, cachePut, forward, kvGet, kvPut, logObject, readBody, requestFacts, respond, useCacheScope } from '../../src/js/edge.js';
import { signatureMatches } from './webcrypto.mjs';

const SEP = '\0';
/** The header names hookgate reads for one Standard Webhooks route. */
const NAMES = ['content-length', 'content-type', 'authorization', 'webhook-id', 'webhook-timestamp', 'webhook-signature', 'svix-id', 'svix-timestamp', 'svix-signature'];
useCacheScope('bench');

/** A 64-character stand-in for hookgate's hashed key of `id`. */
function hashedOf(id) {
  return (id + id).slice(0, 64).padEnd(64, '0');
}

export default {
  async fetch(request, env) {
    const started = Date.now();
    const facts = requestFacts(request, NAMES).split(SEP);
    const header = (name) => {
      for (let i = 2; i + 1 < facts.length; i += 2) if (facts[i] === name) return facts[i + 1];
      return undefined;
    };
    if (facts[0] !== 'POST') return respond(405, 'text/plain', 'method', '');
    const id = header('webhook-id');
    const timestamp = header('webhook-timestamp');
    const signature = header('webhook-signature');
    if (!id || !timestamp || !signature) return respond(401, 'text/plain', 'missing', '');
    if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return respond(401, 'text/plain', 'stale', '');
    const body = await readBody(request, 2 * 1024 * 1024, Date.now() + 30_000);
    if (typeof body === 'string') return respond(400, 'text/plain', body, '');
    if (!(await signatureMatches(env.WEBHOOK_SECRET, id, timestamp, signature, body))) return respond(401, 'text/plain', 'bad signature', '');
    const hashed = hashedOf(id);
    const claim = `claim/v1/${hashed}`;
    if ((await cacheGet(claim)) !== undefined) return respond(200, 'application/json', '{"status":"duplicate"}', '');
    cachePut(claim, 'in-flight', 40);
    const key = `hookgate:v1:${hashed}`;
    if ((await kvGet(env.REPLAY_KV, key)) !== null) return respond(200, 'application/json', '{"status":"duplicate"}', '');
    const headers = ['content-type', header('content-type') ?? 'application/json', 'webhook-id', id, 'webhook-timestamp', timestamp, 'webhook-signature', signature].join(SEP);
    const status = await forward(env.ORIGIN_URL, headers, body, 10_000);
    if (status < 200 || status > 299) return respond(502, 'application/json', '{"status":"origin-failed"}', '');
    const done = `done:${Math.floor(Date.now() / 1000) + 259_200}`;
    await kvPut(env.REPLAY_KV, key, done, 259_200);
    cachePut(claim, done, 259_200);
    const answer = respond(200, 'application/json', '{"status":"delivered"}', '');
    const line = ['hookgate', 'srequest', 'route', 's/', 'scheme', 'sstandard-webhooks', 'reason', 'sdelivered', 'status', 'n200', 'key', `s${id}`, 'event_type', 'smessage.received', 'duration_ms', `n${Date.now() - started}`, 'origin_status', `n${status}`, 'body_bytes', `n${body.length}`];
    logObject('log', line.join(SEP));
    return answer;
  },
};
