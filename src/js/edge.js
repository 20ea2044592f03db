// The Worker's I/O, where the objects are: reading a request, its body, the
// answer, the forward, KV, the log line. Each is one call from Rust instead
// of a call per header, per field or per property (every call across the
// JS/wasm boundary copies strings both ways; the profile in
// docs/benchmark.md shows what that cost). Nothing here decides anything:
// limits, deadlines, headers, statuses, cache keys and lifetimes all come from
// Rust (`postAlert` sends only without its mark in the location's cache: the
// once-per-key send Rust asks for, not a choice of its own).

/** Separates the fields of the strings passed to and from Rust (no header,
 * URL, key or reason can hold a NUL). */
const SEP = '\0';

/** The request's method, path and the headers named (those present), as
 * one string: `method SEP path (SEP name SEP value)*`. A lookup per name:
 * walking every header makes a sorted copy and an array per entry, and
 * hands Rust headers it never reads. */
export function requestFacts(request, names) {
  const url = request.url;
  const host = url.indexOf('/', url.indexOf('//') + 2);
  const query = url.indexOf('?', host);
  let facts = request.method + SEP + (host < 0 ? '/' : url.slice(host, query < 0 ? undefined : query));
  const headers = request.headers;
  for (const name of names) {
    const value = headers.get(name);
    if (value !== null) facts += SEP + name + SEP + value;
  }
  return facts;
}

/** A Response from `status`, `contentType`, `body` and extra headers given
 * as `name SEP value (SEP name SEP value)*` (or ''). */
export function respond(status, contentType, body, extra) {
  const headers = headersOf(extra, { 'content-type': contentType, 'cache-control': 'no-store' });
  return new Response(body, { status, headers });
}

/** Sets a header holding a number on an answer `respond` made (a Durable
 * Object's, see src/glue/io.rs). */
export function setCount(response, name, count) {
  response.headers.set(name, String(count));
}

/** Adds headers given as `name SEP value (SEP name SEP value)*` (or '') to
 * `into`. */
function headersOf(text, into = {}) {
  if (text === '') return into;
  const parts = text.split(SEP);
  for (let i = 0; i + 1 < parts.length; i += 2) into[parts[i]] = parts[i + 1];
  return into;
}

/** POSTs `body` to `url` with headers given as for `respond`, without
 * following redirects, aborted after `timeoutMs`. Resolves to the status,
 * -1 when the origin could not be reached, -2 on the timeout. The answer's
 * body is never read. */
export async function forward(url, headerText, body, timeoutMs) {
  const headers = headersOf(headerText);
  try {
    const response = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    return response.status;
  } catch (error) {
    return error?.name === 'TimeoutError' ? -2 : -1;
  }
}

/** Workers KV, resolving to `undefined` when the namespace failed. */
export function kvGet(namespace, key) {
  return namespace.get(key).catch(() => undefined);
}

export function kvPut(namespace, key, value, ttlSeconds) {
  return namespace.put(key, value, { expirationTtl: ttlSeconds }).then(
    () => true,
    () => false,
  );
}

export function kvDelete(namespace, key) {
  return namespace.delete(key).then(
    () => true,
    () => false,
  );
}

/** The location's cache (Cache API), for in-flight claims and cool-downs:
 * never an error, a miss or a dropped write instead. Entries live under a name of hookgate's own
 * that no request can reach; the cache is per location and free. */
const COOL_ORIGIN = 'https://hookgate.cache.invalid/';

/** The header an entry's value is kept in: a header is read with the
 * match, where a body would be one more read of a stream. */
const VALUE = 'x-hookgate-value';

/** This gate's part of every entry's name (`useCacheScope`). A zone's
 * Workers share its cache: a gate whose routes' origins differ names its
 * entries apart, so it can neither read this gate's entries nor replace or
 * delete them. */
let scope = '';

export function useCacheScope(text) {
  scope = text + '/';
}

export async function cacheGet(key) {
  try {
    const hit = await caches.default.match(COOL_ORIGIN + scope + key);
    return hit?.headers.get(VALUE) ?? undefined;
  } catch {
    return undefined;
  }
}

/** Writes to the location's cache are not waited on: a task's first is
 * started at once (so a copy in another isolate finds a hold as soon as the
 * cache has it), each next one once the one before it landed (so a task's
 * writes land in the order it made them); `drive` waits for the last before the task's
 * promise settles, under the request's `waitUntil`. Waiting on each from
 * Rust was a step of the task apiece, four per delivered event. */
let writes;

function cacheWrite(write) {
  // Best-effort: a lost entry costs one more request to the store or the
  // origin, never an event; an entry left behind lapses by itself.
  const run = () => {
    try {
      return write().catch(() => {});
    } catch {
      return Promise.resolve();
    }
  };
  if (!writes) return void run();
  writes.last = writes.last ? writes.last.then(run) : run();
}

function putEntry(key, value, ttlSeconds) {
  const headers = { 'cache-control': `max-age=${ttlSeconds}`, [VALUE]: value };
  return caches.default.put(COOL_ORIGIN + scope + key, new Response(null, { headers }));
}

export function cachePut(key, value, ttlSeconds) {
  cacheWrite(() => putEntry(key, value, ttlSeconds));
}

/** POSTs an alert as `forward` does (10 s at most), unless the location's
 * cache holds its `mark` (an isolate of the location sent it in this quiet
 * period, which the mark names); the mark is written first, lasting
 * `quietSeconds` (the rest of the period), so the others stay quiet.
 * Two isolates that read at the same moment may both send; a cache that is
 * down, or a `workers.dev` hostname's, which stores nothing, stops none.
 * Sent as the task's next cache write: Rust does not wait for it, the
 * task's promise does. A URL that does not take it is logged with the
 * alert's cause and route (a configured path), never its URL, which may
 * hold a token, nor the payload. */
export function postAlert(url, headerText, body, mark, quietSeconds, cause, route) {
  cacheWrite(async () => {
    if ((await cacheGet(mark)) !== undefined) return;
    await putEntry(mark, '1', quietSeconds).catch(() => {});
    const status = await forward(url, headerText, body, 10_000);
    if (status < 200 || status > 299) {
      const why = status === -2 ? 'it did not answer in time' : status === -1 ? 'it could not be reached' : `it answered ${status}`;
      console.error(`hookgate: an alert (${cause}, route ${JSON.stringify(route)}) was not taken by its URL: ${why}; it is not sent again`);
    }
  });
}

/** Settles once the current task's cache writes so far have landed. */
export function cacheWritten() {
  return writes?.last ?? Promise.resolve();
}

export function cacheDelete(key) {
  cacheWrite(() => caches.default.delete(COOL_ORIGIN + scope + key));
}

export async function callObject(namespace, name, url, body) {
  try {
    const stub = namespace.get(namespace.idFromName(name));
    const response = await stub.fetch(url, body === undefined ? undefined : { method: 'POST', body });
    return response.status + SEP + (await response.text());
  } catch {
    return '';
  }
}

/** Calls several Durable Objects of `namespace` at once: `calls` is a list
 * of `[name, url, body]`; resolves to a list of what `callObject` resolves
 * to, in the same order. */
export function callObjects(namespace, calls) {
  return Promise.all(calls.map(([name, url, body]) => callObject(namespace, name, url, body)));
}

/** Resolves after `ms` milliseconds (a batch of the delivery log waiting
 * for the attempts that follow it). */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Splits `name SEP value (SEP name SEP value)*` into pairs. */
function pairs(text) {
  const list = [];
  const parts = text.split(SEP);
  for (let i = 0; i + 1 < parts.length; i += 2) list.push([parts[i], parts[i + 1]]);
  return list;
}

/** Queues an event as hookgate's message (version 1), structured-cloned
 * ("v8") so the body travels as bytes. Headers are given as for `respond`.
 * Resolves to true once the queue took it. */
export async function queueSend(queue, route, key, contentType, eventType, headerText, body) {
  const message = { v: 1, route, key, contentType: contentType ?? null, eventType: eventType ?? null, headers: pairs(headerText), body };
  try {
    await queue.send(message, { contentType: 'v8' });
    return true;
  } catch {
    return false;
  }
}

/** Reads what `queueSend` wrote into a queue message: `[facts, body,
 * attempt, held]`, where facts is `route SEP key SEP contentType SEP
 * eventType (SEP name SEP value)*` and each of the two optional fields is
 * `s` + text or empty for none, attempt is `attemptOf` and held `heldOf`;
 * null for any other message. One call for what the consumer reads of a
 * message (module size). */
export function readMessage(queued) {
  const message = queued.body;
  const text = (value) => typeof value === 'string';
  const optional = (value) => (text(value) ? 's' + value : '');
  if (message === null || typeof message !== 'object' || message.v !== 1) return null;
  const { route, key, headers, body } = message;
  if (!text(route) || !text(key) || !Array.isArray(headers) || !(body instanceof Uint8Array)) return null;
  let facts = route + SEP + key + SEP + optional(message.contentType) + SEP + optional(message.eventType);
  for (const pair of headers) {
    if (!Array.isArray(pair) || !text(pair[0]) || !text(pair[1])) return null;
    facts += SEP + pair[0] + SEP + pair[1];
  }
  return [facts, body, attemptOf(queued), heldOf(queued)];
}

/** The gate's count of a message's attempts, from 1: the queue's own, and
 * those spent before a hold sent it again (a new message's own count starts
 * at 1). */
function attemptOf(message) {
  return (message.body?.spent >>> 0) + message.attempts;
}

/** How often a message was held (sent again while its route was paused). */
function heldOf(message) {
  return message.body?.held >>> 0;
}

/** Holds a message of a paused route without spending an attempt: a copy
 * goes to `queue` after `delaySeconds`, carrying the attempts spent and one
 * hold more, and only then is the message acknowledged. Should the queue
 * refuse the copy, the message is retried after the delay instead (which
 * counts as an attempt). */
export async function holdMessage(queue, message, delaySeconds) {
  const body = message.body;
  try {
    await queue.send({ ...body, spent: attemptOf(message) - 1, held: heldOf(message) + 1 }, { contentType: 'v8', delaySeconds });
    message.ack();
  } catch {
    message.retry({ delaySeconds });
  }
}

/** Retries a queue message after `delaySeconds`. */
export function retryMessage(message, delaySeconds) {
  message.retry({ delaySeconds });
}

/** Writes one Analytics Engine data point; false when the dataset refused. */
export function writePoint(dataset, blob1, blob2, blob3, double1, double2, double3, index) {
  try {
    dataset.writeDataPoint({ blobs: [blob1, blob2, blob3], doubles: [double1, double2, double3], indexes: [index] });
    return true;
  } catch {
    return false;
  }
}

/** Imports a raw HMAC-SHA256 signing key into WebCrypto. */
export function importHmacKey(raw, hash) {
  return crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash }, false, ['sign']);
}

/** One structured log line: the object Workers Logs indexes, built from
 * `name SEP value …` where each value is `s` + text, `n` + a number, or
 * empty for null. */
export function logObject(level, text) {
  const line = {};
  const parts = text.split(SEP);
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const value = parts[i + 1];
    line[parts[i]] = value === '' ? null : value[0] === 'n' ? Number(value.slice(1)) : value.slice(1);
  }
  if (level === 'warn') console.warn(line);
  else console.log(line);
}

//
// Request bodies.
//
// A body that may have to be cut off is read from a clone of the request,
// never from the request itself. A body read part of the way and then
// cancelled breaks the connection it came on: in workerd the client's
// kept-alive connection is reset under its next request, and `wrangler dev` (4.86, whose dev proxy
// forwards each request over loopback) fails the next request and, for the
// path `/`, exits (docs/operations.md has a minimal reproduction). An
// untouched request body does neither; a clone leaves it untouched.

// After a limit is passed, up to this much more is read and thrown away
// (within this long) before the refusal is answered: a client that sent a
// little too much then reads the answer and keeps its connection. Anything
// larger is cut off.
const DRAIN_BYTES = 1024 * 1024;
const DRAIN_MS = 2000;

// Reads a request body into one Uint8Array, counting what really arrives.
// Resolves to the body, or to "too-large", "timeout" or "unreadable".
//
// A body framed by Content-Length alone is read whole by the runtime
// (natively, the cheap way): HTTP framing never delivers more than the
// declared length, which the gate has already held against `limit`. Any
// other body — chunked, or with Transfer-Encoding beside a Content-Length
// that may lie — is read chunk by chunk and cut off at `limit`, so a request
// that declares 10 bytes and streams 100 MB is stopped at the limit.
//
// `request.body` is read only on the second path: it makes the runtime set
// up a JavaScript stream for the body, which a small delivery's profile
// showed (`arrayBuffer()` of a request without a body is empty anyway).
export async function readBody(request, limit, deadlineMs) {
  const declared = request.headers.get('content-length');
  const framed = declared !== null && /^\d{1,15}$/.test(declared) && Number(declared) <= limit && !request.headers.has('transfer-encoding');
  if (!framed && request.body === null) return new Uint8Array(0);
  let timer;
  const expired = new Promise((resolve) => {
    timer = setTimeout(resolve, Math.max(0, deadlineMs - Date.now()), null);
  });
  try {
    if (framed) {
      const whole = await Promise.race([request.arrayBuffer(), expired]);
      if (whole === null) return 'timeout';
      return whole.byteLength <= limit ? new Uint8Array(whole) : 'too-large';
    }
    return await readCapped(request, limit, deadlineMs, expired);
  } catch {
    return 'unreadable';
  } finally {
    clearTimeout(timer);
  }
}

async function readCapped(request, limit, deadlineMs, expired) {
  const reader = request.clone().body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const next = await Promise.race([reader.read(), expired]);
    if (next === null) {
      reader.cancel().catch(() => {});
      return 'timeout';
    }
    if (next.done) break;
    size += next.value.byteLength;
    if (size > limit) {
      await drain(reader, size, limit + DRAIN_BYTES, Math.min(deadlineMs, Date.now() + DRAIN_MS));
      return 'too-large';
    }
    chunks.push(next.value);
  }
  // The whole body arrived through the clone; the request's own copy of it
  // is not needed, so it is let go rather than held twice.
  request.body.cancel().catch(() => {});
  if (chunks.length === 1) return chunks[0];
  const body = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.byteLength;
  }
  return body;
}

/**
 * Reads and drops the body of a request refused before its body was read
 * (a bad header, a stale timestamp, a declared length over the limit),
 * within the same bounds, so a kept-alive connection stays usable.
 */
export async function discardBody(request) {
  if (request.body === null || request.bodyUsed) return;
  try {
    await drain(request.clone().body.getReader(), 0, DRAIN_BYTES, Date.now() + DRAIN_MS);
  } catch {
    // a body already locked or gone: nothing to drain
  }
}

/** Reads and drops the rest of a body, within bounds; then gives up. */
async function drain(reader, size, maxBytes, untilMs) {
  let timer;
  const expired = new Promise((resolve) => {
    timer = setTimeout(resolve, Math.max(0, untilMs - Date.now()), null);
  });
  try {
    while (size <= maxBytes) {
      const next = await Promise.race([reader.read(), expired]);
      if (next === null) break;
      if (next.done) return;
      size += next.value.byteLength;
    }
  } catch {
    return;
  } finally {
    clearTimeout(timer);
  }
  reader.cancel().catch(() => {});
}

//
// The executor of the Rust handlers' work (src/glue/runtime.rs): a task is
// a number; its work hands out the promise it waits on, this awaits it and
// steps the work on with what it settled to, until the work is finished.
//
let taskStep;
let taskFinish;

/** The module's own stepping functions, handed over once as it loads. */
export function useStepper(step, finish) {
  taskStep = step;
  taskFinish = finish;
}

export async function drive(task) {
  const own = { last: undefined };
  try {
    let next = step(task, undefined, true, own);
    while (next !== undefined) {
      let settled;
      let fulfilled = true;
      try {
        settled = await next;
      } catch (error) {
        settled = error;
        fulfilled = false;
      }
      next = step(task, settled, fulfilled, own);
    }
  } finally {
    // Also after a trap: a release's write still lands.
    if (own.last) await own.last;
  }
  return taskFinish(task);
}

/** A step. Nothing is thrown out of a step but a trap or a JavaScript
 * exception unwinding through the module, which leaves its state untrusted:
 * either is rethrown as a trap, so the entry (src/js/shim.js) answers 500
 * and sets the module up again before the next event. */
function step(task, settled, fulfilled, own) {
  // A step can start another task, whose first step runs inside this one.
  const outer = writes;
  writes = own;
  try {
    return taskStep(task, settled, fulfilled);
  } catch (error) {
    if (error instanceof WebAssembly.RuntimeError) throw error;
    throw new WebAssembly.RuntimeError('hookgate: an exception unwound the wasm module', { cause: error });
  } finally {
    writes = outer;
  }
}
