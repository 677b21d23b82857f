import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { tempDirs } from '../support/harness';

const MAIN = path.resolve(__dirname, '../../dist/apps/api/src/main.js');
const WORKERS = { projector: path.resolve(__dirname, '../../dist/apps/projector/src/main.js'), mailer: path.resolve(__dirname, '../../dist/apps/mailer/src/main.js') };

/** Runs a built app (the api by default) with `env` and waits for it to exit (it must: every case here is refused). */
function run(env: Record<string, string>, main = MAIN): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main], { env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`still running after 20 s:\n${stdout}${stderr}`));
    }, 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, stdout });
    });
  });
}

/** A bad setting stops the service at once: exit 1 and one line on stderr naming the variable, no stack. */
describe('start-up refusals of the built service', () => {
  const tempDir = tempDirs('twostep-config-');

  const expectOneLine = (result: { code: number | null; stderr: string; stdout: string }, ...fragments: string[]) => {
    expect(result.code).toBe(1);
    const lines = result.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    for (const fragment of fragments) expect(lines[0]).toContain(fragment);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stdout).not.toContain('listening');
  };

  beforeAll(() => {
    if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first (npm test does).`);
  });

  it('TWOSTEP_DATA_DIR that is a file', async () => {
    const file = path.join(tempDir(), 'not-a-dir');
    fs.writeFileSync(file, '');
    expectOneLine(await run({ TWOSTEP_DATA_DIR: file, PORT: '0' }), 'TWOSTEP_DATA_DIR', file, 'is not a directory');
  });

  it('TWOSTEP_HASH_KEY too short', async () => {
    expectOneLine(await run({ TWOSTEP_DATA_DIR: tempDir(), PORT: '0', TWOSTEP_HASH_KEY: 'c2hvcnQ=' }), 'TWOSTEP_HASH_KEY', '32 bytes');
  });

  it('KAFKA_BROKERS without host:port', async () => {
    expectOneLine(await run({ TWOSTEP_DATA_DIR: tempDir(), PORT: '0', KAFKA_BROKERS: 'localhost' }), 'KAFKA_BROKERS', 'host:port');
  });

  it('a PORT already in use', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      expectOneLine(await run({ TWOSTEP_DATA_DIR: tempDir(), PORT: String(port) }), `PORT: ${port} on 127.0.0.1 is already in use`);
    } finally {
      blocker.close();
    }
  });
});

describe('start-up refusals of the built workers', () => {
  const tempDir = tempDirs('twostep-config-workers-');

  /** Exit 1, every stderr line `<program>: invalid configuration: VAR: ...`, no stack. */
  const expectConfigLines = (result: { code: number | null; stderr: string }, program: string, variables: string[]) => {
    expect(result.code).toBe(1);
    const lines = result.stderr.split('\n').filter(Boolean);
    expect(lines.map((line) => /^([\w-]+): invalid configuration: (\w+): /.exec(line)?.slice(1, 3))).toEqual(variables.map((name) => [program, name]));
    expect(result.stderr).not.toMatch(/\n\s+at /);
  };

  it('the projector names a bad REDIS_URL in one line', async () => {
    expectConfigLines(await run({ TWOSTEP_DATA_DIR: tempDir(), REDIS_URL: 'http://cache:6379' }, WORKERS.projector), 'twostep-projector', ['REDIS_URL']);
  });

  it('the mailer names a bad HEALTH_PORT and an unreadable secret file, one line each', async () => {
    const missing = path.join(tempDir(), 'absent');
    const result = await run({ TWOSTEP_DATA_DIR: tempDir(), HEALTH_PORT: 'x', TWOSTEP_MAIL_PRIVATE_KEY_FILE: missing }, WORKERS.mailer);
    expectConfigLines(result, 'twostep-mailer', ['TWOSTEP_MAIL_PRIVATE_KEY_FILE', 'HEALTH_PORT']);
    expect(result.stderr).toContain(`cannot read ${missing} (ENOENT)`);
  });
});

describe('npm start on a built checkout', () => {
  it('does not compile again when dist/ is newer than every source (a restart takes seconds)', async () => {
    const script = path.resolve(__dirname, '../../scripts/build-if-stale.js');
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [script], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.once('exit', (code) => resolve({ code, stderr }));
    });
    expect(result).toEqual({ code: 0, stderr: 'dist/ is up to date\n' });
  });
});
