import { accountStream } from '@twostep/domain';
import type { StoredEvent } from '@twostep/eventstore';
import { actingApiKey, describeActor, describeEvent, toLogEntry } from '@twostep/readmodel';
import { CliError, parseAccountRef, UsageError, writeAll, type Output } from '../io';
import { openEventStore, type StoreOptions } from '../store';

export interface ExplainOptions extends StoreOptions {
  /** `tenant/user` */
  account: string;
  /**
   * One JSON object per event (JSON Lines): the api's event log entry, i.e. position, revision,
   * eventId, at, type, what and actor `{kind, id?, apiKeyId?}`. Never the event's data.
   */
  json?: boolean;
}

/** An account's event log in plain sentences, one per event, with time and actor. */
export async function explain(options: ExplainOptions, out: Output): Promise<number> {
  if (!options.account) throw new UsageError('--account TENANT/USER is required');
  const { tenantId, userId } = parseAccountRef(options.account);
  const opened = await openEventStore(options, 'read');
  try {
    const stream = accountStream(tenantId, userId);
    const events = await opened.eventStore.readStream(stream);
    if (events.length === 0) throw new CliError(`no events for account ${tenantId}/${userId} in ${opened.description}`);
    if (options.json) {
      for (const event of events) await writeAll(out, `${JSON.stringify(toLogEntry(event))}\n`);
      return 0;
    }
    out.write(`${tenantId}/${userId}: ${events.length} events (stream ${stream}, positions ${events[0]!.position}..${events[events.length - 1]!.position})\n\n`);
    for (const event of events) out.write(`${event.metadata.at}  ${sentence(event)}\n`);
    return 0;
  } finally {
    await opened.close();
  }
}

/**
 * The event's sentence, plus who did it unless the sentence already says so ("disabled by
 * reseller ann"), plus the API key it was done with, last, where that key is not the actor's
 * own id: "… - by the customer (key portal-1)", "2FA disabled by reseller ann (key ops-1)".
 */
export function sentence(event: StoredEvent): string {
  const what = describeEvent(event);
  const id = event.metadata.actor.id;
  const who = describeActor(event);
  const named = what.includes(who) || (id !== undefined && what.includes(id));
  const key = actingApiKey(event);
  return `${named ? what : `${what} - by ${who}`}${key ? ` (key ${key})` : ''}`;
}
