// The soak's origin, one per mode: a real loopback server that records
// everything it receives (the record the end checks read) and answers as the
// current origin fault says: errors, resets, refused connections, answers
// held past the gate's timeout. An event "arrived" when the origin accepted
// it (answered 2xx); a request it refused (5xx, reset, held past the gate's
// timeout) is recorded but is not an arrival.
import http from 'node:http';
import { Webhook } from 'standardwebhooks';
import { ORIGIN_KEY } from '../../tests/e2e/harness.mjs';
import { ORIGIN_TIMEOUT_MS, sha } from './shared.mjs';

/** An origin "timeout" holds its answer this long: well past the gate's abort. */
const ORIGIN_HOLD_MS = ORIGIN_TIMEOUT_MS + 2000;

export async function startSoakOrigin() {
  const record = [];
  let fault = null;
  const holds = new Set();
  const resigned = new Webhook(ORIGIN_KEY);
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const entry = {
        at: Date.now(),
        path: req.url,
        id: req.headers['webhook-id'],
        hash: sha(body),
        bytes: body.length,
        fault: fault ?? 'none',
        accepted: false,
        verified: false,
      };
      record.push(entry);
      if (!req.url.startsWith('/o/')) {
        // A redirect followed, or a forward to a path no route names.
        res.writeHead(404).end();
        return;
      }
      switch (fault) {
        case null: {
          try {
            resigned.verify(body.toString('utf8'), req.headers);
            entry.verified = true;
          } catch {
            entry.verified = false;
          }
          entry.accepted = true;
          const status = [200, 200, 200, 200, 202, 204][record.length % 6];
          res.writeHead(status, { 'content-type': 'text/plain' });
          res.end(status === 204 ? undefined : 'origin body: must never reach the sender');
          return;
        }
        case 'origin-error': {
          const status = [500, 502, 503, 429, 410, 302][record.length % 6];
          const headers = status === 302 ? { location: `http://127.0.0.1:${server.address()?.port ?? 9}/redirected` } : {};
          res.writeHead(status, headers);
          res.end('origin body: must never reach the sender');
          return;
        }
        case 'origin-timeout': {
          const timer = setTimeout(() => {
            holds.delete(timer);
            if (!res.destroyed) res.writeHead(503).end();
          }, ORIGIN_HOLD_MS);
          holds.add(timer);
          return;
        }
        default:
          // origin-reset, and origin-refuse for a request on a connection
          // opened before the listener closed: the connection dies.
          req.socket.destroy();
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    base: `http://127.0.0.1:${port}`,
    record,
    async setFault(next) {
      if (next === 'origin-refuse') {
        server.close();
        server.closeIdleConnections();
      }
      if (fault === 'origin-refuse' && next !== 'origin-refuse') {
        await new Promise((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, '127.0.0.1', () => {
            server.off('error', reject);
            resolve();
          });
        });
      }
      fault = next;
    },
    close: () =>
      new Promise((resolve) => {
        for (const timer of holds) clearTimeout(timer);
        server.closeAllConnections();
        if (server.listening) server.close(() => resolve());
        else resolve();
      }),
  };
}
