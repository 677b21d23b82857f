import { Router, type Response } from 'express';
import type { TwostepClient } from '@twostep/client';
import { fieldError, flashMessage, html, page, signInForm } from './html';
import { mountSecondStep, startSecondStep, type SecondStepSite } from './second-step';
import { sessionOf, takeFlash } from './sessions';
import type { UserStore } from './users';

/** The seed's (003) settings, with its defaults; ranges as twostep enforces them. */
const SETTINGS = [
  { field: 'codeTtlMinutes', label: 'Verification Code Timeout', unit: 'minutes', range: [1, 360], seedDefault: 10 },
  { field: 'trustedDeviceDays', label: 'Trusted Device Validity Period', unit: 'days', range: [1, 365], seedDefault: 2 },
  { field: 'maxFailedAttempts', label: 'Limit on Failed Attempts', unit: 'attempts', range: [1, 10], seedDefault: 3 },
  { field: 'lockoutMinutes', label: 'Temporary Lockout Period', unit: 'minutes', range: [1, 1440], seedDefault: 30 },
  { field: 'resendCooldownSeconds', label: 'Resend Code Cooldown', unit: 'seconds', range: [0, 3600], seedDefault: 30 },
] as const;
type Field = (typeof SETTINGS)[number]['field'];

/**
 * The Admin Console (seed 003): its own sign-in with email codes under the global settings
 * (tenant `admin`), and Two Factor Authentication Settings for the Admin Console (global) and
 * for each store, errors next to the field.
 */
export function adminRoutes(users: UserStore, portal: TwostepClient, admin: TwostepClient, stores: readonly string[]): Router {
  const router = Router();
  const TITLE = 'Admin Console';
  const signedIn = (response: Response) => Boolean(sessionOf(response).user.admin);
  const nav = (response: Response) =>
    signedIn(response)
      ? html`<a href="/admin/settings">Two Factor Authentication Settings</a><form method="post" action="/admin/logout" style="margin:0"><input type="hidden" name="_csrf" value="${sessionOf(response).csrf}"><button class="secondary" style="margin:0">Sign out</button></form>`
      : html``;

  const site: SecondStepSite = {
    area: 'admin',
    title: TITLE,
    base: '/admin/login',
    twostep: portal,
    nav: () => html``,
    findUser: (username) => users.find('admin', username),
    signedIn(session, user) {
      session.user.admin = user.username;
      return '/admin/settings';
    },
  };

  router.get('/admin', (_request, response) => response.redirect(signedIn(response) ? '/admin/settings' : '/admin/login'));

  router.get('/admin/login', (_request, response) => {
    const session = sessionOf(response);
    const flash = takeFlash(session);
    response.send(
      page(
        'Sign in',
        TITLE,
        html`
          ${flashMessage(flash)}
          ${signInForm('/admin/login', session.csrf)}`,
      ),
    );
  });

  router.post('/admin/login', async (request, response) => {
    const { username = '', password = '' } = request.body as { username?: string; password?: string };
    const user = users.authenticate('admin', String(username), String(password));
    if (!user) {
      sessionOf(response).flash = { kind: 'error', text: 'Wrong username or password.' };
      return response.redirect('/admin/login');
    }
    response.redirect(await startSecondStep(site, request, response, user));
  });

  mountSecondStep(router, site);

  router.post('/admin/logout', (_request, response) => {
    delete sessionOf(response).user.admin;
    response.redirect('/admin/login');
  });

  const scopes = ['admin', ...stores];
  const scopeName = (scope: string) => (scope === 'admin' ? 'Global Settings (Admin Console users)' : `Store Settings: ${scope}`);

  type Named = Field | 'displayName' | 'passkeyRpId' | 'passkeyOrigins';
  const render = async (response: Response, scope: string, errors: Partial<Record<Named, string>> = {}, entered?: Record<string, string>) => {
    const session = sessionOf(response);
    const flash = takeFlash(session);
    const policy = await admin.getPolicy(scope);
    if (!policy.ok) throw new Error(policy.error.message);
    const value = (field: Field) => entered?.[field] ?? String(policy.data[field]);
    response.send(
      page(
        'Two Factor Authentication Settings',
        TITLE,
        html`
          <nav class="tabs" aria-label="Settings scope">${scopes.map((s) => html`<a href="/admin/settings?scope=${s}" ${s === scope ? html`aria-current="page"` : html``}>${scopeName(s)}</a>`)}</nav>
          ${flashMessage(flash)}
          <h2>${scopeName(scope)}</h2>
          <form method="post" action="/admin/settings?scope=${scope}" novalidate>
            <input type="hidden" name="_csrf" value="${session.csrf}">
            <label><input type="checkbox" name="emailOtpRequired" value="1" ${policy.data.emailOtpRequired ? html`checked` : html``}> Enable Two-Factor Authentication <span class="hint">(default: No)</span></label>
            <label for="displayName">Display Name <span class="hint">(shown in authenticator apps and emails; empty for "${scope === 'admin' ? 'the admin console' : `store ${scope}`}")</span></label>
            <input type="text" id="displayName" name="displayName" value="${entered?.displayName ?? policy.data.displayName ?? ''}" maxlength="64" ${errors.displayName ? html`aria-invalid="true" aria-describedby="displayName-error"` : html``}>
            ${fieldError(errors.displayName, 'displayName-error')}
            ${SETTINGS.map(
              (setting) => html`
                <label for="${setting.field}">${setting.label} <span class="hint">(${setting.unit}, ${setting.range[0]}–${setting.range[1]}; default ${setting.seedDefault})</span></label>
                <input type="number" id="${setting.field}" name="${setting.field}" value="${value(setting.field)}" min="${setting.range[0]}" max="${setting.range[1]}" step="1" ${errors[setting.field] ? html`aria-invalid="true" aria-describedby="${setting.field}-error"` : html``}>
                ${fieldError(errors[setting.field], `${setting.field}-error`)}`,
            )}
            ${scope === 'admin'
              ? html``
              : html`<fieldset><legend>Passkeys</legend>
                <label for="passkeyRpId">Passkey Domain <span class="hint">(the storefront's domain, e.g. shop.example.com, or localhost; empty: no passkeys)</span></label>
                <input type="text" id="passkeyRpId" name="passkeyRpId" value="${entered?.passkeyRpId ?? policy.data.passkeyRpId ?? ''}" maxlength="253" ${errors.passkeyRpId ? html`aria-invalid="true" aria-describedby="passkeyRpId-error"` : html``}>
                ${fieldError(errors.passkeyRpId, 'passkeyRpId-error')}
                <label for="passkeyOrigins">Passkey Pages <span class="hint">(origins allowed to use them, one per line, e.g. https://shop.example.com)</span></label>
                <textarea id="passkeyOrigins" name="passkeyOrigins" rows="3" cols="40" ${errors.passkeyOrigins ? html`aria-invalid="true" aria-describedby="passkeyOrigins-error"` : html``}>${entered?.passkeyOrigins ?? policy.data.passkeyOrigins.join('\n')}</textarea>
                ${fieldError(errors.passkeyOrigins, 'passkeyOrigins-error')}
              </fieldset>`}
            <button type="submit">Save</button>
          </form>`,
        nav(response),
      ),
    );
  };

  router.get('/admin/settings', async (request, response) => {
    if (!signedIn(response)) return response.redirect('/admin/login');
    const scope = scopes.includes(String(request.query.scope)) ? String(request.query.scope) : 'admin';
    await render(response, scope);
  });

  router.post('/admin/settings', async (request, response) => {
    if (!signedIn(response)) return response.redirect('/admin/login');
    const scope = scopes.includes(String(request.query.scope)) ? String(request.query.scope) : 'admin';
    const body = request.body as Record<string, string>;
    const errors: Partial<Record<Field, string>> = {};
    const displayName = String(body.displayName ?? '').trim();
    const changes: Partial<Record<Field, number>> & { emailOtpRequired: boolean; displayName: string | null; passkeyRpId?: string | null; passkeyOrigins?: string[] } = {
      emailOtpRequired: body.emailOtpRequired === '1',
      displayName: displayName === '' ? null : displayName,
    };
    if (scope !== 'admin') {
      const rpId = String(body.passkeyRpId ?? '').trim();
      changes.passkeyRpId = rpId === '' ? null : rpId;
      changes.passkeyOrigins = String(body.passkeyOrigins ?? '').split(/\s+/).filter(Boolean);
    }
    for (const { field } of SETTINGS) {
      const raw = String(body[field] ?? '').trim();
      if (!/^-?\d+$/.test(raw)) errors[field] = 'Enter a whole number.';
      else changes[field] = Number(raw);
    }
    if (Object.keys(errors).length > 0) return render(response, scope, errors, body);
    const saved = await admin.updatePolicy(scope, changes);
    if (!saved.ok) {
      const field = saved.error.field as Named | undefined;
      // twostep says "codeTtlMinutes must be a whole number from 1 to 360."; next to the field, the name goes.
      const message = saved.error.message.replace(`${field} `, '');
      if (field) return render(response, scope, { [field]: message.charAt(0).toUpperCase() + message.slice(1) }, body);
      sessionOf(response).flash = { kind: 'error', text: saved.error.message };
    } else {
      sessionOf(response).flash = { kind: 'notice', text: `Saved: ${scopeName(scope)}.` };
    }
    response.redirect(`/admin/settings?scope=${encodeURIComponent(scope)}`);
  });

  return router;
}
