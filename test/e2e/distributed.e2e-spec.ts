import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { generateKeyRingEntry, generateSealKeyPair } from '@twostep/crypto';
import { parseStream } from '@twostep/domain';
import { connectRedis } from '@twostep/readmodel';
import { codeFrom, sentTo, startSmtpServer, type TestSmtpServer } from '../support/smtp';
import { AppProcess, ENTRY, ROOT, assertBuilt, eventually, freePort, infraEnv, sleep, type Exit } from './processes';

/**
 * The distributed mode end to end: api (TWOSTEP_MODE=api), projector and mailer as three OS
 * processes (`node dist/...`), sharing one event store (the SQLite file in a temp data dir, or
 * EventStoreDB when ESDB_URL is set), the local Kafka broker, Redis, and a real SMTP server
 * started here. Then faults: SIGKILL the mailer, SIGKILL the projector, stop the broker, each in
 * the middle of a burst of codes, and check that every code email arrives exactly once.
 *
 * Needs `npm run build` (dist/) and `bash scripts/infra.sh up` (Kafka, Redis); `npm test` does both.
 */

jest.setTimeout(180_000);
const exec = promisify(execFile);

const RUN = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const TENANT = 'store-1';
const KEYS = {
  portal: `e2e-portal-${randomBytes(16).toString('hex')}`,
  admin: `e2e-admin-${randomBytes(16).toString('hex')}`,
  auditor: `e2e-auditor-${randomBytes(16).toString('hex')}`,
  operator: `e2e-operator-${randomBytes(16).toString('hex')}`,
};
const infra = infraEnv();
const REDIS_PREFIX = `twostep-e2e:${RUN}:`;
const TOPIC = `twostep.e2e.${RUN}.events`;
const DLQ_TOPIC = `twostep.e2e.${RUN}.dead-letter`;

/** Real timings, printed at the end (docs/distributed.md quotes them). */
const timings: Record<string, number | string> = {};

let dataDir: string;
let smtp: TestSmtpServer;
let redis: Redis | null = null;
let baseUrl: string;
let api: AppProcess;
let projector: AppProcess;
let mailer: AppProcess;
let kafkaStopped = false;
let failed = false;
const allUsers: string[] = [];

/** `it` that remembers a failure, so afterAll keeps the process logs for reading. */
function step(name: string, body: () => Promise<void>): void {
  it(name, async () => {
    try {
      await body();
    } catch (error) {
      failed = true;
      throw error;
    }
  });
}

// ------------------------------------------------------------------ helpers

async function http(method: string, url: string, key: string, body?: object): Promise<{ status: number; body: any }> {
  const response = await fetch(`${baseUrl}${url}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // keep the text
  }
  return { status: response.status, body: parsed };
}

const account = (user: string) => `/v1/tenants/${TENANT}/accounts/${user}`;
const emailOf = (user: string) => `${user}@shop.example`;

/** Starts an email challenge for a new user; the api only appends (no Kafka, no SMTP on this path). */
async function startChallenge(user: string): Promise<string> {
  const response = await http('POST', `${account(user)}/challenges`, KEYS.portal, { email: emailOf(user) });
  if (response.status !== 200 || response.body?.required !== true || response.body?.method !== 'email') {
    throw new Error(`start challenge for ${user}: ${response.status} ${JSON.stringify(response.body)}`);
  }
  allUsers.push(user);
  return response.body.challengeId as string;
}

/** Issues one code per user, `concurrency` at a time; `onIssued(n)` after each. */
async function issueCodes(users: string[], concurrency: number, onIssued?: (issued: number) => Promise<void> | void): Promise<void> {
  let next = 0;
  let issued = 0;
  const worker = async () => {
    while (next < users.length) {
      const user = users[next++]!;
      await startChallenge(user);
      issued++;
      await onIssued?.(issued);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** CodeIssued event ids of `users`, from the auditor's view of the event store (works for SQLite and ESDB). */
async function codeIssuedIds(users: string[]): Promise<string[]> {
  const wanted = new Set(users);
  const ids: string[] = [];
  let after = 0;
  for (;;) {
    const page = await http('GET', `/v1/events?after=${after}&limit=1000`, KEYS.auditor);
    expect(page.status).toBe(200);
    for (const event of page.body.events as { type: string; stream: string; eventId: string; position: number }[]) {
      const stream = parseStream(event.stream);
      if (event.type === 'CodeIssued' && stream.kind === 'account' && stream.tenantId === TENANT && wanted.has(stream.userId)) ids.push(event.eventId);
    }
    if (page.body.next === null) return ids;
    after = page.body.next;
  }
}

function mailCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const mail of smtp.messages) if (mail.eventId) counts.set(mail.eventId, (counts.get(mail.eventId) ?? 0) + 1);
  return counts;
}

const mailsFor = (users: string[]) => {
  const addresses = new Set(users.map((user) => emailOf(user).toLowerCase()));
  return smtp.messages.filter((mail) => mail.envelopeTo.some((to) => addresses.has(to))).length;
};

/**
 * Nothing lost, nothing twice: every CodeIssued event of `users` has exactly one email (matched by
 * X-Twostep-Event-Id), and no email carries an id that is not such an event. Returns ms until the last arrived.
 *
 * `repeatsAllowed` is for a mailer SIGKILLed under load: a message the SMTP server accepted
 * while the mailer died before storing its delivered-mark is sent again (the documented window).
 * Such a copy must carry the same Message-ID as the first, and there may be at most that many.
 */
async function expectEachCodeMailedOnce(users: string[], since: number, timeoutMs = 150_000, repeatsAllowed = 0): Promise<number> {
  const ids = await codeIssuedIds(users);
  expect(ids).toHaveLength(users.length);
  await eventually(
    `an email for each of ${ids.length} CodeIssued events`,
    async () => {
      const counts = mailCounts();
      return ids.every((id) => (counts.get(id) ?? 0) >= 1) ? true : undefined;
    },
    timeoutMs,
  ).catch((error: Error) => {
    const counts = mailCounts();
    const missing = ids.filter((id) => !counts.has(id));
    throw new Error(`${error.message}; ${missing.length} missing\n--- mailer ---\n${mailer.tail()}\n--- projector ---\n${projector.tail()}`);
  });
  const lastArrival = Date.now() - since;
  // A redelivery would come right after: give it time to show up before counting.
  await sleep(3000);
  const counts = mailCounts();
  const twice = [...counts].filter(([, count]) => count > 1);
  if (repeatsAllowed === 0) {
    expect(twice).toEqual([]);
    for (const id of ids) expect(counts.get(id)).toBe(1);
  } else {
    expect(twice.length).toBeLessThanOrEqual(repeatsAllowed);
    for (const [id, count] of twice) {
      expect(count).toBe(2);
      const messageIds = new Set(smtp.messages.filter((mail) => mail.eventId === id).map((mail) => mail.parsed.messageId));
      expect(messageIds.size).toBe(1); // the same Message-ID: mail systems fold the copy
    }
    timings[`repeatedEmails_${users[0]}`] = twice.length;
  }
  // Every email in this run belongs to a CodeIssued event of the run.
  const known = new Set(await codeIssuedIds(allUsers));
  expect([...counts.keys()].filter((id) => !known.has(id))).toEqual([]);
  return lastArrival;
}

/**
 * Issues one code per user at a steady `rate` per second (open loop: each request starts on
 * schedule, whether or not earlier ones answered). `onIssued(n)` after each answer.
 */
async function issueAtRate(users: string[], rate: number, onIssued?: (issued: number) => void): Promise<number> {
  const started = Date.now();
  let issued = 0;
  await Promise.all(
    users.map(async (user, index) => {
      await sleep(started + (index * 1000) / rate - Date.now());
      await startChallenge(user);
      onIssued?.(++issued);
    }),
  );
  return (users.length * 1000) / (Date.now() - started);
}

function baseEnv(): NodeJS.ProcessEnv {
  const keep = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ', 'SYSTEMROOT'];
  const env: NodeJS.ProcessEnv = {};
  for (const name of keep) if (process.env[name]) env[name] = process.env[name];
  return {
    ...env,
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    TWOSTEP_DATA_DIR: dataDir,
    KAFKA_BROKERS: infra.KAFKA_BROKERS,
    KAFKA_TOPIC: TOPIC,
    KAFKA_DLQ_TOPIC: DLQ_TOPIC,
    REDIS_URL: infra.REDIS_URL,
    REDIS_KEY_PREFIX: REDIS_PREFIX,
    ...(infra.ESDB_URL ? { ESDB_URL: infra.ESDB_URL } : {}),
  };
}

async function infraScript(command: 'kafka-stop' | 'kafka-start'): Promise<void> {
  await exec('bash', [path.join(ROOT, 'scripts/infra.sh'), command], { cwd: ROOT, timeout: 150_000 });
}

/** Every view and event log under this run's Redis prefix, for the rebuild comparison. */
async function snapshotRedisViews(): Promise<Record<string, unknown>> {
  const snapshot: Record<string, unknown> = {};
  let cursor = '0';
  do {
    const [nextCursor, keys] = await redis!.scan(cursor, 'MATCH', `${REDIS_PREFIX}rm:*`, 'COUNT', 1000);
    cursor = nextCursor;
    for (const key of keys) {
      if (key.endsWith(':checkpoint')) continue; // the checkpoint is where the projector is, not a view
      const type = await redis!.type(key);
      if (type === 'string') snapshot[key] = await redis!.get(key);
      else if (type === 'zset') snapshot[key] = await redis!.zrange(key, 0, -1, 'WITHSCORES');
      else if (type === 'set') snapshot[key] = (await redis!.smembers(key)).sort();
    }
  } while (cursor !== '0');
  return Object.fromEntries(Object.entries(snapshot).sort(([a], [b]) => a.localeCompare(b)));
}

async function deleteRunKeys(): Promise<number> {
  let deleted = 0;
  let cursor = '0';
  do {
    const [nextCursor, keys] = await redis!.scan(cursor, 'MATCH', `${REDIS_PREFIX}*`, 'COUNT', 1000);
    cursor = nextCursor;
    if (keys.length > 0) deleted += await redis!.del(...keys);
  } while (cursor !== '0');
  return deleted;
}

const expectCleanExit = (exit: Exit, name: string) => expect({ name, ...exit }).toEqual({ name, code: 0, signal: null });

// ------------------------------------------------------------------ set-up

beforeAll(async () => {
  assertBuilt();
  if (!infra.KAFKA_BROKERS || !infra.REDIS_URL) {
    throw new Error('KAFKA_BROKERS and REDIS_URL are needed (run `bash scripts/infra.sh up`, which writes .infra/env)');
  }
  redis = await connectRedis(infra.REDIS_URL);
  const kafka = new Kafka({ clientId: 'twostep-e2e-probe', brokers: infra.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING, retry: { retries: 2 } });
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.listTopics();
  } catch (error) {
    throw new Error(`Kafka at ${infra.KAFKA_BROKERS} is not reachable (bash scripts/infra.sh up): ${(error as Error).message}`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }

  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twostep-e2e-'));
  smtp = await startSmtpServer();
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  const seal = generateSealKeyPair();
  const apiKeys = [
    { key: KEYS.portal, role: 'portal', tenants: [TENANT], id: 'e2e-portal' },
    { key: KEYS.admin, role: 'admin', tenants: ['*'], id: 'e2e-admin' },
    { key: KEYS.auditor, role: 'auditor', tenants: ['*'], id: 'e2e-auditor' },
    { key: KEYS.operator, role: 'operator', tenants: [TENANT], id: 'e2e-operator' },
  ];
  const log = (name: string) => path.join(dataDir, `${name}.log`);

  // Each process gets only the key material it needs: the api can seal but not open, the
  // projector gets none at all, the mailer only the mail key pair.
  api = new AppProcess('api', ENTRY.api, {
    ...baseEnv(),
    TWOSTEP_MODE: 'api',
    PORT: String(port),
    HOST: '127.0.0.1',
    TWOSTEP_API_KEYS: JSON.stringify(apiKeys),
    TWOSTEP_SECRET_KEYS: generateKeyRingEntry('k1'),
    TWOSTEP_HASH_KEY: randomBytes(32).toString('base64'),
    TWOSTEP_MAIL_PUBLIC_KEY: seal.publicKey,
  }, log('api'));
  // HEALTH_PORT=0: the workers' health servers take a free port and log it in their "running" line.
  projector = new AppProcess('projector', ENTRY.projector, { ...baseEnv(), HEALTH_PORT: '0' }, log('projector'));
  mailer = new AppProcess('mailer', ENTRY.mailer, {
    ...baseEnv(),
    SMTP_URL: smtp.url,
    TWOSTEP_MAIL_PUBLIC_KEY: seal.publicKey,
    TWOSTEP_MAIL_PRIVATE_KEY: seal.privateKey,
    KAFKA_MAILER_GROUP_ID: `twostep-mailer-e2e-${RUN}`,
    HEALTH_PORT: '0',
    MAIL_MAX_ATTEMPTS: '5',
  }, log('mailer'));

  const started = Date.now();
  api.start();
  projector.start();
  mailer.start();
  await Promise.all([
    api.waitForLine(/twostep listening on/, 60_000),
    projector.waitForLine(/"msg":"projector running"/, 60_000),
    mailer.waitForLine(/"msg":"mailer running"/, 60_000),
  ]);
  timings.startAllProcessesMs = Date.now() - started;
  process.stdout.write(`[e2e] run ${RUN}: data dir ${dataDir} (process logs there), topic ${TOPIC}, redis prefix ${REDIS_PREFIX}\n`);
});

afterAll(async () => {
  if (kafkaStopped) await infraScript('kafka-start').catch(() => undefined);
  await Promise.all([api, projector, mailer].filter(Boolean).map((p) => p.ensureStopped()));
  await smtp?.close();
  if (redis) {
    timings.redisKeysDeleted = await deleteRunKeys().catch(() => -1);
    await redis.quit().catch(() => undefined);
  }
  if (infra.KAFKA_BROKERS) {
    const admin = new Kafka({ clientId: 'twostep-e2e-cleanup', brokers: infra.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING }).admin();
    await admin
      .connect()
      .then(() => admin.deleteTopics({ topics: [TOPIC, DLQ_TOPIC], timeout: 10_000 }))
      .catch(() => undefined)
      .finally(() => admin.disconnect().catch(() => undefined));
  }
  process.stdout.write(`[e2e] timings ${JSON.stringify(timings, null, 2)}\n`);
  if (failed || process.env.TWOSTEP_E2E_KEEP) process.stdout.write(`[e2e] process logs kept in ${dataDir}\n`);
  else if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

// ------------------------------------------------------------------ tests

describe('distributed mode: api, projector and mailer as separate processes', () => {
  step('runs an email-code login end to end: policy, challenge, email over SMTP, verify, status view from Redis', async () => {
    const ready = await http('GET', '/health/ready', KEYS.auditor);
    expect(ready.status).toBe(200);
    expect(JSON.stringify(ready.body)).toContain('redis');
    for (const [worker, line] of [[projector, 'projector running'], [mailer, 'mailer running']] as const) {
      const port = worker.records().find((record) => record.msg === line)?.healthPort;
      expect(typeof port).toBe('number');
      const health = await fetch(`http://127.0.0.1:${port}/health/ready`);
      expect({ worker: worker.name, status: health.status }).toEqual({ worker: worker.name, status: 200 });
      expect(await health.json()).toEqual(expect.objectContaining({ ok: true }));
    }

    const policy = await http('PUT', `/v1/tenants/${TENANT}/policy`, KEYS.admin, { emailOtpRequired: true });
    expect(policy.status).toBe(200);
    expect(policy.body.emailOtpRequired).toBe(true);

    const user = `alice-${RUN}`;
    const t0 = Date.now();
    const challengeId = await startChallenge(user);
    const mail = await smtp.waitForMail(sentTo(emailOf(user)), 60_000);
    timings.challengeToEmailMs = Date.now() - t0;
    expect(mail.eventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await codeIssuedIds([user])).toEqual([mail.eventId]);

    const verify = await http('POST', `${account(user)}/challenges/${challengeId}/verify`, KEYS.portal, { code: codeFrom(mail) });
    expect(verify.status).toBe(200);
    expect(verify.body.verified).toBe(true);

    // The api serves views from Redis, built by the projector process.
    const status = await eventually('the status view with lastCodeSent', async () => {
      const response = await http('GET', `${account(user)}/two-factor`, KEYS.portal);
      return response.status === 200 && response.body.lastCodeSent ? response.body : undefined;
    });
    expect(status.lastCodeSent.to).not.toContain(emailOf(user)); // masked
    expect(status.lastCodeSent.to).toMatch(/\*/);
    const log = await http('GET', `${account(user)}/event-log`, KEYS.operator);
    expect(log.status).toBe(200);
    expect(log.body.entries.map((entry: { type: string }) => entry.type)).toEqual(expect.arrayContaining(['ChallengeStarted', 'CodeIssued', 'ChallengePassed']));
    expect(mailCounts().get(mail.eventId!)).toBe(1);

    // The mailer's metrics: the mail counted as sent, its partition's lag, and a queue that has drained.
    const mailerPort = mailer.records().find((record) => record.msg === 'mailer running')?.healthPort;
    const metrics = await eventually('the mailer metrics after the commit', async () => {
      const text = await (await fetch(`http://127.0.0.1:${mailerPort}/metrics`)).text();
      return /^twostep_kafka_consumer_lag\{/m.test(text) ? text : undefined;
    });
    expect(metrics).toMatch(/^twostep_mail_emails_total\{[^}]*outcome="sent"[^}]*\} [1-9]/m);
    expect(metrics).toMatch(/^twostep_mail_queued_messages 0$/m);
  });

  step('mailer SIGKILLed in the middle of a burst of 30 codes: after a restart every code email arrives exactly once', async () => {
    const users = Array.from({ length: 30 }, (_, i) => `a${i}-${RUN}`);
    const t0 = Date.now();
    let killedAt = 0;
    let killing: Promise<void> | null = null;
    await issueCodes(users, 2, async (issued) => {
      await sleep(100); // a steady stream, so the kill lands while codes are still being issued and mailed
      // Kill once some of this burst's emails are out and more are still coming.
      if (!killing && mailsFor(users) >= 5) {
        timings.mailerKill_codesIssuedAtKill = issued;
        killing = (async () => {
          killedAt = Date.now();
          const exit = await mailer.kill('SIGKILL');
          expect(exit.signal).toBe('SIGKILL');
        })();
      }
    });
    if (!killing) {
      // The burst was issued before 5 emails went out: kill now, still mid-delivery.
      await eventually('first emails of the burst', async () => (mailsFor(users) >= 1 ? true : undefined), 60_000, 10);
      killedAt = Date.now();
      await mailer.kill('SIGKILL');
    } else await killing;
    timings.mailerKill_mailsBeforeKill = mailsFor(users);
    await sleep(500);
    const restarted = Date.now();
    mailer.start();
    // The new member joins once the group gives up on the killed one (its session timeout).
    await mailer.waitForLine(/"msg":"mailer running"/, 150_000);
    timings.mailerKill_restartToRunningMs = Date.now() - restarted;
    const last = await expectEachCodeMailedOnce(users, t0);
    timings.mailerKill_burstToLastEmailMs = last;
    timings.mailerKill_restartToLastEmailMs = t0 + last - restarted;
    timings.mailerKill_killToRestartMs = restarted - killedAt;
  });

  step('projector SIGKILLed in the middle of a burst of 30 codes: views complete, every code email exactly once', async () => {
    const users = Array.from({ length: 30 }, (_, i) => `p${i}-${RUN}`);
    const t0 = Date.now();
    let killing: Promise<void> | null = null;
    await issueCodes(users, 2, async (issued) => {
      await sleep(100);
      if (!killing && mailsFor(users) >= 5) {
        timings.projectorKill_codesIssuedAtKill = issued;
        killing = (async () => {
          const exit = await projector.kill('SIGKILL');
          expect(exit.signal).toBe('SIGKILL');
        })();
      }
    });
    if (!killing) await projector.kill('SIGKILL');
    else await killing;
    timings.projectorKill_mailsBeforeKill = mailsFor(users);
    const restarted = Date.now();
    projector.start();
    // The killed projector's lease has to expire first (at most its TTL, 10 s).
    await projector.waitForLine(/"msg":"projector running"/, 60_000);
    timings.projectorKill_restartToRunningMs = Date.now() - restarted;

    const last = await expectEachCodeMailedOnce(users, t0);
    timings.projectorKill_burstToLastEmailMs = last;

    // Every view is complete: the status shows the code and the log holds every event of the stream.
    for (const user of users) {
      const status = await http('GET', `${account(user)}/two-factor`, KEYS.portal);
      expect(status.status).toBe(200);
      expect(status.body.lastCodeSent).toEqual(expect.objectContaining({ to: expect.stringContaining('*') }));
      const events = await http('GET', `${account(user)}/events`, KEYS.auditor);
      const log = await http('GET', `${account(user)}/event-log`, KEYS.operator);
      expect(log.body.entries.map((entry: { eventId: string }) => entry.eventId)).toEqual(events.body.events.map((event: { eventId: string }) => event.eventId));
    }
    timings.projectorKill_viewsCompleteMs = Date.now() - t0;
  });

  step('Kafka stopped for 10 s in the middle of a burst: the same mailer and projector processes carry on, and every email arrives exactly once', async () => {
    const users = Array.from({ length: 40 }, (_, i) => `k${i}-${RUN}`);
    const pids = { mailer: mailer.pid, projector: projector.pid, mailerStarts: mailer.starts };
    const t0 = Date.now();
    let stopping: Promise<void> | null = null;
    let stoppedAt = 0;
    await issueCodes(users, 1, async (issued) => {
      if (issued === 10 && !stopping) {
        kafkaStopped = true;
        stopping = infraScript('kafka-stop').then(() => void (stoppedAt = Date.now()));
      }
      if (issued === 20) await stopping; // the rest is issued while the broker is certainly down
      await sleep(50);
    });
    await stopping;
    timings.kafkaStop_brokerStopMs = stoppedAt - t0;
    timings.kafkaStop_mailsBeforeBrokerBack = mailsFor(users);
    // Down for 10 s in all: long enough for the mailer's session (6 s) to expire on the broker.
    await sleep(Math.max(0, stoppedAt + 10_000 - Date.now()));
    const startAt = Date.now();
    await infraScript('kafka-start');
    kafkaStopped = false;
    timings.kafkaStart_brokerStartMs = Date.now() - startAt;
    const last = await expectEachCodeMailedOnce(users, startAt);
    timings.kafkaStop_brokerBackToLastEmailMs = last;
    // Not restarted by anyone: the very same processes rejoined and carried on.
    expect({ mailer: mailer.pid, projector: projector.pid, mailerStarts: mailer.starts, running: [mailer.running, projector.running] }).toEqual({
      ...pids,
      running: [true, true],
    });
  });

  step('mailer SIGKILLed during a burst offered at 200 codes/s: after a restart no code is lost', async () => {
    const users = Array.from({ length: 600 }, (_, i) => `b${i}-${RUN}`);
    const t0 = Date.now();
    let killing: Promise<unknown> | null = null;
    const achieved = await issueAtRate(users, 200, () => {
      if (!killing && mailsFor(users) >= 100) killing = mailer.kill('SIGKILL');
    });
    timings.burst200_achievedCodesPerSecond = Math.round(achieved);
    if (!killing) killing = mailer.kill('SIGKILL');
    expect(((await killing) as Exit).signal).toBe('SIGKILL');
    timings.burst200_mailsBeforeKill = mailsFor(users);
    expect(mailsFor(users)).toBeLessThan(users.length); // the kill landed mid-delivery
    const restarted = Date.now();
    mailer.start();
    await mailer.waitForLine(/"msg":"mailer running"/, 60_000);
    // Copies are possible only for mails in flight at the kill: at most MAIL_MAX_IN_FLIGHT (64).
    const last = await expectEachCodeMailedOnce(users, t0, 150_000, 64);
    timings.burst200_burstToLastEmailMs = last;
    timings.burst200_restartToLastEmailMs = t0 + last - restarted;
  });

  step('rebuild: the projector CLI command rebuilds the views from the event store, identical to the live ones', async () => {
    const users = allUsers.slice();
    const viewsBefore = await snapshotRedisViews();
    expect(Object.keys(viewsBefore).length).toBeGreaterThan(users.length);
    const statusBefore = await Promise.all(users.map(async (user) => (await http('GET', `${account(user)}/two-factor`, KEYS.portal)).body));

    // The rebuild takes the projector's lease, so the projector stops first (and must stop cleanly).
    expectCleanExit(await projector.kill('SIGTERM'), 'projector');
    const rebuild = new AppProcess('rebuild', ENTRY.projector, projector.env, path.join(dataDir, 'rebuild.log'), ['rebuild']);
    const t0 = Date.now();
    rebuild.start();
    expectCleanExit(await rebuild.exited(120_000), 'rebuild');
    timings.rebuildMs = Date.now() - t0;
    const done = rebuild.records().find((record) => record.msg === 'read models rebuilt');
    expect(done).toBeDefined();
    timings.rebuildEventsApplied = done!.applied as number;

    expect(await snapshotRedisViews()).toEqual(viewsBefore);
    const statusAfter = await Promise.all(users.map(async (user) => (await http('GET', `${account(user)}/two-factor`, KEYS.portal)).body));
    expect(statusAfter).toEqual(statusBefore);

    projector.start();
    await projector.waitForLine(/"msg":"projector running"/, 60_000);
  });

  step('stops on SIGTERM: mailer, projector and api finish in-flight work and exit 0', async () => {
    for (const process of [mailer, projector]) expectCleanExit(await process.kill('SIGTERM'), process.name);
    const apiExit = await api.kill('SIGTERM', 15_000);
    timings.apiSigtermExit = apiExit.code === 0 ? 'exit 0' : `signal ${apiExit.signal}`;
    expectCleanExit(apiExit, 'api');
    expect(mailer.records().some((record) => record.msg === 'mailer stopped')).toBe(true);
    expect(projector.records().some((record) => record.msg === 'projector stopped')).toBe(true);
  });
});
