import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';

/**
 * The demo platform's own users: twostep never sees a password. Passwords are kept as scrypt
 * hashes (salt:hash) in memory; a restart brings back the demo sign-ins below.
 */
export type Area = 'portal' | 'manager' | 'admin';

export interface DemoUser {
  username: string;
  area: Area;
  /** twostep's account of this user (resellers act with an operator key and have none). */
  tenantId: string;
  userId: string;
  email: string;
  passwordHash: string;
}

/** Printed by the banner: who can sign in where. */
export const DEMO_SIGN_INS: readonly { area: Area; username: string; password: string; tenantId: string; email: string }[] = [
  { area: 'portal', username: 'alice', password: 'alice-demo-pass', tenantId: 'store-1', email: 'alice@example.com' },
  { area: 'portal', username: 'bob', password: 'bob-demo-pass', tenantId: 'store-1', email: 'bob@example.com' },
  { area: 'portal', username: 'carol', password: 'carol-demo-pass', tenantId: 'store-2', email: 'carol@example.com' },
  { area: 'manager', username: 'ann', password: 'ann-demo-pass', tenantId: 'store-1', email: 'ann@reseller.example' },
  { area: 'admin', username: 'root', password: 'root-demo-pass', tenantId: 'admin', email: 'root@example.com' },
];

export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  return `${salt.toString('base64')}:${scryptSync(password, salt, 32).toString('base64')}`;
}

function passwordMatches(password: string, stored: string): boolean {
  const [salt, hash] = stored.split(':');
  const expected = Buffer.from(hash!, 'base64');
  return timingSafeEqual(scryptSync(password, Buffer.from(salt!, 'base64'), expected.length), expected);
}

export class UserStore {
  private readonly users = new Map<string, DemoUser>();

  constructor(signIns = DEMO_SIGN_INS) {
    for (const user of signIns) {
      this.users.set(`${user.area}/${user.username}`, {
        username: user.username,
        area: user.area,
        tenantId: user.tenantId,
        userId: user.username,
        email: user.email,
        passwordHash: hashPassword(user.password),
      });
    }
  }

  /** The user when the password is right; null otherwise (same work either way). */
  authenticate(area: Area, username: string, password: string): DemoUser | null {
    const user = this.users.get(`${area}/${username}`);
    const ok = passwordMatches(password, user?.passwordHash ?? hashPassword('timing-equaliser'));
    return user && ok ? user : null;
  }

  find(area: Area, username: string): DemoUser | undefined {
    return this.users.get(`${area}/${username}`);
  }

  setPassword(user: DemoUser, password: string): void {
    user.passwordHash = hashPassword(password);
  }

  /** A store's customers, for Storefront Manager. */
  customersOf(tenantId: string): DemoUser[] {
    return [...this.users.values()].filter((user) => user.area === 'portal' && user.tenantId === tenantId);
  }
}
