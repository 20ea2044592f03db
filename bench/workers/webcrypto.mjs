// Baseline: the same job written by hand on WebCrypto (crypto.subtle, native
// HMAC-SHA256): verify, claim the id in KV, forward, mark done.
const encoder = new TextEncoder();
let cachedKey;

async function hmacKey(secret) {
  if (!cachedKey) {
    const raw = Uint8Array.from(atob(secret.replace(/^whsec_/, '')), (c) => c.charCodeAt(0));
    cachedKey = await crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  }
  return cachedKey;
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i += 1) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** Whether `signature` holds a `v1` tag of `id.timestamp.body` under
 * `secret` (also the I/O floor's verification, bench/workers/io-floor.mjs). */
export async function signatureMatches(secret, id, timestamp, signature, body) {
  const prefix = encoder.encode(`${id}.${timestamp}.`);
  const signed = new Uint8Array(prefix.length + body.length);
  signed.set(prefix);
  signed.set(body, prefix.length);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', await hmacKey(secret), signed));
  const expected = btoa(String.fromCharCode(...mac));
  return signature.split(' ').some((entry) => entry.startsWith('v1,') && equal(entry.slice(3), expected));
}

export default {
  async fetch(request, env) {
    if (request.method !== 'POST') return new Response('method', { status: 405 });
    const id = request.headers.get('webhook-id');
    const timestamp = request.headers.get('webhook-timestamp');
    const signature = request.headers.get('webhook-signature');
    if (!id || !timestamp || !signature) return new Response('missing', { status: 401 });
    if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return new Response('stale', { status: 401 });
    const body = new Uint8Array(await request.arrayBuffer());
    if (!(await signatureMatches(env.WEBHOOK_SECRET, id, timestamp, signature, body))) return new Response('bad signature', { status: 401 });
    const key = `seen:${id}`;
    if ((await env.REPLAY_KV.get(key)) !== null) return new Response('duplicate');
    await env.REPLAY_KV.put(key, 'in-flight', { expirationTtl: 60 });
    const forwarded = await fetch(env.ORIGIN_URL, {
      method: 'POST',
      body,
      headers: {
        'content-type': request.headers.get('content-type') ?? 'application/json',
        'webhook-id': id,
        'webhook-timestamp': timestamp,
        'webhook-signature': signature,
      },
      redirect: 'manual',
    });
    if (forwarded.status < 200 || forwarded.status > 299) {
      await env.REPLAY_KV.delete(key);
      return new Response('origin failed', { status: 502 });
    }
    await env.REPLAY_KV.put(key, 'done', { expirationTtl: 259200 });
    return new Response('ok');
  },
};
