import * as http from 'node:http';
import { Registry } from 'prom-client';
import { serveHealth } from '@twostep/app';
import { startTestApp, type TestApp } from '../support/harness';

/** TWOSTEP_OPS_KEY puts /metrics and /docs behind a key of their own; health probes stay open. */
const OPS_KEY = 'ops_0123456789abcdefghijklmnop';

describe('the operations key', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ TWOSTEP_OPS_KEY: OPS_KEY });
  });
  afterAll(() => t.close());

  it.each(['/metrics', '/docs', '/docs-json'])('%s answers 401 with WWW-Authenticate without the key, or with an API key', async (url) => {
    const bare = await t.http.get(url).expect(401);
    expect(bare.headers['www-authenticate']).toBe('Bearer realm="twostep-ops"');
    expect(bare.body).toMatchObject({ error: 'unauthorized' });
    expect(bare.text).not.toContain(OPS_KEY);
    await t.as('admin').get(url).expect(401);
    await t.http.get(url).set('Authorization', `Bearer ${OPS_KEY}x`).expect(401);
  });

  it('with the key, /metrics and the OpenAPI document are served', async () => {
    const metrics = await t.http.get('/metrics').set('Authorization', `Bearer ${OPS_KEY}`).expect(200);
    expect(metrics.text).toContain('twostep_http_request_duration_seconds');
    const document = await t.http.get('/docs-json').set('Authorization', `Bearer ${OPS_KEY}`).expect(200);
    expect(document.body.openapi).toMatch(/^3\./);
  });

  it('health probes and the API itself do not need it', async () => {
    await t.http.get('/health/live').expect(200);
    await t.http.get('/health/ready').expect(200);
    await t.as('portal').get('/v1/tenants/store-1/accounts/ops-nobody/two-factor').expect(200);
  });

  it("a worker's HEALTH_PORT serves /metrics only with the key, /health/ready without", async () => {
    const registry = new Registry();
    const server = await serveHealth(0, async () => ({ ok: true }), '127.0.0.1', registry, OPS_KEY);
    const get = (path: string, headers: http.OutgoingHttpHeaders = {}) =>
      new Promise<{ status: number; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: server.port, path, headers }, (response) => {
          response.resume();
          response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers }));
        }).on('error', reject);
      });
    try {
      const refused = await get('/metrics');
      expect(refused.status).toBe(401);
      expect(refused.headers['www-authenticate']).toBe('Bearer realm="twostep-ops"');
      expect((await get('/metrics', { authorization: `Bearer ${OPS_KEY}` })).status).toBe(200);
      expect((await get('/health/ready')).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});
