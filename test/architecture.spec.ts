import { execFile } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const ESLINT = path.join(ROOT, 'node_modules', 'eslint', 'bin', 'eslint.js');

interface LintMessage {
  ruleId: string | null;
  message: string;
}

/** Runs the repo's eslint config (eslint.config.mjs) as `npm run lint` does, in its own process. */
function eslint(args: string[], stdin?: string): Promise<{ code: number; messages: LintMessage[] }> {
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, [ESLINT, '--format', 'json', ...args], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? Number((error as NodeJS.ErrnoException & { code?: unknown }).code ?? 1) : 0;
      try {
        const results = JSON.parse(stdout) as { filePath: string; messages: LintMessage[] }[];
        resolve({ code, messages: results.flatMap((r) => r.messages.map((m) => ({ ...m, message: `${path.relative(ROOT, r.filePath)}: ${m.message}` }))) });
      } catch {
        reject(new Error(`eslint did not answer in JSON (exit ${code}):\n${stderr}${stdout}`));
      }
    });
    if (stdin !== undefined) child.stdin!.end(stdin);
  });
}

/** STYLE.md: a module boundary check keeps the domain free of infrastructure. */
describe('module boundaries (eslint no-restricted-imports)', () => {
  it('hold across apps, libs and tests', async () => {
    const run = await eslint(['.']);
    expect(run.messages).toEqual([]);
    expect(run.code).toBe(0);
  }, 60_000);

  it('refuse infrastructure, other libraries, the clock and randomness inside libs/domain', async () => {
    const probe = [
      "import * as fs from 'node:fs';",
      "import Redis from 'ioredis';",
      "import { Controller } from '@nestjs/common';",
      "import { KeyedHasher } from '@twostep/crypto';",
      'export const probe = [fs, Redis, Controller, KeyedHasher, Date.now(), Math.random()];',
      '',
    ].join('\n');
    const domain = await eslint(['--stdin', '--stdin-filename', 'libs/domain/src/probe.ts'], probe);
    expect(domain.code).toBe(1);
    expect(domain.messages.map((m) => m.ruleId)).toEqual([
      'no-restricted-imports',
      'no-restricted-imports',
      'no-restricted-imports',
      'no-restricted-imports',
      'no-restricted-properties',
      'no-restricted-properties',
    ]);
    expect(domain.messages[0]!.message).toContain('libs/domain is pure');
    expect(domain.messages[3]!.message).toContain('libs/domain depends on no other twostep library');

    // The same code is fine in an adapter library, which may do I/O.
    expect(await eslint(['--stdin', '--stdin-filename', 'libs/app/src/probe.ts'], probe)).toEqual({ code: 0, messages: [] });
  }, 60_000);

  it('keep libraries from importing the apps', async () => {
    const probe = "import { createApiApp } from '../../../apps/api/src/create-app';\nexport const probe = createApiApp;\n";
    const lib = await eslint(['--stdin', '--stdin-filename', 'libs/readmodel/src/probe.ts'], probe);
    expect(lib.messages.map((m) => m.message)).toEqual([expect.stringContaining('libraries never import from the apps')]);
  }, 60_000);

  it('keep each app from importing another app (workers share libs/app, not the api)', async () => {
    const probe = "import { createApiApp } from '../../api/src/create-app';\nexport const probe = createApiApp;\n";
    for (const file of ['apps/mailer/src/probe.ts', 'apps/projector/src/probe.ts', 'apps/cli/src/probe.ts']) {
      const run = await eslint(['--stdin', '--stdin-filename', file], probe);
      expect(run.messages.map((m) => m.message)).toEqual([expect.stringContaining('an app never imports another app')]);
    }
    const web = await eslint(['--stdin', '--stdin-filename', 'apps/web/src/probe.ts'], "import { Metrics } from '../../api/src/http/observability';\nexport const probe = Metrics;\n");
    expect(web.code).toBe(1);
    // Inside one app, its own folders are fine.
    expect(await eslint(['--stdin', '--stdin-filename', 'apps/api/src/use-cases/probe.ts'], "import { Metrics } from '../http/observability';\nexport const probe = Metrics;\n")).toEqual({ code: 0, messages: [] });
  }, 60_000);

  it('keep each use case in its own folder: no use case imports another, the shared parts are fine', async () => {
    const probe = "import { operatorId } from '../reseller-disable/reseller-disable';\nimport { Roles } from '../../http/auth.guard';\nexport const probe = [operatorId, Roles];\n";
    const run = await eslint(['--stdin', '--stdin-filename', 'apps/api/src/use-cases/unlock-account/probe.ts'], probe);
    expect(run.messages.map((m) => m.message)).toEqual([expect.stringContaining('a use case never imports another use case')]);
    const other = await eslint(['--stdin', '--stdin-filename', 'apps/api/src/use-cases/unlock-account/probe.ts'], "import { startWeb } from '../../../../web/src/web';\nexport const probe = startWeb;\n");
    expect(other.messages.map((m) => m.message)).toEqual([expect.stringContaining('an app never imports another app')]);
  }, 60_000);
});
