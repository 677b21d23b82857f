import type { Logger } from 'pino';
import type { ApiKey, Env } from '@twostep/config';
import { startWeb, type WebServer } from '../../web/src/web';

/**
 * `npm start` serves the reference web app beside the api (embedded mode), acting with the
 * first key of each role that reaches every tenant. A web port that cannot be had is a warning,
 * never a reason for the api not to run.
 */
export async function startDemoWeb(env: Env, keys: readonly ApiKey[], apiUrl: string, logger: Logger): Promise<WebServer | null> {
  if (env.TWOSTEP_WEB_PORT === 'off') return null;
  const key = (role: ApiKey['role']) => keys.find((candidate) => candidate.role === role && candidate.tenants.includes('*'))?.key;
  const portal = key('portal');
  const operator = key('operator');
  const admin = key('admin');
  if (!portal || !operator || !admin) {
    logger.warn('web app not started: it needs a portal, an operator and an admin key for all tenants ("*")');
    return null;
  }
  const port = env.TWOSTEP_WEB_PORT ?? (env.PORT === 0 ? 0 : env.PORT + 1);
  try {
    return await startWeb({ apiUrl, keys: { portal, operator, admin }, port, host: env.HOST });
  } catch (error) {
    logger.warn({ port, error: (error as Error).message }, 'web app not started (set TWOSTEP_WEB_PORT, or off)');
    return null;
  }
}
