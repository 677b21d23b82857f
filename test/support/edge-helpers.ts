import request from 'supertest';
import { totpCodeAt } from '@twostep/crypto';
import { accountUrl, KEYS, type TestApp } from './harness';

export type Role = keyof typeof KEYS;
export type Method = 'get' | 'post' | 'put';

/** A request with no body sent yet, so a test can send raw text or set its own headers. */
export function bare(t: TestApp, method: Method, url: string, role?: Role): request.Test {
  const test = request(t.app.getHttpServer())[method](url);
  return role ? test.set('Authorization', `Bearer ${KEYS[role]}`) : test;
}

/** `t.as(role)` for any method: GET sends no body, POST/PUT send `body` (default `{}`). */
export function call(t: TestApp, role: Role, method: Method, url: string, body?: object): request.Test {
  return method === 'get' ? t.as(role).get(url) : t.as(role)[method](url, body ?? {});
}

/** Global position of the newest event: unchanged means nothing was appended. */
export const head = (t: TestApp): Promise<number> => t.runtime.eventStore.headPosition();

/**
 * Sends a request that must be refused: checks status, the stable `error` code, the error shape
 * (JSON with a message for people) and that the event store did not grow. Returns the body.
 */
export async function expectRefused(
  t: TestApp,
  send: () => request.Test,
  status: number,
  error: string,
  sink?: unknown[],
): Promise<Record<string, unknown>> {
  const before = await head(t);
  const response = await send();
  const body = response.body as Record<string, unknown>;
  const sent = (response as unknown as { req?: { method?: string; path?: string } }).req;
  const where = `${sent?.method ?? ''} ${sent?.path ?? ''}`;
  expect({ where, status: response.status, error: body?.error }).toEqual({ where, status, error });
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  expect(typeof body.message).toBe('string');
  expect((body.message as string).length).toBeGreaterThan(0);
  expect({ where, head: await head(t) }).toEqual({ where, head: before });
  sink?.push({ ...body, _raw: response.text });
  return body;
}

/** A six-digit code the authenticator would not show now, one step before or one after. */
export function wrongTotpCode(secret: string, nowMs: number): string {
  const valid = new Set([-30_000, 0, 30_000].map((delta) => totpCodeAt(secret, nowMs + delta)));
  return ['000000', '111111', '222222', '333333'].find((code) => !valid.has(code))!;
}

/** Puts a test clock in the middle of a 30 s TOTP step, so "the current code" is unambiguous. */
export function midStep(t: TestApp): void {
  t.clock.set(new Date(Math.floor(Date.now() / 30_000) * 30_000 + 15_000));
}

/** Sets up and confirms the authenticator app for an account; returns the secret and recovery codes. */
export async function enableTotp(
  t: TestApp,
  role: Role,
  tenantId: string,
  userId: string,
): Promise<{ secret: string; manualKey: string; recoveryCodes: string[] }> {
  const url = accountUrl(tenantId, userId);
  const setup = await t.as(role).post(`${url}/two-factor/totp/setup`).expect(200);
  const secret = setup.body.secret as string;
  const confirm = await t.as(role).post(`${url}/two-factor/totp/confirm`, { code: totpCodeAt(secret, t.clock.now().getTime()) }).expect(200);
  // Move on one step so the next login's code is not a replay of the confirming one.
  t.clock.advance(30_000);
  return { secret, manualKey: setup.body.manualKey as string, recoveryCodes: confirm.body.recoveryCodes as string[] };
}

/** Every event of `GET /v1/events`, walking the `next` cursor with the given page size. */
export async function walkAllEvents(t: TestApp, role: Role, limit: number): Promise<{ pages: number; events: { position: number }[] }> {
  const events: { position: number }[] = [];
  let after: number | null = null;
  let pages = 0;
  do {
    const query: string = after === null ? `limit=${limit}` : `after=${after}&limit=${limit}`;
    const page = await t.as(role).get(`/v1/events?${query}`).expect(200);
    pages += 1;
    expect(page.body.events.length).toBeLessThanOrEqual(limit);
    events.push(...(page.body.events as { position: number }[]));
    after = page.body.next as number | null;
    if (pages > 10_000) throw new Error('the events cursor does not end');
  } while (after !== null);
  return { pages, events };
}
