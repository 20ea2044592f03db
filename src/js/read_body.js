// Reading request bodies, where the stream is. The byte limit and the
// deadline are decided in Rust (gate.rs) and only enforced here.
//
// Bodies are read from a clone of the request, never from the request
// itself. A body read part of the way and then cancelled breaks the
// connection it came on: in workerd the client's kept-alive connection is
// reset under its next request, and `wrangler dev` (4.86, whose dev proxy
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
// Content-Length is never trusted, so a request that declares 10 bytes and
// streams 100 MB chunked is cut off at `limit`. Resolves to the body, or to
// "too-large", "timeout" or "unreadable".
export async function readBody(request, limit, deadlineMs) {
  if (request.body === null) return new Uint8Array(0);
  const reader = request.clone().body.getReader();
  const chunks = [];
  let size = 0;
  let timer;
  const expired = new Promise((resolve) => {
    timer = setTimeout(resolve, Math.max(0, deadlineMs - Date.now()), null);
  });
  try {
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
  } catch {
    return 'unreadable';
  } finally {
    clearTimeout(timer);
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
