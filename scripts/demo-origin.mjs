// The demo origin for `npm run dev`: prints every event hookgate forwards and,
// when ORIGIN_SECRET is set in .dev.vars, whether hookgate's re-signature
// verifies with it. Answers 200. Run alone: node scripts/demo-origin.mjs [port]
import http from 'node:http';
import { Webhook } from 'standardwebhooks';
import { readDevVars } from './dev-vars.mjs';

export function startDemoOrigin({ port = 8788, host = '127.0.0.1', originSecret, log = console.log } = {}) {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const id = req.headers['webhook-id'] ?? '(none)';
      let summary = `${body.length} bytes`;
      try {
        const event = JSON.parse(body.toString('utf8'));
        summary = `${event.type ?? 'event'} ${event.id ?? ''} (${body.length} bytes)`;
      } catch {
        // not JSON: the byte count says enough
      }
      let check = 'not re-signed (ORIGIN_SECRET unset)';
      if (originSecret) {
        try {
          new Webhook(originSecret).verify(body.toString('utf8'), req.headers);
          check = "hookgate's signature verifies with ORIGIN_SECRET";
        } catch (error) {
          check = `hookgate's signature does NOT verify with ORIGIN_SECRET: ${error.message}`;
        }
      }
      log(`[demo origin] ${req.method} ${req.url} webhook-id=${id} ${summary}; ${check}`);
      log(`[demo origin] body: ${body.toString('utf8').slice(0, 500)}`);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('received\n');
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.argv[2] ?? 8788);
  await startDemoOrigin({ port, originSecret: readDevVars().ORIGIN_SECRET });
  console.log(`[demo origin] listening on http://127.0.0.1:${port}/`);
}
