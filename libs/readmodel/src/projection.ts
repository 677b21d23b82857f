import type { StoredEvent } from '@twostep/eventstore';

/**
 * A read model as data: which events it takes, which document each one belongs to, and how a
 * document evolves. The generic stores (SQLite, Redis) apply every registered projection to a
 * page of events together with each projection's checkpoint, so a new read model is one file.
 *
 * Documents follow one stream each: a document's events come in stream revision order, and the
 * store applies an event only when its revision is the document's previous one + 1 (older ones
 * are redeliveries and are skipped; a jump is a gap, reported as `ProjectionGapError`).
 */
interface ProjectionBase {
  /** The projection's storage name, with its version (`status-v2`): a new version builds anew from the log. */
  readonly name: string;
  /** Whether this projection takes the event; decided from the stream name (and type), before any parsing of its data. */
  canHandle(event: StoredEvent): boolean;
  /** The document an event it handles belongs to: one per stream. */
  documentId(event: StoredEvent): string;
}

/** One document per stream, replaced as events arrive (the status view). */
export interface DocumentProjection<D = unknown> extends ProjectionBase {
  readonly kind: 'document';
  /** The document before the stream's first event. */
  initial(event: StoredEvent): D;
  /** Pure: the document after the event. Returns the same object when the event changes nothing. */
  evolve(document: D, event: StoredEvent): D;
}

/** One entry per event, appended (the event log), read in pages by revision. */
export interface LogProjection<E = unknown> extends ProjectionBase {
  readonly kind: 'log';
  entry(event: StoredEvent): E;
}

export type Projection = DocumentProjection | LogProjection;

/** A document's stream skipped a revision: events are missing from what the projection was given. */
export class ProjectionGapError extends Error {
  readonly code = 'projection_gap';

  constructor(
    readonly projection: string,
    readonly documentId: string,
    readonly previous: number,
    readonly revision: number,
  ) {
    super(`${projection}: document ${documentId} is at revision ${previous} and was handed revision ${revision}; revisions ${previous + 1}..${revision - 1} are missing`);
  }
}

/**
 * The revision guard every store applies: true when the event is the document's next one, false
 * for one it already holds (a redelivery), a `ProjectionGapError` for a jump. `previous` is -1
 * for a document that does not exist yet.
 */
export function isNext(projection: Projection, id: string, previous: number, event: StoredEvent): boolean {
  if (event.revision <= previous) return false;
  if (event.revision !== previous + 1) throw new ProjectionGapError(projection.name, id, previous, event.revision);
  return true;
}

/** A document folded from events in memory, with the stores' guard (the CLI's replay and status-at, tests). */
export function foldDocument<D>(projection: DocumentProjection<D>, events: readonly StoredEvent[], from: { document: D; revision: number } | null = null): { document: D; revision: number } | null {
  let state = from;
  for (const event of events) {
    if (!projection.canHandle(event)) continue;
    const id = projection.documentId(event);
    if (!isNext(projection, id, state?.revision ?? -1, event)) continue;
    state = { document: projection.evolve(state?.document ?? projection.initial(event), event), revision: event.revision };
  }
  return state;
}
