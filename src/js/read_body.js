// After the limit is passed, up to this much more is read and thrown away
// (within this long) before answering 413: a client that sent a little too
// much then reads the answer and keeps its connection, instead of meeting a
// reset while it still writes. Anything larger is cut off.
const DRAIN_BYTES = 1024 * 1024;
const DRAIN_MS = 2000;

// Reads a request body into one Uint8Array, counting what really arrives:
// the byte limit and the deadline are decided in Rust (gate.rs) and only
// enforced here, where the stream is. Content-Length is never trusted, so a
// request that declares 10 bytes and streams 100 MB chunked is cut off at
// `limit`. Resolves to the body, or to "too-large", "timeout" or
// "unreadable".
export async function readBody(request, limit, deadlineMs) {
  const stream = request.body;
  if (stream === null) return new Uint8Array(0);
  const reader = stream.getReader();
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
    await drain(request.body.getReader(), 0, DRAIN_BYTES, Date.now() + DRAIN_MS);
  } catch {
    // a body already locked or gone: nothing to drain
  }
}

/** Reads and drops the rest of a refused body, within bounds; then gives up. */
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
