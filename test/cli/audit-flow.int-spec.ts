import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateKeyRingEntry, totpCodeAt } from '@twostep/crypto';
import { accountStream, policyStream } from '@twostep/domain';
import { presentStatus, type StatusView } from '@twostep/readmodel';
import type { ExportLine } from '../../apps/cli/src/commands/export';
import { accountUrl, startTestApp, type TestApp } from '../support/harness';
import { cli, tempDir, withDb } from './support';

/**
 * The auditor commands against a log written through the real HTTP api (embedded runtime):
 *
 *   store-1/alice  TOTP on, logs in, uses a recovery code, then disabled by reseller-ann
 *   store-1/bob    TOTP on (logs in again after the key rotation)
 *   store-1/dave   TOTP on, locked after three wrong codes
 *   store-2/carol  setup started, never confirmed
 *   store-1        policy changed by an admin
 *   store-2        requires email codes from the end (carol, without TOTP, then has email 2FA by policy)
 */
describe('auditor CLI on a log written over HTTP', () => {
  const dataDir = tempDir();
  const work = tempDir('twostep-cli-work-');
  const ACCOUNTS = [
    ['store-1', 'alice'],
    ['store-1', 'bob'],
    ['store-1', 'dave'],
    ['store-2', 'carol'],
  ] as const;
  let t: TestApp;
  let bobSecret = '';
  let beforeDisable: Date;
  let headBeforeDisable = 0;
  let disabledAt: Date;
  let head = 0;

  const codeNow = (secret: string) => totpCodeAt(secret, t.clock.now().getTime());
  /** A code that is wrong now and in the ±1 step window. */
  const wrongCode = (secret: string) => {
    const near = [-1, 0, 1].map((step) => totpCodeAt(secret, t.clock.now().getTime() + step * 30_000));
    return ['000000', '111111', '222222', '333333'].find((code) => !near.includes(code))!;
  };
  const enable = async (role: 'portal' | 'portal2', tenantId: string, userId: string) => {
    const url = accountUrl(tenantId, userId);
    const setup = await t.as(role).post(`${url}/two-factor/totp/setup`).expect(200);
    const confirmed = await t.as(role).post(`${url}/two-factor/totp/confirm`, { code: codeNow(setup.body.secret) }).expect(200);
    return { secret: setup.body.secret as string, recoveryCodes: confirmed.body.recoveryCodes as string[] };
  };
  const liveStatus = async (tenantId: string, userId: string): Promise<StatusView> =>
    presentStatus((await t.runtime.readModels.status(tenantId, userId))!, t.clock.now(), await t.runtime.policies.get(tenantId));
  const at = ['--data-dir', dataDir];
  const exportLines = async (dir: string, ...args: string[]): Promise<ExportLine[]> => {
    const run = await cli(['export', '--data-dir', dir, ...args]);
    expect(run.code).toBe(0);
    return run.out
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as ExportLine);
  };

  beforeAll(async () => {
    // The harness takes TWOSTEP_DATA_DIR from env: our own directory outlives the app, so the
    // CLI can work on it after a restart with a new key ring.
    t = await startTestApp({ TWOSTEP_DATA_DIR: dataDir });
    t.clock.set(new Date(Math.floor(Date.now() / 30_000) * 30_000 + 15_000));

    await t.as('admin').put('/v1/tenants/store-1/policy', { codeTtlMinutes: 15 }).expect(200);
    const alice = await enable('portal', 'store-1', 'alice');
    bobSecret = (await enable('portal', 'store-1', 'bob')).secret;
    const dave = await enable('portal', 'store-1', 'dave');
    await t.as('portal2').post(`${accountUrl('store-2', 'carol')}/two-factor/totp/setup`).expect(200);

    t.clock.advance(30_000);
    const aliceUrl = accountUrl('store-1', 'alice');
    const login = await t.as('portal').post(`${aliceUrl}/challenges`, {}).expect(200);
    await t.as('portal').post(`${aliceUrl}/challenges/${login.body.challengeId}/verify`, { code: codeNow(alice.secret) }).expect(200);
    const recovery = await t.as('portal').post(`${aliceUrl}/challenges`, {}).expect(200);
    await t.as('portal').post(`${aliceUrl}/challenges/${recovery.body.challengeId}/recovery`, { recoveryCode: alice.recoveryCodes[0] }).expect(200);

    const daveUrl = accountUrl('store-1', 'dave');
    const daveLogin = await t.as('portal').post(`${daveUrl}/challenges`, {}).expect(200);
    for (const expected of [422, 422, 423]) {
      await t.as('portal').post(`${daveUrl}/challenges/${daveLogin.body.challengeId}/verify`, { code: wrongCode(dave.secret) }).expect(expected);
    }

    t.clock.advance(60_000);
    beforeDisable = t.clock.now();
    headBeforeDisable = await t.runtime.eventStore.headPosition();
    t.clock.advance(60_000);
    await t.as('operator').post(`${aliceUrl}/two-factor/reseller-disable`, { operatorId: 'reseller-ann', reason: 'lost phone' }).expect(200);
    // The time the command was decided, as recorded (the clock moves on in real time too).
    const aliceEvents = await t.runtime.eventStore.readStream(accountStream('store-1', 'alice'));
    disabledAt = new Date(aliceEvents.find((e) => e.type === 'ResellerDisabled')!.metadata.at);
    await t.as('admin').put('/v1/tenants/store-2/policy', { emailOtpRequired: true }).expect(200);

    head = await t.runtime.eventStore.headPosition();
    expect(await t.workers.projector.caughtUp(head, 5000)).toBe(true);
  });

  afterAll(async () => {
    await t?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  });

  describe('while the api runs', () => {
    it('explain tells the log in sentences with time, actor and API key, including the reseller disable', async () => {
      const run = await cli(['explain', '--account', 'store-1/alice', ...at]);
      expect(run.code).toBe(0);
      const lines = run.out.split('\n');
      expect(lines[0]).toMatch(/^store-1\/alice: \d+ events \(stream TwoFactorAccount-store-1\|alice, positions \d+\.\.\d+\)$/);
      // The operator key op-1 acted for reseller-ann; the portal key portal-1 for the customer.
      expect(run.out).toContain(`${disabledAt.toISOString()}  2FA disabled by reseller reseller-ann (reason: lost phone) (key op-1)\n`);
      expect(run.out).toMatch(/Z {2}Authenticator app setup started - by the customer \(key portal-1\)\n/);
      expect(run.out).toMatch(/Z {2}Logged in with a recovery code; 9 left, reset recommended - by the customer \(key portal-1\)\n/);
      // Same sentences the api's event log shows.
      const log = await t.as('operator').get(`${accountUrl('store-1', 'alice')}/event-log`).expect(200);
      for (const entry of log.body.entries as { what: string; at: string }[]) expect(run.out).toContain(`${entry.at}  ${entry.what}`);
    });

    it("explain --json writes one object per event: the api's event log entries, naming the API key, never event data", async () => {
      const run = await cli(['explain', '--account', 'store-1/alice', '--json', ...at]);
      expect(run).toMatchObject({ code: 0, err: '' });
      expect(run.out.endsWith('}\n')).toBe(true);
      const entries = run.out.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
      const events = await t.runtime.eventStore.readStream(accountStream('store-1', 'alice'));
      expect(entries.map((entry) => entry.position)).toEqual(events.map((event) => event.position));
      for (const entry of entries) expect(Object.keys(entry)).toEqual(['position', 'revision', 'eventId', 'at', 'type', 'what', 'actor']);
      expect(entries.find((entry) => entry.type === 'ResellerDisabled')).toEqual({
        position: expect.any(Number),
        revision: expect.any(Number),
        eventId: expect.any(String),
        at: disabledAt.toISOString(),
        type: 'ResellerDisabled',
        what: '2FA disabled by reseller reseller-ann (reason: lost phone)',
        actor: { kind: 'operator', id: 'reseller-ann', apiKeyId: 'op-1' },
      });
      expect(entries.find((entry) => entry.type === 'TotpSetupStarted')).toMatchObject({ actor: { kind: 'customer', apiKeyId: 'portal-1' } });
      expect(run.out).not.toContain('"data"');
      expect(run.out).not.toContain('recoveryCodeHash');
      // The api's GET /event-log serves the very same entries, the acting key included.
      const log = await t.as('operator').get(`${accountUrl('store-1', 'alice')}/event-log`).expect(200);
      expect(log.body.entries).toEqual(entries);
      expect((await cli(['explain', '--account', 'store-1/nobody', '--json', ...at])).out).toBe('');
    });

    it('explain refuses a bad account and reports an unknown one', async () => {
      expect(await cli(['explain', '--account', 'store-1', ...at])).toMatchObject({ code: 2, err: expect.stringContaining('--account must be TENANT/USER') });
      expect(await cli(['explain', ...at])).toMatchObject({ code: 2, err: expect.stringContaining('--account TENANT/USER is required') });
      expect(await cli(['explain', '--account', 'store-1/nobody', ...at])).toMatchObject({ code: 1, err: expect.stringContaining('no events for account store-1/nobody') });
    });

    it('status-at the latest position agrees with the live status view of every account', async () => {
      for (const [tenantId, userId] of ACCOUNTS) {
        const run = await cli(['status-at', '--account', `${tenantId}/${userId}`, '--position', String(head), '--json', ...at]);
        expect(run.code).toBe(0);
        expect(JSON.parse(run.out)).toEqual(await liveStatus(tenantId, userId));
      }
      expect((await liveStatus('store-1', 'dave')).lockedUntil).toEqual(expect.any(String));
    });

    it("status-at applies the tenant's policy as it stood at the cut, as the api does", async () => {
      const http = (await t.as('portal2').get(`${accountUrl('store-2', 'carol')}/two-factor`).expect(200)).body;
      expect(http).toMatchObject({ status: 'Enabled', method: 'email', setupPending: true });
      const latest = await cli(['status-at', '--account', 'store-2/carol', '--position', String(head), '--json', ...at]);
      const { revision: _revision, ...presented } = JSON.parse(latest.out) as StatusView;
      expect(presented).toEqual(http);
      // Before the policy change, carol's unconfirmed setup was no 2FA at all.
      const earlier = await cli(['status-at', '--account', 'store-2/carol', '--position', String(headBeforeDisable), '--json', ...at]);
      expect(JSON.parse(earlier.out)).toMatchObject({ status: 'Disabled', method: null, setupPending: true });
    });

    it('status-at before the reseller disable shows Enabled with 9 recovery codes and a reset recommended', async () => {
      for (const cut of [
        ['--position', String(headBeforeDisable)],
        ['--at', beforeDisable.toISOString()],
      ]) {
        const json = await cli(['status-at', '--account', 'store-1/alice', ...cut, '--json', ...at]);
        expect(json.code).toBe(0);
        expect(JSON.parse(json.out)).toMatchObject({ status: 'Enabled', method: 'totp', recoveryCodesRemaining: 9, resetRecommended: true, lockedUntil: null });
      }
      const text = await cli(['status-at', '--account', 'store-1/alice', '--position', String(headBeforeDisable), ...at]);
      expect(text.out).toMatch(/^store-1\/alice at position \d+: \d+ of \d+ events, the last at position \d+ \(.*Z\)\n\n/);
      expect(text.out).toMatch(/^ {2}status {20}Enabled$/m);
      expect(text.out).toMatch(/^ {2}recovery codes remaining {2}9$/m);
      expect(text.out).toMatch(/^ {2}reset recommended {9}yes$/m);
      const after = await cli(['status-at', '--account', 'store-1/alice', '--at', disabledAt.toISOString(), '--json', ...at]);
      expect(JSON.parse(after.out)).toMatchObject({ status: 'Disabled', recoveryCodesRemaining: 0, resetRecommended: false });
    });

    it('status-at before the first event is the empty Disabled view', async () => {
      const run = await cli(['status-at', '--account', 'store-1/alice', '--at', '2000-01-01', ...at]);
      expect(run.code).toBe(0);
      expect(run.out).toMatch(/^store-1\/alice at 2000-01-01T00:00:00\.000Z: none of its \d+ events\n/);
      expect(run.out).toMatch(/^ {2}status {20}Disabled$/m);
    });

    it('status-at refuses ambiguous or malformed cuts', async () => {
      const base = ['status-at', '--account', 'store-1/alice', ...at];
      expect((await cli(base)).code).toBe(2);
      expect((await cli([...base, '--at', '2026-11-23T10:00:00Z', '--position', '3'])).err).toContain('give exactly one of --at ISO-TIME or --position N');
      expect((await cli([...base, '--at', '2026-11-23T10:00:00'])).err).toContain('--at must be an ISO time with a zone');
      expect((await cli([...base, '--at', 'yesterday'])).code).toBe(2);
      expect((await cli([...base, '--position=-1'])).err).toContain("--position must be a whole number >= 0; got '-1'");
    });

    it('replay folds the log into the same statuses as the live views', async () => {
      const table = await cli(['replay', ...at]);
      expect(table.code).toBe(0);
      const rows = table.out.split('\n');
      expect(rows[0]).toMatch(/^ACCOUNT +STATUS +METHOD +RECOVERY CODES +RESET RECOMMENDED +LOCKED UNTIL$/);
      expect(rows[1]).toMatch(/^store-1\/alice +Disabled +- +0 +no +-$/);
      expect(rows[2]).toMatch(/^store-1\/bob +Enabled +totp +10 +no +-$/);
      expect(rows[3]).toMatch(/^store-1\/dave +Enabled +totp +10 +no +\d{4}-\d\d-\d\dT.*Z$/);
      expect(rows[4]).toMatch(/^store-2\/carol +Enabled +email +0 +no +-$/);
      expect(table.out).toContain(`4 accounts (3 Enabled, 1 Disabled) from ${head} events in SQLite`);
      expect(table.err).toMatch(new RegExp(`^replayed ${head} events in \\d+\\.\\d\\d s \\(\\d+ events/s\\)\\n$`));

      const json = await cli(['replay', '--json', ...at]);
      const replayed = json.out.trim().split('\n').map((line) => JSON.parse(line) as StatusView);
      expect(replayed).toEqual(await Promise.all(ACCOUNTS.map(([tenantId, userId]) => liveStatus(tenantId, userId))));
    });

    it('replay --rebuild (and rebuild-projections) rebuilds wiped read models to the same views', async () => {
      const before = await Promise.all(ACCOUNTS.map(([tenantId, userId]) => liveStatus(tenantId, userId)));
      for (const argv of [['replay', '--rebuild'], ['rebuild-projections']]) {
        withDb(dataDir, (db) => db.exec('DELETE FROM rm_documents; DELETE FROM rm_entries;'));
        expect(await t.runtime.readModels.status('store-1', 'bob')).toBeNull();
        const run = await cli([...argv, ...at]);
        expect(run.code).toBe(0);
        expect(run.out).toBe(`rebuilt read models (status-v2, event-log-v2) in SQLite ${path.resolve(dataDir, 'twostep.db')} from ${head} events; checkpoint ${head}\n`);
        expect(run.err).toMatch(new RegExp(`^applied ${head} events in \\d+\\.\\d\\d s \\(\\d+ events/s\\)\\n$`));
        expect(await Promise.all(ACCOUNTS.map(([tenantId, userId]) => liveStatus(tenantId, userId)))).toEqual(before);
      }
      const log = await t.as('operator').get(`${accountUrl('store-1', 'alice')}/event-log`).expect(200);
      expect(log.body.entries.length).toBeGreaterThan(5);
    });

    it('export writes JSON Lines in global order, whole or by tenant or account, secrets as stored', async () => {
      const all = await exportLines(dataDir);
      expect(all).toHaveLength(head);
      expect(all.map((line) => line.position)).toEqual([...all.map((line) => line.position)].sort((a, b) => a - b));
      expect(Object.keys(all[0]!)).toEqual(['position', 'stream', 'revision', 'eventId', 'type', 'at', 'actor', 'data', 'metadata', 'hash', 'prevHash', 'recordedAt']);
      const setup = all.find((line) => line.type === 'TotpSetupStarted' && line.stream === accountStream('store-1', 'bob'))!;
      expect(setup.data.secret).toMatchObject({ alg: 'A256GCM', kid: expect.any(String), ct: expect.any(String) });
      expect(JSON.stringify(all)).not.toContain(bobSecret);
      const disable = all.find((line) => line.type === 'ResellerDisabled')!;
      expect(disable).toMatchObject({ at: disabledAt.toISOString(), actor: { kind: 'operator', id: 'reseller-ann' }, data: { operatorId: 'reseller-ann', reason: 'lost phone' } });

      const store2 = await exportLines(dataDir, '--tenant', 'store-2');
      expect(new Set(store2.map((line) => line.stream))).toEqual(new Set([accountStream('store-2', 'carol'), policyStream('store-2')]));
      const store1 = await exportLines(dataDir, '--tenant', 'store-1');
      expect(store1.some((line) => line.stream === policyStream('store-1'))).toBe(true);
      expect(store1.length + store2.length).toBe(all.length);
      const alice = await exportLines(dataDir, '--account', 'store-1/alice');
      expect(alice.map((line) => line.revision)).toEqual(alice.map((_, i) => i));
      expect(alice).toEqual(all.filter((line) => line.stream === accountStream('store-1', 'alice')));
      expect(await cli(['export', '--account', 'store-1/nobody', ...at])).toMatchObject({ code: 1, out: '', err: expect.stringContaining('no events for account store-1/nobody') });
      expect(await cli(['export', '--tenant', 'store-1', '--account', 'store-1/alice', ...at])).toMatchObject({ code: 2, err: expect.stringContaining('give --tenant or --account, not both') });
    });

    it('export → import into a fresh store → identical events and identical replayed state', async () => {
      const file = path.join(work, 'export.jsonl');
      const exported = await cli(['export', '--out', file, ...at]);
      expect(exported).toMatchObject({ code: 0, out: '' });
      expect(exported.err).toMatch(new RegExp(`^exported ${head} events \\(all streams\\) from SQLite .* to ${file}\\n$`));
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);

      const target = path.join(work, 'reimported');
      const imported = await cli(['import', '--in', file, '--data-dir', target]);
      expect(imported.code).toBe(0);
      expect(imported.out).toMatch(new RegExp(`^imported ${head} events in 6 streams into SQLite .*; every hash matches the export\\n$`));

      const strip = (lines: ExportLine[]) => lines.map(({ recordedAt: _recordedAt, position: _position, ...rest }) => rest);
      const original = await exportLines(dataDir);
      const copy = await exportLines(target);
      expect(strip(copy)).toEqual(strip(original)); // eventId, type, data, metadata - and so every hash
      expect((await cli(['verify', '--data-dir', target])).code).toBe(0);

      const replayOriginal = await cli(['replay', '--json', ...at]);
      const replayCopy = await cli(['replay', '--json', '--data-dir', target]);
      expect(replayCopy.out).toBe(replayOriginal.out);
      const tableOf = (out: string) => out.split('\n\n')[0];
      expect(tableOf((await cli(['replay', '--data-dir', target])).out)).toBe(tableOf((await cli(['replay', ...at])).out));
      for (const [tenantId, userId] of ACCOUNTS) {
        const argv = ['status-at', '--account', `${tenantId}/${userId}`, '--at', disabledAt.toISOString(), '--json'];
        expect((await cli([...argv, '--data-dir', target])).out).toBe((await cli([...argv, ...at])).out);
      }

      // Import refuses a store that already has events.
      const again = await cli(['import', '--in', file, '--data-dir', target]);
      expect(again.code).toBe(1);
      expect(again.err).toMatch(/refused: SQLite .* is not empty \(head position \d+\); import only into a fresh store/);
    });

    it('import refuses a tampered export and imports nothing', async () => {
      const file = path.join(work, 'tampered.jsonl');
      const lines = fs.readFileSync(path.join(work, 'export.jsonl'), 'utf8').trim().split('\n');
      const index = lines.findIndex((line) => line.includes('"ResellerDisabled"'));
      const edited = JSON.parse(lines[index]!) as ExportLine;
      edited.data = { ...edited.data, operatorId: 'someone-else' };
      lines[index] = JSON.stringify(edited);
      fs.writeFileSync(file, `${lines.join('\n')}\n`);
      const target = path.join(work, 'refused');
      const run = await cli(['import', '--in', file, '--data-dir', target]);
      expect(run.code).toBe(1);
      expect(run.out).toMatch(/^refused: the export does not verify \(1 problem\); nothing was imported\n/);
      expect(run.out).toMatch(new RegExp(`^${edited.position} +TwoFactorAccount-store-1\\|alice +${edited.revision} +changed`, 'm'));
      expect(fs.existsSync(target)).toBe(false);

      fs.writeFileSync(file, '{"not":"an event"}\n');
      expect(await cli(['import', '--in', file, '--data-dir', target])).toMatchObject({ code: 1, err: expect.stringContaining('line 1: position must be an integer >= 1') });
      expect(await cli(['import', '--data-dir', target])).toMatchObject({ code: 2, err: expect.stringContaining('--in FILE is required') });
    });
  });

  describe('key rotation', () => {
    let ring = '';
    let before: ExportLine[] = [];
    let lastTime: Date;

    beforeAll(async () => {
      lastTime = t.clock.now();
      await t.close(); // the api holds the old ring only; it restarts below with the new one
      const oldEntry = (JSON.parse(fs.readFileSync(path.join(dataDir, 'keys.json'), 'utf8')) as { secretKeys: string }).secretKeys;
      expect(oldEntry).toMatch(/^k1:/);
      ring = `${generateKeyRingEntry('k2')},${oldEntry}`;
      before = await exportLines(dataDir);
    });

    it('--dry-run lists the accounts and appends nothing', async () => {
      const run = await cli(['reencrypt-secrets', '--dry-run', ...at], { TWOSTEP_SECRET_KEYS: ring });
      expect(run.code).toBe(0);
      expect(run.out).toContain('would re-encrypt store-1/bob: key k1 -> k2\n');
      expect(run.out).toContain('would re-encrypt store-1/dave: key k1 -> k2\n');
      expect(run.out).toContain('Would re-encrypt 2 TOTP secrets with key k2');
      expect(await exportLines(dataDir)).toEqual(before);
    });

    it('appends TotpSecretReencrypted with the new key id for each enabled account and leaves old events untouched', async () => {
      const run = await cli(['reencrypt-secrets', ...at], { TWOSTEP_SECRET_KEYS: ring });
      expect(run.code).toBe(0);
      expect(run.out).toBe(
        [
          're-encrypted store-1/bob: key k1 -> k2',
          're-encrypted store-1/dave: key k1 -> k2',
          `Re-encrypted 2 TOTP secrets with key k2 (2 accounts with 2FA enabled, 0 already on k2) in SQLite ${path.resolve(dataDir, 'twostep.db')}`,
          '1 unconfirmed setup(s) still use an older key: store-2/carol (k1); keep that key in the ring until they are confirmed or set up again',
          '',
        ].join('\n'),
      );
      const after = await exportLines(dataDir);
      expect(after.slice(0, before.length)).toEqual(before);
      const added = after.slice(before.length);
      expect(added.map((line) => [line.stream, line.type, (line.data.secret as { kid: string }).kid, line.actor])).toEqual([
        [accountStream('store-1', 'bob'), 'TotpSecretReencrypted', 'k2', { kind: 'system', id: 'twostep-cli' }],
        [accountStream('store-1', 'dave'), 'TotpSecretReencrypted', 'k2', { kind: 'system', id: 'twostep-cli' }],
      ]);
      expect((await cli(['verify', ...at])).code).toBe(0);
      const explained = await cli(['explain', '--account', 'store-1/bob', ...at]);
      expect(explained.out).toMatch(/Z {2}Authenticator secret re-encrypted with key k2 - by twostep \(twostep-cli\)\n$/);

      const again = await cli(['reencrypt-secrets', ...at], { TWOSTEP_SECRET_KEYS: ring });
      expect(again.out).toContain('Re-encrypted 0 TOTP secrets with key k2 (2 accounts with 2FA enabled, 2 already on k2)');
      expect((await exportLines(dataDir)).length).toBe(after.length);
    });

    it('a login with the authenticator still works when the api has only the new key', async () => {
      const k2Only = ring.split(',')[0]!;
      t = await startTestApp({ TWOSTEP_DATA_DIR: dataDir, TWOSTEP_SECRET_KEYS: k2Only });
      t.clock.set(new Date(lastTime.getTime() + 60_000));
      const url = accountUrl('store-1', 'bob');
      const challenge = await t.as('portal').post(`${url}/challenges`, {}).expect(200);
      expect(challenge.body).toMatchObject({ required: true, method: 'totp' });
      const ok = await t.as('portal').post(`${url}/challenges/${challenge.body.challengeId}/verify`, { code: codeNow(bobSecret) }).expect(200);
      expect(ok.body.verified).toBe(true);
    });

    it('fails clearly without a usable key ring', async () => {
      const empty = tempDir();
      fs.copyFileSync(path.join(dataDir, 'twostep.db'), path.join(empty, 'twostep.db'));
      const run = await cli(['reencrypt-secrets', '--dry-run', '--data-dir', empty]);
      expect(run).toMatchObject({ code: 1, err: expect.stringContaining('TWOSTEP_SECRET_KEYS: required') });
      const bad = await cli(['reencrypt-secrets', '--dry-run', ...at], { TWOSTEP_SECRET_KEYS: 'k3:not-a-key' });
      expect(bad).toMatchObject({ code: 1, err: expect.stringContaining('TWOSTEP_SECRET_KEYS: key ring entry 1 ("k3"): key must be base64 of exactly 32 bytes') });
      const unknown = await cli(['reencrypt-secrets', ...at], { TWOSTEP_SECRET_KEYS: generateKeyRingEntry('k9') });
      expect(unknown.code).toBe(1);
      expect(unknown.out).toContain('FAILED store-1/bob: key k2 is not in TWOSTEP_SECRET_KEYS');
      fs.rmSync(empty, { recursive: true, force: true });
    });
  });
});
