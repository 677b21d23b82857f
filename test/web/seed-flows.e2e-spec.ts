import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { enrol as enrolWith, expectVisible, flow as flowIn, signIn, signOut, startRig, totpNow as totpWith, type Rig } from './browser';

/**
 * The seeds' flows in a real browser (Debian's Chromium, driven by playwright-core) against the
 * reference web app, which talks to an embedded twostep through @twostep/client (the rig is in
 * ./browser.ts). TOTP codes are computed from the key the page shows; email codes are read from
 * the embedded mail path (<data dir>/mail/*.eml). TWOSTEP_SCREENSHOTS=dir keeps one of each main screen.
 */
const SCREENSHOTS = process.env.TWOSTEP_SCREENSHOTS ? path.resolve(process.env.TWOSTEP_SCREENSHOTS) : null;
const INVALID = (left: number) => `Invalid authentication code, ${left} attempts left to login.`;
const TIMED_OUT = 'Your authentication code timed out. Kindly generate a new code to continue.';

let rig: Rig;
let dataDir: string;
let clock: Rig['clock'];

beforeAll(async () => {
  rig = await startRig();
  dataDir = rig.dataDir;
  clock = rig.clock;
}, 60_000);

afterAll(async () => {
  await rig?.close();
});

const flow = (name: string, steps: (page: Page) => Promise<void>) => flowIn(rig, name, (page) => steps(page));

async function shot(page: Page, name: string): Promise<void> {
  if (SCREENSHOTS) await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

const totpNow = (secret: string) => totpWith(rig, secret);
const wrong = (code: string) => (code === '000000' ? '111111' : '000000');
const enrol = (page: Page, screenshots = false) => enrolWith(rig, page, screenshots ? (name) => shot(page, name) : undefined);

/** The newest email code sent to `address`, from the embedded mail path. */
async function emailCode(address: string, notBefore: number): Promise<string> {
  const dir = path.join(dataDir, 'mail');
  for (let waited = 0; waited < 10_000; waited += 100) {
    const files = fs.existsSync(dir)
      ? fs.readdirSync(dir).map((name) => path.join(dir, name)).filter((file) => fs.statSync(file).mtimeMs >= notBefore)
      : [];
    const mails = files.map((file) => ({ file, text: fs.readFileSync(file, 'utf8'), at: fs.statSync(file).mtimeMs })).filter((mail) => mail.text.includes(address));
    const code = mails.sort((a, b) => b.at - a.at).map((mail) => /^ {4}(\d{6})\r?$/m.exec(mail.text)?.[1]).find(Boolean);
    if (code) return code;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no code email to ${address}`);
}

jest.setTimeout(90_000);

describe('the seeds in a browser', () => {
  it('customer portal: set up the authenticator app, then a login with the 2FA prompt, a wrong code, and Remember my device', async () => {
    await flow('portal-totp', async (page) => {
      await signIn(page, '/login', 'alice', 'alice-demo-pass');
      await page.waitForURL('**/domains');
      const { secret } = await enrol(page, true);
      expect(await page.locator('#twofa-status').innerText()).toBe('Enabled');
      await signOut(page);

      await signIn(page, '/login', 'alice', 'alice-demo-pass');
      await page.waitForURL('**/login/2fa');
      await shot(page, 'portal-2fa-prompt');
      await page.getByLabel('Authentication code').fill(wrong(totpNow(secret)));
      await page.getByRole('button', { name: 'Verify' }).click();
      expect(await page.locator('#flash').innerText()).toMatch(/Invalid authentication code/);
      await page.getByLabel('Authentication code').fill(totpNow(secret));
      await page.getByLabel('Remember my device').check();
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.waitForURL('**/domains');
      await signOut(page);

      // The remembered device skips the second step.
      await signIn(page, '/login', 'alice', 'alice-demo-pass');
      await page.waitForURL('**/domains');
    });
  });

  it('a recovery code signs in once, and the domains page recommends resetting 2FA', async () => {
    await flow('portal-recovery', async (page) => {
      await signIn(page, '/login', 'bob', 'bob-demo-pass');
      await page.waitForURL('**/domains');
      const { codes } = await enrol(page);
      await signOut(page);
      await signIn(page, '/login', 'bob', 'bob-demo-pass');
      await page.getByRole('link', { name: 'Use a recovery code' }).click();
      await page.getByLabel('Recovery code').fill(codes[0]!);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL('**/domains');
      expect(await page.locator('#recovery-prompt').innerText()).toMatch(/recommend you reset your two-factor authentication settings/);
      await shot(page, 'portal-domains-after-recovery');
      await page.getByRole('link', { name: 'go to Account → Settings' }).click();
      expect(await page.locator('#codes-left').innerText()).toBe('9');
      await signOut(page);

      // The same code does not work twice.
      await signIn(page, '/login', 'bob', 'bob-demo-pass');
      await page.getByRole('link', { name: 'Use a recovery code' }).click();
      await page.getByLabel('Recovery code').fill(codes[0]!);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL('**/login/recovery');
      expect(await page.locator('#flash').innerText()).toMatch(/Invalid/i);
    });
  });

  it('forgot password: "Password reset successfully", then the 2FA prompt at the next sign-in', async () => {
    await flow('portal-forgot-password', async (page) => {
      await page.goto('/login');
      await page.getByRole('link', { name: 'Forgot password?' }).click();
      await page.getByLabel('Username').fill('bob');
      await page.getByLabel('New password').fill('bob-new-password');
      await page.getByRole('button', { name: 'Set new password' }).click();
      await page.waitForURL(/\/login\?reset=1$/);
      expect(await page.locator('#flash').innerText()).toBe('Password reset successfully');
      await signIn(page, '/login', 'bob', 'bob-new-password');
      await page.waitForURL('**/login/2fa');
    });
  });

  it('Storefront Manager: the read-only field, Disable only when Enabled, a confirmation pop-up, a notification, the event log', async () => {
    await flow('manager-disable', async (page) => {
      await signIn(page, '/manager/login', 'ann', 'ann-demo-pass');
      await page.waitForURL('**/manager/customers');
      await shot(page, 'manager-customers');
      await page.getByRole('link', { name: 'alice' }).click();
      expect(await page.locator('#twofa-status').innerText()).toBe('Enabled');
      await page.getByRole('button', { name: 'Disable', exact: true }).click();
      const dialog = page.getByRole('dialog');
      await dialog.waitFor({ state: 'visible' });
      await shot(page, 'manager-confirm-disable');
      await dialog.getByRole('button', { name: 'Disable' }).click();
      await page.waitForURL('**/manager/customers/alice');
      expect(await page.locator('#flash').innerText()).toBe('Two-factor authentication has been disabled for alice.');
      expect(await page.locator('#twofa-status').innerText()).toBe('Disabled');
      expect(await page.getByRole('button', { name: 'Disable', exact: true }).count()).toBe(0);
      expect(await page.locator('#event-log').innerText()).toMatch(/2FA disabled by reseller ann/);
      await shot(page, 'manager-customer-record');
    });
  });

  it('Admin Console: settings with errors next to the field, then email codes: wrong code with attempts left, resend after the cooldown, timed out, locked', async () => {
    await flow('admin-settings-and-email', async (page) => {
      await signIn(page, '/admin/login', 'root', 'root-demo-pass');
      await page.waitForURL('**/admin/settings');
      await page.getByLabel(/Verification Code Timeout/).fill('0');
      await page.getByRole('button', { name: 'Save' }).click();
      expect(await page.locator('#codeTtlMinutes-error').innerText()).toMatch(/from 1 to 360/);
      await shot(page, 'admin-settings-error');
      await page.getByLabel(/Verification Code Timeout/).fill('10');
      await page.getByLabel('Enable Two-Factor Authentication').check();
      await page.getByLabel(/Display Name/).fill('Acme HQ');
      await page.getByRole('button', { name: 'Save' }).click();
      expect(await page.locator('#flash').innerText()).toMatch(/Saved: Global Settings/);
      expect(await page.getByLabel(/Display Name/).inputValue()).toBe('Acme HQ');
      await signOut(page);

      let since = Date.now() - 1000;
      await signIn(page, '/admin/login', 'root', 'root-demo-pass');
      await page.waitForURL('**/admin/login/2fa');
      let code = await emailCode('root@example.com', since);
      // The display name saved above signs the code email.
      const mailDir = path.join(dataDir, 'mail');
      expect(fs.readdirSync(mailDir).map((name) => fs.readFileSync(path.join(mailDir, name), 'utf8')).find((text) => text.includes(code))).toMatch(/^Subject: Your Acme HQ verification code\r?$/m);
      expect(await page.locator('#resend').count()).toBe(0); // only after an attempt
      await page.getByLabel('Verification code').fill(wrong(code));
      await page.getByRole('button', { name: 'Verify' }).click();
      expect(await page.locator('#flash').innerText()).toBe(INVALID(2));
      await shot(page, 'admin-email-prompt');
      await page.getByRole('button', { name: 'Resend code' }).click();
      expect(await page.locator('#flash').innerText()).toMatch(/Wait \d+ seconds/);
      expect(await page.locator('#cooldown').innerText()).toMatch(/You can ask for a new code in \d+ seconds/);
      clock.advance(31_000);
      since = Date.now() - 1000;
      await page.getByRole('button', { name: 'Resend code' }).click();
      expect(await page.locator('#flash').innerText()).toMatch(/A new code was sent/);
      const resent = await emailCode('root@example.com', since);
      // The new code replaces the old one; after its timeout it is refused with the seed's message.
      clock.advance(11 * 60_000);
      await page.getByLabel('Verification code').fill(resent);
      await page.getByRole('button', { name: 'Verify' }).click();
      expect(await page.locator('#flash').innerText()).toBe(TIMED_OUT);

      // A fresh sign-in, then wrong codes up to the limit: the lock message with its end time.
      since = Date.now() - 1000;
      await signIn(page, '/admin/login', 'root', 'root-demo-pass');
      await page.waitForURL('**/admin/login/2fa');
      code = await emailCode('root@example.com', since);
      for (const left of [1, 0]) {
        await page.getByLabel('Verification code').fill(wrong(code));
        await page.getByRole('button', { name: 'Verify' }).click();
        if (left > 0) expect(await page.locator('#flash').innerText()).toBe(INVALID(left));
      }
      await page.waitForURL('**/admin/login');
      expect(await page.locator('#flash').innerText()).toMatch(/locked until .+GMT/);
    });
  });
});
