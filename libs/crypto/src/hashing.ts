import { createHmac, timingSafeEqual } from 'node:crypto';

/** HMAC with a server-side key: a leaked read model cannot be brute-forced offline (6-digit codes!). */
export class KeyedHasher {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (!Buffer.isBuffer(key) || key.length < 32) throw new Error('hash key must be at least 32 bytes');
    this.#key = Buffer.from(key); // own copy: later changes to the caller's buffer do not matter
  }

  /** purpose and scope separate domains, so a hash can never be replayed as another kind of value. */
  hash(purpose: string, scope: string, value: string): string {
    // NUL is the separator; allowing it inside purpose/scope would make different inputs collide.
    if (purpose.includes('\0') || scope.includes('\0')) throw new Error('purpose and scope must not contain NUL');
    return createHmac('sha256', this.#key).update(`${purpose}\0${scope}\0${value}`, 'utf8').digest('hex');
  }
}

export function constantTimeEqual(a: string, b: string): boolean {
  if (typeof a !== 'string' || typeof b !== 'string') return false;
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}
