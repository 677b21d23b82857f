import type { Logger } from 'pino';
import { Lease, openStores, Projector } from '@twostep/app';
import type { Env } from '@twostep/config';

/**
 * `rebuild`: drops every view and replays the event store from its first event. The views
 * are a pure function of the events, so the result equals what the live projector built.
 * It takes the projector's lease first: resetting views under a running projector would race
 * with it, so a running projector makes the rebuild wait (a killed one's lease expires in
 * seconds) and give up after `waitMs` with a clear message. Returns the exit code.
 */
export async function runRebuild(env: Env, logger: Logger, leaseKey: string, waitMs = 30_000): Promise<number> {
  const stores = await openStores(env);
  const lease = new Lease(stores.kv, leaseKey, 30);
  try {
    const acquired = await lease.acquire({
      timeoutMs: waitMs,
      onWait: (holder) => logger.warn({ holder }, 'a projector is running (it holds the lease); waiting for it to stop'),
    });
    if (!acquired) {
      logger.error({ lease: leaseKey }, `a projector is still running after ${Math.round(waitMs / 1000)} s; stop it, then run the rebuild again`);
      return 1;
    }
    lease.keepAlive((why) => logger.error({ why }, 'rebuild lost the projector lease'));
    const head = await stores.eventStore.headPosition();
    logger.info({ eventStore: stores.adapters.eventStore, readModels: stores.adapters.readModels, head }, 'rebuilding read models from the event store');
    const started = Date.now();
    let lastLog = started;
    const applied = await Projector.rebuild(stores.eventStore, stores.readModels, (count) => {
      if (Date.now() - lastLog >= 5_000) {
        lastLog = Date.now();
        logger.info({ applied: count, head }, 'rebuild progress');
      }
    });
    const checkpoint = await stores.readModels.checkpoint();
    logger.info({ applied, checkpoint, ms: Date.now() - started }, 'read models rebuilt');
    return 0;
  } catch (error) {
    logger.error({ error: (error as Error).message }, 'rebuild failed; the views are incomplete until a rebuild succeeds or the projector catches up');
    return 1;
  } finally {
    await lease.release().catch(() => undefined);
    await stores.close().catch(() => undefined);
  }
}
