import type { Page } from 'playwright-core';
import { enrol, flow, signIn, signOut, startRig, totpNow, type Rig } from './browser';

/**
 * Remembered devices in the browser: "Remember my device" lists the device under its user agent's
 * summary in Account → Settings and on the customer's record in Storefront Manager; forgetting it
 * (the customer, or the reseller) brings the 2FA prompt back at the next sign-in.
 */
let rig: Rig;

beforeAll(async () => {
  rig = await startRig();
}, 60_000);

afterAll(async () => {
  await rig?.close();
});

jest.setTimeout(90_000);

/** Signs in with the app's code and "Remember my device"; ends on the domains page. */
async function signInRemembering(page: Page, username: string, secret: string): Promise<void> {
  await signIn(page, '/login', username, `${username}-demo-pass`);
  await page.waitForURL('**/login/2fa');
  await page.getByLabel('Authentication code').fill(totpNow(rig, secret));
  await page.getByLabel('Remember my device').first().check();
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.waitForURL('**/domains');
  rig.clock.advance(30_000);
}

describe('remembered devices in a browser', () => {
  it('the customer sees the device as "Chrome on Linux" in Account → Settings and forgets it: the next sign-in asks again', async () => {
    await flow(rig, 'devices-customer', async (page) => {
      await signIn(page, '/login', 'alice', 'alice-demo-pass');
      await page.waitForURL('**/domains');
      const { secret } = await enrol(rig, page);
      await signOut(page);
      await signInRemembering(page, 'alice', secret);
      await page.goto('/account/settings');
      expect(await page.locator('#devices tbody tr').count()).toBe(1);
      expect(await page.locator('#devices tbody tr td').first().innerText()).toBe('Chrome on Linux');
      await signOut(page);
      await signIn(page, '/login', 'alice', 'alice-demo-pass');
      await page.waitForURL('**/domains'); // remembered: no second step

      await page.goto('/account/settings');
      await page.getByRole('button', { name: 'Forget Chrome on Linux' }).click();
      expect(await page.locator('#flash').innerText()).toBe('Device forgotten: it asks for the second step at the next sign-in.');
      expect(await page.locator('#no-devices').count()).toBe(1);
      await signOut(page);
      await signIn(page, '/login', 'alice', 'alice-demo-pass');
      await page.waitForURL('**/login/2fa');
    });
  });

  it("a reseller forgets a customer's device from the customer's record, and the event log names them", async () => {
    await flow(rig, 'devices-reseller', async (page, context) => {
      await signIn(page, '/login', 'bob', 'bob-demo-pass');
      await page.waitForURL('**/domains');
      const { secret } = await enrol(rig, page);
      await signOut(page);
      await signInRemembering(page, 'bob', secret);
      await signOut(page);

      const manager = await context.newPage();
      await signIn(manager, '/manager/login', 'ann', 'ann-demo-pass');
      await manager.waitForURL('**/manager/customers');
      await manager.getByRole('link', { name: 'bob' }).click();
      expect(await manager.locator('#devices tbody tr td').first().innerText()).toBe('Chrome on Linux');
      await manager.getByRole('button', { name: 'Forget Chrome on Linux' }).click();
      expect(await manager.locator('#flash').innerText()).toBe('Device forgotten: it asks for the second step at the next sign-in.');
      expect(await manager.locator('#event-log').innerText()).toMatch(/Remembered device \S+ revoked by reseller ann/);

      await signIn(page, '/login', 'bob', 'bob-demo-pass');
      await page.waitForURL('**/login/2fa');
    });
  });
});
