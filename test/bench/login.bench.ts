/**
 * Login benchmark: `npm run bench`.
 *
 * 1. Against its floors. twostep's api runs as its own process exactly as `npm start` runs it
 *    (embedded: SQLite, projector and mailer inside), with BENCH_ACCOUNTS (3000) accounts enrolled
 *    over HTTP. Beside it run a bare NestJS app and a bare node:http server answering the same two
 *    requests. One driver (this process, keep-alive node:http) logs in — POST /challenges, then
 *    POST /challenges/:id/verify with the current TOTP code — at concurrency 1, 8 and 32, for
 *    BENCH_SECONDS (5) per cell, the three servers interleaved, over BENCH_ROUNDS (3) rounds.
 *    Per server and concurrency it prints the median over rounds of logins/s, p50/p99 of a login
 *    (both requests), and server CPU ms per login (the process's own user+system time from
 *    /proc), then peak RSS and the ratios to both floors. twostep's clock runs BENCH_CLOCK_SPEED
 *    (30) times faster than real time so that each account has a fresh 30-second step every second
 *    (the floors check no codes, so they take accounts without waiting for a step).
 * 2. Cost flat in history: sequential logins for an account with a short and one with a long
 *    history (in this process, on an adjustable clock); the long/short median ratio should be ≈1.
 *
 * BENCH_PROFILE=dir writes a V8 CPU profile of twostep's process over the measured rounds there
 * (with BENCH_HEAP=1 also a sampling allocation profile; BENCH_HEAP=promoted: of what survived the young
 * generation only, summarised by `node scripts/heap-summary.js FILE`); BENCH_MEMORY=1 prints its heap peaks and
 * the live heap after a full GC; BENCH_V8_FLAGS tries V8 flags (e.g. heap growth) on it;
 * summarise a CPU profile with `node scripts/profile-summary.js FILE`. Benchmarks print; no test asserts on them.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { AdjustableClock, createRuntime } from '@twostep/app';
import { parseEnv } from '@twostep/config';
import { totpCodeAt } from '@twostep/crypto';
import { createApiApp } from '../../apps/api/src/create-app';
import { EmbeddedWorkers } from '../../apps/api/src/embedded';
import { AppProcess, freePort, sleep } from '../e2e/processes';
import { cpuSeconds, median, peakRssMiB, stats, watchPeakRss } from './support';

const KEY = `bench-portal-key-${randomBytes(12).toString('hex')}`;
const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 3000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,8,32').split(',').map(Number);
const SPEED = Number(process.env.BENCH_CLOCK_SPEED ?? 30);
const HISTORY_LOGINS = Number(process.env.BENCH_LOGINS ?? 300);
const LONG_HISTORY_LOGINS = Number(process.env.BENCH_HISTORY ?? 1500);
const TENANT = 'bench';
const EPOCH = Date.now();
const scaledNow = () => EPOCH + (Date.now() - EPOCH) * SPEED;

interface Account {
  userId: string;
  /** base32, as setup answered it */
  secret: string;
  /** The last TOTP step this account used: a code is good once per step. */
  lastStep: number;
}

const stepAt = (timeMs: number) => Math.floor(timeMs / 30_000);

/** A keep-alive HTTP client with at most `sockets` connections. */
class Client {
  private readonly agent: http.Agent;
  constructor(
    private readonly port: number,
    sockets: number,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  }

  post(urlPath: string, body: object): Promise<{ status: number; json: Record<string, unknown> }> {
    const payload = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const request = http.request(
        {
          host: '127.0.0.1',
          port: this.port,
          path: urlPath,
          method: 'POST',
          agent: this.agent,
          headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) },
        },
        (response) => {
          let raw = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (raw += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, json: raw ? (JSON.parse(raw) as Record<string, unknown>) : {} }));
          response.on('error', reject);
        },
      );
      request.on('error', reject);
      request.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

const accountPath = (userId: string) => `/v1/tenants/${TENANT}/accounts/${userId}`;

async function expectOk(what: string, call: Promise<{ status: number; json: Record<string, unknown> }>): Promise<Record<string, unknown>> {
  const { status, json } = await call;
  if (status !== 200) throw new Error(`${what} → ${status} ${JSON.stringify(json)}`);
  return json;
}

async function enrol(port: number, count: number): Promise<Account[]> {
  const client = new Client(port, 8);
  const accounts: Account[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let i = next++; i < count; i = next++) {
        const userId = `user-${i}`;
        const setup = await expectOk('setup', client.post(`${accountPath(userId)}/two-factor/totp/setup`, {}));
        const secret = setup.secret as string;
        const now = scaledNow();
        await expectOk('confirm', client.post(`${accountPath(userId)}/two-factor/totp/confirm`, { code: totpCodeAt(secret, now) }));
        accounts[i] = { userId, secret, lastStep: stepAt(now) };
      }
    }),
  );
  client.close();
  return accounts;
}

interface Cell {
  loginsPerSecond: number;
  p50: number;
  p99: number;
  cpuMsPerLogin: number;
}

/** Closed loop: `concurrency` workers log in back to back for `seconds`; accounts are taken round-robin. */
async function runCell(server: Server, accounts: Account[], concurrency: number, seconds: number): Promise<Cell> {
  const client = new Client(server.port, concurrency);
  const latencies: number[] = [];
  const cpuBefore = cpuSeconds(server.process.pid);
  const started = process.hrtime.bigint();
  const deadline = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) {
        const account = await nextAccount(server, accounts);
        const t0 = process.hrtime.bigint();
        const challenge = await expectOk('start', client.post(`${accountPath(account.userId)}/challenges`, {}));
        if (challenge.required !== true) throw new Error(`start → ${JSON.stringify(challenge)}`);
        const answer = await client.post(`${accountPath(account.userId)}/challenges/${challenge.challengeId as string}/verify`, { code: totpCodeAt(account.secret, account.lastStep * 30_000) });
        // About one login in a million: this step's code equals the previous step's, which the
        // account used, so the server rightly sees a replay. Counted, not a failure of the run.
        if (answer.status === 422 && answer.json.reason === 'code_already_used') {
          server.collisions++;
          continue;
        }
        if (answer.status !== 200 || answer.json.verified !== true) throw new Error(`verify → ${answer.status} ${JSON.stringify(answer.json)}`);
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = cpuSeconds(server.process.pid) - cpuBefore;
  client.close();
  const { p50, p99 } = stats(latencies);
  return { loginsPerSecond: latencies.length / elapsed, p50, p99, cpuMsPerLogin: (cpu * 1000) / latencies.length };
}

/** The next account (round-robin) that has not used the current step yet; it takes that step. */
async function nextAccount(server: Server, accounts: Account[]): Promise<Account> {
  if (!server.checksCodes) return accounts[server.cursor++ % accounts.length]!;
  for (let skipped = 0; ; skipped++) {
    if (skipped === accounts.length) {
      await sleep(20); // every account used this step: wait for the clock
      skipped = 0;
    }
    const account = accounts[server.cursor++ % accounts.length]!;
    const step = stepAt(scaledNow());
    if (step > account.lastStep) {
      account.lastStep = step;
      return account;
    }
  }
}

interface Server {
  name: string;
  process: AppProcess;
  port: number;
  cursor: number;
  checksCodes: boolean;
  /** Logins refused because two adjacent TOTP steps happened to share a code. */
  collisions: number;
}

async function startServer(name: string, entry: string, env: NodeJS.ProcessEnv, logDir: string, nodeArgs: string[] = []): Promise<Server> {
  const port = await freePort();
  const child = new AppProcess(name, entry, { ...env, PORT: String(port) }, path.join(logDir, `${name}.log`), [], nodeArgs).start();
  await child.waitForLine(/^listening \d+/);
  return { name, process: child, port, cursor: 0, checksCodes: name === 'twostep', collisions: 0 };
}

async function againstFloors(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twostep-bench-login-'));
  const keep = Object.fromEntries(['PATH', 'HOME', 'TMPDIR', 'LANG'].flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : [])));
  const twostep = await startServer(
    'twostep',
    path.join(__dirname, 'login/twostep-server.js'),
    {
      ...keep,
      TWOSTEP_DATA_DIR: path.join(dataDir, 'data'),
      HOST: '127.0.0.1',
      TWOSTEP_API_KEYS: JSON.stringify([{ key: KEY, role: 'portal', tenants: ['*'] }]),
      BENCH_CLOCK_EPOCH: String(EPOCH),
      BENCH_CLOCK_SPEED: String(SPEED),
      ...(process.env.BENCH_PROFILE ? { BENCH_PROFILE: path.resolve(process.env.BENCH_PROFILE) } : {}),
      ...(process.env.BENCH_MEMORY ? { BENCH_MEMORY: '1' } : {}),
      ...(process.env.BENCH_HEAP ? { BENCH_HEAP: process.env.BENCH_HEAP } : {}),
      ...(process.env.BENCH_V8_FLAGS ? { BENCH_V8_FLAGS: process.env.BENCH_V8_FLAGS } : {}),
      // The service's own heap setting (0: V8's adaptive growth), to compare values.
      ...(process.env.TWOSTEP_HEAP_GROWTH_PERCENT ? { TWOSTEP_HEAP_GROWTH_PERCENT: process.env.TWOSTEP_HEAP_GROWTH_PERCENT } : {}),
    },
    dataDir,
    // BENCH_NODE_ARGS: node options for twostep's process (flags V8 reads only at start, e.g. --max-semi-space-size).
    (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
  );
  const servers = [
    twostep,
    await startServer('nest', path.join(__dirname, 'login/nest-floor.js'), keep, dataDir),
    await startServer('http', path.join(__dirname, 'login/http-floor.js'), keep, dataDir),
  ];
  try {
    const enrolStarted = Date.now();
    const accounts = await enrol(twostep.port, ACCOUNTS);
    console.log(`twostep login benchmark: ${os.cpus().length} cores, ${ACCOUNTS} accounts enrolled in ${((Date.now() - enrolStarted) / 1000).toFixed(1)} s`);
    console.log(`twostep's heap growth: ${process.env.TWOSTEP_HEAP_GROWTH_PERCENT ? `TWOSTEP_HEAP_GROWTH_PERCENT=${process.env.TWOSTEP_HEAP_GROWTH_PERCENT}` : 'the default (TWOSTEP_HEAP_GROWTH_PERCENT=60)'}${twostep.process.nodeArgs.length ? `, node options ${twostep.process.nodeArgs.join(' ')}` : ''}`);
    const enrolPeak = peakRssMiB(twostep.process.pid);
    console.log(`twostep peak RSS after enrolment (setup + confirm over HTTP, QR codes included): ${enrolPeak.toFixed(0)} MiB`);
    console.log(`servers interleaved, ${ROUNDS} rounds of ${SECONDS} s per server and concurrency; medians over rounds`);
    // The peak before logins (start-up, and twostep's enrolment), then the peak of the login phase
    // (warm-up and measured rounds) on its own: bare Nest enrols nobody.
    const startPeak = Object.fromEntries(servers.map((server) => [server.name, peakRssMiB(server.process.pid)]));
    const loginPeakWatch = servers.map((server) => ({ name: server.name, watch: watchPeakRss(server.process.pid) }));
    for (const server of servers) await runCell(server, accounts, 8, 1); // warm-up, not counted
    if (process.env.BENCH_PROFILE) process.kill(twostep.process.pid!, 'SIGUSR2'); // profile the measured rounds only

    const cells = new Map<string, Cell[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const concurrency of CONCURRENCY) {
        for (const server of servers) {
          const key = `${server.name}:${concurrency}`;
          cells.set(key, [...(cells.get(key) ?? []), await runCell(server, accounts, concurrency, SECONDS)]);
        }
      }
    }

    const med = (name: string, concurrency: number, field: keyof Cell) => median(cells.get(`${name}:${concurrency}`)!.map((cell) => cell[field]));
    console.log('');
    console.log('server     c   logins/s   p50 ms   p99 ms   CPU ms/login');
    for (const concurrency of CONCURRENCY) {
      for (const server of servers) {
        const f = (field: keyof Cell, digits: number, width: number) => med(server.name, concurrency, field).toFixed(digits).padStart(width);
        console.log(`${server.name.padEnd(8)} ${String(concurrency).padStart(3)} ${f('loginsPerSecond', 0, 10)} ${f('p50', 2, 8)} ${f('p99', 2, 8)} ${f('cpuMsPerLogin', 3, 14)}`);
      }
    }
    console.log('');
    console.log('ratios        CPU/login ÷ nest   CPU/login ÷ http   throughput ÷ nest   throughput ÷ http');
    for (const concurrency of CONCURRENCY) {
      const cpu = (floor: string) => (med('twostep', concurrency, 'cpuMsPerLogin') / med(floor, concurrency, 'cpuMsPerLogin')).toFixed(2);
      const rate = (floor: string) => (med('twostep', concurrency, 'loginsPerSecond') / med(floor, concurrency, 'loginsPerSecond')).toFixed(2);
      console.log(`c = ${String(concurrency).padEnd(9)} ${cpu('nest').padStart(16)} ${cpu('http').padStart(18)} ${rate('nest').padStart(19)} ${rate('http').padStart(19)}`);
    }
    if (twostep.collisions > 0) console.log(`(${twostep.collisions} login(s) refused as a replay: two adjacent TOTP steps shared a code; not counted)`);
    const loginPeak = Object.fromEntries(loginPeakWatch.map(({ name, watch }) => [name, watch.stop()]));
    const rss = Object.fromEntries(servers.map((server) => [server.name, Math.max(startPeak[server.name]!, loginPeak[server.name]!)]));
    console.log('');
    console.log(`peak RSS: twostep ${rss.twostep!.toFixed(0)} MiB, nest ${rss.nest!.toFixed(0)} MiB, http ${rss.http!.toFixed(0)} MiB (twostep ÷ nest ${(rss.twostep! / rss.nest!).toFixed(2)})`);
    console.log(`peak RSS during logins (${loginPeakWatch[0]!.watch.how} from the end of enrolment): twostep ${loginPeak.twostep!.toFixed(0)} MiB, nest ${loginPeak.nest!.toFixed(0)} MiB, http ${loginPeak.http!.toFixed(0)} MiB (twostep ÷ nest ${(loginPeak.twostep! / loginPeak.nest!).toFixed(2)})`);
    console.log(`peak RSS overall (start-up and enrolment included): twostep ${rss.twostep!.toFixed(0)} MiB (enrolment ${startPeak.twostep!.toFixed(0)}), nest ${rss.nest!.toFixed(0)} MiB (twostep ÷ nest ${(rss.twostep! / rss.nest!).toFixed(2)})`);
  } finally {
    await Promise.all(servers.map((server) => server.process.ensureStopped()));
    // BENCH_MEMORY=1: twostep's heap peaks and its live heap after a full GC, as it wrote them at exit.
    for (const line of twostep.process.lines) if (line.startsWith('memory peaks')) console.log(`twostep ${line}`);
    if (process.env.BENCH_KEEP) console.log(`server logs in ${dataDir}`);
    else fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Sequential logins in this process for an account with a short and one with a long history. */
async function flatInHistory(): Promise<void> {
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
  const client = new Client((app.getHttpServer().address() as { port: number }).port, 1);
  const post = (urlPath: string, body: object) => expectOk(urlPath, client.post(urlPath, body));

  const enrolOne = async (user: string) => {
    const setup = await post(`${accountPath(user)}/two-factor/totp/setup`, {});
    const secret = setup.secret as string;
    await post(`${accountPath(user)}/two-factor/totp/confirm`, { code: totpCodeAt(secret, clock.now().getTime()) });
    return secret;
  };
  /** One login; each uses a fresh 30-second step, so the clock moves on. */
  const login = async (user: string, secret: string) => {
    clock.advance(30_000);
    const challenge = await post(`${accountPath(user)}/challenges`, {});
    await post(`${accountPath(user)}/challenges/${challenge.challengeId as string}/verify`, { code: totpCodeAt(secret, clock.now().getTime()) });
  };
  const measure = async (label: string, user: string, secret: string) => {
    const samples: number[] = [];
    const started = process.hrtime.bigint();
    for (let i = 0; i < HISTORY_LOGINS; i++) {
      const t0 = process.hrtime.bigint();
      await login(user, secret);
      samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const { p50, p95, p99 } = stats(samples);
    console.log(`${label.padEnd(34)} ${(HISTORY_LOGINS / seconds).toFixed(0).padStart(5)} logins/s   p50 ${p50.toFixed(2)} ms   p95 ${p95.toFixed(2)} ms   p99 ${p99.toFixed(2)} ms`);
    return p50;
  };

  const shortSecret = await enrolOne('short-history');
  const longSecret = await enrolOne('long-history');
  process.stderr.write(`building a history of ${LONG_HISTORY_LOGINS} logins (${LONG_HISTORY_LOGINS * 2} events)…\n`);
  for (let i = 0; i < LONG_HISTORY_LOGINS; i++) await login('long-history', longSecret);

  console.log('');
  console.log(`cost flat in history (in this process, ${HISTORY_LOGINS} sequential logins = 2 requests each)`);
  await measure('warm-up', 'short-history', shortSecret);
  const shortMedian = await measure('account with 4 events of history', 'short-history', shortSecret);
  const longMedian = await measure(`account with ${LONG_HISTORY_LOGINS * 2 + 2} events of history`, 'long-history', longSecret);
  console.log(`median ratio long/short history: ${(longMedian / shortMedian).toFixed(2)} (≈1 means the cost does not grow with history)`);

  client.close();
  await app.close();
  await workers.stop();
  await runtime.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
}

async function main(): Promise<void> {
  await againstFloors();
  await flatInHistory();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
