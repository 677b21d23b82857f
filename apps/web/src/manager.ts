import { Router, type Response } from 'express';
import type { TwostepClient } from '@twostep/client';
import { flashMessage, html, page, signInForm } from './html';
import { DEVICE_FORGOTTEN, deviceTable } from './devices';
import { sessionOf, takeFlash } from './sessions';
import type { DemoUser, UserStore } from './users';

/**
 * Storefront Manager, the reseller's console (seed 000, reseller tools): the customers list, a
 * customer's record with the read-only Two-Factor Authentication field, Disable (only while
 * Enabled, after a confirmation pop-up), lifting a lock, and the customer's event log.
 */
export function managerRoutes(users: UserStore, twostep: TwostepClient): Router {
  const router = Router();
  const TITLE = 'Storefront Manager';
  const reseller = (response: Response): DemoUser | undefined => {
    const username = sessionOf(response).user.manager;
    return username ? users.find('manager', username) : undefined;
  };
  const nav = (signedIn: boolean, csrf: string) =>
    signedIn
      ? html`<a href="/manager/customers">Customers</a><form method="post" action="/manager/logout" style="margin:0"><input type="hidden" name="_csrf" value="${csrf}"><button class="secondary" style="margin:0">Sign out</button></form>`
      : html``;

  router.get('/manager', (_request, response) => response.redirect(reseller(response) ? '/manager/customers' : '/manager/login'));

  router.get('/manager/login', (_request, response) => {
    const session = sessionOf(response);
    const flash = takeFlash(session);
    response.send(
      page(
        'Sign in',
        TITLE,
        html`
          ${flashMessage(flash)}
          ${signInForm('/manager/login', session.csrf)}`,
        nav(false, session.csrf),
      ),
    );
  });

  router.post('/manager/login', (request, response) => {
    const { username = '', password = '' } = request.body as { username?: string; password?: string };
    const user = users.authenticate('manager', String(username), String(password));
    const session = sessionOf(response);
    if (!user) {
      session.flash = { kind: 'error', text: 'Wrong username or password.' };
      return response.redirect('/manager/login');
    }
    session.user.manager = user.username;
    response.redirect('/manager/customers');
  });

  router.post('/manager/logout', (_request, response) => {
    delete sessionOf(response).user.manager;
    response.redirect('/manager/login');
  });

  router.get('/manager/customers', async (_request, response) => {
    const me = reseller(response);
    if (!me) return response.redirect('/manager/login');
    const customers = users.customersOf(me.tenantId);
    const statuses = await Promise.all(customers.map((customer) => twostep.getStatus({ tenantId: customer.tenantId, userId: customer.userId })));
    const session = sessionOf(response);
    response.send(
      page(
        'Customers',
        TITLE,
        html`<table><thead><tr><th>Customer</th><th>Email</th><th>Two-Factor Authentication</th></tr></thead><tbody>
          ${customers.map((customer, index) => {
            const status = statuses[index]!;
            return html`<tr><td><a href="/manager/customers/${customer.username}">${customer.username}</a></td><td>${customer.email}</td><td>${status.ok ? status.data.status : '?'}</td></tr>`;
          })}
        </tbody></table>`,
        nav(true, session.csrf),
      ),
    );
  });

  const customerOf = (me: DemoUser, username: string) => {
    const customer = users.find('portal', username);
    return customer && customer.tenantId === me.tenantId ? customer : undefined;
  };

  router.get('/manager/customers/:username', async (request, response) => {
    const me = reseller(response);
    if (!me) return response.redirect('/manager/login');
    const customer = customerOf(me, request.params.username!);
    if (!customer) return response.status(404).send(page('No such customer', TITLE, html`<p>No such customer.</p>`));
    const session = sessionOf(response);
    const flash = takeFlash(session);
    const account = { tenantId: customer.tenantId, userId: customer.userId };
    const [status, log, devices] = await Promise.all([twostep.getStatus(account), twostep.getAccountEventLog(account, { limit: 50 }), twostep.listTrustedDevices(account)]);
    if (!status.ok) throw new Error(status.error.message);
    const locked = status.data.lockedUntil && Date.parse(status.data.lockedUntil) > Date.now() ? status.data.lockedUntil : null;
    const enabled = status.data.status === 'Enabled';
    const csrf = session.csrf;
    response.send(
      page(
        `Customer ${customer.username}`,
        TITLE,
        html`
          ${flashMessage(flash)}
          <h2>Account details</h2>
          <table>
            <tr><th scope="row">Username</th><td>${customer.username}</td></tr>
            <tr><th scope="row">Email</th><td>${customer.email}</td></tr>
            <tr><th scope="row">Two-Factor Authentication</th><td><output id="twofa-status">${status.data.status}</output>
              ${enabled ? html`<button type="button" class="danger" id="disable" onclick="document.getElementById('confirm-disable').showModal()">Disable</button>` : html``}
            </td></tr>
            ${locked
              ? html`<tr><th scope="row">Locked</th><td>until <span id="locked-until">${new Date(locked).toUTCString()}</span>
                  <form method="post" action="/manager/customers/${customer.username}/unlock" style="display:inline"><input type="hidden" name="_csrf" value="${csrf}"><button type="submit" class="secondary" id="unlock">Unlock</button></form></td></tr>`
              : html``}
          </table>
          ${enabled
            ? html`<dialog id="confirm-disable" aria-labelledby="confirm-title">
                <h3 id="confirm-title">Disable two-factor authentication?</h3>
                <p>${customer.username}'s authenticator key and remaining recovery codes stop working for good. They can sign in with their password alone, and set up 2FA again later.</p>
                <form method="post" action="/manager/customers/${customer.username}/disable">
                  <input type="hidden" name="_csrf" value="${csrf}">
                  <label for="reason">Reason (for the event log)</label><input type="text" id="reason" name="reason" maxlength="200" value="lost authenticator device">
                  <button type="submit" class="danger" id="confirm">Disable</button>
                  <button type="button" class="secondary" onclick="this.closest('dialog').close()">Cancel</button>
                </form>
              </dialog>`
            : html``}
          ${deviceTable(devices, `/manager/customers/${customer.username}/devices`, csrf, 'they')}
          <h2>Event log</h2>
          <table id="event-log"><thead><tr><th>When</th><th>What</th></tr></thead><tbody>
            ${log.ok ? log.data.entries.map((entry) => html`<tr><td>${new Date(entry.at).toUTCString()}</td><td>${entry.what}</td></tr>`) : html`<tr><td colspan="2">${log.error.message}</td></tr>`}
          </tbody></table>
        `,
        nav(true, csrf),
      ),
    );
  });

  router.post('/manager/customers/:username/disable', async (request, response) => {
    const me = reseller(response);
    if (!me) return response.redirect('/manager/login');
    const customer = customerOf(me, request.params.username!);
    if (!customer) return response.redirect('/manager/customers');
    const reason = String((request.body as { reason?: string }).reason ?? '').trim().slice(0, 200);
    const result = await twostep.resellerDisable({ tenantId: customer.tenantId, userId: customer.userId }, { operatorId: me.username, ...(reason ? { reason } : {}) });
    sessionOf(response).flash = result.ok
      ? { kind: 'notice', text: `Two-factor authentication has been disabled for ${customer.username}.` }
      : { kind: 'error', text: result.error.message };
    response.redirect(`/manager/customers/${customer.username}`);
  });

  router.post('/manager/customers/:username/devices/:deviceId/revoke', async (request, response) => {
    const me = reseller(response);
    if (!me) return response.redirect('/manager/login');
    const customer = customerOf(me, request.params.username!);
    if (!customer) return response.redirect('/manager/customers');
    const ref = { tenantId: customer.tenantId, userId: customer.userId, deviceId: String(request.params.deviceId) };
    const result = await twostep.revokeTrustedDevice(ref, { operatorId: me.username });
    sessionOf(response).flash = result.ok ? { kind: 'notice', text: DEVICE_FORGOTTEN } : { kind: 'error', text: result.error.message };
    response.redirect(`/manager/customers/${customer.username}`);
  });

  router.post('/manager/customers/:username/unlock', async (request, response) => {
    const me = reseller(response);
    if (!me) return response.redirect('/manager/login');
    const customer = customerOf(me, request.params.username!);
    if (!customer) return response.redirect('/manager/customers');
    const result = await twostep.unlockAccount({ tenantId: customer.tenantId, userId: customer.userId }, { operatorId: me.username });
    sessionOf(response).flash = result.ok ? { kind: 'notice', text: `${customer.username} can sign in again.` } : { kind: 'error', text: result.error.message };
    response.redirect(`/manager/customers/${customer.username}`);
  });

  return router;
}
