import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, describeStartupFailure, parseApiKeys, parseEnv, type ApiKey, type Env } from '@twostep/config';
import { DEMO_SIGN_INS } from './users';
import { startWeb } from './web';

/**
 * The reference web app as a process of its own (`npm run start:web`; `npm start` runs it beside
 * the api). It stands in for the commerce platform, so it reaches twostep only over HTTP: the
 * api at HOST:PORT, with the first portal, operator and admin key that cover every tenant, taken
 * from TWOSTEP_API_KEYS or the api's `<data dir>/keys.json` (API keys only: it never reads the
 * secret keys). It listens on TWOSTEP_WEB_PORT (default PORT + 1).
 */
async function main(): Promise<void> {
  const env = parseEnv();
  if (env.TWOSTEP_WEB_PORT === 'off') return;
  const keys = demoKeys(env);
  const apiHost = env.HOST === '0.0.0.0' || env.HOST === '::' ? '127.0.0.1' : env.HOST;
  const apiUrl = `http://${apiHost.includes(':') ? `[${apiHost}]` : apiHost}:${env.PORT}`;
  const port = env.TWOSTEP_WEB_PORT ?? env.PORT + 1;
  const web = await startWeb({ apiUrl, keys, port, host: env.HOST });
  const lines = [`twostep web app (the seeds' screens) on ${web.url}, over the api at ${apiUrl}; demo sign-ins:`];
  for (const user of DEMO_SIGN_INS) lines.push(`    ${user.area.padEnd(8)} ${user.username} / ${user.password}`);
  process.stderr.write(`${lines.join('\n')}\n\n`);
  let closing = false;
  const shutdown = async () => {
    if (closing) return; // the terminal's signal and the one npm start forwards
    closing = true;
    await web.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());
}

function demoKeys(env: Env): { portal: string; operator: string; admin: string } {
  let apiKeys: ApiKey[];
  if (env.TWOSTEP_API_KEYS) {
    apiKeys = parseApiKeys(env.TWOSTEP_API_KEYS);
  } else {
    const file = path.resolve(env.TWOSTEP_DATA_DIR, 'keys.json');
    if (!fs.existsSync(file)) throw new ConfigError([`TWOSTEP_API_KEYS: not set, and ${file} does not exist yet (start the api first: it writes it)`]);
    apiKeys = parseApiKeys(JSON.stringify((JSON.parse(fs.readFileSync(file, 'utf8')) as { apiKeys?: unknown }).apiKeys ?? []));
  }
  const key = (role: ApiKey['role']) => apiKeys.find((candidate) => candidate.role === role && candidate.tenants.includes('*'))?.key;
  const [portal, operator, admin] = [key('portal'), key('operator'), key('admin')];
  if (!portal || !operator || !admin) {
    throw new ConfigError(['TWOSTEP_API_KEYS: the web app needs a portal, an operator and an admin key for all tenants ("*")']);
  }
  return { portal, operator, admin };
}

main().catch((error: unknown) => {
  process.stderr.write(describeStartupFailure('twostep-web', error, 'TWOSTEP_WEB_PORT'));
  process.exit(1);
});
