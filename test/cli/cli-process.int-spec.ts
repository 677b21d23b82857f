import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { accountStream } from '@twostep/domain';
import { copyDataDir, seedLog, tempDir, withDb } from './support';

const ROOT = path.resolve(__dirname, '../..');
const MAIN = path.join(ROOT, 'dist/apps/cli/src/main.js');

/** The built CLI as a separate process, as operators run it (`npm run cli -- verify`, or `twostep verify`). */
describe('the built twostep CLI as a process', () => {
  let clean: string;
  const dirs: string[] = [];

  const run = (args: string[], env: NodeJS.ProcessEnv = {}) => {
    // A clean environment: no ESDB_URL or TWOSTEP_* leaking in from the shell running the tests.
    const result = spawnSync(process.execPath, [MAIN, ...args], { cwd: ROOT, env: { PATH: process.env.PATH, ...env }, encoding: 'utf8', timeout: 30_000 });
    if (result.error) throw result.error;
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };

  beforeAll(async () => {
    if (!fs.existsSync(MAIN)) throw new Error(`${path.relative(ROOT, MAIN)} is missing: run \`npm run build\` first`);
    const sources = fs.readdirSync(path.join(ROOT, 'apps/cli/src'), { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts'));
    const newest = Math.max(...sources.map((file) => fs.statSync(path.join(ROOT, 'apps/cli/src', file)).mtimeMs));
    if (fs.statSync(MAIN).mtimeMs < newest) throw new Error(`${path.relative(ROOT, MAIN)} is older than apps/cli/src: run \`npm run build\` first`);
    clean = tempDir();
    dirs.push(clean);
    await seedLog(clean);
  });
  afterAll(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('verify exits 0 on an untouched log', () => {
    const result = run(['verify', '--data-dir', clean]);
    expect(result.stdout).toMatch(/^OK: 9 events in 3 streams/);
    expect(result.stderr).toMatch(/^read 9 events in /); // stderr is a pipe: one summary line, no bar
    expect(result.status).toBe(0);
  });

  it('verify exits 1 on a tampered log and names the position', () => {
    const dir = copyDataDir(clean);
    dirs.push(dir);
    const position = withDb(dir, (db) => {
      const row = db.prepare('SELECT position FROM es_events WHERE stream = ? AND revision = 1').get(accountStream('store-1', 'bob')) as { position: number };
      db.prepare(`UPDATE es_events SET data = json_set(data, '$.confirmedStep', 1) WHERE position = ?`).run(row.position);
      return row.position;
    });
    // TWOSTEP_DATA_DIR works as well as --data-dir.
    const result = run(['verify'], { TWOSTEP_DATA_DIR: dir });
    expect(result.stdout).toMatch(/^FAILED: 1 problem in 9 events/);
    expect(result.stdout).toMatch(new RegExp(`^${position} +TwoFactorAccount-store-1\\|bob +1 +changed +stored hash`, 'm'));
    expect(result.status).toBe(1);
    const json = run(['verify', '--json'], { TWOSTEP_DATA_DIR: dir });
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, anchor: null, problems: [{ position, stream: accountStream('store-1', 'bob'), revision: 1, kind: 'changed' }] });
    expect(json.status).toBe(1);
  });

  it('verify --json and explain --json write only JSON to standard output, progress to standard error', () => {
    const verified = run(['verify', '--json', '--data-dir', clean]);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, events: 9, streams: 3, accounts: 2, head: 9, anchor: { count: 9 }, problems: [] });
    expect(verified.stderr).toMatch(/^read 9 events in /);
    expect(verified.status).toBe(0);
    const explained = run(['explain', '--account', 'store-1/alice', '--json', '--data-dir', clean]);
    const lines = explained.stdout.trim().split('\n').map((line) => JSON.parse(line) as { revision: number; actor: unknown });
    expect(lines.map((line) => line.revision)).toEqual([0, 1, 2, 3, 4]);
    expect(lines[0]!.actor).toEqual({ kind: 'customer', apiKeyId: 'portal-1' });
    expect(explained.stderr).toBe('');
    expect(explained.status).toBe(0);
  });

  it('exits 2 with a clear message on bad arguments, 0 on --help', () => {
    const bad = run(['verify', '--data-dir', clean, '--bogus']);
    expect(bad.stderr).toBe("twostep verify: Unknown option '--bogus'\nRun 'twostep verify --help' for usage.\n");
    expect(bad.status).toBe(2);
    const unknown = run(['frobnicate']);
    expect(unknown.stderr).toMatch(/^twostep: unknown command 'frobnicate'\n/);
    expect(unknown.status).toBe(2);
    const help = run(['--help']);
    expect(help.stdout).toMatch(/^twostep - audit and operate the twostep event log\n/);
    expect(help.status).toBe(0);
  });

  it('exits 1 when the data directory has no event store', () => {
    const result = run(['replay', '--data-dir', path.join(clean, 'missing')]);
    expect(result.stderr).toMatch(/^twostep replay: no event store at .*missing\/twostep\.db/);
    expect(result.status).toBe(1);
  });

  it('a bad setting is one line naming the variable, exit 1, no stack', () => {
    const result = run(['verify', '--data-dir', clean], { REDIS_URL: 'http://cache:6379' });
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^twostep verify: invalid configuration: REDIS_URL: must start with redis:\/\//)]);
    expect(result.status).toBe(1);
  });
});
