import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import pino from 'pino';
import request from 'supertest';
import { AdjustableClock, createRuntime, type Runtime } from '@twostep/app';
import { parseEnv } from '@twostep/config';
import { twostepClient, type TwostepClient } from '@twostep/client';
import { createApiApp } from '../../apps/api/src/create-app';
import { EmbeddedWorkers } from '../../apps/api/src/embedded';
import { Metrics } from '../../apps/api/src/http/observability';
import { checkAnswers } from './contract-check';

/** API keys used by the HTTP tests: one per role, plus tenant-scoped ones. */
export const KEYS = {
  portal: 'test-portal-key-store-1-000000000000',
  portal2: 'test-portal-key-store-2-000000000000',
  operator: 'test-operator-key-store-1-0000000000',
  operator2: 'test-operator-key-store-2-0000000000',
  admin: 'test-admin-key-all-tenants-000000000',
  auditor: 'test-auditor-key-all-tenants-0000000',
  auditor2: 'test-auditor-key-store-2-00000000000',
} as const;

const API_KEYS = [
  { key: KEYS.portal, role: 'portal', tenants: ['store-1', 'admin'], id: 'portal-1' },
  { key: KEYS.portal2, role: 'portal', tenants: ['store-2'], id: 'portal-2' },
  { key: KEYS.operator, role: 'operator', tenants: ['store-1'], id: 'op-1' },
  { key: KEYS.operator2, role: 'operator', tenants: ['store-2'], id: 'op-2' },
  { key: KEYS.admin, role: 'admin', tenants: ['*'], id: 'admin-1' },
  { key: KEYS.auditor, role: 'auditor', tenants: ['*'], id: 'auditor-1' },
  { key: KEYS.auditor2, role: 'auditor', tenants: ['store-2'], id: 'auditor-2' },
];

export interface TestApp {
  app: NestExpressApplication;
  runtime: Runtime;
  clock: AdjustableClock;
  dataDir: string;
  http: ReturnType<typeof request>;
  workers: EmbeddedWorkers;
  /** Answers that broke the contract (checked on every /v1 answer; close() fails when there are any). */
  contractViolations: string[];
  /** @twostep/client with this role's key, over a real socket (the app starts listening on first use). */
  client(role: keyof typeof KEYS): Promise<TwostepClient>;
  as(role: keyof typeof KEYS): { get(url: string): request.Test; post(url: string, body?: object): request.Test; put(url: string, body?: object): request.Test };
  close(): Promise<void>;
}

/** The embedded runtime on a temp data dir, with the projector and mailer running, over real HTTP. */
export async function startTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twostep-test-'));
  const clock = new AdjustableClock();
  const parsed = parseEnv({ TWOSTEP_DATA_DIR: dataDir, TWOSTEP_API_KEYS: JSON.stringify(API_KEYS), LOG_LEVEL: 'silent', MAIL_MAX_ATTEMPTS: '3', ...env });
  const runtime = await createRuntime(parsed, { clock, generateMissingKeys: true, needsOpener: true });
  const logger = pino({ level: 'silent' });
  const app = await createApiApp(runtime, logger);
  const workers = new EmbeddedWorkers(runtime, logger, { registry: app.get(Metrics).registry });
  await workers.start();
  const contractViolations: string[] = [];
  app.use(checkAnswers(contractViolations));
  await app.init();
  const http = request(app.getHttpServer());
  const auth = (role: keyof typeof KEYS) => `Bearer ${KEYS[role]}`;
  return {
    app,
    runtime,
    clock,
    dataDir,
    http,
    workers,
    as: (role) => ({
      get: (url) => request(app.getHttpServer()).get(url).set('Authorization', auth(role)),
      post: (url, body = {}) => request(app.getHttpServer()).post(url).set('Authorization', auth(role)).send(body),
      put: (url, body = {}) => request(app.getHttpServer()).put(url).set('Authorization', auth(role)).send(body),
    }),
    contractViolations,
    async client(role) {
      const server = app.getHttpServer();
      if (!server.listening) await app.listen(0, '127.0.0.1');
      const { port } = server.address() as { port: number };
      return twostepClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: KEYS[role] });
    },
    async close() {
      await app.close();
      await workers.stop();
      await runtime.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
      // Every answer the suite got was checked against openapi.json's operation for its route.
      if (contractViolations.length > 0) throw new Error(`answers that break the contract:\n  ${[...new Set(contractViolations)].join('\n  ')}`);
    },
  };
}

export const accountUrl = (tenantId: string, userId: string) => `/v1/tenants/${tenantId}/accounts/${userId}`;

/** Every file under a directory, for "no secret in the data dir" checks. */
export function readAllFiles(dir: string): Buffer {
  const chunks: Buffer[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) chunks.push(fs.readFileSync(path.join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name)));
  }
  return Buffer.concat(chunks);
}

/** Temp dirs for one suite, removed after it: `const tempDir = tempDirs('twostep-x-')`, then `tempDir()`. */
export function tempDirs(prefix: string): () => string {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));
  return () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
}
