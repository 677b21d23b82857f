import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** Stored inside events, so it carries its own version, algorithm and key id (for rotation).
 * A type alias, not an interface, so it stays assignable to the domain's index-signature types. */
export type EncryptedValue = {
  v: 1;
  alg: 'A256GCM';
  kid: string;
  iv: string;
  tag: string;
  ct: string;
};

export class SecretBoxError extends Error {
  override readonly name = 'SecretBoxError';
  constructor(
    readonly code: 'unknown_key' | 'decrypt_failed',
    message = code === 'unknown_key' ? 'encrypted value uses an unknown key id' : 'encrypted value could not be decrypted',
    /** For unknown_key: the key id the value names (an id, never key material). */
    readonly kid?: string,
  ) {
    super(message);
  }
}

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The header is authenticated too, so a value cannot be relabelled to another key or version. */
const fullAad = (kid: string, aad: string): Buffer => Buffer.from(`v1\0A256GCM\0${kid}\0${aad}`, 'utf8');

/**
 * AES-256-GCM with a key ring: new values use the active key, old values keep decrypting with
 * the key named in them until re-encrypted (see isCurrent). Error messages never hold key bytes.
 */
export class SecretBox {
  readonly activeKeyId: string;
  readonly #keys = new Map<string, Buffer>();

  constructor(keys: Record<string, Buffer>, activeKeyId: string) {
    const entries = Object.entries(keys ?? {});
    if (entries.length === 0) throw new Error('key ring is empty');
    for (const [kid, key] of entries) {
      if (!KEY_ID.test(kid)) throw new Error(`key id "${kid.slice(0, 40)}" must match ${KEY_ID}`);
      if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) throw new Error(`key "${kid}" must be exactly ${KEY_BYTES} bytes`);
      this.#keys.set(kid, Buffer.from(key));
    }
    if (!this.#keys.has(activeKeyId)) throw new Error('active key id is not in the key ring');
    this.activeKeyId = activeKeyId;
  }

  /** aad binds the ciphertext to its owner (e.g. the account): it cannot be moved to another one. */
  encrypt(plaintext: string, aad: string): EncryptedValue {
    const kid = this.activeKeyId;
    const iv = randomBytes(IV_BYTES); // random 96-bit IVs: safe far beyond the number of secrets we store
    const cipher = createCipheriv('aes-256-gcm', this.#keys.get(kid)!, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(fullAad(kid, aad));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const b64 = (b: Buffer) => b.toString('base64');
    return { v: 1, alg: 'A256GCM', kid, iv: b64(iv), tag: b64(cipher.getAuthTag()), ct: b64(ct) };
  }

  decrypt(value: EncryptedValue, aad: string): string {
    const v = value as Partial<Record<keyof EncryptedValue, unknown>> | null;
    if (!v || typeof v !== 'object' || v.v !== 1 || v.alg !== 'A256GCM') throw new SecretBoxError('decrypt_failed');
    const { kid, iv, tag, ct } = v;
    if (typeof kid !== 'string' || typeof iv !== 'string' || typeof tag !== 'string' || typeof ct !== 'string') {
      throw new SecretBoxError('decrypt_failed');
    }
    const key = this.#keys.get(kid);
    if (!key) throw new SecretBoxError('unknown_key', `encrypted value uses key id "${kid.slice(0, 40)}", which is not in the key ring`, kid.slice(0, 40));
    try {
      // authTagLength makes setAuthTag refuse truncated tags (otherwise accepted down to 4 bytes).
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'), { authTagLength: TAG_BYTES });
      decipher.setAAD(fullAad(kid, aad));
      decipher.setAuthTag(Buffer.from(tag, 'base64'));
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64')), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretBoxError('decrypt_failed'); // OpenSSL's message is not passed on
    }
  }

  isCurrent(value: EncryptedValue): boolean {
    return value.kid === this.activeKeyId;
  }
}

/** 'kid1:base64key,kid2:base64key'; the first entry encrypts, the others only decrypt (rotation). */
export function parseKeyRing(spec: string): { keys: Record<string, Buffer>; activeKeyId: string } {
  const entries = (spec ?? '').split(',').map((e) => e.trim()).filter((e) => e.length > 0);
  if (entries.length === 0) throw new Error('key ring is empty (expected kid:base64key[,kid:base64key])');
  const keys: Record<string, Buffer> = {};
  entries.forEach((entry, i) => {
    const colon = entry.indexOf(':');
    // Position, not content: the entry holds key material.
    if (colon < 0) throw new Error(`key ring entry ${i + 1} is not kid:base64key`);
    const kid = entry.slice(0, colon);
    const b64 = entry.slice(colon + 1).trim();
    if (!KEY_ID.test(kid)) throw new Error(`key ring entry ${i + 1}: key id must match ${KEY_ID}`);
    if (Object.hasOwn(keys, kid)) throw new Error(`key ring entry ${i + 1}: duplicate key id "${kid}"`);
    const key = Buffer.from(b64, 'base64');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || key.length !== KEY_BYTES) {
      throw new Error(`key ring entry ${i + 1} ("${kid}"): key must be base64 of exactly ${KEY_BYTES} bytes`);
    }
    keys[kid] = key;
  });
  return { keys, activeKeyId: entries[0]!.slice(0, entries[0]!.indexOf(':')) };
}

export function generateKeyRingEntry(kid: string): string {
  if (!KEY_ID.test(kid)) throw new Error(`key id must match ${KEY_ID}`);
  return `${kid}:${randomBytes(KEY_BYTES).toString('base64')}`;
}
