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
        reader.cancel().catch(() => {});
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
