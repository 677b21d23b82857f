import { createHash } from 'node:crypto';
import type { AuthenticationResponseJSON, AuthenticatorTransportFuture, RegistrationResponseJSON } from '@simplewebauthn/server';
import { z } from 'zod/v4';
import { randomToken, type KeyedHasher } from '@twostep/crypto';
import { DomainError, type Passkey, type PasskeyProof, type Policy, type VerifiedRegistration } from '@twostep/domain';
import { accountScope, type AccountRef } from '../../accounts/account-runner';
import { ApiError } from '../../http/errors';

type WebAuthnLib = typeof import('@simplewebauthn/server');
let webauthnLib: WebAuthnLib | undefined;

/**
 * @simplewebauthn/server (and its ASN.1 and X.509 packages, about 3 MiB of heap) is loaded on the
 * first passkey ceremony, not at import: a process whose tenants use no passkeys never needs it.
 */
function webauthn(): WebAuthnLib {
  return (webauthnLib ??= require('@simplewebauthn/server') as WebAuthnLib);
}

/**
 * The WebAuthn ceremonies, with @simplewebauthn/server. twostep keeps no ceremony state of its
 * own: each WebAuthn challenge is a keyed hash the server can recompute, so it is bound to one
 * account and one purpose and cannot be forged by a client.
 * - Login: the challenge is derived from the open login challenge's id, so it is single-use
 *   (a passed challenge is closed) and expires with it.
 * - Registration: from a registration id that carries its issue time; it expires after
 *   REGISTRATION_TTL_MS, and a credential can be registered only once.
 */
export const REGISTRATION_TTL_MS = 5 * 60_000;
/** How long the browser may wait for the user (the WebAuthn `timeout`). */
const CEREMONY_TIMEOUT_MS = 2 * 60_000;

export interface RelyingParty {
  rpId: string;
  origins: string[];
  name: string;
}

/** The tenant's relying party, or 409 passkeys_not_configured. */
export function relyingParty(policy: Policy, tenantId: string): RelyingParty {
  if (policy.passkeyRpId === null || policy.passkeyOrigins.length === 0) {
    throw new DomainError(
      'passkeys_not_configured',
      'Passkeys are not set up for this store: an admin sets passkeyRpId and passkeyOrigins in its policy.',
    );
  }
  return { rpId: policy.passkeyRpId, origins: policy.passkeyOrigins, name: policy.displayName ?? tenantId };
}

/** A short, stable id for a credential (not secret: credential ids are public). */
export const passkeyIdOf = (credentialId: string): string => createHash('sha256').update(credentialId).digest('base64url').slice(0, 16);

const challengeBytes = (hasher: KeyedHasher, purpose: string, account: AccountRef, value: string): Uint8Array<ArrayBuffer> =>
  new Uint8Array(Buffer.from(hasher.hash(purpose, accountScope(account), value), 'hex'));
const base64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');
const transportsOf = (passkey: Passkey) => passkey.transports as AuthenticatorTransportFuture[];

// ------------------------------------------------------------------ registration

export async function registrationOptions(
  hasher: KeyedHasher,
  account: AccountRef,
  rp: RelyingParty,
  passkeys: readonly Passkey[],
  now: Date,
) {
  const registrationId = `${now.getTime()}.${randomToken(16)}`;
  const options = await webauthn().generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.rpId,
    userName: account.userId,
    // The WebAuthn user handle: stable per account, and says nothing about it.
    userID: challengeBytes(hasher, 'webauthn-user', account, '').slice(0, 16),
    challenge: challengeBytes(hasher, 'webauthn-registration', account, registrationId),
    timeout: CEREMONY_TIMEOUT_MS,
    attestationType: 'none',
    excludeCredentials: passkeys.map((passkey) => ({ id: passkey.credentialId, transports: transportsOf(passkey) })),
    authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
  });
  return { registrationId, options };
}

/** Checks a registration response against the challenge its registration id implies; 410 when it is too old, 400 when it does not verify. */
export async function verifyRegistration(
  hasher: KeyedHasher,
  account: AccountRef,
  rp: RelyingParty,
  registrationId: string,
  response: RegistrationResponseJSON,
  now: Date,
): Promise<VerifiedRegistration> {
  const issuedAt = Number(registrationId.split('.')[0]);
  if (!Number.isSafeInteger(issuedAt) || now.getTime() - issuedAt > REGISTRATION_TTL_MS || issuedAt - now.getTime() > 60_000) {
    throw new ApiError(410, 'registration_expired', 'This passkey registration has expired: start it again.');
  }
  let verified: Awaited<ReturnType<WebAuthnLib['verifyRegistrationResponse']>>;
  try {
    verified = await webauthn().verifyRegistrationResponse({
      response,
      expectedChallenge: base64url(challengeBytes(hasher, 'webauthn-registration', account, registrationId)),
      expectedOrigin: rp.origins,
      expectedRPID: rp.rpId,
      requireUserVerification: false,
    });
  } catch (error) {
    throw passkeyRejected(error);
  }
  if (!verified.verified) throw passkeyRejected(null);
  const { credential } = verified.registrationInfo;
  return {
    passkeyId: passkeyIdOf(credential.id),
    credentialId: credential.id,
    publicKey: base64url(credential.publicKey),
    counter: credential.counter,
    transports: [...(credential.transports ?? [])],
  };
}

/** The library's reason (origin, rp id, challenge mismatch) helps whoever integrates; it holds nothing secret. */
function passkeyRejected(error: unknown): ApiError {
  const reason = error instanceof Error ? ` (${error.message.slice(0, 200)})` : '';
  return new ApiError(400, 'passkey_rejected', `The passkey registration could not be verified${reason}.`);
}

// ------------------------------------------------------------------ login

export function assertionOptions(hasher: KeyedHasher, account: AccountRef, rp: RelyingParty, challengeId: string, passkeys: readonly Passkey[]) {
  return webauthn().generateAuthenticationOptions({
    rpID: rp.rpId,
    challenge: challengeBytes(hasher, 'webauthn-login', account, challengeId),
    timeout: CEREMONY_TIMEOUT_MS,
    userVerification: 'preferred',
    allowCredentials: passkeys.map((passkey) => ({ id: passkey.credentialId, transports: transportsOf(passkey) })),
  });
}

/**
 * What an assertion proves, for the decider to judge (unknown credential, bad signature, counter).
 * Any verification failure (signature, origin, rp id, challenge) is a wrong answer, counted like a
 * wrong code. The stored counter is left to the decider, so the library is given 0.
 */
export async function proveAssertion(
  hasher: KeyedHasher,
  account: AccountRef,
  rp: RelyingParty,
  challengeId: string,
  passkeys: readonly Passkey[],
  response: AuthenticationResponseJSON,
): Promise<PasskeyProof> {
  const passkey = passkeys.find((candidate) => candidate.credentialId === response.id);
  if (!passkey) return { credentialId: response.id, known: false };
  try {
    const result = await webauthn().verifyAuthenticationResponse({
      response,
      expectedChallenge: base64url(challengeBytes(hasher, 'webauthn-login', account, challengeId)),
      expectedOrigin: rp.origins,
      expectedRPID: rp.rpId,
      credential: { id: passkey.credentialId, publicKey: new Uint8Array(Buffer.from(passkey.publicKey, 'base64url')), counter: 0, transports: transportsOf(passkey) },
      requireUserVerification: false,
    });
    return { credentialId: passkey.credentialId, known: true, signatureValid: result.verified, newCounter: result.authenticationInfo.newCounter };
  } catch {
    return { credentialId: passkey.credentialId, known: true, signatureValid: false, newCounter: 0 };
  }
}

// ------------------------------------------------------------------ shapes

const b64url = z.string().regex(/^[A-Za-z0-9_-]+$/, 'must be base64url').max(16_384);

/** `RegistrationResponseJSON`, as navigator.credentials.create() (or @simplewebauthn/browser) gives it. */
export const RegistrationResponse = z
  .object({
    id: b64url,
    rawId: b64url,
    type: z.literal('public-key'),
    response: z.looseObject({ clientDataJSON: b64url, attestationObject: b64url, transports: z.array(z.string().max(32)).max(10).optional() }),
    clientExtensionResults: z.record(z.string(), z.unknown()),
    authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  })
  .describe('the browser\'s PublicKeyCredential from navigator.credentials.create(), as JSON (`RegistrationResponseJSON`)');

/** `AuthenticationResponseJSON`, as navigator.credentials.get() gives it. */
export const AuthenticationResponse = z
  .object({
    id: b64url,
    rawId: b64url,
    type: z.literal('public-key'),
    response: z.looseObject({ clientDataJSON: b64url, authenticatorData: b64url, signature: b64url, userHandle: b64url.optional() }),
    clientExtensionResults: z.record(z.string(), z.unknown()),
    authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  })
  .describe('the browser\'s PublicKeyCredential from navigator.credentials.get(), as JSON (`AuthenticationResponseJSON`)');

/** WebAuthn options for the browser, passed on as they are (`PublicKeyCredential*OptionsJSON`). */
export const CeremonyOptions = z.looseObject({ challenge: z.string() }).describe('pass to navigator.credentials (e.g. @simplewebauthn/browser)');
