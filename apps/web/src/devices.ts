import type { Result } from '@twostep/client';
import { html, type Html } from './html';

/**
 * Remembered devices ("Remember my device"), shown where people manage an account: the customer
 * in Account → Settings, a reseller on the customer's record. Each can forget one; its token then
 * asks for the second step again. Never the token or its hash: twostep lists ids, labels and times.
 */
type Devices = Result<'listTrustedDevices'>;

export function deviceTable(listed: Devices, revokeBase: string, csrf: string, who: 'you' | 'they'): Html {
  if (!listed.ok) return html`<p class="error">${listed.error.message}</p>`;
  const devices = listed.data.devices;
  return html`
    <h2>Remembered devices</h2>
    ${devices.length === 0
      ? html`<p id="no-devices">No device skips the second step${who === 'you' ? ' for you' : ''} right now.</p>`
      : html`<p>These devices skip the second step until the date shown. Forget one that is lost or not ${who === 'you' ? 'yours' : 'theirs'}.</p>
        <table id="devices"><thead><tr><th>Device</th><th>Remembered</th><th>Until</th><th></th></tr></thead><tbody>
          ${devices.map((device) => {
            const name = device.label ?? `Device ${device.deviceId}`;
            return html`<tr data-device-id="${device.deviceId}"><td>${name}</td><td>${device.createdAt ? new Date(device.createdAt).toUTCString() : '?'}</td><td>${new Date(device.expiresAt).toUTCString()}</td>
              <td><form method="post" action="${revokeBase}/${device.deviceId}/revoke" style="margin:0"><input type="hidden" name="_csrf" value="${csrf}">
                <button type="submit" class="secondary" aria-label="Forget ${name}">Forget</button></form></td></tr>`;
          })}
        </tbody></table>`}`;
}

export const DEVICE_FORGOTTEN = 'Device forgotten: it asks for the second step at the next sign-in.';

/** A short name for the browser a device is remembered from ("Chrome on Linux"), the label twostep lists. */
export function userAgentSummary(userAgent: string | undefined): string | undefined {
  if (!userAgent) return undefined;
  const browser = [['Edg/', 'Edge'], ['Firefox/', 'Firefox'], ['Chrome/', 'Chrome'], ['Safari/', 'Safari']].find(([token]) => userAgent.includes(token!))?.[1];
  const system = [['Windows', 'Windows'], ['iPhone', 'iPhone'], ['iPad', 'iPad'], ['Mac OS X', 'macOS'], ['Android', 'Android'], ['Linux', 'Linux']].find(([token]) => userAgent.includes(token!))?.[1];
  if (!browser && !system) return undefined;
  return [browser ?? 'A browser', system ? `on ${system}` : ''].filter(Boolean).join(' ');
}
