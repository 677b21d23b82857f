import { ACCOUNT_EVENT_TYPES, type AccountEvent } from './events';
import { upcastPolicy, type PolicyEvent } from './policy';

/** An event as a store gives it back: its type name and JSON data, written by any version of twostep. */
export interface StoredShape {
  type: string;
  data: unknown;
}

const ACCOUNT_TYPES: ReadonlySet<string> = new Set(ACCOUNT_EVENT_TYPES);

/**
 * The one upcast step, for every reader of stored events (the command path, the projections,
 * the event-log wording, the CLI): a stored account event in the shape this version decides
 * and folds over, or null for a type it does not know. Account events have kept their shape so
 * far (fields were only added, optional); a change to one adds its upcaster here.
 */
export function upcastAccountEvent(stored: StoredShape): AccountEvent | null {
  if (!ACCOUNT_TYPES.has(stored.type)) return null;
  // The stores hand back what a decision of this (or an older, same-shaped) version appended.
  return { type: stored.type, data: stored.data } as AccountEvent;
}

/**
 * `PolicyUpdated` carries the whole policy of its time: a setting added later is missing from an
 * older payload and takes its default (`upcastPolicy`), a retired one is dropped.
 */
export function upcastPolicyEvent(stored: StoredShape): PolicyEvent | null {
  if (stored.type !== 'PolicyUpdated' || stored.data === null || typeof stored.data !== 'object') return null;
  const data = stored.data as { tenantId?: unknown; policy?: unknown; changed?: unknown };
  return {
    type: 'PolicyUpdated',
    data: {
      tenantId: String(data.tenantId ?? ''),
      policy: upcastPolicy(data.policy as Parameters<typeof upcastPolicy>[0]),
      changed: Array.isArray(data.changed) ? (data.changed.filter((field) => typeof field === 'string') as PolicyEvent['data']['changed']) : [],
    },
  };
}

/** Either kind, for readers of the whole log (event-log wording, `twostep explain`). */
export function upcastEvent(stored: StoredShape): AccountEvent | PolicyEvent | null {
  return upcastAccountEvent(stored) ?? upcastPolicyEvent(stored);
}
