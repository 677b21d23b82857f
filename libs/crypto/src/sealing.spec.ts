import { createCipheriv, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes } from 'node:crypto';
import { generateSealKeyPair, Opener, Sealer, type SealedValue } from './index';

const CODE = '493817';

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

function flip(b64: string): string {
  const b = Buffer.from(b64, 'base64');
  b[b.length - 1]! ^= 1;
  return b.toString('base64');
}

describe('sealing', () => {
  const pair = generateSealKeyPair();
  const sealer = new Sealer(pair.publicKey);
  const opener = new Opener(pair.privateKey);

  it('opens values sealed the way events in the log were sealed (OpenSSL DER exports), and exposes the same public key', () => {
    // The seal as first written: every key through OpenSSL's SPKI DER export. Events are permanent.
    const recipient = createPublicKey({ key: Buffer.from(pair.publicKey, 'base64'), format: 'der', type: 'spki' });
    const der = (key: ReturnType<typeof createPublicKey>) => key.export({ type: 'spki', format: 'der' });
    const eph = generateKeyPairSync('x25519');
    const shared = diffieHellman({ privateKey: eph.privateKey, publicKey: recipient });
    const key = Buffer.from(hkdfSync('sha256', shared, Buffer.concat([der(eph.publicKey), der(recipient)]), Buffer.from('twostep/seal/v1'), 32));
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
    cipher.setAAD(Buffer.from('X25519-HKDF-SHA256-A256GCM'));
    const ct = Buffer.concat([cipher.update(CODE, 'utf8'), cipher.final()]);
    const legacy: SealedValue = { v: 1, alg: 'X25519-HKDF-SHA256-A256GCM', epk: der(eph.publicKey).toString('base64'), iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), ct: ct.toString('base64') };
    expect(opener.open(legacy)).toBe(CODE);
    const fromOpenSsl = der(createPublicKey(createPrivateKey({ key: Buffer.from(pair.privateKey, 'base64'), format: 'der', type: 'pkcs8' }))).toString('base64');
    expect(opener.publicKey()).toBe(fromOpenSsl);
    expect(sealer.seal(CODE).epk).toMatch(/^MCowBQYDK2VuAyEA/); // the same SPKI DER header
  });

  it('round-trips and exposes the matching public key', () => {
    const sealed = sealer.seal(CODE);
    expect(sealed).toMatchObject({ v: 1, alg: 'X25519-HKDF-SHA256-A256GCM' });
    expect(opener.open(sealed)).toBe(CODE);
    expect(opener.open(sealer.seal('jane.doe@example.com'))).toBe('jane.doe@example.com');
    expect(opener.publicKey()).toBe(pair.publicKey);
  });

  it("seals one event's values under one ephemeral key, each opening on its own, and none shared with another event", () => {
    const event = sealer.forOneEvent();
    const to = event.seal('jane.doe@example.com');
    const code = event.seal(CODE);
    expect(code.epk).toBe(to.epk);
    expect(code.iv).not.toBe(to.iv); // one derived key, a fresh IV per value
    // Each opens alone, with a fresh opener (nothing cached) as with the one that just opened the other.
    expect(new Opener(pair.privateKey).open(code)).toBe(CODE);
    expect(opener.open(to)).toBe('jane.doe@example.com');
    expect(opener.open(code)).toBe(CODE);
    expect(sealer.forOneEvent().seal(CODE).epk).not.toBe(code.epk);
    // The opener's remembered key for that epk must not let a tampered value through.
    expect(errorOf(() => opener.open({ ...code, ct: flip(code.ct) })).message).toBe('sealed value could not be opened (tampered, or sealed for another key)');
    expect(errorOf(() => opener.open({ ...code, tag: flip(code.tag) })).message).toBe('sealed value could not be opened (tampered, or sealed for another key)');
    // A value sealed for another key with the same epk string is refused too.
    const other = new Sealer(generateSealKeyPair().publicKey).seal(CODE);
    expect(errorOf(() => opener.open({ ...other, epk: code.epk })).message).toBe('sealed value could not be opened (tampered, or sealed for another key)');
  });

  it('uses a fresh ephemeral key per message and hides the plaintext', () => {
    const a = sealer.seal(CODE);
    const b = sealer.seal(CODE);
    expect(a.epk).not.toBe(b.epk);
    expect(a.ct).not.toBe(b.ct);
    expect(JSON.stringify(a)).not.toContain(CODE);
    expect(JSON.stringify(a)).not.toContain(Buffer.from(CODE).toString('base64'));
  });

  it('cannot be opened with a different key pair', () => {
    const other = new Opener(generateSealKeyPair().privateKey);
    const e = errorOf(() => other.open(sealer.seal(CODE)));
    expect(e.message).toMatch(/could not be opened/);
    expect(e.message).not.toContain(CODE);
  });

  it.each(['ct', 'iv', 'tag', 'epk'] as const)('detects a tampered %s', (field) => {
    const sealed = sealer.seal(CODE);
    const e = errorOf(() => opener.open({ ...sealed, [field]: flip(sealed[field]) }));
    expect(e.message).toMatch(/could not be opened/);
    expect(e.message).not.toContain(CODE);
  });

  it('refuses a swapped ephemeral key, a truncated tag and malformed values', () => {
    const a = sealer.seal(CODE);
    const b = sealer.seal(CODE);
    expect(() => opener.open({ ...a, epk: b.epk })).toThrow(/could not be opened/);
    expect(() => opener.open({ ...a, tag: Buffer.from(a.tag, 'base64').subarray(0, 8).toString('base64') })).toThrow(/could not be opened/);
    expect(() => opener.open({ ...a, alg: 'other' } as unknown as SealedValue)).toThrow(/could not be opened/);
    expect(() => opener.open(null as unknown as SealedValue)).toThrow(/could not be opened/);
  });

  it('rejects keys that are not X25519 DER keys, without echoing them', () => {
    const ed = generateKeyPairSync('ed25519');
    const edPublic = ed.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    const edPrivate = ed.privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64');
    expect(() => new Sealer(edPublic)).toThrow(/X25519/);
    expect(() => new Opener(edPrivate)).toThrow(/X25519/);
    expect(() => new Sealer('not a key')).toThrow(/public key/);
    const e = errorOf(() => new Opener(pair.privateKey.slice(0, -8)));
    expect(e.message).not.toContain(pair.privateKey.slice(0, 20));
    expect(() => new Sealer(pair.privateKey)).toThrow(); // a private key is not a public key
  });
});
