import * as fs from 'node:fs';
import { accountStream, parseStream } from '@twostep/domain';
import type { StoredEvent } from '@twostep/eventstore';
import { CliError, parseAccountRef, parseTenantId, UsageError, writeAll, type Output } from '../io';
import { eventPages, openEventStore, type StoreOptions } from '../store';

export interface ExportOptions extends StoreOptions {
  /** Only this tenant's streams (its accounts and its policy). */
  tenant?: string;
  /** Only this account's stream, `tenant/user`. */
  account?: string;
  /** A file to write (owner-only permissions); default: the output stream. */
  outFile?: string;
}

/** One line of an export. Secrets stay as stored: encrypted values and keyed hashes. */
export interface ExportLine {
  position: number;
  stream: string;
  revision: number;
  eventId: string;
  type: string;
  /** metadata.at: when the command was decided. */
  at: string;
  actor: StoredEvent['metadata']['actor'];
  data: StoredEvent['data'];
  metadata: StoredEvent['metadata'];
  hash: string;
  prevHash: string | null;
  /** When the store wrote it (not preserved by import). */
  recordedAt: string;
}

export function toExportLine(e: StoredEvent): ExportLine {
  return {
    position: e.position,
    stream: e.stream,
    revision: e.revision,
    eventId: e.eventId,
    type: e.type,
    at: e.metadata.at,
    actor: e.metadata.actor,
    data: e.data,
    metadata: e.metadata,
    hash: e.hash,
    prevHash: e.prevHash,
    recordedAt: e.recordedAt,
  };
}

/** Every event (or one tenant's, or one account's) as JSON Lines in global order. */
export async function exportEvents(options: ExportOptions, out: Output, err: Output = process.stderr): Promise<number> {
  if (options.tenant !== undefined && options.account !== undefined) throw new UsageError('give --tenant or --account, not both');
  const tenant = options.tenant === undefined ? undefined : parseTenantId(options.tenant);
  const account = options.account === undefined ? undefined : parseAccountRef(options.account);
  const opened = await openEventStore(options, 'read');
  let file: fs.WriteStream | undefined;
  try {
    // A mistyped account should not look like an account without history.
    const accountEvents = account ? await opened.eventStore.readStream(accountStream(account.tenantId, account.userId)) : undefined;
    if (account && accountEvents?.length === 0) throw new CliError(`no events for account ${account.tenantId}/${account.userId} in ${opened.description}`);
    if (options.outFile !== undefined) file = await openOutFile(options.outFile);
    const target: Output = file ?? out;
    let count = 0;
    const emit = async (events: StoredEvent[]) => {
      let chunk = '';
      for (const e of events) chunk += `${JSON.stringify(toExportLine(e))}\n`;
      count += events.length;
      if (chunk) await writeAll(target, chunk);
    };
    if (accountEvents) {
      // A stream's order is its part of the global order.
      await emit(accountEvents);
    } else {
      for await (const page of eventPages(opened.eventStore)) {
        await emit(tenant === undefined ? page : page.filter((e) => belongsTo(e.stream, tenant)));
      }
    }
    if (file) {
      await closeFile(file);
      file = undefined;
      const scope = account ? `account ${options.account}` : tenant ? `tenant ${tenant}` : 'all streams';
      err.write(`exported ${count} events (${scope}) from ${opened.description} to ${options.outFile}\n`);
    }
    return 0;
  } finally {
    if (file) await closeFile(file).catch(() => undefined);
    await opened.close();
  }
}

function belongsTo(stream: string, tenantId: string): boolean {
  const parsed = parseStream(stream);
  return parsed.kind !== 'other' && parsed.tenantId === tenantId;
}

async function openOutFile(file: string): Promise<fs.WriteStream> {
  // Encrypted secrets and keyed hashes are still sensitive: owner-only, like the database.
  const stream = fs.createWriteStream(file, { mode: 0o600 });
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', (error) => reject(new CliError(`cannot write ${file}: ${error.message}`)));
  });
  return stream;
}

function closeFile(stream: fs.WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.once('error', reject);
    stream.end(() => resolve());
  });
}
