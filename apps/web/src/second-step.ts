import type { Request, Response, Router } from 'express';
import type { TwostepClient } from '@twostep/client';
import { flashMessage, html, page, type Html } from './html';
import { userAgentSummary } from './devices';
import { mountPasskeyLogin, passkeyPrompt } from './passkeys';
import { cookies, sessionOf, takeFlash, type PendingLogin, type Session } from './sessions';
import type { Area, DemoUser } from './users';

/**
 * The 2FA prompt after the password step, shared by the customer portal and the Admin Console:
 * the code (app or email), "Remember my device", "Use a recovery code", and a resend that appears
 * only after an attempt. Every message about the code is twostep's own (the seeds' wording).
 */
export interface SecondStepSite {
  area: Area;
  title: string;
  /** Where the password form lives; the prompt is `${base}/2fa`. */
  base: string;
  twostep: TwostepClient;
  nav: () => Html;
  /** Signed in: where to go next. */
  signedIn(session: Session, user: DemoUser, viaRecoveryCode: boolean): string;
  findUser(username: string): DemoUser | undefined;
}

const deviceCookie = (tenantId: string, userId: string) => `td_${Buffer.from(`${tenantId}/${userId}`).toString('base64url')}`;

/** After a correct password: asks twostep whether a second step is needed. Returns where to send the browser. */
export async function startSecondStep(site: SecondStepSite, request: Request, response: Response, user: DemoUser): Promise<string> {
  const session = sessionOf(response);
  const account = { tenantId: user.tenantId, userId: user.userId };
  const deviceToken = cookies(request)[deviceCookie(user.tenantId, user.userId)];
  const started = await site.twostep.startChallenge(account, { email: user.email, ...(deviceToken ? { deviceToken } : {}) });
  if (started.ok) {
    if (!started.data.required) return site.signedIn(session, user, false);
    const { challengeId, method, methods, sentTo } = started.data;
    session.pending[site.area] = { username: user.username, ...account, challengeId, method, methods, sentTo, attempted: false };
    return `${site.base}/2fa`;
  }
  const error = started.error;
  if (error.error === 'resend_cooldown' && error.challengeId) {
    // A refreshed login inside the cooldown: go on with the challenge whose code was already sent.
    session.pending[site.area] = { username: user.username, ...account, challengeId: error.challengeId, method: 'email', sentTo: error.sentTo, attempted: false, resendAvailableAt: error.resendAvailableAt };
    return `${site.base}/2fa`;
  }
  session.flash = { kind: 'error', text: error.error === 'account_locked' ? lockMessage(error.lockedUntil) : error.message };
  return site.base;
}

export const lockMessage = (lockedUntil: string | undefined) =>
  `Too many failed attempts: your account is locked until ${lockedUntil ? new Date(lockedUntil).toUTCString() : 'later'}. Try again after that.`;

/** "Remember my device": the device is listed under a summary of its user agent ("Chrome on Linux"). */
export function remembering(request: Request, remember: boolean): { rememberDevice: boolean; deviceLabel?: string } {
  const label = remember ? userAgentSummary(request.headers['user-agent']) : undefined;
  return label ? { rememberDevice: true, deviceLabel: label } : { rememberDevice: remember };
}

export function mountSecondStep(router: Router, site: SecondStepSite): void {
  const pendingOf = (response: Response): PendingLogin | undefined => sessionOf(response).pending[site.area];
  /** Signed in: remembers the device when asked, returns where to go. Codes and passkeys end here alike. */
  const passed = (response: Response, session: Session, pending: PendingLogin, device: { deviceToken?: string; deviceTrustedUntil?: string }): string => {
    delete session.pending[site.area];
    if (device.deviceToken && device.deviceTrustedUntil) {
      const maxAge = Math.max(0, Math.floor((Date.parse(device.deviceTrustedUntil) - Date.now()) / 1000));
      response.append('Set-Cookie', `${deviceCookie(pending.tenantId, pending.userId)}=${device.deviceToken}; HttpOnly; SameSite=Lax; Path=/; Max-Age=${maxAge}`);
    }
    return site.signedIn(session, site.findUser(pending.username)!, false);
  };
  /** A refusal that ends this login (a lock, a challenge gone): back to the password step with the reason. */
  const ended = (session: Session, _pending: PendingLogin, error: { error: string; message: string; lockedUntil?: string }): string | null => {
    if (error.error !== 'account_locked' && error.error !== 'challenge_not_found' && error.error !== 'challenge_expired') return null;
    delete session.pending[site.area];
    session.flash = { kind: 'error', text: error.error === 'account_locked' ? lockMessage(error.lockedUntil) : error.message };
    return site.base;
  };
  mountPasskeyLogin(router, { base: site.base, twostep: site.twostep, pendingOf, passed: (_request, response, session, pending, device) => passed(response, session, pending, device), ended, remembering });

  router.get(`${site.base}/2fa`, (_request, response) => {
    const pending = pendingOf(response);
    if (!pending) return response.redirect(site.base);
    const flash = takeFlash(sessionOf(response));
    const email = pending.method === 'email';
    const cooldown = pending.resendAvailableAt ? Math.max(0, Math.ceil((Date.parse(pending.resendAvailableAt) - Date.now()) / 1000)) : 0;
    const csrf = sessionOf(response).csrf;
    response.send(
      page(
        'Two-factor authentication',
        site.title,
        html`
          ${flashMessage(flash)}
          <p>${email ? `We sent a 6-digit verification code to ${pending.sentTo ?? 'your email address'}.` : 'Enter the current 6-digit code from your authenticator app.'}</p>
          <form method="post" action="${site.base}/2fa">
            <input type="hidden" name="_csrf" value="${csrf}">
            <label for="code">${email ? 'Verification code' : 'Authentication code'}</label>
            <input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required autofocus>
            <label><input type="checkbox" name="remember" value="1"> Remember my device</label>
            <button type="submit">Verify</button>
          </form>
          ${email && pending.attempted
            ? html`<form method="post" action="${site.base}/resend">
                <input type="hidden" name="_csrf" value="${csrf}">
                <button type="submit" class="secondary" id="resend">Resend code</button>
                ${cooldown > 0 ? html`<span class="hint" id="cooldown" role="status">You can ask for a new code in ${cooldown} seconds.</span>` : html``}
              </form>`
            : html``}
          ${pending.methods?.includes('webauthn') ? passkeyPrompt(site.base, csrf) : html``}
          ${email ? html`` : html`<p><a href="${site.base}/recovery" id="use-recovery">Use a recovery code</a></p>`}
        `,
        site.nav(),
      ),
    );
  });

  router.post(`${site.base}/2fa`, async (request, response) => {
    const pending = pendingOf(response);
    if (!pending) return response.redirect(site.base);
    const session = sessionOf(response);
    const body = request.body as { code?: string; remember?: string };
    const code = String(body.code ?? '').trim();
    if (!/^\d{6}$/.test(code)) {
      session.flash = { kind: 'error', text: 'Enter the 6-digit code.' };
      return response.redirect(`${site.base}/2fa`);
    }
    const result = await site.twostep.verifyChallenge({ tenantId: pending.tenantId, userId: pending.userId, challengeId: pending.challengeId }, { code, ...remembering(request, body.remember === '1') });
    pending.attempted = true;
    if (result.ok) return response.redirect(passed(response, session, pending, result.data));
    const error = result.error;
    const ending = ended(session, pending, error);
    if (ending) return response.redirect(ending);
    // A code already used (e.g. the one that confirmed setup) keeps the seed's sentence and adds what to do.
    session.flash = { kind: 'error', text: error.hint ? `${error.message} ${error.hint}` : error.message };
    response.redirect(`${site.base}/2fa`);
  });

  router.post(`${site.base}/resend`, async (_request, response) => {
    const pending = pendingOf(response);
    if (!pending) return response.redirect(site.base);
    const session = sessionOf(response);
    const result = await site.twostep.resendCode({ tenantId: pending.tenantId, userId: pending.userId, challengeId: pending.challengeId });
    if (result.ok) {
      pending.sentTo = result.data.sentTo ?? pending.sentTo;
      pending.attempted = false;
      delete pending.resendAvailableAt;
      session.flash = { kind: 'notice', text: `A new code was sent to ${pending.sentTo ?? 'your email address'}. Earlier codes no longer work.` };
    } else {
      if (result.error.error === 'resend_cooldown') pending.resendAvailableAt = result.error.resendAvailableAt;
      session.flash = { kind: 'error', text: result.error.message };
    }
    response.redirect(`${site.base}/2fa`);
  });

  router.get(`${site.base}/recovery`, (_request, response) => {
    if (!pendingOf(response)) return response.redirect(site.base);
    const session = sessionOf(response);
    const flash = takeFlash(session);
    response.send(
      page(
        'Use a recovery code',
        site.title,
        html`
          ${flashMessage(flash)}
          <p>Enter one of the recovery codes you saved when you set up two-factor authentication. Each code works once.</p>
          <form method="post" action="${site.base}/recovery">
            <input type="hidden" name="_csrf" value="${session.csrf}">
            <label for="recoveryCode">Recovery code</label>
            <input type="text" id="recoveryCode" name="recoveryCode" autocomplete="off" required autofocus>
            <button type="submit">Sign in</button>
          </form>
          <p><a href="${site.base}/2fa">Use the authenticator app instead</a></p>
        `,
        site.nav(),
      ),
    );
  });

  router.post(`${site.base}/recovery`, async (request, response) => {
    const pending = pendingOf(response);
    if (!pending) return response.redirect(site.base);
    const session = sessionOf(response);
    const recoveryCode = String((request.body as { recoveryCode?: string }).recoveryCode ?? '').trim();
    const result = await site.twostep.useRecoveryCode({ tenantId: pending.tenantId, userId: pending.userId, challengeId: pending.challengeId }, { recoveryCode });
    if (result.ok) {
      delete session.pending[site.area];
      return response.redirect(site.signedIn(session, site.findUser(pending.username)!, true));
    }
    if (result.error.error === 'account_locked') {
      delete session.pending[site.area];
      session.flash = { kind: 'error', text: lockMessage(result.error.lockedUntil) };
      return response.redirect(site.base);
    }
    session.flash = { kind: 'error', text: result.error.error === 'validation_failed' ? 'That does not look like a recovery code (xxxxx-xxxxx).' : result.error.message };
    response.redirect(`${site.base}/recovery`);
  });
}
