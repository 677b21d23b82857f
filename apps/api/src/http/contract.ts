import { z } from 'zod/v4';
import type { Role } from '@twostep/config';
import type { DomainErrorCode } from '@twostep/domain';
import { ID_PATTERN } from './auth.guard';
import { STATUS_OF } from './error.filter';

/**
 * The HTTP contract, one operation per route, built from the zod schemas the routes validate
 * with. `openApiDocument()` turns the operations into the OpenAPI 3.1 document served at
 * /docs-json and committed as openapi.json; the test harness checks every answer the HTTP tests
 * get against its operation (status declared, error code declared, body matching the schema).
 */

/** Every stable error code the api answers with, and its status. */
export const ERROR_STATUS = {
  ...STATUS_OF,
  unauthorized: 401,
  forbidden_role: 403,
  forbidden_tenant: 403,
  invalid_id: 400,
  validation_failed: 400,
  malformed_json: 400,
  payload_too_large: 413,
  unsupported_media_type: 415,
  log_shorter_than_anchor: 409,
  secret_key_missing: 409,
  concurrent_update: 409,
  registration_expired: 410,
  passkey_rejected: 400,
  invalid_passkey: 422,
  internal_error: 500,
} as const satisfies Record<DomainErrorCode | string, number>;
export type ErrorCode = keyof typeof ERROR_STATUS;

export type Tag = 'login' | 'authenticator app' | 'passkeys' | 'status' | 'remembered devices' | 'reseller tools' | 'policy' | 'event log' | 'auditors';

export const TAGS: Record<Tag, string> = {
  login: 'The second step of a login: start a challenge, verify a code, recovery codes, resend, password reset',
  'authenticator app': "The customer portal's Two-Factor Authentication settings: set up, confirm, new recovery codes, disable",
  status: "An account's 2FA status view",
  passkeys:
    'Passkeys (WebAuthn) as a second factor beside the authenticator app: register (options, then the browser\'s answer), list, remove, and answer a login with one',
  'remembered devices': 'Devices that skip the second step ("remember my device"): list them, revoke one',
  'reseller tools': 'Storefront Manager: disable a customer\'s 2FA, lift a lock',
  policy: "Per-tenant settings (tenant `admin` is the admin console's global settings)",
  'event log': "An account's history, for people and for auditors",
  auditors: 'The whole log in global order, and anchors over it',
};

export interface SuccessResponse {
  status: 200 | 202;
  description: string;
  schema: z.ZodType;
  /** The answer carries a secret (setup key, recovery codes, device token): `Cache-Control: no-store` is stated. */
  secret?: boolean;
}

export interface Operation {
  operationId: string;
  method: 'get' | 'post' | 'put';
  /** The OpenAPI path (`{tenantId}`), also the express route once `{x}` becomes `:x`. */
  path: string;
  tag: Tag;
  summary: string;
  description?: string;
  roles: readonly Role[];
  query?: z.ZodObject;
  body?: z.ZodType;
  /** A body must be sent (otherwise `{}` may be omitted). */
  bodyRequired?: boolean;
  response: SuccessResponse;
  /** What this route can refuse with, beyond what every authenticated route can (see `commonErrors`). */
  errors: readonly ErrorCode[];
  /** Body examples, by name. */
  examples?: Record<string, unknown>;
}

export const id = (what: string) => z.string().regex(ID_PATTERN).describe(what);
const PATH_PARAMS: Record<string, z.ZodType> = {
  tenantId: id('Store (tenant) id; `admin` is the admin console'),
  userId: id("The customer's or admin user's id in the calling platform"),
  challengeId: id('The id `POST …/challenges` returned'),
  deviceId: id('A remembered device\'s id (`verifyChallenge` with `rememberDevice`, `listTrustedDevices`)'),
  passkeyId: id('A passkey\'s id (`registerPasskey`, `listPasskeys`)'),
};

export const isoTime = z.iso.datetime({ offset: true });

/** A remembered device: never its token nor the token's hash. listTrustedDevices answers the same shape. */
export const TrustedDevice = z
  .object({
    deviceId: z.string(),
    label: z.string().nullable().describe('what the caller named the device at verify (`deviceLabel`); null when it named none'),
    createdAt: isoTime.nullable().describe('when it was remembered; null only for a device remembered before twostep recorded this (rebuild the read models to fill it)'),
    expiresAt: isoTime,
  })
  .strict();

/** A passkey as listPasskeys and the status view show it. */
export const PasskeyBody = z
  .object({
    passkeyId: z.string(),
    name: z.string(),
    createdAt: isoTime,
    lastUsedAt: isoTime.nullable().describe('the last login it answered; null when it has answered none'),
  })
  .strict()
  .describe("A passkey: never the credential's public key");

/** Who an operator or admin says they are (reseller-disable, unlock, revoke a device). */
export const operatorId = z.string().regex(ID_PATTERN, 'must be 1-64 characters of letters, digits and _@.+-');

export const ErrorBody = z
  .object({
    error: z.string().describe('Stable code: switch on this, never on the message'),
    message: z.string().describe('A sentence for people (the seeds\' exact wording where they give one)'),
    attemptsLeft: z.number().int().min(0).optional().describe('invalid_code, invalid_passkey: attempts left before the lock'),
    reason: z.enum(['code_already_used']).optional().describe('invalid_code: the code matched a step already used'),
    hint: z.string().optional().describe('invalid_code with reason code_already_used: what to do (wait for the next code)'),
    lockedUntil: isoTime.optional().describe('account_locked: when the lock ends'),
    retryAfterSeconds: z.number().int().min(0).optional().describe('resend_cooldown: seconds until a new code may be sent'),
    resendAvailableAt: isoTime.optional().describe('resend_cooldown: when a new code may be sent'),
    challengeId: z.string().optional().describe('resend_cooldown on startChallenge: the challenge still open, whose code was already sent'),
    sentTo: z.string().optional().describe('resend_cooldown on startChallenge: where that code went (masked)'),
    expiresAt: isoTime.optional().describe('resend_cooldown on startChallenge: when that code expires'),
    field: z.string().optional().describe('invalid_policy: the setting that is out of range'),
    count: z.number().int().min(0).optional().describe('log_shorter_than_anchor: how many events the log holds'),
    problems: z.array(z.object({ field: z.string(), message: z.string() })).optional().describe('validation_failed: each problem'),
  })
  .describe('Every refusal: a stable code and a sentence');

/** Who acted, as events and the event log record it. */
export const Actor = z
  .object({
    kind: z.enum(['customer', 'operator', 'admin', 'system', 'auditor']),
    id: z.string().optional(),
    apiKeyId: z.string().optional().describe('the API key the request came with'),
  })
  .strict();

export const StoredEventBody = z
  .object({
    eventId: z.string(),
    type: z.string(),
    data: z.record(z.string(), z.unknown()).describe('secrets stay encrypted, sealed or hashed'),
    metadata: z.object({ at: isoTime, actor: Actor, correlationId: z.string().optional(), schemaVersion: z.number().int() }).strict(),
    stream: z.string(),
    revision: z.number().int().min(0),
    position: z.number().int().min(1),
    recordedAt: isoTime,
    hash: z.string().describe('sha256 chained to the previous event of the stream'),
    prevHash: z.string().nullable(),
  })
  .strict();

/** What any operation may answer, given its shape. */
export function commonErrors(operation: Operation): ErrorCode[] {
  const codes: ErrorCode[] = ['unauthorized', 'forbidden_role', 'internal_error'];
  if (operation.path.includes('{')) codes.push('invalid_id');
  if (operation.path.includes('{tenantId}')) codes.push('forbidden_tenant');
  if (operation.query || operation.body) codes.push('validation_failed');
  if (operation.method !== 'get') codes.push('malformed_json', 'payload_too_large', 'unsupported_media_type');
  return codes;
}

export function errorsOf(operation: Operation): ErrorCode[] {
  return [...new Set([...commonErrors(operation), ...operation.errors])];
}

const DESCRIPTION = `Event-sourced two-factor authentication for commerce platforms: storefronts, reseller consoles and admin
consoles keep passwords and sessions; twostep owns the second step.

Every refusal is the \`Error\` shape with a stable \`error\` code. Keys are opaque bearer keys with a role
(portal, operator, admin, auditor) and a list of tenants.`;

/** The OpenAPI 3.1 document of these operations (deterministic: the committed openapi.json is this). */
export function openApiDocument(operations: readonly Operation[], version: string): Record<string, unknown> {
  const schemas: Record<string, unknown> = {};
  const toSchema = (schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> => {
    const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Record<string, unknown>;
    return rest;
  };
  schemas.Error = toSchema(ErrorBody, 'output');
  const paths: Record<string, Record<string, unknown>> = {};
  for (const operation of operations) {
    const parameters: unknown[] = [];
    for (const [, name] of operation.path.matchAll(/\{(\w+)\}/g)) {
      const schema = PATH_PARAMS[name!];
      if (!schema) throw new Error(`${operation.operationId}: no schema for path parameter ${name}`);
      const { description, ...rest } = toSchema(schema, 'input');
      parameters.push({ name, in: 'path', required: true, description, schema: rest });
    }
    if (operation.query) {
      for (const [name, field] of Object.entries(operation.query.shape)) {
        const { description, ...rest } = toSchema(field as z.ZodType, 'input');
        const optional = (field as z.ZodType).safeParse(undefined).success;
        parameters.push({ name, in: 'query', required: !optional, ...(description ? { description } : {}), schema: rest });
      }
    }
    const responses: Record<string, unknown> = {
      [operation.response.status]: {
        description: operation.response.description,
        ...(operation.response.secret ? { headers: { 'Cache-Control': { description: 'no-store: the answer holds a secret', schema: { type: 'string', const: 'no-store' } } } } : {}),
        content: { 'application/json': { schema: toSchema(operation.response.schema, 'output') } },
      },
    };
    const byStatus = new Map<number, ErrorCode[]>();
    for (const code of errorsOf(operation)) byStatus.set(ERROR_STATUS[code], [...(byStatus.get(ERROR_STATUS[code]) ?? []), code]);
    for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
      responses[status] = {
        description: codes.map((code) => `\`${code}\``).join(', '),
        ...(status === 401 ? { headers: { 'WWW-Authenticate': { schema: { type: 'string', const: 'Bearer' } } } } : {}),
        ...(status === 423 || status === 429 ? { headers: { 'Retry-After': { description: 'seconds', schema: { type: 'integer' } } } } : {}),
        content: { 'application/json': { schema: { allOf: [{ $ref: '#/components/schemas/Error' }, { type: 'object', properties: { error: { type: 'string', enum: codes } }, required: ['error'] }] } } },
      };
    }
    const body = operation.body
      ? {
          requestBody: {
            required: operation.bodyRequired ?? false,
            content: {
              'application/json': {
                schema: toSchema(operation.body, 'input'),
                ...(operation.examples ? { examples: Object.fromEntries(Object.entries(operation.examples).map(([name, value]) => [name, { value }])) } : {}),
              },
            },
          },
        }
      : {};
    (paths[operation.path] ??= {})[operation.method] = {
      operationId: operation.operationId,
      summary: operation.summary,
      description: `${operation.description ? `${operation.description}\n\n` : ''}Roles: ${operation.roles.join(', ')}.`,
      tags: [operation.tag],
      ...(parameters.length > 0 ? { parameters } : {}),
      ...body,
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'twostep', version, description: DESCRIPTION, license: { name: 'UNLICENSED', identifier: 'UNLICENSED' } },
    servers: [{ url: 'http://127.0.0.1:3000', description: 'npm start on its embedded defaults' }],
    security: [{ apiKey: [] }],
    tags: Object.entries(TAGS).map(([name, description]) => ({ name, description })),
    paths,
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An opaque API key: `Authorization: Bearer <key>`' } },
      schemas,
    },
  };
}
