// The floor: a Worker that forwards the body to the origin without verifying
// anything or touching KV. What any Worker in front of an origin costs.
export default {
  async fetch(request, env) {
    const forwarded = await fetch(env.ORIGIN_URL, {
      method: 'POST',
      body: await request.arrayBuffer(),
      headers: { 'content-type': request.headers.get('content-type') ?? 'application/json' },
      redirect: 'manual',
    });
    return new Response(forwarded.ok ? 'ok' : 'origin failed', { status: forwarded.ok ? 200 : 502 });
  },
};
