import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { totpCodeAt } from '@twostep/crypto';
import { freePort } from '../e2e/processes';
import { readAllFiles } from '../support/harness';

const MAIN = path.resolve(__dirname, '../../dist/apps/api/src/main.js');

/**
 * What a newcomer does after `npm ci && npm start`: the built service starts on embedded
 * defaults with no configuration, prints its API keys, and the README's TOTP flow works
 * against it with real time, as an authenticator app would use it.
 */
describe('npm start on embedded defaults (the built service as a process)', () => {
  let child: ChildProcess;
  let output = '';
  let base = '';
  let dataDir = '';
  const keys: Record<string, string> = {};

  let start: () => void = () => undefined;
  const stop = async () => {
    child?.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
  };
  const waitForOutput = async (pattern: RegExp) => {
    const deadline = Date.now() + 30_000;
    while (!pattern.test(output)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`service did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  beforeAll(async () => {
    if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first (npm test does).`);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twostep-start-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const env = { PATH: process.env.PATH ?? '', TWOSTEP_DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' };
    start = () => {
      child = spawn(process.execPath, [MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    };
    start();
    await waitForOutput(/auditor\s+\S+/);
    for (const match of output.matchAll(/^\s+(portal|operator|admin|auditor)\s+(\S+)$/gm)) keys[match[1]!] = match[2]!;
  }, 40_000);

  afterAll(async () => {
    await stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const call = async (role: string, method: string, url: string, body?: object) => {
    const response = await fetch(`${base}${url}`, {
      method,
      headers: { Authorization: `Bearer ${keys[role]}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  };

  it('prints one generated key per role and keeps them owner-only in the data dir', () => {
    expect(Object.keys(keys).sort()).toEqual(['admin', 'auditor', 'operator', 'portal']);
    expect(output).toContain(`twostep listening on ${base} (embedded mode)`); // the address it really listens on
    expect(output).toContain('embedded mode');
    const file = path.join(dataDir, 'keys.json');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it('never runs without authentication', async () => {
    expect((await fetch(`${base}/v1/tenants/store-1/accounts/alice/two-factor`)).status).toBe(401);
    expect((await fetch(`${base}/health/ready`)).status).toBe(200);
  });

  it('answers what the HTTP parser rejects before any route with the JSON error shape and a stable code', async () => {
    const { port } = new URL(base);
    const raw = (request: Buffer | string) =>
      new Promise<string>((resolve, reject) => {
        const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(request));
        let answer = '';
        socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
        socket.on('close', () => resolve(answer));
        socket.on('error', reject);
        socket.setTimeout(5000, () => socket.destroy());
      });
    const parse = (answer: string) => ({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]), type: /content-type: ([^\r]+)/i.exec(answer)?.[1], body: JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: string; message: string } });

    const nonAscii = parse(await raw(Buffer.concat([Buffer.from('GET /v1/tenants/'), Buffer.from([0xc3, 0xa9]), Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n')])));
    expect(nonAscii).toMatchObject({ status: 400, type: 'application/json; charset=utf-8', body: { error: 'malformed_request' } });
    const bigHeader = parse(await raw(`GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`));
    expect(bigHeader).toMatchObject({ status: 431, body: { error: 'headers_too_large' } });
    const smuggled = parse(await raw('POST /v1/tenants/store-1/accounts/alice/challenges HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'));
    expect(smuggled).toMatchObject({ status: 400, body: { error: 'malformed_request' } });
    expect((await fetch(`${base}/health/live`)).status).toBe(200); // and the service carries on
  });

  it('runs the README flow: setup, confirm, next code, reused code refused, recovery code once, reseller disable logged', async () => {
    const url = '/v1/tenants/store-1/accounts/alice';
    const setup = await call('portal', 'POST', `${url}/two-factor/totp/setup`, {});
    expect(setup.status).toBe(200);
    const secret = setup.body.secret as string;
    const confirmCode = totpCodeAt(secret, Date.now());
    const confirmed = await call('portal', 'POST', `${url}/two-factor/totp/confirm`, { code: confirmCode });
    expect(confirmed.status).toBe(200);
    const recoveryCodes = confirmed.body.recoveryCodes as string[];

    // The authenticator's next code (one step ahead, inside the ±1 window) logs in.
    const first = await call('portal', 'POST', `${url}/challenges`, {});
    const next = totpCodeAt(secret, Date.now() + 30_000);
    expect((await call('portal', 'POST', `${url}/challenges/${first.body.challengeId}/verify`, { code: next })).status).toBe(200);
    // The same code again is a replay.
    const second = await call('portal', 'POST', `${url}/challenges`, {});
    const replay = await call('portal', 'POST', `${url}/challenges/${second.body.challengeId}/verify`, { code: next });
    expect(replay).toMatchObject({ status: 422, body: { error: 'invalid_code' } });

    const recovered = await call('portal', 'POST', `${url}/challenges/${second.body.challengeId}/recovery`, { recoveryCode: recoveryCodes[0] });
    expect(recovered).toMatchObject({ status: 200, body: { recoveryCodesRemaining: 9, resetRecommended: true } });
    const third = await call('portal', 'POST', `${url}/challenges`, {});
    expect((await call('portal', 'POST', `${url}/challenges/${third.body.challengeId}/recovery`, { recoveryCode: recoveryCodes[0] })).status).toBe(422);

    expect((await call('operator', 'POST', `${url}/two-factor/reseller-disable`, { operatorId: 'reseller-ann' })).status).toBe(200);
    const log = await call('operator', 'GET', `${url}/event-log`);
    expect((log.body.entries as { what: string }[]).map((e) => e.what)).toContain('2FA disabled by reseller reseller-ann');

    const everything = readAllFiles(dataDir).toString('latin1');
    expect(everything).not.toContain(secret);
    for (const code of recoveryCodes) expect(everything).not.toContain(code);
  });

  it('a restart on the same data dir keeps the keys and prints where they are, never the keys', async () => {
    await stop();
    output = '';
    start();
    await waitForOutput(/API keys: printed on the first start/);
    for (const key of Object.values(keys)) expect(output).not.toContain(key);
    expect(output).toContain(path.join(dataDir, 'keys.json'));
    expect((await call('portal', 'GET', '/v1/tenants/store-1/accounts/alice/two-factor')).status).toBe(200);
  });

  it('refuses to start on a copy of the database without its keys.json: exit 1, one message naming the file, never listening', async () => {
    await stop();
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'twostep-copy-'));
    try {
      fs.copyFileSync(path.join(dataDir, 'twostep.db'), path.join(copy, 'twostep.db'));
      const port = await freePort();
      const refused = spawn(process.execPath, [MAIN], {
        env: { PATH: process.env.PATH ?? '', TWOSTEP_DATA_DIR: copy, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      let stdout = '';
      refused.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      refused.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => refused.once('exit', resolve));
      expect(code).toBe(1);
      expect(stderr).toContain('TWOSTEP_HASH_KEY');
      expect(stderr).toContain(path.join(copy, 'keys.json'));
      expect(stderr).not.toMatch(/\n\s+at /); // a message, not a stack
      expect(stdout).not.toContain('listening');
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });
});
