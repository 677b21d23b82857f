import * as path from 'node:path';
import type { Request, Response, Router } from 'express';
import type { TwostepClient } from '@twostep/client';
import { html, Html } from './html';
import { sessionOf, type PendingLogin, type Session } from './sessions';

/**
 * Passkeys in the reference web app: the browser runs the WebAuthn ceremony with
 * @simplewebauthn/browser, this server relays options and answers to twostep (the API key stays
 * here). Account → Settings lists, adds and removes passkeys; the 2FA prompt offers "Use a
 * passkey" when the challenge's methods include webauthn.
 */
// The package exports only its module entries (script/index.js); the browser bundle sits beside them.
const BROWSER_BUNDLE = path.join(path.dirname(require.resolve('@simplewebauthn/browser')), '../dist/bundle/index.umd.min.js');
export const PASSKEY_SCRIPT = '/assets/simplewebauthn-browser.js';

export function mountPasskeyScript(router: Router): void {
  router.get(PASSKEY_SCRIPT, (_request, response) => {
    response.setHeader('Cache-Control', 'public, max-age=3600');
    response.type('application/javascript').sendFile(BROWSER_BUNDLE);
  });
}

/** Posts JSON with the session's CSRF token, answers `{ error }` or what the server said. */
const CLIENT_HELPERS = `
async function postJson(url, body) {
  const answer = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ ...body, _csrf: document.body.dataset.csrf }) });
  return answer.json();
}
function say(text) { const status = document.getElementById('passkey-status'); status.textContent = text; status.className = 'error'; }
`;

interface PasskeyItem {
  passkeyId: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
}

/** The Passkeys part of Account → Settings, for an account whose 2FA is on with the app. */
export function passkeySettings(passkeys: readonly PasskeyItem[], csrf: string): Html {
  return html`
    <h2>Passkeys</h2>
    <p>A passkey (Touch ID, Windows Hello, a security key) can stand in for the code from your authenticator app.</p>
    ${passkeys.length === 0
      ? html`<p id="no-passkeys">No passkeys yet.</p>`
      : html`<table id="passkeys"><thead><tr><th>Name</th><th>Added</th><th>Last used</th><th></th></tr></thead><tbody>
          ${passkeys.map(
            (passkey) => html`<tr data-passkey-id="${passkey.passkeyId}"><td>${passkey.name}</td><td>${new Date(passkey.createdAt).toUTCString()}</td>
              <td>${passkey.lastUsedAt ? new Date(passkey.lastUsedAt).toUTCString() : 'never'}</td>
              <td><form method="post" action="/account/passkeys/${passkey.passkeyId}/remove" style="margin:0"><input type="hidden" name="_csrf" value="${csrf}">
                <button type="submit" class="secondary" aria-label="Remove ${passkey.name}">Remove</button></form></td></tr>`,
          )}
        </tbody></table>`}
    <form id="add-passkey-form">
      <label for="passkey-name">Name for a new passkey</label>
      <input type="text" id="passkey-name" name="name" maxlength="64" required placeholder="e.g. MacBook Touch ID">
      <button type="submit" id="add-passkey">Add a passkey</button>
    </form>
    <p id="passkey-status" role="status"></p>
    <script src="${PASSKEY_SCRIPT}"></script>
    <script>${new Html(CLIENT_HELPERS)}
      document.body.dataset.csrf = ${new Html(JSON.stringify(csrf))};
      document.getElementById('add-passkey-form').addEventListener('submit', async (event) => {
        event.preventDefault();
        const started = await postJson('/account/passkeys/options', {});
        if (started.error) return say(started.error);
        let response;
        try {
          response = await SimpleWebAuthnBrowser.startRegistration({ optionsJSON: started.options });
        } catch (error) {
          return say('The passkey was not created: ' + error.message);
        }
        const added = await postJson('/account/passkeys', { registrationId: started.registrationId, name: document.getElementById('passkey-name').value, response });
        if (added.error) return say(added.error);
        location.href = '/account/settings';
      });
    </script>`;
}

/** Account → Settings: add (options, then the browser's answer) and remove. */
export function mountPasskeySettings(router: Router, twostep: TwostepClient, accountOf: (response: Response) => { tenantId: string; userId: string } | undefined): void {
  router.post('/account/passkeys/options', async (_request, response) => {
    const account = accountOf(response);
    if (!account) return response.status(401).json({ error: 'Sign in first.' });
    const options = await twostep.passkeyRegistrationOptions(account);
    if (!options.ok) return response.json({ error: options.error.message });
    response.json(options.data);
  });

  router.post('/account/passkeys', async (request, response) => {
    const account = accountOf(response);
    if (!account) return response.status(401).json({ error: 'Sign in first.' });
    const { registrationId, name, response: credential } = request.body as { registrationId?: string; name?: string; response?: unknown };
    const added = await twostep.registerPasskey(account, { registrationId: String(registrationId ?? ''), name: String(name ?? '').trim(), response: credential as never });
    if (!added.ok) return response.json({ error: added.error.message });
    sessionOf(response).flash = { kind: 'notice', text: `Passkey "${added.data.name}" added. You can use it instead of a code at your next sign-in.` };
    response.json({ added: true });
  });

  router.post('/account/passkeys/:passkeyId/remove', async (request, response) => {
    const account = accountOf(response);
    if (!account) return response.redirect('/login');
    const removed = await twostep.removePasskey({ ...account, passkeyId: String(request.params.passkeyId) });
    sessionOf(response).flash = removed.ok ? { kind: 'notice', text: 'Passkey removed.' } : { kind: 'error', text: removed.error.message };
    response.redirect('/account/settings');
  });
}

/** "Use a passkey" on the 2FA prompt, for a challenge that takes one. */
export function passkeyPrompt(base: string, csrf: string): Html {
  return html`
    <h2>Or use a passkey</h2>
    <label><input type="checkbox" id="passkey-remember"> Remember my device</label>
    <button type="button" id="use-passkey" class="secondary">Use a passkey</button>
    <p id="passkey-status" role="status"></p>
    <script src="${PASSKEY_SCRIPT}"></script>
    <script>${new Html(CLIENT_HELPERS)}
      document.body.dataset.csrf = ${new Html(JSON.stringify(csrf))};
      document.getElementById('use-passkey').addEventListener('click', async () => {
        const started = await postJson(${new Html(JSON.stringify(`${base}/passkey/options`))}, {});
        if (started.error) return started.redirect ? (location.href = started.redirect) : say(started.error);
        let response;
        try {
          response = await SimpleWebAuthnBrowser.startAuthentication({ optionsJSON: started.options });
        } catch (error) {
          return say('No passkey was used: ' + error.message);
        }
        const verified = await postJson(${new Html(JSON.stringify(`${base}/passkey`))}, { response, remember: document.getElementById('passkey-remember').checked });
        if (verified.redirect) location.href = verified.redirect;
        else say(verified.error);
      });
    </script>`;
}

export interface PasskeyLoginHooks {
  base: string;
  twostep: TwostepClient;
  pendingOf(response: Response): PendingLogin | undefined;
  /** The login went through: sets the device cookie if any, returns where to go. */
  passed(request: Request, response: Response, session: Session, pending: PendingLogin, device: { deviceToken?: string; deviceTrustedUntil?: string }): string;
  remembering(request: Request, remember: boolean): { rememberDevice: boolean; deviceLabel?: string };
  /** A refusal that ends the login (lock, gone challenge): sets the flash, returns where to go. */
  ended(session: Session, pending: PendingLogin, error: { error: string; message: string; lockedUntil?: string }): string | null;
}

export function mountPasskeyLogin(router: Router, hooks: PasskeyLoginHooks): void {
  const { base, twostep } = hooks;
  router.post(`${base}/passkey/options`, async (_request, response) => {
    const pending = hooks.pendingOf(response);
    if (!pending) return response.json({ error: 'Sign in again.', redirect: base });
    const options = await twostep.passkeyAssertionOptions({ tenantId: pending.tenantId, userId: pending.userId, challengeId: pending.challengeId });
    if (options.ok) return response.json(options.data);
    const redirect = hooks.ended(sessionOf(response), pending, options.error);
    response.json(redirect ? { error: options.error.message, redirect } : { error: options.error.message });
  });

  router.post(`${base}/passkey`, async (request, response) => {
    const pending = hooks.pendingOf(response);
    if (!pending) return response.json({ error: 'Sign in again.', redirect: base });
    const session = sessionOf(response);
    const body = request.body as { response?: unknown; remember?: boolean };
    const result = await twostep.verifyPasskey(
      { tenantId: pending.tenantId, userId: pending.userId, challengeId: pending.challengeId },
      { response: body.response as never, ...hooks.remembering(request, body.remember === true) },
    );
    pending.attempted = true;
    if (result.ok) return response.json({ redirect: hooks.passed(request, response, session, pending, result.data) });
    const redirect = hooks.ended(session, pending, result.error);
    response.json(redirect ? { error: result.error.message, redirect } : { error: result.error.message });
  });
}
