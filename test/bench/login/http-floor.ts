/** The node:http floor: the same two requests answered by a bare server (read the body, parse it, small JSON out). */
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';

const VERIFY = /^\/v1\/tenants\/[^/]+\/accounts\/[^/]+\/challenges\/[^/]+\/verify$/;
const START = /^\/v1\/tenants\/[^/]+\/accounts\/[^/]+\/challenges$/;

const server = http.createServer((request, response) => {
  let raw = '';
  request.setEncoding('utf8');
  request.on('data', (chunk: string) => (raw += chunk));
  request.on('end', () => {
    const body = raw ? (JSON.parse(raw) as { code?: string }) : {};
    const url = request.url ?? '';
    const answer =
      request.method !== 'POST'
        ? null
        : START.test(url)
          ? { required: true, challengeId: randomUUID(), method: 'totp', expiresAt: new Date(Date.now() + 300_000).toISOString() }
          : VERIFY.test(url)
            ? { verified: typeof body.code === 'string' }
            : null;
    const json = JSON.stringify(answer ?? { error: 'not_found' });
    response.writeHead(answer ? 200 : 404, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(json) });
    response.end(json);
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));
