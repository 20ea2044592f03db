// Baseline: the Worker most teams would write, with the standardwebhooks npm
// library (pure-JS SHA-256). Same job as hookgate: verify, claim the id in KV,
// forward, mark done. Bundled by bench/run.mjs with esbuild.
import { Webhook } from 'standardwebhooks';

export default {
  async fetch(request, env) {
    if (request.method !== 'POST') return new Response('method', { status: 405 });
    const body = await request.arrayBuffer();
    const headers = {
      'webhook-id': request.headers.get('webhook-id') ?? '',
      'webhook-timestamp': request.headers.get('webhook-timestamp') ?? '',
      'webhook-signature': request.headers.get('webhook-signature') ?? '',
    };
    try {
      // The library signs a string, so the body is decoded first.
      new Webhook(env.WEBHOOK_SECRET).verify(new TextDecoder().decode(body), headers);
    } catch {
      return new Response('bad signature', { status: 401 });
    }
    const key = `seen:${headers['webhook-id']}`;
    if ((await env.REPLAY_KV.get(key)) !== null) return new Response('duplicate');
    await env.REPLAY_KV.put(key, 'in-flight', { expirationTtl: 60 });
    const forwarded = await fetch(env.ORIGIN_URL, {
      method: 'POST',
      body,
      headers: { 'content-type': request.headers.get('content-type') ?? 'application/json', ...headers },
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
