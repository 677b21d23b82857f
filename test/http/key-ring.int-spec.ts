import * as fs from 'node:fs';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import request from 'supertest';
import { AdjustableClock, createRuntime, KEY_FINGERPRINTS, type Runtime } from '@twostep/app';
import { ConfigError, parseEnv } from '@twostep/config';
import { generateKeyRingEntry, totpCodeAt } from '@twostep/crypto';
import { createApiApp } from '../../apps/api/src/create-app';
import { accountUrl, KEYS, tempDirs } from '../support/harness';

/**
 * Keys and data belong together: a start with keys other than those the data was written with
 * is refused (one message naming what to fix, no key material in it), and a secret under a key
 * id the ring no longer has is a 409 for its account, never a 500.
 */
describe('the key ring and the data it wrote', () => {
  const tempDir = tempDirs('twostep-keys-');

  const apiKeys = JSON.stringify([{ key: KEYS.portal, role: 'portal', tenants: ['*'], id: 'portal-1' }]);
  const open = (dataDir: string, env: Record<string, string> = {}, clock = new AdjustableClock()) =>
    createRuntime(parseEnv({ TWOSTEP_DATA_DIR: dataDir, TWOSTEP_API_KEYS: apiKeys, LOG_LEVEL: 'silent', ...env }), { clock, generateMissingKeys: true, needsOpener: true });
  const refusal = async (attempt: Promise<Runtime>): Promise<string> => {
    const error = await attempt.then(
      async (runtime) => {
        await runtime.close();
        return null;
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  };

  /** Enrols alice with TOTP over HTTP; returns her secret. */
  async function enrolAlice(runtime: Runtime, clock: AdjustableClock): Promise<string> {
    const app = await createApiApp(runtime, pino({ level: 'silent' }));
    await app.init();
    const http = () => request(app.getHttpServer());
    const url = accountUrl('store-1', 'alice');
    const setup = await http().post(`${url}/two-factor/totp/setup`).set('Authorization', `Bearer ${KEYS.portal}`).send({}).expect(200);
    const secret = setup.body.secret as string;
    await http().post(`${url}/two-factor/totp/confirm`).set('Authorization', `Bearer ${KEYS.portal}`).send({ code: totpCodeAt(secret, clock.now().getTime()) }).expect(200);
    await app.close();
    return secret;
  }

  it('records fingerprints of the keys with the data, never the keys', async () => {
    const dir = tempDir();
    const runtime = await open(dir);
    const stored = await runtime.kv.get(KEY_FINGERPRINTS);
    const keyFile = fs.readFileSync(path.join(dir, 'keys.json'), 'utf8');
    await runtime.close();
    expect(JSON.parse(stored!)).toEqual({ secretKeys: { k1: expect.stringMatching(/^[0-9a-f]{16}$/) }, hashKey: expect.stringMatching(/^[0-9a-f]{16}$/), mailPublicKey: expect.stringMatching(/^[0-9a-f]{16}$/) });
    const { secretKeys, hashKey } = JSON.parse(keyFile) as { secretKeys: string; hashKey: string };
    expect(stored).not.toContain(secretKeys.split(':')[1]);
    expect(stored).not.toContain(hashKey);
  });

  it('refuses a copied database without its keys.json, naming the file and the keys; with keys.json back it starts', async () => {
    const original = tempDir();
    const clock = new AdjustableClock();
    const first = await open(original, {}, clock);
    await enrolAlice(first, clock);
    await first.close();

    const copy = tempDir();
    fs.copyFileSync(path.join(original, 'twostep.db'), path.join(copy, 'twostep.db'));
    const message = await refusal(open(copy));
    expect(message).toContain('TWOSTEP_SECRET_KEYS: key "k1" is not the key "k1" this data was written with');
    expect(message).toContain('TWOSTEP_HASH_KEY');
    expect(message).toContain(path.join(copy, 'keys.json'));
    expect(message).not.toMatch(/[A-Za-z0-9+/]{40,}/); // no key material in the message
    // The refused start wrote nothing: no keys.json that could later be mistaken for the right one.
    expect(fs.existsSync(path.join(copy, 'keys.json'))).toBe(false);
    expect(await refusal(open(copy))).toContain('TWOSTEP_HASH_KEY');

    fs.copyFileSync(path.join(original, 'keys.json'), path.join(copy, 'keys.json'));
    const restored = await open(copy);
    expect(await restored.eventStore.headPosition()).toBeGreaterThan(0);
    await restored.close();
  });

  it('refuses a log written before fingerprints existed when its keys were generated on this start', async () => {
    const original = tempDir();
    const clock = new AdjustableClock();
    const first = await open(original, {}, clock);
    await enrolAlice(first, clock);
    await first.kv.delete(KEY_FINGERPRINTS); // as a data dir from before this check
    await first.close();
    fs.rmSync(path.join(original, 'keys.json'));
    expect(await refusal(open(original))).toMatch(/the event log already holds \d+ events, but keys were generated on this start/);
  });

  it('another key under a known key id is refused; a new key id is recorded; a retired one is allowed', async () => {
    const dir = tempDir();
    const k1 = generateKeyRingEntry('k1');
    const hash = Buffer.alloc(32, 7).toString('base64');
    await (await open(dir, { TWOSTEP_SECRET_KEYS: k1, TWOSTEP_HASH_KEY: hash })).close();
    expect(await refusal(open(dir, { TWOSTEP_SECRET_KEYS: generateKeyRingEntry('k1'), TWOSTEP_HASH_KEY: hash }))).toContain('key "k1" is not the key "k1"');
    expect(await refusal(open(dir, { TWOSTEP_SECRET_KEYS: k1, TWOSTEP_HASH_KEY: Buffer.alloc(32, 8).toString('base64') }))).toContain('TWOSTEP_HASH_KEY: not the hash key');

    const k2 = generateKeyRingEntry('k2');
    const rotated = await open(dir, { TWOSTEP_SECRET_KEYS: `${k2},${k1}`, TWOSTEP_HASH_KEY: hash });
    expect(Object.keys((JSON.parse((await rotated.kv.get(KEY_FINGERPRINTS))!) as { secretKeys: object }).secretKeys).sort()).toEqual(['k1', 'k2']);
    await rotated.close();
    const retired = await open(dir, { TWOSTEP_SECRET_KEYS: k2, TWOSTEP_HASH_KEY: hash });
    await retired.close();
    expect(await refusal(open(dir, { TWOSTEP_SECRET_KEYS: generateKeyRingEntry('k2'), TWOSTEP_HASH_KEY: hash }))).toContain('key "k2"');
  });

  it('a secret under a key id the ring no longer has is a 409 secret_key_missing for its account, and an error line naming the key id', async () => {
    const dir = tempDir();
    const hash = Buffer.alloc(32, 3).toString('base64');
    const clock = new AdjustableClock();
    const first = await open(dir, { TWOSTEP_SECRET_KEYS: generateKeyRingEntry('k1'), TWOSTEP_HASH_KEY: hash }, clock);
    const secret = await enrolAlice(first, clock);
    await first.close();

    const lines: string[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(chunk.toString()), done()) }));
    const runtime = await open(dir, { TWOSTEP_SECRET_KEYS: generateKeyRingEntry('k2'), TWOSTEP_HASH_KEY: hash }, clock);
    const app = await createApiApp(runtime, logger);
    await app.init();
    const url = accountUrl('store-1', 'alice');
    const challenge = await request(app.getHttpServer()).post(`${url}/challenges`).set('Authorization', `Bearer ${KEYS.portal}`).send({}).expect(200);
    clock.advance(30_000);
    const verify = await request(app.getHttpServer())
      .post(`${url}/challenges/${challenge.body.challengeId as string}/verify`)
      .set('Authorization', `Bearer ${KEYS.portal}`)
      .send({ code: totpCodeAt(secret, clock.now().getTime()) });
    expect(verify.status).toBe(409);
    expect(verify.body).toEqual({ error: 'secret_key_missing', message: expect.stringContaining('Set up two-factor authentication again') });
    expect(JSON.stringify(verify.body)).not.toContain(secret);
    const logged = lines.map((line) => JSON.parse(line) as { level: number; kid?: string; msg: string }).find((line) => line.kid !== undefined);
    expect(logged).toMatchObject({ level: 50, kid: 'k1' });
    await app.close();
    await runtime.close();
  });
});
