import 'reflect-metadata';
import * as path from 'node:path';
import { describeStartupFailure, parseEnv } from '@twostep/config';
import { startApi } from './server';

async function main(): Promise<void> {
  // Everything this process writes (database, keys, .eml files) is for its owner only.
  process.umask(0o077);
  const env = parseEnv();
  const { app, runtime, logger, embedded, close } = await startApi(env);

  const { address, port } = app.getHttpServer().address() as { address: string; port: number };
  const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  const lines = [
    '',
    `twostep listening on ${url} (${embedded ? 'embedded' : 'api-only'} mode)`,
    `  event store: ${runtime.adapters.eventStore}   read models: ${runtime.adapters.readModels}   data dir: ${path.resolve(env.TWOSTEP_DATA_DIR)}`,
    `  mail: ${embedded ? (env.SMTP_URL ? 'SMTP' : `.eml files in ${path.resolve(env.TWOSTEP_DATA_DIR, 'mail')}`) : 'delivered by the mailer worker'}`,
    `  docs: ${url}/docs   health: ${url}/health/ready   metrics: ${url}/metrics`,
  ];
  const keyFile = path.resolve(env.TWOSTEP_DATA_DIR, 'keys.json');
  if (runtime.secrets.generatedApiKeys) {
    // Printed once, on the start that generated them: later starts never put keys in logs.
    lines.push(`  API keys, generated now and kept in ${keyFile} (owner-only); set TWOSTEP_API_KEYS to use your own:`);
    for (const key of runtime.secrets.apiKeys) lines.push(`    ${key.role.padEnd(9)} ${key.key}`);
  } else if (!env.TWOSTEP_API_KEYS) {
    lines.push(`  API keys: printed on the first start, kept in ${keyFile}; show them with`);
    lines.push(`    node -p 'require(${JSON.stringify(keyFile)}).apiKeys'`);
  }
  // The banner goes to stderr: stdout is the JSON log stream.
  process.stderr.write(`${lines.join('\n')}\n\n`);

  // `npm start` (scripts/start.js) forwards a signal the terminal also sent to the whole group: a second one is ignored.
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    await close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(describeStartupFailure('twostep', error, 'PORT'));
  process.exit(1);
});
