import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort, ROOT } from '../e2e/processes';

const START = path.join(ROOT, 'scripts/start.js');
const WEB_MAIN = path.join(ROOT, 'dist/apps/web/src/main.js');

const refused = (url: string) => fetch(url).then(() => false, () => true);

/**
 * `npm start` (scripts/start.js, after the stale-build check): the api, then the reference web app
 * as a process of its own that reaches the api over HTTP with the keys the api wrote.
 */
describe('npm start: the api and the reference web app, two processes', () => {
  let dataDir = '';
  beforeAll(() => {
    if (!fs.existsSync(WEB_MAIN)) throw new Error(`${WEB_MAIN} is missing: run \`npm run build\` first (npm test does).`);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twostep-npm-start-'));
  });
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('serves the screens on TWOSTEP_WEB_PORT once the api answers, and one signal stops both', async () => {
    const [apiPort, webPort] = [await freePort(), await freePort()];
    const env = { PATH: process.env.PATH ?? '', TWOSTEP_DATA_DIR: dataDir, PORT: String(apiPort), TWOSTEP_WEB_PORT: String(webPort), LOG_LEVEL: 'warn' };
    const child: ChildProcess = spawn(process.execPath, [START], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const deadline = Date.now() + 30_000;
      while (!/demo sign-ins:[\s\S]*admin\s+root \/ root-demo-pass/.test(output)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`npm start did not bring up the web app:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(output).toContain(`twostep web app (the seeds' screens) on http://127.0.0.1:${webPort}, over the api at http://127.0.0.1:${apiPort}`);
      const home = await fetch(`http://127.0.0.1:${webPort}/`);
      expect(home.status).toBe(200);
      expect(await home.text()).toContain('Demo sign-ins');
      // The sign-in page of the customer portal.
      const login = await fetch(`http://127.0.0.1:${webPort}/login`);
      expect(login.status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${apiPort}/health/ready`)).status).toBe(200);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(await refused(`http://127.0.0.1:${webPort}/`)).toBe(true);
    expect(await refused(`http://127.0.0.1:${apiPort}/health/live`)).toBe(true);
  }, 60_000);

  it('the web app alone, without keys to act with, is one line naming what to set', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'twostep-web-nokeys-'));
    const run = spawnSync(process.execPath, [WEB_MAIN], { env: { PATH: process.env.PATH ?? '', TWOSTEP_DATA_DIR: empty }, encoding: 'utf8', timeout: 20_000 });
    fs.rmSync(empty, { recursive: true, force: true });
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^twostep-web: invalid configuration: TWOSTEP_API_KEYS: not set, and .*keys\.json does not exist yet \(start the api first: it writes it\)$/)]);
    const scoped = spawnSync(process.execPath, [WEB_MAIN], {
      env: { PATH: process.env.PATH ?? '', TWOSTEP_API_KEYS: JSON.stringify([{ key: 'k'.repeat(32), role: 'portal', tenants: ['store-1'] }]) },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(scoped.status).toBe(1);
    expect(scoped.stderr).toContain('the web app needs a portal, an operator and an admin key for all tenants');
  });
});
