import { randomBytes } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Area } from './users';

/** A second step in progress: the challenge twostep gave, and what the prompt should show. */
export interface PendingLogin {
  username: string;
  tenantId: string;
  userId: string;
  challengeId: string;
  method: 'totp' | 'email';
  /** Every way the challenge can be answered (`webauthn`: the account has a passkey). */
  methods?: ('totp' | 'email' | 'webauthn')[];
  sentTo?: string;
  /** An attempt was made: only then may a new email code be asked for. */
  attempted: boolean;
  /** When a new code may be sent (ISO), after a refused resend. */
  resendAvailableAt?: string;
}

export interface Session {
  id: string;
  csrf: string;
  /** Signed-in user per area (the portal, Storefront Manager and the Admin Console are separate sites). */
  user: Partial<Record<Area, string>>;
  pending: Partial<Record<Area, PendingLogin>>;
  /** The customer logged in with a recovery code: the domains page recommends a reset. */
  recoveryLogin?: boolean;
  /** Setup in progress: shown until confirmed (the secret stays on the server side of the platform). */
  setup?: { qrCode: string; manualKey: string; secret: string };
  /** Recovery codes to show once, then forget. */
  recoveryCodes?: string[];
  flash?: { kind: 'notice' | 'error'; text: string };
}

const COOKIE = 'demo_sid';

/** In-memory sessions behind an HttpOnly cookie, with a per-session CSRF token on every form. */
export class Sessions {
  private readonly sessions = new Map<string, Session>();

  middleware() {
    return (request: Request, response: Response, next: NextFunction): void => {
      const id = cookies(request)[COOKIE];
      let session = id ? this.sessions.get(id) : undefined;
      if (!session) {
        session = { id: randomBytes(18).toString('base64url'), csrf: randomBytes(18).toString('base64url'), user: {}, pending: {} };
        this.sessions.set(session.id, session);
        response.setHeader('Set-Cookie', `${COOKIE}=${session.id}; HttpOnly; SameSite=Lax; Path=/`);
      }
      response.locals.session = session;
      if (request.method === 'POST' && (request.body as Record<string, unknown> | undefined)?._csrf !== session.csrf) {
        response.status(403).type('text/plain').send('This form has expired; go back, reload the page and try again.');
        return;
      }
      next();
    };
  }
}

export function cookies(request: Request): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0) out[part.slice(0, at).trim()] = decodeURIComponent(part.slice(at + 1).trim());
  }
  return out;
}

export const sessionOf = (response: Response): Session => response.locals.session as Session;

/** Takes the flash message (shown once). */
export function takeFlash(session: Session): Session['flash'] {
  const flash = session.flash;
  delete session.flash;
  return flash;
}
