/**
 * Code-email latency through the distributed pipeline, against its floor. `npm run bench:mail`.
 *
 * Starts the api (TWOSTEP_MODE=api), the projector and the mailer as three processes sharing one
 * SQLite event store, the `infra:up` Kafka broker and Redis, and an SMTP server in this process.
 * For each offered rate (BENCH_RATES, default 20,100,200,500 codes/s) it first measures a bare
 * kafkajs round trip on the same broker at the same rate for as long (BENCH_FLOOR_SECONDS, default
 * BENCH_SECONDS; produce with acks=-1 → eachMessage), then
 * issues email codes at that steady rate for BENCH_LEAD_SECONDS (1, not measured: the lead-in,
 * for the floor too) and then BENCH_SECONDS (20) over HTTP (open loop: one new
 * account per code, requests started on schedule whether or not earlier ones answered, at most
 * BENCH_MAX_IN_FLIGHT outstanding). Latency of one code = the api answered POST /challenges →
 * the SMTP server has the message. It prints per rate: achieved issue rate, email latency
 * p50/p95/p99/max, undelivered after a 30 s drain, how long the backlog took to drain after the
 * last code was issued, and email p99 ÷ bare Kafka p99.
 *
 * BENCH_ROOT runs the processes of another checkout (for before/after on the same broker).
 * BENCH_TRACE=1 lists each phase's slowest emails by when their code was answered (a stall shows
 * as a run of them); BENCH_KEEP=1 keeps the processes' logs; BENCH_NODE_ARGS adds node flags to
 * the three processes (e.g. --trace-gc).
 * Benchmarks print figures; no test asserts on them.
 */
import { randomBytes } from 'node:crypto';
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { generateKeyRingEntry, generateSealKeyPair } from '@twostep/crypto';
import { AppProcess, freePort, infraEnv, sleep } from '../e2e/processes';
import { cpuSeconds, stats, type Stats } from './support';

const HERE = path.resolve(__dirname, '../../..'); // the checkout (this file runs from dist/test/bench)
const ROOT = process.env.BENCH_ROOT ? path.resolve(process.env.BENCH_ROOT) : HERE;
const ENTRY = {
  api: path.join(ROOT, 'dist/apps/api/src/main.js'),
  projector: path.join(ROOT, 'dist/apps/projector/src/main.js'),
  mailer: path.join(ROOT, 'dist/apps/mailer/src/main.js'),
};
const RATES = (process.env.BENCH_RATES ?? '20,100,200,500').split(',').map(Number);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
// The floor runs as long as a phase, so both p99s come from as many samples (and both windows can catch a broker stall).
const FLOOR_SECONDS = Number(process.env.BENCH_FLOOR_SECONDS ?? SECONDS);
const MAX_IN_FLIGHT = Number(process.env.BENCH_MAX_IN_FLIGHT ?? 256);
// Each phase (and its floor) first runs at its rate for this long unmeasured, so the figures are the
// steady state: after an idle spell (the floor's run) the mailer's SMTP connections may have timed
// out, and each new one waits for the server's greeting. Those codes must still be delivered.
const LEAD_SECONDS = Number(process.env.BENCH_LEAD_SECONDS ?? 1);
const DRAIN_MS = 30_000;
const TENANT = 'bench';
const RUN = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;

const ms = (value: number) => (Number.isNaN(value) ? '   n/a' : value >= 10_000 ? `${(value / 1000).toFixed(1)} s`.padStart(7) : `${value.toFixed(0)} ms`.padStart(7));

/** Monotonic milliseconds, comparable across this host's processes (the receiver's timestamps). */
const now = () => Number(process.hrtime.bigint()) / 1e6;

/** The SMTP receiver (mail/smtp-receiver.js), a child process; `onMail` gets each arrival with the receiver's timestamp. */
async function startReceiver(onMail: (recipient: string, messageId: string | null, at: number) => void): Promise<{ url: string; pid: number; close(): Promise<void> }> {
  const child = fork(path.join(__dirname, 'mail/smtp-receiver.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the SMTP receiver exited (${code})`)));
    child.on('message', (message: { port?: number; rcpt?: string; messageId?: string | null; at?: number }) => {
      if (message.port) resolve(message.port);
      else if (message.rcpt && message.at !== undefined) onMail(message.rcpt, message.messageId ?? null, message.at);
    });
  });
  child.removeAllListeners('exit');
  return {
    url: `smtp://127.0.0.1:${port}`,
    pid: child.pid!,
    close: () => new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.disconnect();
    }),
  };
}

/** Bare kafkajs at `rate` msgs/s for FLOOR_SECONDS: produce (acks -1) → consume, p50/p99 in ms. */
async function kafkaFloor(brokers: string[], rate: number): Promise<Stats> {
  const kafka = new Kafka({ clientId: 'bench-floor', brokers, logLevel: logLevel.NOTHING });
  const topic = `bench.floor.${RUN}.${rate}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 12, replicationFactor: 1 }], waitForLeaders: true });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const consumer = kafka.consumer({ groupId: `bench-floor-${RUN}-${rate}`, maxWaitTimeInMs: 500 });
  const sentAt = new Map<string, bigint>();
  const latencies: number[] = [];
  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let joined = false;
  consumer.on(consumer.events.GROUP_JOIN, () => (joined = true));
  await consumer.run({
    partitionsConsumedConcurrently: 12,
    eachMessage: async ({ message }) => {
      const id = message.key!.toString();
      const t0 = sentAt.get(id);
      if (t0 !== undefined) latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    },
  });
  for (const joinBy = Date.now() + 30_000; !joined; await sleep(50)) {
    if (Date.now() > joinBy) throw new Error(`the floor's consumer did not join its group within 30 s (broker ${brokers.join(',')})`);
  }
  const lead = Math.round(rate * LEAD_SECONDS);
  const total = lead + Math.round(rate * FLOOR_SECONDS);
  const start = Date.now();
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    const id = `m${i}`;
    if (i >= lead) sentAt.set(id, process.hrtime.bigint()); // the lead-in is not measured
    sends.push(producer.send({ topic, acks: -1, messages: [{ key: id, value: JSON.stringify({ id, pad: 'x'.repeat(900) }) }] }));
  }
  await Promise.all(sends);
  const deadline = Date.now() + 15_000;
  while (latencies.length < total - lead && Date.now() < deadline) await sleep(50);
  await consumer.disconnect();
  await producer.disconnect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
  return stats(latencies);
}

/** The three processes, so a run that fails (Kafka down, a process that never got ready) stops them too. */
const started: AppProcess[] = [];

async function main(): Promise<void> {
  for (const file of Object.values(ENTRY)) if (!fs.existsSync(file)) throw new Error(`${file} is missing: run npm run build`);
  const infra = infraEnv(HERE);
  if (!infra.KAFKA_BROKERS || !infra.REDIS_URL) throw new Error('KAFKA_BROKERS and REDIS_URL are needed: npm run infra:up');
  const brokers = infra.KAFKA_BROKERS.split(',');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twostep-bench-mail-'));

  // BENCH_TRACE: this process's own stalls (event loop blocked ≥ 40 ms), with wall-clock times to set against the slow emails.
  if (process.env.BENCH_TRACE) {
    let last = now();
    setInterval(() => {
      const t = now();
      if (t - last >= 50) console.log(`    driver stalled ${(t - last - 10).toFixed(0)} ms until ${new Date().toISOString()}`);
      last = t;
    }, 10).unref();
  }
  const answeredAt = new Map<string, number>();
  // When each recipient's first email arrived. An email can arrive before this process has read
  // the api's answer (the pipeline is that fast at low load): its latency then counts as 0.
  const arrivedAt = new Map<string, number>();
  let lastArrival = 0;
  const messageIds = new Map<string, string>();
  const smtp = await startReceiver((recipient, messageId, at) => {
    if (arrivedAt.has(recipient)) return;
    lastArrival = at;
    arrivedAt.set(recipient, lastArrival);
    if (messageId) messageIds.set(recipient, messageId);
  });
  const latencies = {
    has: (email: string) => arrivedAt.has(email) && answeredAt.has(email),
    get: (email: string) => Math.max(0, arrivedAt.get(email)! - answeredAt.get(email)!),
  };

  const portal = `bench-portal-${randomBytes(16).toString('hex')}`;
  const admin = `bench-admin-${randomBytes(16).toString('hex')}`;
  const seal = generateSealKeyPair();
  const port = await freePort();
  const keep = Object.fromEntries(['PATH', 'HOME', 'TMPDIR', 'LANG'].flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : [])));
  // BENCH_PROFILE=dir: each process writes a V8 CPU profile there when it stops (node --cpu-prof).
  const nodeArgs = [...(process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_PROFILE)}`] : []), ...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [])];
  const base = {
    ...keep,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    TWOSTEP_DATA_DIR: dataDir,
    KAFKA_BROKERS: infra.KAFKA_BROKERS,
    KAFKA_TOPIC: `twostep.bench.${RUN}.events`,
    KAFKA_DLQ_TOPIC: `twostep.bench.${RUN}.dead-letter`,
    REDIS_URL: infra.REDIS_URL,
    REDIS_KEY_PREFIX: `twostep-bench:${RUN}:`,
  };
  const log = (name: string) => path.join(dataDir, `${name}.log`);
  const api = new AppProcess('api', ENTRY.api, {
    ...base,
    TWOSTEP_MODE: 'api',
    PORT: String(port),
    HOST: '127.0.0.1',
    TWOSTEP_API_KEYS: JSON.stringify([
      { key: portal, role: 'portal', tenants: [TENANT] },
      { key: admin, role: 'admin', tenants: ['*'] },
    ]),
    TWOSTEP_SECRET_KEYS: generateKeyRingEntry('k1'),
    TWOSTEP_HASH_KEY: randomBytes(32).toString('base64'),
    TWOSTEP_MAIL_PUBLIC_KEY: seal.publicKey,
  }, log('api'), [], nodeArgs);
  const projector = new AppProcess('projector', ENTRY.projector, { ...base, LOG_LEVEL: 'info', HEALTH_PORT: '0' }, log('projector'), [], nodeArgs);
  const mailer = new AppProcess('mailer', ENTRY.mailer, {
    ...base,
    LOG_LEVEL: 'info',
    SMTP_URL: smtp.url,
    TWOSTEP_MAIL_PUBLIC_KEY: seal.publicKey,
    TWOSTEP_MAIL_PRIVATE_KEY: seal.privateKey,
    KAFKA_MAILER_GROUP_ID: `twostep-bench-${RUN}`,
    HEALTH_PORT: '0',
  }, log('mailer'), [], nodeArgs);
  started.push(api, projector, mailer);
  api.start();
  projector.start();
  mailer.start();
  await Promise.all([api.waitForLine(/twostep listening on/), projector.waitForLine(/projector running/), mailer.waitForLine(/mailer running/)]);

  const agent = new http.Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT });
  const request = (method: string, url: string, key: string, body: object) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const payload = JSON.stringify(body);
      const req = http.request(
        { host: '127.0.0.1', port, method, path: url, agent, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.end(payload);
    });

  const policy = await request('PUT', `/v1/tenants/${TENANT}/policy`, admin, { emailOtpRequired: true, codeTtlMinutes: 1 });
  if (policy.status !== 200) throw new Error(`policy: ${policy.status} ${policy.body}`);
  // Warm the path (and let the mailer's group settle) before measuring: one code at a time, then
  // bursts, so the mailer's SMTP pool holds its connections before the first phase (a running
  // mailer keeps them; each new one waits for the server's greeting).
  const warm = (i: number) => {
    const email = `warm${i}@bench.example`;
    answeredAt.set(email, now());
    return request('POST', `/v1/tenants/${TENANT}/accounts/warm-${i}/challenges`, portal, { email });
  };
  for (let i = 0; i < 20; i++) await warm(i);
  for (let burst = 1; burst <= 3; burst++) {
    await Promise.all(Array.from({ length: 64 }, (_, j) => warm(burst * 100 + j)));
    while ([...answeredAt.keys()].some((email) => !latencies.has(email))) await sleep(50);
  }
  while ([...answeredAt.keys()].some((email) => !latencies.has(email))) await sleep(50);

  console.log(`twostep code-email pipeline benchmark (${os.cpus().length} cores; api, projector, mailer as processes; SQLite event store, Kafka ${brokers.join(',')}, Redis; ${SECONDS} s per rate)`);
  console.log('offered/s  issued/s  email p50    p95      p99      max   undelivered  drained after  | kafka p50  p99   | email p99 ÷ kafka p99');
  const kafkaPid = Number(fs.readFileSync(path.join(HERE, '.infra/kafka/kafka.pid'), 'utf8').trim()) || undefined;
  const owners = () => ({ api: api.pid, projector: projector.pid, mailer: mailer.pid, kafka: kafkaPid, driver: process.pid, smtp: smtp.pid });
  const cpuLines: string[] = [];
  let phase = 0;
  for (const rate of RATES) {
    phase++;
    const floor = await kafkaFloor(brokers, rate);
    const cpuBefore = Object.fromEntries(Object.entries(owners()).map(([name, pid]) => [name, cpuSeconds(pid)]));
    const lead = Math.round(rate * LEAD_SECONDS);
    const total = lead + Math.round(rate * SECONDS);
    const emails: string[] = [];
    const leadEmails: string[] = [];
    let inFlight = 0;
    let refused = 0;
    const leadStarted = now();
    const started = leadStarted + LEAD_SECONDS * 1000; // the measured part
    const pending: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const due = leadStarted + (i * 1000) / rate;
      const wait = due - now();
      if (wait > 1) await sleep(wait);
      if (inFlight >= MAX_IN_FLIGHT) {
        refused++; // the api is not keeping up: this code is not offered (counted as not issued)
        continue;
      }
      const user = `p${phase}-${i}`;
      const email = `${user}@bench.example`;
      inFlight++;
      pending.push(
        request('POST', `/v1/tenants/${TENANT}/accounts/${user}/challenges`, portal, { email })
          .then((response) => {
            if (response.status === 200) {
              answeredAt.set(email, now());
              (i < lead ? leadEmails : emails).push(email);
            } else refused++;
          }, () => void refused++)
          .finally(() => void inFlight--),
      );
    }
    await Promise.all(pending);
    const issuedFor = (now() - started) / 1000;
    const issuedEnd = now();
    const deadline = issuedEnd + DRAIN_MS;
    while ([...leadEmails, ...emails].some((email) => !latencies.has(email)) && now() < deadline) await sleep(20);
    const delivered = emails.filter((email) => latencies.has(email));
    const leadUndelivered = leadEmails.filter((email) => !latencies.has(email)).length;
    const drainedAfter = delivered.length === emails.length && leadUndelivered === 0 ? Math.max(0, lastArrival - issuedEnd) : Number.NaN;
    const email = stats(delivered.map((e) => latencies.get(e)!));
    if (process.env.BENCH_TRACE) {
      // The slowest emails, by when their code was answered (ms into the phase): one stall shows as a run of them.
      // Each with where its time went, from the mailer's "mail sent" line (found by Message-ID): to the mailer, then SMTP.
      const timings = mailerTimings(log('mailer'));
      const slow = delivered.map((e) => ({ e, at: answeredAt.get(e)! - started, wall: Date.now() - (now() - answeredAt.get(e)!), latency: latencies.get(e)! })).sort((a, b) => b.latency - a.latency).slice(0, 12);
      for (const { e, at, wall, latency } of slow.sort((a, b) => a.at - b.at)) {
        const timing = timings.get(messageIds.get(e) ?? '');
        const where = timing ? `; reached the mailer after ${timing.reachedMs} ms, SMTP ${timing.sendMs} ms` : '';
        console.log(`    slow: answered ${at.toFixed(0)} ms into the phase (${new Date(wall).toISOString()}), email after ${latency.toFixed(0)} ms${where}`);
      }
      // Each second of the phase: how many emails and their p99, so a stall at the start shows apart from the steady state.
      const bySecond = new Map<number, number[]>();
      for (const e of delivered) {
        const second = Math.floor((answeredAt.get(e)! - started) / 1000);
        bySecond.set(second, [...(bySecond.get(second) ?? []), latencies.get(e)!]);
      }
      console.log(`    p99 by second of the phase: ${[...bySecond.entries()].sort(([a], [b]) => a - b).map(([second, values]) => `${second}:${stats(values).p99.toFixed(0)}`).join(' ')}`);
      // This phase's measured emails, by stage: decision → mailer (api commit, relay, Kafka), then the SMTP exchange.
      const phaseTimings = delivered.map((e) => timings.get(messageIds.get(e) ?? '')).filter((timing) => timing !== undefined);
      const reached = stats(phaseTimings.map((timing) => timing.reachedMs).filter((value): value is number => value !== null));
      const smtpStage = stats(phaseTimings.map((timing) => timing.sendMs));
      console.log(`    stages: decision → mailer p50 ${ms(reached.p50)}  p99 ${ms(reached.p99)}  max ${ms(reached.max)};  SMTP p50 ${ms(smtpStage.p50)}  p99 ${ms(smtpStage.p99)}  max ${ms(smtpStage.max)}`);
    }
    const perCode = Object.entries(owners()).map(([name, pid]) => `${name} ${(((cpuSeconds(pid) - cpuBefore[name]!) * 1000) / Math.max(1, emails.length + leadEmails.length)).toFixed(2)}`);
    cpuLines.push(`${String(rate).padStart(9)}/s: ${perCode.join('  ')}`);
    console.log(
      `${String(rate).padStart(9)}  ${(emails.length / issuedFor).toFixed(0).padStart(8)}  ${ms(email.p50)}  ${ms(email.p95)}  ${ms(email.p99)}  ${ms(email.max)}  ${String(emails.length - delivered.length + leadUndelivered).padStart(11)}  ${ms(drainedAfter).padStart(13)}  | ${ms(floor.p50)} ${ms(floor.p99)} | ${(email.p99 / floor.p99).toFixed(1).padStart(6)}×` +
        (refused ? `   (${refused} not issued: api saturated)` : ''),
    );
  }

  console.log('CPU ms per code issued, by process (from /proc; includes the drain):');
  for (const line of cpuLines) console.log(line);

  agent.destroy();
  await Promise.all([mailer, projector, api].map((process) => process.ensureStopped()));
  await smtp.close();
  const kafka = new Kafka({ clientId: 'bench-cleanup', brokers, logLevel: logLevel.NOTHING }).admin();
  await kafka.connect();
  await kafka.deleteTopics({ topics: [base.KAFKA_TOPIC, base.KAFKA_DLQ_TOPIC] }).catch(() => undefined);
  await kafka.disconnect();
  if (process.env.BENCH_KEEP) console.log(`process logs in ${dataDir}`);
  else fs.rmSync(dataDir, { recursive: true, force: true });
}

/** The mailer's "mail sent" lines (JSON, in its log file) by Message-ID: how long each event took to reach it, and the SMTP exchange. */
function mailerTimings(file: string): Map<string, { reachedMs: number | null; sendMs: number }> {
  const timings = new Map<string, { reachedMs: number | null; sendMs: number }>();
  if (!fs.existsSync(file)) return timings;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const json = line.indexOf('{');
    if (json < 0 || !line.includes('"mail sent"')) continue;
    try {
      const entry = JSON.parse(line.slice(json)) as { messageId?: string; reachedMs?: number | null; sendMs?: number };
      if (entry.messageId) timings.set(entry.messageId, { reachedMs: entry.reachedMs ?? null, sendMs: entry.sendMs ?? 0 });
    } catch {
      // a line cut by the process log's tagging: skip it
    }
  }
  return timings;
}

main().catch(async (error) => {
  await Promise.all(started.map((child) => child.ensureStopped().catch(() => undefined)));
  console.error(error);
  process.exit(1);
});
