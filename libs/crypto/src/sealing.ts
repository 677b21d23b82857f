import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';

/**
 * ECIES-style sealing: the api (public key only) can seal codes and addresses for the mailer,
 * but nothing that reads events or the bus without the mailer's private key can open them.
 * A type alias, not an interface, so it stays assignable to the domain's index-signature types.
 */
export type SealedValue = {
  v: 1;
  alg: 'X25519-HKDF-SHA256-A256GCM';
  epk: string;
  iv: string;
  tag: string;
  ct: string;
};

const ALG = 'X25519-HKDF-SHA256-A256GCM';
const INFO = Buffer.from('twostep/seal/v1', 'utf8');
const IV_BYTES = 12;
const TAG_BYTES = 16;
const AAD = Buffer.from(ALG, 'utf8');

/**
 * An X25519 public key's SPKI DER is this fixed 12-byte header and the 32-byte key. Building it
 * by hand, and importing through JWK, skips OpenSSL's DER encoder and decoder, which cost ~80 µs
 * each against ~1 µs and ~6 µs (Node 20, OpenSSL 3): the bulk of a seal or an open.
 */
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

const spki = (key: KeyObject): Buffer => {
  const jwk = key.export({ format: 'jwk' });
  return Buffer.concat([X25519_SPKI_PREFIX, Buffer.from(jwk.x!, 'base64url')]);
};

function importPublic(base64: string, what: string): { key: KeyObject; der: Buffer } {
  const der = Buffer.from(base64, 'base64');
  if (der.length === X25519_SPKI_PREFIX.length + 32 && der.subarray(0, X25519_SPKI_PREFIX.length).equals(X25519_SPKI_PREFIX)) {
    return { key: createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: der.subarray(X25519_SPKI_PREFIX.length).toString('base64url') }, format: 'jwk' }), der };
  }
  // Anything else is not a plain X25519 SPKI key: let OpenSSL say what it is, for the error.
  let key: KeyObject;
  try {
    key = createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch {
    throw new Error(`${what} is not a base64 DER (spki) public key`);
  }
  if (key.asymmetricKeyType !== 'x25519') throw new Error(`${what} is not an X25519 key`);
  return { key, der };
}

/**
 * Both public keys (their SPKI DER) go into the KDF so a key is tied to this exact
 * sender/recipient pair. The DER forms are passed in, already at hand: exporting a key is
 * the costliest step of a seal or an open.
 */
function deriveKey(shared: Buffer, ephemeralDer: Buffer, recipientDer: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', shared, Buffer.concat([ephemeralDer, recipientDer]), INFO, 32));
}

export function generateSealKeyPair(): { publicKey: string; privateKey: string } {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  return { publicKey: spki(publicKey).toString('base64'), privateKey: privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64') };
}

/** Seals values; `seal` is all a caller needs, so a `Sealer` and one of its `forOneEvent()` sealers are interchangeable. */
export interface Seal {
  seal(plaintext: string): SealedValue;
}

export class Sealer implements Seal {
  readonly #recipient: { key: KeyObject; der: Buffer };

  constructor(publicKeyBase64: string) {
    this.#recipient = importPublic(publicKeyBase64, 'mail public key');
  }

  /** One value, under its own fresh ephemeral key. */
  seal(plaintext: string): SealedValue {
    return this.forOneEvent().seal(plaintext);
  }

  /**
   * A sealer for the values of one event (a code and its address): they share one fresh
   * ephemeral key, so one key pair, one agreement and one KDF serve them all, and each value gets
   * its own random IV under the derived key. Each value is still a complete `SealedValue` that
   * opens on its own. Nothing is shared with any other event's values. The key pair is made on the
   * first `seal`, so an unused one costs nothing.
   */
  forOneEvent(): Seal {
    let derived: { key: Buffer; epk: string } | undefined;
    const recipient = this.#recipient;
    return {
      seal(plaintext: string): SealedValue {
        if (!derived) {
          const eph = generateKeyPairSync('x25519'); // fresh per event: forward secrecy for the sender side
          const ephemeralDer = spki(eph.publicKey);
          const shared = diffieHellman({ privateKey: eph.privateKey, publicKey: recipient.key });
          derived = { key: deriveKey(shared, ephemeralDer, recipient.der), epk: ephemeralDer.toString('base64') };
        }
        const iv = randomBytes(IV_BYTES);
        const cipher = createCipheriv('aes-256-gcm', derived.key, iv, { authTagLength: TAG_BYTES });
        cipher.setAAD(AAD);
        const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
        return { v: 1, alg: ALG, epk: derived.epk, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), ct: ct.toString('base64') };
      },
    };
  }
}

export class Opener {
  readonly #privateKey: KeyObject;
  readonly #publicKeyDer: Buffer;
  /** The last ephemeral key opened and the key derived from it: an event's values share one (see `Sealer.forOneEvent`). */
  #last: { epk: string; key: Buffer } | undefined;

  constructor(privateKeyBase64: string) {
    try {
      this.#privateKey = createPrivateKey({ key: Buffer.from(privateKeyBase64, 'base64'), format: 'der', type: 'pkcs8' });
    } catch {
      throw new Error('mail private key is not a base64 DER (pkcs8) private key');
    }
    if (this.#privateKey.asymmetricKeyType !== 'x25519') throw new Error('mail private key is not an X25519 key');
    this.#publicKeyDer = spki(createPublicKey(this.#privateKey));
  }

  /** The matching public key, e.g. to check the api and mailer are configured as a pair. */
  publicKey(): string {
    return this.#publicKeyDer.toString('base64');
  }

  open(sealed: SealedValue): string {
    const s = sealed as Partial<Record<keyof SealedValue, unknown>> | null;
    const fail = () => new Error('sealed value could not be opened (tampered, or sealed for another key)');
    if (!s || typeof s !== 'object' || s.v !== 1 || s.alg !== ALG) throw fail();
    const { epk, iv, tag, ct } = s;
    if (typeof epk !== 'string' || typeof iv !== 'string' || typeof tag !== 'string' || typeof ct !== 'string') throw fail();
    try {
      const key = this.#keyFor(epk);
      // authTagLength makes setAuthTag refuse truncated tags.
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'), { authTagLength: TAG_BYTES });
      decipher.setAAD(AAD);
      decipher.setAuthTag(Buffer.from(tag, 'base64'));
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64')), decipher.final()]).toString('utf8');
    } catch {
      throw fail(); // one message for every failure: no oracle, no OpenSSL text
    }
  }

  #keyFor(epk: string): Buffer {
    if (this.#last?.epk === epk) return this.#last.key;
    const ephemeral = importPublic(epk, 'ephemeral key');
    const shared = diffieHellman({ privateKey: this.#privateKey, publicKey: ephemeral.key });
    const key = deriveKey(shared, ephemeral.der, this.#publicKeyDer);
    this.#last = { epk, key };
    return key;
  }
}
