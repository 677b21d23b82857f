import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { AdjustableClock, createRuntime } from '@twostep/app';
import { parseEnv } from '@twostep/config';
import { generateRecoveryCodes, generateTotpSecret } from '@twostep/crypto';
import { accountDecider, accountStream, policyDecider, policyStream, type AccountCommand } from '@twostep/domain';
import type { Actor } from '@twostep/eventstore';
import { main } from '../../apps/cli/src/main';
import type { Output } from '../../apps/cli/src/io';

/** An Output that keeps what was written; `isTTY` makes Progress draw its bar. */
export class Captured implements Output {
  text = '';
  constructor(readonly isTTY = false) {}
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** Runs the CLI in-process exactly as main.ts does for argv, with a clean environment unless one is given. */
export async function cli(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  const out = new Captured();
  const err = new Captured();
  const code = await main(argv, { out, err, env });
  return { code, out: out.text, err: err.text };
}

export function tempDir(prefix = 'twostep-cli-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export const dbFile = (dataDir: string) => path.join(dataDir, 'twostep.db');

/** A copy of a data directory's database (taken while nothing holds it open), to tamper with. */
export function copyDataDir(from: string): string {
  const to = tempDir('twostep-cli-copy-');
  for (const name of fs.readdirSync(from)) {
    if (name.startsWith('twostep.db') || name === 'keys.json') fs.copyFileSync(path.join(from, name), path.join(to, name));
  }
  return to;
}

export function withDb<T>(dataDir: string, fn: (db: Database.Database) => T): T {
  const db = new Database(dbFile(dataDir));
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

export const CUSTOMER: Actor = { kind: 'customer', apiKeyId: 'portal-1' };

/**
 * A small, realistic log written through the real domain and CommandPath (no HTTP):
 * store-1/alice enables TOTP, logs in and is disabled by a reseller; store-1/bob enables TOTP
 * and regenerates codes; store-1's policy changes. Streams interleave in global order:
 *
 *   1 alice#0 TotpSetupStarted     4 bob#1 TwoFactorEnabled    7 policy#0 PolicyUpdated
 *   2 bob#0 TotpSetupStarted       5 alice#2 ChallengeStarted  8 bob#2 RecoveryCodesRegenerated
 *   3 alice#1 TwoFactorEnabled     6 alice#3 ChallengePassed   9 alice#4 ResellerDisabled
 */
export async function seedLog(dataDir: string): Promise<void> {
  const clock = new AdjustableClock();
  clock.set(new Date('2026-11-23T09:00:00.000Z'));
  const runtime = await createRuntime(parseEnv({ TWOSTEP_DATA_DIR: dataDir, LOG_LEVEL: 'silent' }), { clock, generateMissingKeys: true, needsOpener: false });
  const { secretBox, hasher } = runtime.secrets;
  const account = (userId: string) => ({
    run: (command: AccountCommand, actor: Actor = CUSTOMER) =>
      runtime.commandPath.run({
        stream: accountStream('store-1', userId),
        decider: accountDecider,
        actor,
        command: () => command,
        context: async (now) => ({ now, policy: await runtime.policies.get('store-1') }),
      }),
    setup: (): AccountCommand => ({ type: 'BeginTotpSetup', secret: secretBox.encrypt(generateTotpSecret(), `store-1/${userId}`) }),
    codes: () => generateRecoveryCodes().map((code) => hasher.hash('recovery-code', `store-1/${userId}`, code)),
  });
  const alice = account('alice');
  const bob = account('bob');
  const tick = () => clock.advance(60_000);
  try {
    await alice.run(alice.setup());
    tick();
    await bob.run(bob.setup());
    tick();
    await alice.run({ type: 'ConfirmTotpSetup', matchedStep: 1000, recoveryCodeHashes: alice.codes() });
    tick();
    await bob.run({ type: 'ConfirmTotpSetup', matchedStep: 1001, recoveryCodeHashes: bob.codes() });
    tick();
    await alice.run({ type: 'StartChallenge', challengeId: 'ch-1', code: { codeHash: 'unused-for-totp', code: { alg: 'none' } } });
    tick();
    await alice.run({ type: 'VerifyChallenge', challengeId: 'ch-1', proof: { kind: 'totp', matchedStep: 1002 } });
    tick();
    await runtime.commandPath.run({
      stream: policyStream('store-1'),
      decider: policyDecider,
      actor: { kind: 'admin', id: 'admin-1' },
      command: () => ({ type: 'UpdatePolicy' as const, tenantId: 'store-1', changes: { lockoutMinutes: 15 } }),
      context: () => undefined,
    });
    tick();
    await bob.run({ type: 'RegenerateRecoveryCodes', recoveryCodeHashes: bob.codes() });
    tick();
    await alice.run({ type: 'ResellerDisable', operatorId: 'reseller-ann', reason: 'lost phone' }, { kind: 'operator', id: 'reseller-ann' });
  } finally {
    await runtime.close();
  }
}
