// The module boundaries, checked by `npm run lint` and by test/architecture.spec.ts (so CI
// fails when one breaks). Only boundary rules: formatting and style are left to review.
import tsParser from '@typescript-eslint/parser';

const noApps = { group: ['**/apps/**', 'apps/*'], message: 'libraries never import from the apps' };

/** Everything the domain must not touch: it decides over plain data, with clock and randomness passed in. */
const PURE = 'libs/domain is pure: no I/O, no framework, no infrastructure (pass what it needs in)';
const bareModules = ['fs', 'path', 'crypto', 'child_process', 'net', 'http', 'os', 'better-sqlite3', 'ioredis', 'kafkajs', 'nodemailer', 'otplib', 'qrcode', 'pino', 'prom-client', 'express', 'zod'];
const infrastructure = { group: ['node:*', '@eventstore/*', '@nestjs/*', 'zod/*'], message: PURE };
const noOtherLibs = { group: ['@twostep/*'], message: 'libs/domain depends on no other twostep library' };

/** Each app is a composition root of its own: what two apps share lives in a library. */
const APPS = ['api', 'cli', 'mailer', 'projector', 'web'];
const noOtherApp = (app) => ({
  group: APPS.filter((other) => other !== app).flatMap((other) => [`**/apps/${other}/**`, `**/${other}/src/**`]),
  message: 'an app never imports another app: move what they share into libs/',
});

const restrict = (patterns, paths = []) => ({ 'no-restricted-imports': ['error', { patterns, paths }] });

export default [
  { ignores: ['dist/**', 'node_modules/**', '.infra/**', 'var/**', 'coverage/**'] },
  { files: ['**/*.ts'], languageOptions: { parser: tsParser, sourceType: 'module' } },
  {
    files: ['libs/domain/**/*.ts'],
    rules: {
      ...restrict([infrastructure, noOtherLibs, noApps], bareModules.map((name) => ({ name, message: PURE }))),
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'the decider takes `now` from its context' },
        { object: 'Math', property: 'random', message: 'randomness is generated outside the domain and passed in' },
      ],
    },
  },
  { files: ['libs/**/*.ts'], ignores: ['libs/domain/**'], rules: restrict([noApps]) },
  ...APPS.map((app) => ({ files: [`apps/${app}/**/*.ts`], ignores: ['apps/api/src/use-cases/*/**'], rules: restrict([noOtherApp(app)]) })),
  // A use case is one folder: it may use the api's shared parts (../../http, ../../accounts), never another use case.
  { files: ['apps/api/src/use-cases/*/**/*.ts'], rules: restrict([noOtherApp('api'), { regex: '^\\.\\./(?!\\.\\.)', message: 'a use case never imports another use case: move what they share to apps/api/src/http or accounts' }]) },
];
