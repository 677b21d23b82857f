import { Router, type Response } from 'express';
import type { TwostepClient } from '@twostep/client';
import { flashMessage, html, page, signInForm } from './html';
import { DEVICE_FORGOTTEN, deviceTable } from './devices';
import { mountPasskeySettings, passkeySettings } from './passkeys';
import { mountSecondStep, startSecondStep, type SecondStepSite } from './second-step';
import { sessionOf, takeFlash, type Session } from './sessions';
import type { DemoUser, UserStore } from './users';

/**
 * The storefront's customer portal (seed 000): sign-in with the 2FA prompt, the domains page,
 * Account → Settings (set up with QR code and key, confirm, 10 recovery codes shown once,
 * disable with the password), and Forgot password.
 */
export function portalRoutes(users: UserStore, twostep: TwostepClient): Router {
  const router = Router();
  const TITLE = 'Storefront customer portal';
  const nav = (session?: Session) =>
    session?.user.portal
      ? html`<a href="/domains">Domains</a><a href="/account/settings">Account → Settings</a>
          <form method="post" action="/logout" style="margin:0"><input type="hidden" name="_csrf" value="${session.csrf}"><button class="secondary" style="margin:0">Sign out</button></form>`
      : html`<a href="/login">Sign in</a>`;
  const signedInUser = (response: Response): DemoUser | undefined => {
    const username = sessionOf(response).user.portal;
    return username ? users.find('portal', username) : undefined;
  };
  const account = (user: DemoUser) => ({ tenantId: user.tenantId, userId: user.userId });

  const site: SecondStepSite = {
    area: 'portal',
    title: TITLE,
    base: '/login',
    twostep,
    nav: () => nav(),
    findUser: (username) => users.find('portal', username),
    signedIn(session, user, viaRecoveryCode) {
      session.user.portal = user.username;
      session.recoveryLogin = viaRecoveryCode;
      return '/domains';
    },
  };

  router.get('/login', (request, response) => {
    const session = sessionOf(response);
    const flash = takeFlash(session);
    const reset = request.query.reset === '1';
    response.send(
      page(
        'Sign in',
        TITLE,
        html`
          ${reset ? html`<p class="notice" role="status" id="flash">Password reset successfully</p>` : html``}
          ${flashMessage(flash)}
          ${signInForm('/login', session.csrf)}
          <p><a href="/forgot-password">Forgot password?</a></p>
        `,
        nav(),
      ),
    );
  });

  router.post('/login', async (request, response) => {
    const { username = '', password = '' } = request.body as { username?: string; password?: string };
    const user = users.authenticate('portal', String(username), String(password));
    if (!user) {
      sessionOf(response).flash = { kind: 'error', text: 'Wrong username or password.' };
      return response.redirect('/login');
    }
    response.redirect(await startSecondStep(site, request, response, user));
  });

  mountSecondStep(router, site);

  router.post('/logout', (_request, response) => {
    const session = sessionOf(response);
    delete session.user.portal;
    delete session.recoveryLogin;
    response.redirect('/login');
  });

  router.get('/domains', (_request, response) => {
    const user = signedInUser(response);
    if (!user) return response.redirect('/login');
    const session = sessionOf(response);
    response.send(
      page(
        'Your domains',
        TITLE,
        html`
          ${session.recoveryLogin
            ? html`<p class="warning" role="status" id="recovery-prompt">You signed in with a recovery code. We recommend you reset your two-factor authentication settings: <a href="/account/settings">go to Account → Settings</a>.</p>`
            : html``}
          <p>Signed in as <strong>${user.username}</strong>.</p>
          <table><thead><tr><th>Domain</th><th>Expires</th></tr></thead>
          <tbody><tr><td>${user.username}-shop.example</td><td>2027-06-30</td></tr><tr><td>${user.username}.example</td><td>2028-01-15</td></tr></tbody></table>
        `,
        nav(session),
      ),
    );
  });

  router.get('/account/settings', async (_request, response) => {
    const user = signedInUser(response);
    if (!user) return response.redirect('/login');
    const session = sessionOf(response);
    const flash = takeFlash(session);
    const [status, devices] = await Promise.all([twostep.getStatus(account(user)), twostep.listTrustedDevices(account(user))]);
    if (!status.ok) throw new Error(status.error.message);
    const view = status.data as {
      status: 'Enabled' | 'Disabled';
      method?: 'totp' | 'email' | null;
      setupPending?: boolean;
      recoveryCodesRemaining?: number;
      resetRecommended?: boolean;
      passkeys?: { passkeyId: string; name: string; createdAt: string; lastUsedAt: string | null }[];
    };
    const csrf = session.csrf;
    let section;
    if (view.status === 'Enabled' && view.method === 'email') {
      section = html`<p>Your store requires a verification code by email at every sign-in; it cannot be turned off here.</p>`;
    } else if (view.status === 'Enabled') {
      section = html`
        <p>Codes come from your authenticator app. Recovery codes left: <strong id="codes-left">${view.recoveryCodesRemaining ?? 0}</strong>.</p>
        ${view.resetRecommended ? html`<p class="warning">A recovery code was used. Consider setting up two-factor authentication again.</p>` : html``}
        <form method="post" action="/account/2fa/recovery-codes"><input type="hidden" name="_csrf" value="${csrf}"><button type="submit" class="secondary">Get new recovery codes</button></form>
        ${passkeySettings(view.passkeys ?? [], csrf)}
        <h2>Disable two-factor authentication</h2>
        <form method="post" action="/account/2fa/disable">
          <input type="hidden" name="_csrf" value="${csrf}">
          <label for="password">Enter your account password to confirm</label>
          <input type="password" id="password" name="password" autocomplete="current-password" required>
          <button type="submit" class="danger">Disable two-factor authentication</button>
        </form>`;
    } else if (session.setup) {
      section = html`
        <ol>
          <li>Open your authenticator app and scan this QR code.</li>
          <li>Or enter this key by hand: <code class="key" id="manual-key">${session.setup.manualKey}</code>
            <button type="button" class="secondary" onclick="navigator.clipboard.writeText(document.getElementById('manual-key').textContent.replace(/\\s/g,''))">Copy key</button></li>
          <li>Enter the 6-digit code the app shows.</li>
        </ol>
        <img src="${session.setup.qrCode}" alt="QR code for your authenticator app" width="200" height="200" id="qr">
        <form method="post" action="/account/2fa/confirm">
          <input type="hidden" name="_csrf" value="${csrf}">
          <label for="code">Code from the app</label>
          <input type="text" id="code" name="code" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code" required>
          <button type="submit">Confirm</button>
        </form>`;
    } else {
      section = html`
        <p>Add a second step to your sign-in with an authenticator app (Google Authenticator, Authy, 1Password…).</p>
        <form method="post" action="/account/2fa/setup"><input type="hidden" name="_csrf" value="${csrf}"><button type="submit" id="setup">Set up two-factor authentication</button></form>`;
    }
    response.send(
      page(
        'Account → Settings',
        TITLE,
        html`
          ${flashMessage(flash)}
          <h2>Two-factor authentication: <span id="twofa-status">${view.status}</span></h2>
          ${section}
          ${view.status === 'Enabled' ? deviceTable(devices, '/account/devices', csrf, 'you') : html``}
        `,
        nav(session),
      ),
    );
  });

  mountPasskeySettings(router, twostep, (response) => {
    const user = signedInUser(response);
    return user ? account(user) : undefined;
  });

  router.post('/account/devices/:deviceId/revoke', async (request, response) => {
    const user = signedInUser(response);
    if (!user) return response.redirect('/login');
    const revoked = await twostep.revokeTrustedDevice({ ...account(user), deviceId: String(request.params.deviceId) });
    sessionOf(response).flash = revoked.ok ? { kind: 'notice', text: DEVICE_FORGOTTEN } : { kind: 'error', text: revoked.error.message };
    response.redirect('/account/settings');
  });

  router.post('/account/2fa/setup', async (_request, response) => {
    const user = signedInUser(response);
    if (!user) return response.redirect('/login');
    const setup = await twostep.setupTotp(account(user), { email: user.email });
    if (!setup.ok) throw new Error(setup.error.message);
    sessionOf(response).setup = { qrCode: setup.data.qrCode, manualKey: setup.data.manualKey, secret: setup.data.secret };
    response.redirect('/account/settings');
  });

  router.post('/account/2fa/confirm', async (request, response) => {
    const user = signedInUser(response);
    if (!user) return response.redirect('/login');
    const session = sessionOf(response);
    const code = String((request.body as { code?: string }).code ?? '').trim();
    const confirmed = await twostep.confirmTotp(account(user), { code: /^\d{6}$/.test(code) ? code : '000000' });
    if (!confirmed.ok) {
      session.flash = { kind: 'error', text: `${confirmed.error.message} If the code was right, wait for the next code and try again.` };
      return response.redirect('/account/settings');
    }
    delete session.setup;
    session.recoveryCodes = confirmed.data.recoveryCodes;
    response.redirect('/account/recovery-codes');
  });

  router.post('/account/2fa/recovery-codes', async (_request, response) => {
    const user = signedInUser(response);
    if (!user) return response.redirect('/login');
    const fresh = await twostep.regenerateRecoveryCodes(account(user));
    if (!fresh.ok) throw new Error(fresh.error.message);
    sessionOf(response).recoveryCodes = fresh.data.recoveryCodes;
    response.redirect('/account/recovery-codes');
  });

  router.get('/account/recovery-codes', (_request, response) => {
    const user = signedInUser(response);
    if (!user) return response.redirect('/login');
    const session = sessionOf(response);
    const codes = session.recoveryCodes;
    delete session.recoveryCodes; // shown once
    if (!codes) return response.redirect('/account/settings');
    const text = `Recovery codes for ${user.username} (each works once):\n${codes.join('\n')}\n`;
    response.send(
      page(
        'Save your recovery codes',
        TITLE,
        html`
          <p class="notice" role="status">Two-factor authentication is on. You stay signed in.</p>
          <p><strong>Save these 10 recovery codes now.</strong> They are the only way in if you lose your authenticator device. Each works once, and they cannot be shown again.</p>
          <ol class="codes" id="recovery-codes">${codes.map((code) => html`<li>${code}</li>`)}</ol>
          <a class="button" download="recovery-codes.txt" href="data:text/plain;charset=utf-8,${encodeURIComponent(text)}" id="download">Download</a>
          <button type="button" class="secondary" onclick="navigator.clipboard.writeText(${JSON.stringify(codes.join('\n'))})">Copy</button>
          <p><a href="/account/settings">I have saved them</a></p>
        `,
        nav(session),
      ),
    );
  });

  router.post('/account/2fa/disable', async (request, response) => {
    const user = signedInUser(response);
    if (!user) return response.redirect('/login');
    const session = sessionOf(response);
    const password = String((request.body as { password?: string }).password ?? '');
    if (!users.authenticate('portal', user.username, password)) {
      session.flash = { kind: 'error', text: 'That is not your password; two-factor authentication is still on.' };
      return response.redirect('/account/settings');
    }
    const disabled = await twostep.disableTwoFactor(account(user));
    session.flash = disabled.ok ? { kind: 'notice', text: 'Two-factor authentication is off. Your recovery codes no longer work.' } : { kind: 'error', text: disabled.error.message };
    response.redirect('/account/settings');
  });

  router.get('/forgot-password', (_request, response) => {
    const session = sessionOf(response);
    const flash = takeFlash(session);
    response.send(
      page(
        'Reset your password',
        TITLE,
        html`
          ${flashMessage(flash)}
          <p>In a real store the link arrives by email; this demo sets the new password at once.</p>
          <form method="post" action="/forgot-password">
            <input type="hidden" name="_csrf" value="${session.csrf}">
            <label for="username">Username</label><input type="text" id="username" name="username" required>
            <label for="password">New password</label><input type="password" id="password" name="password" autocomplete="new-password" minlength="8" required>
            <button type="submit">Set new password</button>
          </form>`,
        nav(),
      ),
    );
  });

  router.post('/forgot-password', async (request, response) => {
    const { username = '', password = '' } = request.body as { username?: string; password?: string };
    const user = users.find('portal', String(username));
    if (!user || String(password).length < 8) {
      sessionOf(response).flash = { kind: 'error', text: 'Unknown user, or a password shorter than 8 characters.' };
      return response.redirect('/forgot-password');
    }
    users.setPassword(user, String(password));
    // Not signed in: twostep forgets remembered devices, so the next sign-in asks for the second step.
    const recorded = await twostep.recordPasswordReset(account(user));
    if (!recorded.ok) throw new Error(recorded.error.message);
    response.redirect('/login?reset=1');
  });

  return router;
}
