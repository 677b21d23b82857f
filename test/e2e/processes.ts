import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');

/** The compiled entry points the end-to-end tests start; `npm run build` makes them. */
export const ENTRY = {
  api: path.join(ROOT, 'dist/apps/api/src/main.js'),
  projector: path.join(ROOT, 'dist/apps/projector/src/main.js'),
  mailer: path.join(ROOT, 'dist/apps/mailer/src/main.js'),
} as const;

export function assertBuilt(): void {
  const missing = Object.values(ENTRY).filter((file) => !fs.existsSync(file));
  if (missing.length > 0) {
    throw new Error(
      `The end-to-end tests start the compiled apps, and these are missing:\n  ${missing.join('\n  ')}\n` +
        'Run `npm run build` first (`npm test` does it for you).',
    );
  }
  // A stale build would test old code: warn loudly if a source file is newer than its output.
  for (const [app, file] of Object.entries(ENTRY)) {
    const src = path.join(ROOT, 'apps', app, 'src', 'main.ts');
    if (fs.existsSync(src) && fs.statSync(src).mtimeMs > fs.statSync(file).mtimeMs) {
      process.stderr.write(`[e2e] warning: ${path.relative(ROOT, src)} is newer than ${path.relative(ROOT, file)}; run npm run build\n`);
    }
  }
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * One app as a separate OS process (`node dist/...`), with its output kept in memory (to wait
 * for log lines) and appended to a log file (to read after a failure).
 */
export class AppProcess {
  private child: ChildProcess | null = null;
  private exitPromise: Promise<Exit> | null = null;
  /** Output lines of the current run only (cleared by start). */
  lines: string[] = [];
  starts = 0;

  constructor(
    readonly name: string,
    readonly entry: string,
    readonly env: NodeJS.ProcessEnv,
    readonly logFile: string,
    readonly args: string[] = [],
    /** Options for node itself (e.g. --cpu-prof), before the entry point. */
    readonly nodeArgs: string[] = [],
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): this {
    if (this.running) throw new Error(`${this.name} is already running`);
    this.lines = [];
    this.starts++;
    fs.appendFileSync(this.logFile, `\n===== ${this.name} start #${this.starts} ${new Date().toISOString()} =====\n`);
    const child = spawn(process.execPath, [...this.nodeArgs, this.entry, ...this.args], { cwd: ROOT, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const collect = (stream: NodeJS.ReadableStream, tag: string) => {
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        fs.appendFileSync(this.logFile, chunk.replace(/^(?=.)/gm, `${tag} `));
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        this.lines.push(...parts);
      });
      stream.on('end', () => partial && this.lines.push(partial));
    };
    collect(child.stdout!, 'out');
    collect(child.stderr!, 'err');
    this.exitPromise = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    return this;
  }

  /** Resolves when a line of the current run matches; rejects on timeout or if the process exits first. */
  async waitForLine(pattern: RegExp, timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.lines.find((candidate) => pattern.test(candidate));
      if (line) return line;
      if (!this.running) throw new Error(`${this.name} exited before logging ${pattern}:\n${this.tail()}`);
      if (Date.now() > deadline) throw new Error(`${this.name} did not log ${pattern} within ${timeoutMs} ms:\n${this.tail()}`);
      await sleep(50);
    }
  }

  /** Sends a signal and waits for the exit. */
  async kill(signal: NodeJS.Signals, timeoutMs = 30_000): Promise<Exit> {
    if (!this.child || !this.exitPromise) throw new Error(`${this.name} was never started`);
    if (this.running) this.child.kill(signal);
    const exit = await within(this.exitPromise, timeoutMs);
    if (exit) return exit;
    const stuck = this.whereStuck();
    fs.appendFileSync(this.logFile, `\n===== ${this.name} did not exit on ${signal}: ${stuck} =====\n`);
    this.child.kill('SIGKILL');
    throw new Error(`${this.name} did not exit within ${timeoutMs} ms of ${signal} (${stuck}); killed:\n${this.tail()}`);
  }

  /**
   * What a process that ignores a signal is doing, from /proc (Linux): each thread's state and the
   * kernel function it waits in (futex: a lock, e.g. SQLite's; pipe_write: a full stdout pipe;
   * do_epoll_wait: an idle event loop; running: a busy loop) and the CPU it used.
   */
  private whereStuck(): string {
    const pid = this.child?.pid;
    if (!pid) return 'no pid';
    try {
      const threads = fs.readdirSync(`/proc/${pid}/task`).map((tid) => {
        const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const wchan = fs.readFileSync(`/proc/${pid}/task/${tid}/wchan`, 'utf8') || '-';
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        return `${tid === String(pid) ? 'main' : name} ${fields[0]} ${wchan} cpu=${(Number(fields[11]) + Number(fields[12])) / 100}s`;
      });
      return threads.join('; ');
    } catch (error) {
      return `no /proc view (${(error as Error).message})`;
    }
  }

  /** Waits for the process to exit on its own (one-shot commands). */
  async exited(timeoutMs = 60_000): Promise<Exit> {
    const exit = await within(this.exitPromise!, timeoutMs);
    if (exit) return exit;
    this.child?.kill('SIGKILL');
    throw new Error(`${this.name} did not finish within ${timeoutMs} ms:\n${this.tail()}`);
  }

  /** For afterAll: SIGTERM, then SIGKILL if it lingers. Never throws. */
  async ensureStopped(): Promise<void> {
    if (!this.running) return;
    try {
      await this.kill('SIGTERM', 10_000);
    } catch {
      // already SIGKILLed by kill()
    }
  }

  /** The JSON log records of the current run (pino lines), non-JSON lines skipped. */
  records(): Record<string, unknown>[] {
    return this.lines.flatMap((line) => {
      if (!line.startsWith('{')) return [];
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }

  tail(count = 40): string {
    return this.lines.slice(-count).join('\n');
  }
}

/** The promise's value, or null once `ms` passed (the timer is cleared either way, so jest can exit). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A TCP port that was free a moment ago (the api needs a fixed PORT). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `probe` until it returns a value (not undefined) or the time is up. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
    }
    await sleep(intervalMs);
  }
}

/** Infrastructure settings: the environment first, then `.infra/env` written by `scripts/infra.sh up`. */
export function infraEnv(root = ROOT): { KAFKA_BROKERS?: string; REDIS_URL?: string; ESDB_URL?: string } {
  const file = path.join(root, '.infra/env');
  const fromFile: Record<string, string> = {};
  if (fs.existsSync(file)) {
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
      if (match) fromFile[match[1]!] = match[2]!;
    }
  }
  const pick = (name: string) => process.env[name] || fromFile[name] || undefined;
  return { KAFKA_BROKERS: pick('KAFKA_BROKERS'), REDIS_URL: pick('REDIS_URL'), ESDB_URL: process.env.ESDB_URL || undefined };
}
