import createClient, { type Client } from 'openapi-fetch';
import type { components, operations, paths } from './schema';

/**
 * @twostep/client: a typed client for the twostep HTTP api, thin over types generated from
 * openapi.json (`schema.ts`, by openapi-typescript; `npm run openapi` regenerates both) and
 * openapi-fetch. Each method is one operation, named by its operationId, and answers a `Result`:
 * the success body, or the error with its stable code typed as the codes that route can return.
 * Nothing throws for an HTTP refusal; a network failure rejects as fetch does.
 *
 *   const twostep = twostepClient({ baseUrl: 'http://127.0.0.1:3000', apiKey: process.env.PORTAL_KEY! });
 *   const started = await twostep.startChallenge({ tenantId: 'store-1', userId: 'alice' });
 *   if (!started.ok && started.error.error === 'account_locked') show(started.error.lockedUntil);
 */

export type { components, operations, paths };

type Json<T> = T extends { content: { 'application/json': infer Body } } ? Body : never;
type Responses<Id extends keyof operations> = operations[Id]['responses'];
type SuccessStatus = 200 | 202;

/** The success body of an operation. */
export type Success<Id extends keyof operations> = Json<Responses<Id>[Extract<keyof Responses<Id>, SuccessStatus>]>;
/** A refusal of an operation: the error shape with that route's codes, plus the HTTP status. */
export type Refusal<Id extends keyof operations> = Json<Responses<Id>[Exclude<keyof Responses<Id>, SuccessStatus>]> & { status: number };
/** Every stable code an operation can answer with. */
export type ErrorCode<Id extends keyof operations> = Refusal<Id> extends { error: infer Code } ? Code : never;

export type Result<Id extends keyof operations> = { ok: true; status: number; data: Success<Id> } | { ok: false; status: number; error: Refusal<Id> };

type Body<Id extends keyof operations> = operations[Id] extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;
type QueryOf<Id extends keyof operations> = NonNullable<operations[Id]['parameters']['query']>;

export interface ClientOptions {
  /** Where twostep answers, e.g. `http://127.0.0.1:3000`. */
  baseUrl: string;
  /** An API key (portal, operator, admin or auditor); sent as a bearer token. Keep it on your server. */
  apiKey: string;
  /** A fetch to use instead of the global one (tests, proxies). */
  fetch?: typeof fetch;
}

export type Account = { tenantId: string; userId: string };
export type ChallengeRef = Account & { challengeId: string };
export type DeviceRef = Account & { deviceId: string };
export type PasskeyRef = Account & { passkeyId: string };

/** Turns openapi-fetch's answer into a Result. */
async function settle<Id extends keyof operations>(pending: Promise<{ data?: unknown; error?: unknown; response: Response }>): Promise<Result<Id>> {
  const { data, error, response } = await pending;
  if (response.ok) return { ok: true, status: response.status, data: data as Success<Id> };
  const body = (error ?? {}) as Record<string, unknown>;
  const refusal = { error: typeof body.error === 'string' ? body.error : `http_${response.status}`, message: typeof body.message === 'string' ? body.message : response.statusText, ...body, status: response.status };
  return { ok: false, status: response.status, error: refusal as unknown as Refusal<Id> };
}

export function twostepClient(options: ClientOptions) {
  const http: Client<paths> = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    headers: { Authorization: `Bearer ${options.apiKey}` },
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const account = (ref: Account) => ({ tenantId: ref.tenantId, userId: ref.userId });
  const challenge = (ref: ChallengeRef) => ({ ...account(ref), challengeId: ref.challengeId });

  return {
    /** The underlying openapi-fetch client, for anything the methods below do not cover. */
    http,

    // login
    startChallenge: (ref: Account, body: Body<'startChallenge'> = {}) =>
      settle<'startChallenge'>(http.POST('/v1/tenants/{tenantId}/accounts/{userId}/challenges', { params: { path: account(ref) }, body })),
    verifyChallenge: (ref: ChallengeRef, body: Body<'verifyChallenge'>) =>
      settle<'verifyChallenge'>(http.POST('/v1/tenants/{tenantId}/accounts/{userId}/challenges/{challengeId}/verify', { params: { path: challenge(ref) }, body })),
    useRecoveryCode: (ref: ChallengeRef, body: Body<'useRecoveryCode'>) =>
      settle<'useRecoveryCode'>(http.POST('/v1/tenants/{tenantId}/accounts/{userId}/challenges/{challengeId}/recovery', { params: { path: challenge(ref) }, body })),
    resendCode: (ref: ChallengeRef) =>
      settle<'resendCode'>(http.POST('/v1/tenants/{tenantId}/accounts/{userId}/challenges/{challengeId}/resend', { params: { path: challenge(ref) }, body: {} })),
    recordPasswordReset: (ref: Account) =>
      settle<'recordPasswordReset'>(http.POST('/v1/tenants/{tenantId}/accounts/{userId}/password-reset', { params: { path: account(ref) }, body: {} })),

    // authenticator app
    setupTotp: (ref: Account, body: Body<'setupTotp'> = {}) =>
      settle<'setupTotp'>(http.POST('/v1/tenants/{tenantId}/accounts/{userId}/two-factor/totp/setup', { params: { path: account(ref) }, body })),
    confirmTotp: (ref: Account, body: Body<'confirmTotp'>) =>
      settle<'confirmTotp'>(http.POST('/v1/tenants/{tenantId}/accounts/{userId}/two-factor/totp/confirm', { params: { path: account(ref) }, body })),
    regenerateRecoveryCodes: (ref: Account) =>
      settle<'regenerateRecoveryCodes'>(http.POST('/v1/tenants/{tenantId}/accounts/{userId}/two-factor/recovery-codes', { params: { path: account(ref) }, body: {} })),
    disableTwoFactor: (ref: Account) =>
      settle<'disableTwoFactor'>(http.POST('/v1/tenants/{tenantId}/accounts/{userId}/two-factor/disable', { params: { path: account(ref) }, body: { confirmation: 'password' } })),

    // status, reseller tools
    getStatus: (ref: Account) => settle<'getStatus'>(http.GET('/v1/tenants/{tenantId}/accounts/{userId}/two-factor', { params: { path: account(ref) } })),
    resellerDisable: (ref: Account, body: Body<'resellerDisable'>) =>
      settle<'resellerDisable'>(http.POST('/v1/tenants/{tenantId}/accounts/{userId}/two-factor/reseller-disable', { params: { path: account(ref) }, body })),
    unlockAccount: (ref: Account, body: Body<'unlockAccount'>) =>
      settle<'unlockAccount'>(http.POST('/v1/tenants/{tenantId}/accounts/{userId}/unlock', { params: { path: account(ref) }, body })),

    // remembered devices
    listTrustedDevices: (ref: Account) =>
      settle<'listTrustedDevices'>(http.GET('/v1/tenants/{tenantId}/accounts/{userId}/trusted-devices', { params: { path: account(ref) } })),
    /** Portal keys send no body (the customer revokes); operator and admin keys pass `{ operatorId }`. */
    revokeTrustedDevice: (ref: DeviceRef, body: Body<'revokeTrustedDevice'> = {}) =>
      settle<'revokeTrustedDevice'>(
        http.POST('/v1/tenants/{tenantId}/accounts/{userId}/trusted-devices/{deviceId}/revoke', { params: { path: { ...account(ref), deviceId: ref.deviceId } }, body }),
      ),

    // passkeys
    passkeyRegistrationOptions: (ref: Account) =>
      settle<'passkeyRegistrationOptions'>(http.POST('/v1/tenants/{tenantId}/accounts/{userId}/passkeys/registration-options', { params: { path: account(ref) }, body: {} })),
    registerPasskey: (ref: Account, body: Body<'registerPasskey'>) =>
      settle<'registerPasskey'>(http.POST('/v1/tenants/{tenantId}/accounts/{userId}/passkeys', { params: { path: account(ref) }, body })),
    listPasskeys: (ref: Account) => settle<'listPasskeys'>(http.GET('/v1/tenants/{tenantId}/accounts/{userId}/passkeys', { params: { path: account(ref) } })),
    /** Portal keys send no body (the customer removes); operator and admin keys pass `{ operatorId }`. */
    removePasskey: (ref: PasskeyRef, body: Body<'removePasskey'> = {}) =>
      settle<'removePasskey'>(
        http.POST('/v1/tenants/{tenantId}/accounts/{userId}/passkeys/{passkeyId}/remove', { params: { path: { ...account(ref), passkeyId: ref.passkeyId } }, body }),
      ),
    passkeyAssertionOptions: (ref: ChallengeRef) =>
      settle<'passkeyAssertionOptions'>(http.POST('/v1/tenants/{tenantId}/accounts/{userId}/challenges/{challengeId}/passkey/options', { params: { path: challenge(ref) }, body: {} })),
    verifyPasskey: (ref: ChallengeRef, body: Body<'verifyPasskey'>) =>
      settle<'verifyPasskey'>(http.POST('/v1/tenants/{tenantId}/accounts/{userId}/challenges/{challengeId}/passkey/verify', { params: { path: challenge(ref) }, body })),

    // policy
    getPolicy: (tenantId: string) => settle<'getPolicy'>(http.GET('/v1/tenants/{tenantId}/policy', { params: { path: { tenantId } } })),
    updatePolicy: (tenantId: string, body: Body<'updatePolicy'>) => settle<'updatePolicy'>(http.PUT('/v1/tenants/{tenantId}/policy', { params: { path: { tenantId } }, body })),

    // event log, auditors
    getAccountEventLog: (ref: Account, query: QueryOf<'getAccountEventLog'> = {}) =>
      settle<'getAccountEventLog'>(http.GET('/v1/tenants/{tenantId}/accounts/{userId}/event-log', { params: { path: account(ref), query } })),
    getAccountEvents: (ref: Account, query: QueryOf<'getAccountEvents'> = {}) =>
      settle<'getAccountEvents'>(http.GET('/v1/tenants/{tenantId}/accounts/{userId}/events', { params: { path: account(ref), query } })),
    listEvents: (query: QueryOf<'listEvents'> = {}) => settle<'listEvents'>(http.GET('/v1/events', { params: { query } })),
    getAnchor: (query: QueryOf<'getAnchor'> = {}) => settle<'getAnchor'>(http.GET('/v1/events/anchor', { params: { query } })),
  };
}

export type TwostepClient = ReturnType<typeof twostepClient>;
