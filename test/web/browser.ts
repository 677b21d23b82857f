import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { AdjustableClock } from '@twostep/app';
import { parseEnv } from '@twostep/config';
import { totpCodeAt } from '@twostep/crypto';
import { startApi, type ApiServer } from '../../apps/api/src/server';
import { startWeb, type WebServer } from '../../apps/web/src/web';

/**
 * The browser suites' rig: an embedded twostep (adjustable clock), the reference web app talking
 * to it through @twostep/client, and Debian's Chromium driven by playwright-core. A failing flow
 * leaves a screenshot in $TWOSTEP_ARTIFACTS (default .infra/artifacts).
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = path.resolve(process.env.TWOSTEP_ARTIFACTS ?? path.join(__dirname, '../../.infra/artifacts'));

export interface Rig {
  api: ApiServer;
  web: WebServer;
  browser: Browser;
  clock: AdjustableClock;
  dataDir: string;
  /** The web app's address as the browser uses it. */
  baseURL: string;
  /** An API key of the embedded twostep, by role. */
  key(role: 'portal' | 'operator' | 'admin' | 'auditor'): string;
  apiUrl: string;
  close(): Promise<void>;
}

/** `host`: what the browser calls the web app (passkeys need `localhost`, a secure context that is a valid relying-party id). */
export async function startRig(options: { host?: 'localhost' | '127.0.0.1' } = {}): Promise<Rig> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run installs it)`);
  const clock = new AdjustableClock();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twostep-web-'));
  const api = await startApi(parseEnv({ TWOSTEP_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' }), { clock });
  const { port } = api.app.getHttpServer().address() as { port: number };
  const key = (role: string) => api.runtime.secrets.apiKeys.find((candidate) => candidate.role === role)!.key;
  const apiUrl = `http://127.0.0.1:${port}`;
  const web = await startWeb({ apiUrl, keys: { portal: key('portal'), operator: key('operator'), admin: key('admin') }, port: 0, host: '127.0.0.1' });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const baseURL = options.host === 'localhost' ? web.url.replace('127.0.0.1', 'localhost') : web.url;
  return {
    api,
    web,
    browser,
    clock,
    dataDir,
    baseURL,
    key,
    apiUrl,
    async close() {
      await browser.close();
      await web.close();
      await api.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A fresh browser context (own cookies) for one flow; a screenshot is kept if the flow fails. */
export async function flow(rig: Rig, name: string, steps: (page: Page, context: BrowserContext) => Promise<void>): Promise<void> {
  const context = await rig.browser.newContext({ baseURL: rig.baseURL });
  const page = await context.newPage();
  try {
    await steps(page, context);
  } catch (error) {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true }).catch(() => undefined);
    throw error;
  } finally {
    await context.close();
  }
}

export async function signIn(page: Page, at: string, username: string, password: string): Promise<void> {
  await page.goto(at);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

export async function signOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Sign out' }).click();
}

export async function expectVisible(page: Page, selector: string): Promise<void> {
  await page.locator(selector).first().waitFor({ state: 'visible', timeout: 10_000 });
}

export const totpNow = (rig: Rig, secret: string) => totpCodeAt(secret, rig.clock.now().getTime());

/** Sets up the authenticator app from Account → Settings; returns the secret and the recovery codes shown. */
export async function enrol(rig: Rig, page: Page, shot?: (name: string) => Promise<void>): Promise<{ secret: string; codes: string[] }> {
  await page.goto('/account/settings');
  await page.getByRole('button', { name: 'Set up two-factor authentication' }).click();
  await expectVisible(page, '#qr');
  await shot?.('portal-setup');
  const secret = (await page.locator('#manual-key').innerText()).replace(/\s/g, '');
  await page.getByLabel('Code from the app').fill(totpNow(rig, secret));
  await page.getByRole('button', { name: 'Confirm' }).click();
  const codes = (await page.locator('#recovery-codes li').allInnerTexts()).map((code) => code.trim());
  expect(codes).toHaveLength(10);
  await shot?.('portal-recovery-codes');
  await page.getByRole('link', { name: 'I have saved them' }).click();
  rig.clock.advance(30_000); // confirming used up this step
  return { secret, codes };
}
