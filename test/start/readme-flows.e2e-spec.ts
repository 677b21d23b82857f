import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ENTRY, freePort, ROOT } from '../e2e/processes';

const MAIN = ENTRY.api;

/** The README's shell blocks from "In a second shell" up to the HTTP contract, as a newcomer pastes them. */
function readmeFlows(port: number): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('In a second shell'), readme.indexOf('## HTTP contract'));
  const blocks = [...section.matchAll(/```bash\n([\s\S]*?)```/g)].map((match) => match[1]!);
  expect(blocks.length).toBeGreaterThanOrEqual(4);
  return blocks.join('\n').replaceAll('127.0.0.1:3000', `127.0.0.1:${port}`);
}

/**
 * The README's curl blocks, pasted in order into bash against a fresh `npm start` (the built
 * service on its embedded defaults, data in ./var of its working directory): every answer is the
 * one the README shows. Real time, so it waits out one TOTP step and one resend cooldown (~35 s).
 */
describe('the README curl walkthrough on a fresh start', () => {
  let child: ChildProcess;
  let cwd = '';
  let port = 0;
  let serviceOutput = '';

  beforeAll(async () => {
    if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first (npm test does).`);
    for (const tool of ['curl', 'jq']) {
      if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is needed by the README's examples and this test`);
    }
    cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'twostep-readme-'));
    port = await freePort();
    const env = { PATH: process.env.PATH ?? '', PORT: String(port), TWOSTEP_WEB_PORT: 'off', LOG_LEVEL: 'warn' };
    child = spawn(process.execPath, [MAIN], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (chunk: Buffer) => (serviceOutput += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (serviceOutput += chunk.toString()));
    const deadline = Date.now() + 30_000;
    while (!/auditor\s+\S+/.test(serviceOutput)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`service did not start:\n${serviceOutput}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }, 40_000);

  afterAll(async () => {
    child?.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
    fs.rmSync(cwd, { recursive: true, force: true });
  });

  it('every block works as written, in order', async () => {
    const script = readmeFlows(port);
    // node -p 'require("otplib")' in the README runs from the repository; here the cwd is a temp dir.
    const shell = spawn('bash', ['-c', `set -u\n${script}`], { cwd, env: { PATH: process.env.PATH ?? '', NODE_PATH: path.join(ROOT, 'node_modules') }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    shell.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    shell.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => shell.once('exit', resolve));
    const context = `\n--- walkthrough output ---\n${out}`;
    if (code !== 0) throw new Error(`bash exited with ${code}${context}`);

    const expectOut = (pattern: RegExp, times = 1) => {
      const found = out.match(new RegExp(pattern.source, 'g'))?.length ?? 0;
      if (found < times) throw new Error(`expected ${pattern} at least ${times}× in the output${context}`);
    };
    // Authenticator app: setup, confirm (10 codes), a login with the next code, a recovery code, new codes, a reset.
    expectOut(/"otpauthUri":"otpauth:\/\/totp\/twostep%20store-1:alice\?secret=/);
    expectOut(/"status":"Enabled","method":"totp","recoveryCodes":\[("[a-z0-9]{5}-[a-z0-9]{5}",?){10}\]/);
    expectOut(/"verified":true\}/);
    expectOut(/"verified":true,"recoveryCodesRemaining":9,"resetRecommended":true/);
    expectOut(/"recorded":true,"twoFactorRequiredAtNextLogin":true/);
    // Reseller tools: three wrong codes lock, unlock, disable, the event log, the customer's disable refused.
    expectOut(/"error":"invalid_code","message":"Invalid authentication code, 2 attempts left to login."/);
    expectOut(/"error":"account_locked"/);
    expectOut(/\{"locked":false\}/);
    expectOut(/\{"status":"Disabled"\}/);
    expectOut(/"what":"2FA disabled by reseller reseller-ann \(reason: lost phone\)"/);
    expectOut(/"error":"not_enabled"/);
    // Email codes: policy, a code by mail, resend refused then in cooldown then sent, verify, a trusted device.
    expectOut(/"displayName":"Acme Outdoor"/);
    expectOut(/"method":"email","expiresAt":"[^"]+","sentTo":"b\*\*\*@e\*\*\*\.com"/);
    expectOut(/"error":"resend_not_available"/);
    expectOut(/"error":"resend_cooldown"/);
    expectOut(/"sent":true,"sentTo":"b\*\*\*@e\*\*\*\.com"/);
    expectOut(/"verified":true,"deviceToken":"dt_[^"]+"/);
    expectOut(/"required":false,"reason":"trusted_device"/);
    expectOut(/"label":"Firefox on Linux"/);
    // Nothing the README did not announce: no unexpected refusal.
    for (const unexpected of ['unauthorized', 'validation_failed', 'malformed_json', 'challenge_not_found', 'code_expired', 'forbidden_role', 'internal']) {
      if (out.includes(`"error":"${unexpected}"`)) throw new Error(`unexpected ${unexpected}${context}`);
    }
    const mails = fs.readdirSync(path.join(cwd, 'var/mail')).map((name) => fs.readFileSync(path.join(cwd, 'var/mail', name), 'utf8'));
    expect(mails.filter((mail) => /^Subject: Your Acme Outdoor verification code\r?$/m.test(mail))).toHaveLength(2);
  }, 120_000);
});
