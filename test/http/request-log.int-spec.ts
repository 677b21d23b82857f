import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import type { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import { AdjustableClock, createRuntime, type Runtime } from '@twostep/app';
import { parseEnv } from '@twostep/config';
import { totpCodeAt } from '@twostep/crypto';
import { createApiApp } from '../../apps/api/src/create-app';
import { createLogger } from '@twostep/app';
import { wrongTotpCode } from '../support/edge-helpers';
import { accountUrl, KEYS } from '../support/harness';

type Line = Record<string, unknown> & { msg: string; level: number };

/** What an operator reads: one JSON line per request, security lines, and request ids that join them. */
describe('request logs and X-Request-Id', () => {
  let dataDir: string;
  let runtime: Runtime;
  let app: NestExpressApplication;
  const clock = new AdjustableClock();
  const lines: Line[] = [];
  const raw: string[] = [];
  const portal = () => `Bearer ${KEYS.portal}`;
  const url = accountUrl('store-1', 'log-alice');

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twostep-log-'));
    clock.set(new Date(Math.floor(Date.now() / 30_000) * 30_000 + 15_000));
    const env = parseEnv({ TWOSTEP_DATA_DIR: dataDir, TWOSTEP_API_KEYS: JSON.stringify([{ key: KEYS.portal, role: 'portal', tenants: ['*'], id: 'portal-1' }]) });
    runtime = await createRuntime(env, { clock, generateMissingKeys: true, needsOpener: true });
    // The production logger (level, redaction), writing into this test.
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const text of chunk.toString().split('\n').filter(Boolean)) {
          raw.push(text);
          lines.push(JSON.parse(text) as Line);
        }
        done();
      },
    });
    app = await createApiApp(runtime, createLogger('info', sink));
    await app.init();
  });
  afterAll(async () => {
    await app.close();
    await runtime.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('echoes a caller\'s X-Request-Id, makes one when there is none (or it is not an id), and logs one line per request with it', async () => {
    const given = await request(app.getHttpServer()).get(`${url}/two-factor`).set('Authorization', portal()).set('X-Request-Id', 'shop-req-42').expect(200);
    expect(given.headers['x-request-id']).toBe('shop-req-42');
    const made = await request(app.getHttpServer()).get(`${url}/two-factor`).set('Authorization', portal()).set('X-Request-Id', 'not an id!').expect(200);
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    await new Promise((resolve) => setImmediate(resolve));
    const line = lines.find((entry) => entry.msg === 'request' && entry.requestId === 'shop-req-42');
    expect(line).toMatchObject({ method: 'GET', route: '/v1/tenants/:tenantId/accounts/:userId/two-factor', status: 200, tenantId: 'store-1', keyId: 'portal-1' });
    expect(typeof line!.durationMs).toBe('number');
    expect(lines.some((entry) => entry.msg === 'request' && entry.requestId === made.headers['x-request-id'])).toBe(true);
  });

  it('logs failed attempts and locks as security lines, and a refusal\'s code on its request line; never a secret, code or key', async () => {
    const setup = await request(app.getHttpServer()).post(`${url}/two-factor/totp/setup`).set('Authorization', portal()).send({}).expect(200);
    const secret = setup.body.secret as string;
    const confirmCode = totpCodeAt(secret, clock.now().getTime());
    const confirmed = await request(app.getHttpServer()).post(`${url}/two-factor/totp/confirm`).set('Authorization', portal()).send({ code: confirmCode }).expect(200);
    clock.advance(30_000);
    const challenge = await request(app.getHttpServer()).post(`${url}/challenges`).set('Authorization', portal()).send({}).expect(200);
    const wrong = wrongTotpCode(secret, clock.now().getTime());
    let status = 422;
    for (let i = 0; i < 10 && status === 422; i++) {
      status = (await request(app.getHttpServer()).post(`${url}/challenges/${challenge.body.challengeId as string}/verify`).set('Authorization', portal()).send({ code: wrong })).status;
    }
    await request(app.getHttpServer()).get(`${url}/two-factor`).set('Authorization', 'Bearer ts_portal_not-a-key-of-ours').expect(401);
    await new Promise((resolve) => setImmediate(resolve));

    expect(lines.find((entry) => entry.msg === 'failed second-step attempt')).toMatchObject({ component: 'security', tenantId: 'store-1', userId: 'log-alice', method: 'totp', reason: 'wrong_code' });
    expect(lines.find((entry) => entry.msg === 'account locked')).toMatchObject({ component: 'security', userId: 'log-alice', lockedUntil: expect.any(String) });
    expect(lines.find((entry) => entry.msg === 'request with an unknown API key')).toMatchObject({ component: 'security' });
    expect(lines.find((entry) => entry.msg === 'request' && entry.status === 422)).toMatchObject({ error: 'invalid_code', route: '/v1/tenants/:tenantId/accounts/:userId/challenges/:challengeId/verify' });

    const everything = raw.join('\n');
    for (const secretThing of [secret, confirmCode, wrong, KEYS.portal, 'ts_portal_not-a-key-of-ours', ...(confirmed.body.recoveryCodes as string[])]) {
      expect(everything).not.toContain(secretThing);
    }
  });
});
