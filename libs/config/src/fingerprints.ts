import { createHash } from 'node:crypto';

/**
 * Short one-way fingerprints of the key material a data set was written with (never the keys:
 * 64 bits of a SHA-256 over a label and the key). Kept with the data, so a start with other
 * keys is refused before it can answer every login with an error.
 */
export interface KeyFingerprints {
  /** Per key id of the secret-box ring. */
  secretKeys: Record<string, string>;
  hashKey?: string;
  mailPublicKey?: string;
}

export function keyFingerprint(name: string, material: Buffer | string): string {
  return createHash('sha256').update(`twostep key fingerprint v1\0${name}\0`).update(material).digest('hex').slice(0, 16);
}

/** The mail key pair's fingerprint, from its public key (base64 SPKI): the api seals with it, the mailer derives it from its private key. */
export function mailKeyFingerprint(publicKeyBase64: string): string {
  return keyFingerprint('mail-public', Buffer.from(publicKeyBase64, 'base64'));
}

/**
 * What differs between the fingerprints stored with the data and the keys this process holds,
 * one line per variable. A key id of the stored ring that the current ring lacks is not a
 * refusal (a rotation retires keys; a secret still under it is a 409 for its account), nor is a
 * new key id; the same key id with other key bytes is.
 */
export function fingerprintMismatches(stored: KeyFingerprints, current: KeyFingerprints): string[] {
  const problems: string[] = [];
  for (const [kid, fingerprint] of Object.entries(current.secretKeys)) {
    const was = stored.secretKeys[kid];
    if (was !== undefined && was !== fingerprint) problems.push(`TWOSTEP_SECRET_KEYS: key "${kid}" is not the key "${kid}" this data was written with`);
  }
  if (stored.hashKey && current.hashKey && stored.hashKey !== current.hashKey) problems.push('TWOSTEP_HASH_KEY: not the hash key this data was written with');
  if (stored.mailPublicKey && current.mailPublicKey && stored.mailPublicKey !== current.mailPublicKey) {
    problems.push('TWOSTEP_MAIL_PUBLIC_KEY: not the mail key pair this data was written with (sealed codes and addresses could not be opened)');
  }
  return problems;
}

/** The stored fingerprints plus what the current keys add (new key ids, a first hash or mail key). */
export function mergeFingerprints(stored: KeyFingerprints | null, current: KeyFingerprints): KeyFingerprints {
  return {
    secretKeys: { ...(stored?.secretKeys ?? {}), ...current.secretKeys },
    ...((stored?.hashKey ?? current.hashKey) ? { hashKey: stored?.hashKey ?? current.hashKey } : {}),
    ...((stored?.mailPublicKey ?? current.mailPublicKey) ? { mailPublicKey: stored?.mailPublicKey ?? current.mailPublicKey } : {}),
  };
}
