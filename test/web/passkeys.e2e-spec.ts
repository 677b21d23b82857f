import { generateKeyPairSync } from 'node:crypto';
import type { BrowserContext, CDPSession, Page } from 'playwright-core';
import { twostepClient } from '@twostep/client';
import { enrol, flow, signIn, signOut, startRig, totpNow, type Rig } from './browser';

/**
 * Passkeys end to end in a real browser: Chromium's CDP virtual authenticator
 * (`WebAuthn.addVirtualAuthenticator`) on the reference web app served at http://localhost (a
 * secure context and a valid relying-party id). The page runs the WebAuthn ceremonies with
 * @simplewebauthn/browser; the web server relays them to twostep, which verifies them with
 * @simplewebauthn/server.
 */
let rig: Rig;
const admin = () => twostepClient({ baseUrl: rig.apiUrl, apiKey: rig.key('admin') });
const portal = () => twostepClient({ baseUrl: rig.apiUrl, apiKey: rig.key('portal') });

beforeAll(async () => {
  rig = await startRig({ host: 'localhost' });
}, 60_000);

afterAll(async () => {
  await rig?.close();
});

jest.setTimeout(90_000);

/** A platform authenticator that says the user is present and verified, as Touch ID would. */
async function virtualAuthenticator(context: BrowserContext, page: Page): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  return { cdp, authenticatorId };
}

async function addPasskey(page: Page, name: string): Promise<void> {
  await page.goto('/account/settings');
  await page.getByLabel('Name for a new passkey').fill(name);
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await page.locator('#flash').waitFor({ state: 'visible', timeout: 10_000 });
  expect(await page.locator('#flash').innerText()).toContain(`Passkey "${name}" added`);
}

describe('passkeys in a browser (CDP virtual authenticator)', () => {
  it('the Admin Console turns passkeys on for a store: its domain and the pages allowed, refused when a page is not on the domain', async () => {
    await flow(rig, 'passkey-admin', async (page) => {
      await signIn(page, '/admin/login', 'root', 'root-demo-pass');
      await page.waitForURL('**/admin/settings');
      await page.goto('/admin/settings?scope=store-1');
      await page.getByLabel('Passkey Domain').fill('localhost');
      await page.getByLabel('Passkey Pages').fill('https://shop.example.com');
      await page.getByRole('button', { name: 'Save' }).click();
      expect(await page.locator('#passkeyOrigins-error').innerText()).toMatch(/not on passkeyRpId \(localhost\)/);
      await page.getByLabel('Passkey Pages').fill(new URL(rig.baseURL).origin);
      await page.getByRole('button', { name: 'Save' }).click();
      expect(await page.locator('#flash').innerText()).toBe('Saved: Store Settings: store-1.');
    });
    const policy = await admin().getPolicy('store-1');
    expect(policy.ok && policy.data).toMatchObject({ passkeyRpId: 'localhost', passkeyOrigins: [new URL(rig.baseURL).origin] });
  });

  it('registers a passkey through twostep from Account → Settings, then logs in with it instead of a code', async () => {
    await flow(rig, 'passkey-login', async (page, context) => {
      const { cdp, authenticatorId } = await virtualAuthenticator(context, page);
      await signIn(page, '/login', 'alice', 'alice-demo-pass');
      await page.waitForURL('**/domains');
      await enrol(rig, page);
      await addPasskey(page, 'Laptop passkey');
      expect(await page.locator('#passkeys tbody tr').count()).toBe(1);
      expect(await page.locator('#passkeys tbody tr td').first().innerText()).toBe('Laptop passkey');

      // The authenticator holds one credential for localhost; twostep lists it (no public key).
      const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
      expect(credentials).toHaveLength(1);
      expect(credentials[0]!.rpId).toBe('localhost');
      const listed = await portal().listPasskeys({ tenantId: 'store-1', userId: 'alice' });
      if (!listed.ok) throw new Error(listed.error.message);
      expect(listed.data.passkeys).toEqual([{ passkeyId: expect.any(String), name: 'Laptop passkey', createdAt: expect.any(String), lastUsedAt: null }]);
      expect(JSON.stringify(listed.data)).not.toContain('publicKey');
      await signOut(page);

      // The 2FA prompt offers the passkey; using it signs in with no code typed.
      await signIn(page, '/login', 'alice', 'alice-demo-pass');
      await page.waitForURL('**/login/2fa');
      await page.getByRole('button', { name: 'Use a passkey' }).click();
      await page.waitForURL('**/domains');

      const status = await portal().getStatus({ tenantId: 'store-1', userId: 'alice' });
      if (!status.ok) throw new Error(status.error.message);
      expect(status.data).toMatchObject({ status: 'Enabled', methods: ['totp', 'webauthn'], failedAttempts: 0 });
      const passkeys = (status.data as { passkeys: { lastUsedAt: string | null }[] }).passkeys;
      expect(passkeys[0]!.lastUsedAt).not.toBeNull();
      const log = await admin().getAccountEventLog({ tenantId: 'store-1', userId: 'alice' });
      if (!log.ok) throw new Error(log.error.message);
      const lines = log.data.entries.map((entry: { what: string }) => entry.what);
      expect(lines).toContainEqual(expect.stringMatching(/^Passkey "Laptop passkey" added; passkey id /));
      expect(lines).toContainEqual(expect.stringMatching(/^Login verified \(passkey /));

      // The authenticator's signature counter moved, and twostep stored what it signed.
      const after = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
      expect(after.credentials[0]!.signCount).toBeGreaterThan(0);

      // Removing it in Settings takes the button off the next prompt.
      await page.goto('/account/settings');
      await page.getByRole('button', { name: 'Remove Laptop passkey' }).click();
      expect(await page.locator('#flash').innerText()).toBe('Passkey removed.');
      expect(await page.locator('#no-passkeys').count()).toBe(1);
      await signOut(page);
      await signIn(page, '/login', 'alice', 'alice-demo-pass');
      await page.waitForURL('**/login/2fa');
      expect(await page.getByRole('button', { name: 'Use a passkey' }).count()).toBe(0);
    });
  });

  it('a wrong credential (the registered id, another key) counts as a failed attempt, toward the same lock as wrong codes', async () => {
    let credentialId = '';
    let secret = '';
    await flow(rig, 'passkey-register-bob', async (page, context) => {
      const { cdp, authenticatorId } = await virtualAuthenticator(context, page);
      await signIn(page, '/login', 'bob', 'bob-demo-pass');
      await page.waitForURL('**/domains');
      ({ secret } = await enrol(rig, page));
      await addPasskey(page, 'Security key');
      credentialId = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials[0]!.credentialId;
    });

    await flow(rig, 'passkey-wrong-credential', async (page, context) => {
      // Another authenticator claims bob's credential id but signs with a key of its own.
      const { cdp, authenticatorId } = await virtualAuthenticator(context, page);
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      await cdp.send('WebAuthn.addCredential', {
        authenticatorId,
        credential: { credentialId, isResidentCredential: false, rpId: 'localhost', privateKey: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'), signCount: 7 },
      });
      await signIn(page, '/login', 'bob', 'bob-demo-pass');
      await page.waitForURL('**/login/2fa');
      await page.getByRole('button', { name: 'Use a passkey' }).click();
      await page.locator('#passkey-status').filter({ hasText: 'could not be verified' }).waitFor({ timeout: 10_000 });
      expect(await page.locator('#passkey-status').innerText()).toBe('The passkey could not be verified, 2 attempts left to login.');

      const status = await portal().getStatus({ tenantId: 'store-1', userId: 'bob' });
      expect(status.ok && status.data).toMatchObject({ failedAttempts: 1 });
      const log = await admin().getAccountEventLog({ tenantId: 'store-1', userId: 'bob' });
      if (!log.ok) throw new Error(log.error.message);
      expect(log.data.entries.map((entry: { what: string }) => entry.what)).toContain('Failed passkey attempt (passkey signature did not verify), 2 attempts left');

      // A wrong code next is the second of the same three.
      const code = totpNow(rig, secret);
      await page.getByLabel('Authentication code').fill(code === '000000' ? '111111' : '000000');
      await page.getByRole('button', { name: 'Verify' }).click();
      expect(await page.locator('#flash').innerText()).toMatch(/^Invalid authentication code, 1 attempts left to login\./);
    });
  });
});
