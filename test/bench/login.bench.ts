/**
 * Login benchmark on the embedded runtime over real HTTP: start a challenge and verify an
 * authenticator code, for an account with a short history and one with a long history.
 * The design's bar: the cost of a login does not grow with the account's history
 * (snapshots keep the load bounded). Run with `npm run bench`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { AdjustableClock, createRuntime } from '@twostep/app';
import { parseEnv } from '@twostep/config';
import { totpCodeAt } from '@twostep/crypto';
import { createApiApp } from '../../apps/api/src/create-app';
import { EmbeddedWorkers } from '../../apps/api/src/embedded';

const KEY = 'bench-portal-key-000000000000000000';
const LOGINS = Number(process.env.BENCH_LOGINS ?? 300);
const LONG_HISTORY_LOGINS = Number(process.env.BENCH_HISTORY ?? 1500);

async function main(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twostep-bench-'));
  const clock = new AdjustableClock();
  clock.set(new Date(Math.floor(Date.now() / 30_000) * 30_000 + 1_000));
  const env = parseEnv({ TWOSTEP_DATA_DIR: dataDir, LOG_LEVEL: 'silent', PORT: '0', TWOSTEP_API_KEYS: JSON.stringify([{ key: KEY, role: 'portal', tenants: ['*'] }]) });
  const runtime = await createRuntime(env, { clock, generateMissingKeys: true, needsOpener: true });
  const logger = pino({ level: 'silent' });
  const workers = new EmbeddedWorkers(runtime, logger);
  await workers.start();
  const app = await createApiApp(runtime, logger);
  await app.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}/v1/tenants/bench/accounts`;
  const post = async (url: string, body: object) => {
    const response = await fetch(url, { method: 'POST', headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const json = (await response.json()) as Record<string, unknown>;
    if (!response.ok) throw new Error(`${url} → ${response.status} ${JSON.stringify(json)}`);
    return json;
  };

  const enrol = async (user: string) => {
    const setup = await post(`${base}/${user}/two-factor/totp/setup`, {});
    const secret = setup.secret as string;
    await post(`${base}/${user}/two-factor/totp/confirm`, { code: totpCodeAt(secret, clock.now().getTime()) });
    return secret;
  };
  /** One login; each uses a fresh 30-second step, so the clock moves on. */
  const login = async (user: string, secret: string) => {
    clock.advance(30_000);
    const challenge = await post(`${base}/${user}/challenges`, {});
    await post(`${base}/${user}/challenges/${challenge.challengeId as string}/verify`, { code: totpCodeAt(secret, clock.now().getTime()) });
  };
  const measure = async (label: string, user: string, secret: string) => {
    const samples: number[] = [];
    const started = process.hrtime.bigint();
    for (let i = 0; i < LOGINS; i++) {
      const t0 = process.hrtime.bigint();
      await login(user, secret);
      samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    samples.sort((a, b) => a - b);
    const pct = (p: number) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]!.toFixed(2);
    console.log(`${label.padEnd(34)} ${(LOGINS / seconds).toFixed(0).padStart(5)} logins/s   p50 ${pct(0.5)} ms   p95 ${pct(0.95)} ms   p99 ${pct(0.99)} ms`);
    return samples[Math.floor(samples.length / 2)]!;
  };

  const shortSecret = await enrol('short-history');
  const longSecret = await enrol('long-history');
  process.stderr.write(`building a history of ${LONG_HISTORY_LOGINS} logins (${LONG_HISTORY_LOGINS * 2} events)…\n`);
  for (let i = 0; i < LONG_HISTORY_LOGINS; i++) await login('long-history', longSecret);

  console.log(`twostep login benchmark (embedded SQLite, HTTP on loopback, ${LOGINS} sequential logins = 2 requests each)`);
  await measure('warm-up', 'short-history', shortSecret);
  const shortMedian = await measure('account with 4 events of history', 'short-history', shortSecret);
  const longMedian = await measure(`account with ${LONG_HISTORY_LOGINS * 2 + 2} events of history`, 'long-history', longSecret);
  console.log(`median ratio long/short history: ${(longMedian / shortMedian).toFixed(2)} (≈1 means the cost does not grow with history)`);

  await app.close();
  await workers.stop();
  await runtime.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
