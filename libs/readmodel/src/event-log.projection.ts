import { ACCOUNT_CATEGORY } from '@twostep/domain';
import type { StoredEvent } from '@twostep/eventstore';
import { describeEvent } from './describe';
import type { LogProjection } from './projection';
import type { EventLogEntry } from './views';

const ACCOUNT_PREFIX = `${ACCOUNT_CATEGORY}-`;

/** Every account event worded for people (`describeEvent`), in stream order: GET history and the auditors' view. */
export const eventLogProjection: LogProjection<EventLogEntry> = {
  kind: 'log',
  name: 'event-log-v2',
  canHandle: (event) => event.stream.startsWith(ACCOUNT_PREFIX),
  documentId: (event) => event.stream.slice(ACCOUNT_PREFIX.length),
  entry: (event) => toLogEntry(event),
};

export function toLogEntry(stored: StoredEvent): EventLogEntry {
  const actor = stored.metadata.actor;
  return {
    position: stored.position,
    revision: stored.revision,
    eventId: stored.eventId,
    at: stored.metadata.at,
    type: stored.type,
    what: describeEvent(stored),
    actor: { kind: actor.kind, ...(actor.id ? { id: actor.id } : {}), ...(actor.apiKeyId ? { apiKeyId: actor.apiKeyId } : {}) },
  };
}

