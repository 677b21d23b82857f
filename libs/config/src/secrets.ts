import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { generateKeyRingEntry, generateSealKeyPair, parseKeyRing, KeyedHasher, SecretBox, Sealer, Opener } from '@twostep/crypto';
import { ConfigError, parseApiKeys, type ApiKey, type Env } from './config';
import { keyFingerprint, mailKeyFingerprint, type KeyFingerprints } from './fingerprints';

/** Key material as the processes use it. Nothing here is ever logged. */
export interface Secrets {
  apiKeys: ApiKey[];
  secretBox: SecretBox;
  hasher: KeyedHasher;
  sealer: Sealer;
  /** Only processes that deliver mail get the private key. */
  opener: Opener | null;
  /** True when this start generated the API keys (the banner prints them once). */
  generatedApiKeys: boolean;
  /** Key material this start generated into keys.json (none when it came from the environment or the file). */
  generatedKeys: Array<'secretKeys' | 'hashKey' | 'mailKeys'>;
  /** One-way fingerprints of the keys, to check against those stored with the data. */
  fingerprints: KeyFingerprints;
  /** Where generated keys are kept, for messages. */
  keyFile: string;
  /**
   * Writes what this start generated to keys.json (owner-only); a no-op when nothing was. Called
   * once the keys were checked against the data, so a refused start leaves the directory as it was.
   */
  persist(): void;
}

interface KeyFile {
  apiKeys?: ApiKey[];
  secretKeys?: string;
  hashKey?: string;
  mailPublicKey?: string;
  mailPrivateKey?: string;
}

const KEY_FILE = 'keys.json';

/**
 * Loads keys from the environment; in embedded mode whatever is missing is generated once and
 * kept in `<data dir>/keys.json` with owner-only permissions, so a fresh clone runs securely
 * with no set-up and keeps working across restarts.
 */
export function loadSecrets(env: Env, options: { generateMissing: boolean; needsOpener: boolean }): Secrets {
  const file = path.join(env.TWOSTEP_DATA_DIR, KEY_FILE);
  const stored: KeyFile = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as KeyFile) : {};
  const next: KeyFile = { ...stored };
  const problems: string[] = [];
  let generatedApiKeys = false;

  const apiKeys = env.TWOSTEP_API_KEYS ? parseApiKeys(env.TWOSTEP_API_KEYS) : stored.apiKeys;
  if (!apiKeys) {
    if (options.generateMissing) {
      next.apiKeys = (['portal', 'operator', 'admin', 'auditor'] as const).map((role) => ({
        id: `${role}-default`,
        key: `ts_${role}_${randomBytes(24).toString('base64url')}`,
        role,
        tenants: ['*'],
      }));
      generatedApiKeys = true;
    } else problems.push('TWOSTEP_API_KEYS: required');
  }

  const secretKeys = env.TWOSTEP_SECRET_KEYS ?? stored.secretKeys ?? (options.generateMissing ? (next.secretKeys = generateKeyRingEntry('k1')) : undefined);
  const hashKey = env.TWOSTEP_HASH_KEY ?? stored.hashKey ?? (options.generateMissing ? (next.hashKey = randomBytes(32).toString('base64')) : undefined);
  let publicKey = env.TWOSTEP_MAIL_PUBLIC_KEY ?? stored.mailPublicKey;
  let privateKey = env.TWOSTEP_MAIL_PRIVATE_KEY ?? stored.mailPrivateKey;
  if (!publicKey && !privateKey && options.generateMissing) {
    const pair = generateSealKeyPair();
    publicKey = next.mailPublicKey = pair.publicKey;
    privateKey = next.mailPrivateKey = pair.privateKey;
  }
  if (!secretKeys) problems.push('TWOSTEP_SECRET_KEYS: required (format kid:base64key[,kid:base64key])');
  if (!hashKey) problems.push('TWOSTEP_HASH_KEY: required (base64, 32 bytes or more)');
  if (!publicKey) problems.push('TWOSTEP_MAIL_PUBLIC_KEY: required');
  if (options.needsOpener && !privateKey) problems.push('TWOSTEP_MAIL_PRIVATE_KEY: required to deliver mail');
  if (hashKey && Buffer.from(hashKey, 'base64').length < 32) problems.push('TWOSTEP_HASH_KEY: must be base64 of 32 bytes or more');
  if (problems.length > 0) throw new ConfigError(problems);

  const generatedKeys: Secrets['generatedKeys'] = [];
  if (next.secretKeys !== stored.secretKeys) generatedKeys.push('secretKeys');
  if (next.hashKey !== stored.hashKey) generatedKeys.push('hashKey');
  if (next.mailPublicKey !== stored.mailPublicKey) generatedKeys.push('mailKeys');

  let secrets: Secrets;
  try {
    const ring = parseKeyRing(secretKeys!);
    const fingerprints: KeyFingerprints = {
      secretKeys: Object.fromEntries(Object.entries(ring.keys).map(([kid, key]) => [kid, keyFingerprint(`secret-box/${kid}`, key)])),
      hashKey: keyFingerprint('hash', Buffer.from(hashKey!, 'base64')),
      mailPublicKey: mailKeyFingerprint(publicKey!),
    };
    secrets = {
      apiKeys: (apiKeys ?? next.apiKeys)!,
      secretBox: new SecretBox(ring.keys, ring.activeKeyId),
      hasher: new KeyedHasher(Buffer.from(hashKey!, 'base64')),
      sealer: new Sealer(publicKey!),
      opener: options.needsOpener && privateKey ? new Opener(privateKey) : null,
      generatedApiKeys,
      generatedKeys,
      fingerprints,
      keyFile: file,
      persist() {
        if (JSON.stringify(next) === JSON.stringify(stored)) return;
        fs.mkdirSync(env.TWOSTEP_DATA_DIR, { recursive: true, mode: 0o700 });
        fs.writeFileSync(file, JSON.stringify(next, null, 2), { mode: 0o600 });
        fs.chmodSync(file, 0o600);
      },
    };
  } catch (error) {
    throw new ConfigError([`key material: ${(error as Error).message}`]);
  }
  return secrets;
}
