import { accountStream } from '@twostep/domain';
import type { StoredEvent } from '@twostep/eventstore';
import { describeActor, describeEvent } from '@twostep/readmodel';
import { CliError, parseAccountRef, UsageError, type Output } from '../io';
import { openEventStore, type StoreOptions } from '../store';

export interface ExplainOptions extends StoreOptions {
  /** `tenant/user` */
  account: string;
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
    out.write(`${tenantId}/${userId}: ${events.length} events (stream ${stream}, positions ${events[0]!.position}..${events[events.length - 1]!.position})\n\n`);
    for (const event of events) out.write(`${event.metadata.at}  ${sentence(event)}\n`);
    return 0;
  } finally {
    await opened.close();
  }
}

/** The event's sentence, plus who did it unless the sentence already says so ("disabled by reseller ann"). */
export function sentence(event: StoredEvent): string {
  const what = describeEvent(event);
  const id = event.metadata.actor.id;
  const who = describeActor(event);
  const named = what.includes(who) || (id !== undefined && what.includes(id));
  return named ? what : `${what} - by ${who}`;
}
