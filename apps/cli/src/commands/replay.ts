import { Lease, Projector, PROJECTOR_LEASE } from '@twostep/app';
import type { EventStore, StoredEvent } from '@twostep/eventstore';
import { parseStream, type Policy } from '@twostep/domain';
import { foldPolicy, presentStatus, projectStatus, READ_MODELS, type StatusView } from '@twostep/readmodel';
import { CliError, formatTable, Progress, yesNo, type Output } from '../io';
import { eventPages, openEventStore, openReadModels, type StoreOptions } from '../store';

export interface ReplayOptions extends StoreOptions {
  /** Reset and rebuild the read models instead of printing the table. */
  rebuild?: boolean;
  /** One JSON status view per line instead of the table. */
  json?: boolean;
  /** Locks and trusted devices are shown as of this time; default now. */
  now?: Date;
  /** With `rebuild`: how long to wait for a running projector to let go of its lease. */
  waitMs?: number;
}

/**
 * Folds the whole log from the start with the same projection the api uses and prints every
 * account's status; with `rebuild`, resets the read models and rebuilds them the same way.
 */
export async function replay(options: ReplayOptions, out: Output, err: Output = process.stderr): Promise<number> {
  return options.rebuild ? rebuild(options, out, err) : printStatuses(options, out, err);
}

async function printStatuses(options: ReplayOptions, out: Output, err: Output): Promise<number> {
  const opened = await openEventStore(options, 'read');
  try {
    const head = await opened.eventStore.headPosition();
    const progress = new Progress(err, 'replayed', head);
    const views = new Map<string, StatusView>();
    const policyEvents = new Map<string, StoredEvent[]>();
    let count = 0;
    for await (const page of eventPages(opened.eventStore)) {
      for (const event of page) {
        const parsed = parseStream(event.stream);
        if (parsed.kind === 'policy') policyEvents.set(parsed.tenantId, [...(policyEvents.get(parsed.tenantId) ?? []), event]);
        const view = projectStatus(views.get(event.stream) ?? null, event);
        if (view) views.set(event.stream, view);
      }
      count += page.length;
      progress.update(count, page[page.length - 1]!.position);
    }
    progress.finish();
    const now = options.now ?? new Date();
    const policyOf = (tenantId: string): Policy => foldPolicy(policyEvents.get(tenantId) ?? []);
    const statuses = [...views.values()]
      .map((view) => presentStatus(view, now, policyOf(view.tenantId)))
      .sort((a, b) => a.tenantId.localeCompare(b.tenantId) || a.userId.localeCompare(b.userId));
    if (options.json) {
      for (const status of statuses) out.write(`${JSON.stringify(status)}\n`);
      return 0;
    }
    out.write(statusTable(statuses));
    const enabled = statuses.filter((s) => s.status === 'Enabled').length;
    out.write(`\n${statuses.length} accounts (${enabled} Enabled, ${statuses.length - enabled} Disabled) from ${count} events in ${opened.description}, head position ${head}\n`);
    return 0;
  } finally {
    await opened.close();
  }
}

export function statusTable(statuses: StatusView[]): string {
  return formatTable(
    ['ACCOUNT', 'STATUS', 'METHOD', 'RECOVERY CODES', 'RESET RECOMMENDED', 'LOCKED UNTIL'],
    statuses.map((s) => [
      `${s.tenantId}/${s.userId}`,
      s.setupPending && s.status === 'Disabled' ? 'Disabled (setup pending)' : s.status,
      s.method ?? '-',
      String(s.recoveryCodesRemaining),
      yesNo(s.resetRecommended),
      s.lockedUntil ?? '-',
    ]),
  );
}

async function rebuild(options: ReplayOptions, out: Output, err: Output): Promise<number> {
  const opened = await openEventStore(options, 'write');
  try {
    const target = await openReadModels(opened);
    // A projector process holds this lease while it writes the views and relays to Kafka: a
    // rebuild under it would race with it. The embedded api's in-process projector takes no
    // lease; it converges with a rebuild because views apply each stream revision once.
    const lease = new Lease(target.kv, PROJECTOR_LEASE, 30);
    try {
      const waitMs = options.waitMs ?? 30_000;
      const acquired = await lease.acquire({
        timeoutMs: waitMs,
        onWait: (holder) => err.write(`a projector is running (lease ${PROJECTOR_LEASE} held by ${holder ?? 'unknown'}); waiting up to ${Math.round(waitMs / 1000)} s for it to stop\n`),
      });
      if (!acquired) throw new CliError(`a projector is still running (it holds ${PROJECTOR_LEASE} in ${target.description}); stop it, then rebuild again`);
      lease.keepAlive((why) => err.write(`rebuild lost the projector lease: ${why}\n`));
      const head = await opened.eventStore.headPosition();
      const progress = new Progress(err, 'applied', head);
      let lastPosition = 0;
      // Projector.rebuild reports counts; watching its reads gives the position for the bar.
      const watched = watchReadAll(opened.eventStore, (page) => {
        if (page.length > 0) lastPosition = page[page.length - 1]!.position;
      });
      const applied = await Projector.rebuild(watched, target.readModels, (count) => progress.update(count, lastPosition));
      progress.finish();
      const checkpoint = await target.readModels.checkpoint();
      const source = target.description === opened.description ? '' : ` of ${opened.description}`;
      out.write(`rebuilt read models (${READ_MODELS.map((projection) => projection.name).join(', ')}) in ${target.description} from ${applied} events${source}; checkpoint ${checkpoint}\n`);
      return 0;
    } finally {
      await lease.release().catch(() => undefined);
      await target.close();
    }
  } finally {
    await opened.close();
  }
}

function watchReadAll(store: EventStore, onPage: (page: StoredEvent[]) => void): EventStore {
  return {
    append: (stream, events, expected) => store.append(stream, events, expected),
    readStream: (stream, options) => store.readStream(stream, options),
    readAll: async (options) => {
      const page = await store.readAll(options);
      onPage(page);
      return page;
    },
    subscribeAll: (options, onEvent) => store.subscribeAll(options, onEvent),
    subscribeAllPages: (options, onPage) => store.subscribeAllPages(options, onPage),
    headPosition: () => store.headPosition(),
    close: () => store.close(),
  };
}

