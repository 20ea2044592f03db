// The soak's HTTP client to the gate: one request with fetch, or over a raw
// socket for framing fetch will not send, each returning the same answer
// shape (status, reason, parsed JSON, text, headers, timing) that the judge
// reads. Never throws: a transport failure is an answer with status 0.
import { rawRequest } from '../../tests/e2e/harness.mjs';

/** One request to the gate with fetch: status, reason, timing. Never throws. */
export async function call(base, { method = 'POST', path, headers = {}, body }) {
  const t0 = Date.now();
  try {
    const response = await fetch(new URL(path, base), { method, headers, body, signal: AbortSignal.timeout(60_000) });
    const text = await response.text();
    return answerOf(response.status, Object.fromEntries(response.headers), text, t0);
  } catch (error) {
    return { status: 0, reason: `transport:${error.cause?.code ?? error.name}`, t0, t1: Date.now(), headers: {}, text: '' };
  }
}

function answerOf(status, headers, text, t0) {
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // judged in checks.mjs: every hookgate answer is JSON
  }
  const reason = status >= 200 && status < 300 ? json?.status : json?.reason;
  return { status, reason: reason ?? '(none)', json, text, headers, t0, t1: Date.now() };
}

/**
 * One HTTP/1.1 request over a raw socket (harness rawRequest), for framing
 * fetch will not send (chunked bodies of a chosen shape, a Content-Length
 * that lies, a body that ends early): status, reason, timing, 2 ms between
 * parts. The rest of the body is not sent once an answer came. `halfClose`
 * ends the write side after the parts. Never throws.
 */
export async function rawCall(base, { path, headers, parts, chunked = false, halfClose = false }) {
  const t0 = Date.now();
  try {
    const body = parts.map((data, i) => ({ data, delayMs: i === 0 ? 0 : 2 }));
    const answer = await rawRequest(base, { path, headers: Object.entries(headers), body, chunked, halfClose, timeoutMs: 60_000 });
    return answerOf(answer.status, answer.fields, answer.text, t0);
  } catch (error) {
    return { status: 0, reason: `transport:${error.code ?? 'closed'}`, t0, t1: Date.now(), headers: {}, text: '' };
  }
}
