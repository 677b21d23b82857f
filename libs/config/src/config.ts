import * as fs from 'node:fs';
import { z } from 'zod/v4';

/** One API key: who holds it and which tenants it may reach (`*` = all). */
export const apiKeySchema = z
  .object({
    key: z.string().min(24, 'api keys must be at least 24 characters'),
    role: z.enum(['portal', 'operator', 'admin', 'auditor']),
    tenants: z.array(z.string().min(1)).min(1),
    id: z.string().min(1).max(64).optional(),
  })
  .strict();
export type ApiKey = z.infer<typeof apiKeySchema> & { id: string };
export type Role = ApiKey['role'];

const optionalUrl = (protocols: string[]) =>
  z
    .string()
    .optional()
    .transform((value) => (value === '' ? undefined : value))
    .refine((value) => value === undefined || protocols.some((protocol) => value.startsWith(protocol)), {
      message: `must start with ${protocols.join(' or ')}`,
    });

const UNIT_BYTES: Record<string, number> = { b: 1, kb: 1024, mb: 1024 * 1024 };
const bodyLimitBytes = (limit: string): number => {
  const match = /^(\d+)(b|kb|mb)$/i.exec(limit);
  return match ? Number(match[1]) * UNIT_BYTES[match[2]!.toLowerCase()]! : Number.NaN;
};

/** An empty variable (`X=` in an env file) means unset. */
const blankIsUnset = (value: unknown) => (value === '' ? undefined : value);
const optionalString = z.preprocess(blankIsUnset, z.string().optional());

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default('127.0.0.1'),
  TWOSTEP_DATA_DIR: z.string().min(1).default('./var'),
  TWOSTEP_API_KEYS: optionalString,
  TWOSTEP_SECRET_KEYS: optionalString,
  TWOSTEP_HASH_KEY: optionalString,
  TWOSTEP_MAIL_PUBLIC_KEY: optionalString,
  TWOSTEP_MAIL_PRIVATE_KEY: optionalString,
  TWOSTEP_ISSUER: z.string().min(1).max(64).default('twostep'),
  TWOSTEP_MAIL_FROM: z.string().min(3).default('twostep <no-reply@twostep.local>'),
  TWOSTEP_MODE: z.enum(['embedded', 'api']).default('embedded'),
  /** Largest accepted JSON body, as body-parser reads it (`16kb`); bounded so a typo cannot open the door wide. */
  TWOSTEP_BODY_LIMIT: z.preprocess(
    blankIsUnset,
    z
      .string()
      .regex(/^\d{1,7}(b|kb|mb)$/i, 'a size such as 16kb (a whole number with b, kb or mb)')
      .refine((limit) => bodyLimitBytes(limit) >= 1024 && bodyLimitBytes(limit) <= 1024 * 1024, 'between 1kb and 1mb')
      .default('16kb'),
  ),
  /**
   * How far V8 lets the old generation grow past the live heap before its next full GC, in percent
   * (V8's --heap-growing-percent, set by the api at start); 0 = V8's own choice (up to 300 %).
   * A login's short-lived state is promoted there, so V8's choice held ~4x the live heap.
   */
  TWOSTEP_HEAP_GROWTH_PERCENT: z.preprocess(blankIsUnset, z.coerce.number().int().min(0).max(300).default(60)),
  /** Embedded mode: the reference web app's port (`off` = none); unset = PORT + 1 (or any free port when PORT is 0). */
  TWOSTEP_WEB_PORT: z.preprocess(blankIsUnset, z.union([z.literal('off'), z.coerce.number().int().min(0).max(65535)]).optional()),
  /** Bearer key for /metrics and /docs (api) and /metrics (workers); unset = open, as in development. */
  TWOSTEP_OPS_KEY: z.preprocess(blankIsUnset, z.string().min(24, 'at least 24 characters').regex(/^\S+$/, 'no spaces').optional()),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SMTP_URL: optionalUrl(['smtp://', 'smtps://']),
  ESDB_URL: optionalUrl(['esdb://', 'esdb+discover://', 'kurrentdb://']),
  KAFKA_BROKERS: z
    .string()
    .optional()
    .transform((value) => (value ? value.split(',').map((b) => b.trim()).filter(Boolean) : undefined))
    .refine((brokers) => !brokers || brokers.every((broker) => /^[^\s:,]+:\d{1,5}$/.test(broker)), 'a comma-separated list of host:port'),
  KAFKA_TOPIC: z.string().default('twostep.events'),
  KAFKA_DLQ_TOPIC: z.string().default('twostep.mail.dead-letter'),
  REDIS_URL: optionalUrl(['redis://', 'rediss://']),
  MAIL_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(5),
  /** Emails being sent at once by one mailer, over all its partitions (back-pressure: no more is fetched meanwhile). */
  MAIL_MAX_IN_FLIGHT: z.preprocess(blankIsUnset, z.coerce.number().int().min(1).max(1000).default(64)),
  /** SMTP connections one mailer keeps open (nodemailer pool); a URL's ?maxConnections= wins. */
  MAIL_SMTP_POOL: z.preprocess(blankIsUnset, z.coerce.number().int().min(1).max(100).default(8)),
  /** Partitions of KAFKA_TOPIC when twostep creates it: the most mailers that can share the work. */
  KAFKA_TOPIC_PARTITIONS: z.preprocess(blankIsUnset, z.coerce.number().int().min(1).max(1000).default(12)),
  /** Prefix of every Redis key, so deployments (or test runs) can share one Redis; ends with ':'. */
  REDIS_KEY_PREFIX: z.preprocess(
    blankIsUnset,
    z
      .string()
      .regex(/^[A-Za-z0-9:_.-]{1,64}$/, '1-64 characters of A-Z a-z 0-9 : _ . -')
      .transform((prefix) => (prefix.endsWith(':') ? prefix : `${prefix}:`))
      .optional(),
  ),
  KAFKA_MAILER_GROUP_ID: z.preprocess(blankIsUnset, z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, '1-128 characters of A-Z a-z 0-9 . _ -').default('twostep-mailer')),
  /** Projector and mailer serve /health/live and /health/ready here; unset means no health server. */
  HEALTH_PORT: z.preprocess(blankIsUnset, z.coerce.number().int().min(0).max(65535).optional()),
});

export type Env = z.infer<typeof envSchema>;

/** Every variable start-up reads, for docs that must list them all (.env.example). */
export const ENV_VARIABLES = Object.keys(envSchema.shape) as (keyof Env)[];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Variables that may come from a file instead: `NAME_FILE=/run/secrets/name` (Docker and
 * Kubernetes secrets), so keys and credentials need not sit in the process environment. One
 * trailing newline is dropped; setting both NAME and NAME_FILE is refused.
 */
export const FILE_VARIABLES = [
  'TWOSTEP_API_KEYS',
  'TWOSTEP_SECRET_KEYS',
  'TWOSTEP_HASH_KEY',
  'TWOSTEP_MAIL_PUBLIC_KEY',
  'TWOSTEP_MAIL_PRIVATE_KEY',
  'TWOSTEP_OPS_KEY',
  'SMTP_URL',
  'REDIS_URL',
  'ESDB_URL',
] as const;

function readFileVariables(source: NodeJS.ProcessEnv): { values: NodeJS.ProcessEnv; problems: string[] } {
  const values: NodeJS.ProcessEnv = { ...source };
  const problems: string[] = [];
  for (const name of FILE_VARIABLES) {
    const file = blankIsUnset(source[`${name}_FILE`]) as string | undefined;
    if (file === undefined) continue;
    if (blankIsUnset(source[name]) !== undefined) {
      problems.push(`${name}_FILE: set either ${name} or ${name}_FILE, not both`);
      continue;
    }
    try {
      const content = fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
      if (content === '') problems.push(`${name}_FILE: ${file} is empty`);
      else values[name] = content;
    } catch (error) {
      problems.push(`${name}_FILE: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  return { values, problems };
}

/** Validates the environment; a bad value stops start-up with a message naming it. */
export function parseEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const { values, problems } = readFileVariables(source);
  const result = envSchema.safeParse(values);
  if (!result.success) problems.push(...result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  if (problems.length > 0) throw new ConfigError(problems);
  return result.data!;
}

export function parseApiKeys(json: string): ApiKey[] {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new ConfigError(['TWOSTEP_API_KEYS: must be a JSON array of {"key","role","tenants"}']);
  }
  const parsed = z.array(apiKeySchema).min(1).safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `TWOSTEP_API_KEYS[${issue.path.join('.')}]: ${issue.message}`));
  }
  const keys = parsed.data.map((key, index) => ({ ...key, id: key.id ?? `${key.role}-${index + 1}` }));
  if (new Set(keys.map((k) => k.key)).size !== keys.length) throw new ConfigError(['TWOSTEP_API_KEYS: keys must be unique']);
  return keys;
}
