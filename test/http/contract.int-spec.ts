import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod/v4';
import { DEFAULT_POLICY, POLICY_BOUNDS, POLICY_DESCRIPTIONS } from '@twostep/domain';
import { ERROR_STATUS } from '../../apps/api/src/http/contract';
import { OPERATIONS } from '../../apps/api/src/operations';
import { contractViolation, operationFor } from '../support/contract-check';
import { startTestApp, type TestApp } from '../support/harness';

/**
 * openapi.json is the contract: built from the routes' own zod schemas, served at /docs-json,
 * committed, lint-clean, and (test/support/contract-check.ts) checked against every answer the
 * HTTP suites get.
 */
const ROOT = path.resolve(__dirname, '../..');
const committed = () => JSON.parse(fs.readFileSync(path.join(ROOT, 'openapi.json'), 'utf8')) as Record<string, unknown>;

describe('the OpenAPI contract', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('the served /docs-json is the committed openapi.json (run `npm run openapi` after changing a route)', async () => {
    const served = await t.http.get('/docs-json').expect(200);
    expect(served.body).toEqual(committed());
  });

  it('every /v1 route of the app has an operation, and every operation a route', () => {
    const router = (t.app.getHttpAdapter().getInstance() as { router: { stack: { route?: { path: string; methods: Record<string, boolean> } }[] } }).router;
    const routes = router.stack
      .filter((layer) => layer.route?.path.startsWith('/v1'))
      .flatMap((layer) => Object.keys(layer.route!.methods).map((method) => `${method} ${layer.route!.path}`))
      .sort();
    const operations = OPERATIONS.map((operation) => `${operation.method} ${operation.path.replace(/\{(\w+)\}/g, ':$1')}`).sort();
    expect(routes).toEqual(operations);
  });

  it('operation ids are unique camelCase names, and every operation says what it returns and refuses', () => {
    const ids = OPERATIONS.map((operation) => operation.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[a-z][A-Za-z]+$/);
    const document = committed() as { paths: Record<string, Record<string, { responses: Record<string, unknown>; parameters?: { in: string; name: string }[] }>> };
    for (const [url, methods] of Object.entries(document.paths)) {
      for (const operation of Object.values(methods)) {
        expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['401', '403', '500']));
        const declared = (operation.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
        expect(declared).toEqual([...url.matchAll(/\{(\w+)\}/g)].map((match) => match[1]));
      }
    }
  });

  it('shows the policy bounds from the domain table, and an opaque bearer scheme', () => {
    const document = committed() as { paths: Record<string, { put?: { requestBody: { content: { 'application/json': { schema: { properties: Record<string, { minimum?: number; maximum?: number }> } } } } } }>; components: { securitySchemes: Record<string, unknown> } };
    const body = document.paths['/v1/tenants/{tenantId}/policy']!.put!.requestBody.content['application/json'].schema;
    expect(body.properties.codeTtlMinutes).toMatchObject({ minimum: 1, maximum: 360 });
    expect(body.properties.resendCooldownSeconds).toMatchObject({ minimum: 0, maximum: 3600 });
    // Built from the domain's tables: every setting, each bounded one with its bounds and its description.
    expect(Object.keys(body.properties)).toEqual(Object.keys(DEFAULT_POLICY));
    for (const [field, [minimum, maximum]] of Object.entries(POLICY_BOUNDS)) {
      expect(body.properties[field]).toMatchObject({ type: 'integer', minimum, maximum, description: POLICY_DESCRIPTIONS[field as keyof typeof POLICY_BOUNDS] });
    }
    expect(document.components.securitySchemes).toEqual({ apiKey: { type: 'http', scheme: 'bearer', description: expect.any(String) } });
  });

  it('redocly lint (recommended rules) reports no problem', () => {
    const result = spawnSync(process.execPath, [require.resolve('@redocly/cli/bin/cli.js'), 'lint', '--format', 'json', path.join(ROOT, 'openapi.json')], {
      cwd: ROOT,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    const report = JSON.parse(result.stdout.slice(result.stdout.indexOf('{'))) as { totals: { errors: number; warnings: number } };
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
    expect(result.status).toBe(0);
  });
});

describe('the contract check the HTTP suites run under', () => {
  const start = operationFor('POST', '/v1/tenants/store-1/accounts/alice/challenges')!;

  it('finds the operation of a request by method and path, and none for other routes', () => {
    expect(start.operationId).toBe('startChallenge');
    expect(operationFor('GET', '/v1/tenants/store-1/accounts/alice/challenges')).toBeUndefined();
    expect(operationFor('GET', '/health/ready')).toBeUndefined();
  });

  it('accepts a declared answer and names each way an answer can break the contract', () => {
    expect(contractViolation(start, 200, { required: false, reason: 'not_enrolled' })).toBeNull();
    expect(contractViolation(start, 423, { error: 'account_locked', message: 'Locked.' })).toBeNull();
    expect(contractViolation(start, 201, { required: false, reason: 'not_enrolled' })).toMatch(/status 201 is not the declared 200/);
    expect(contractViolation(start, 200, { required: false, reason: 'because' })).toMatch(/does not match the response schema/);
    expect(contractViolation(start, 200, { required: false, reason: 'not_enrolled', extra: 1 })).toMatch(/does not match/);
    expect(contractViolation(start, 409, { error: 'not_locked', message: '' })).toMatch(/error not_locked \(409\) is not declared/);
    expect(contractViolation(start, 400, { error: 'account_locked', message: '' })).toMatch(/came with 400, declared 423/);
    expect(contractViolation(start, 400, { message: 'no code' })).toMatch(/without an error code/);
  });

  it('every declared error code has one status', () => {
    for (const status of Object.values(ERROR_STATUS)) expect(z.number().int().min(400).max(599).safeParse(status).success).toBe(true);
  });
});
