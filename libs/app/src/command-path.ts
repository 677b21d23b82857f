import { timeOrderedUuid } from '@twostep/crypto';
import type { Decider } from '@twostep/domain';
import { WrongExpectedRevisionError, type Actor, type EventStore } from '@twostep/eventstore';
import type { KeyValueStore } from '@twostep/readmodel';
import type { Clock } from './clock';

export const EVENT_SCHEMA_VERSION = 1;
/** Write a snapshot once a stream is this many events past its last one (bounds a cold load). */
const SNAPSHOT_EVERY = 25;
/** Folded states kept in memory (a few kB each). */
const CACHE_LIMIT = 10_000;
const MAX_ATTEMPTS = 5;

type Event = { type: string; data: object };

export interface Loaded<State> {
  state: State;
  /** Revision of the last event folded into `state`, -1 for a new stream. */
  revision: number;
}

export interface RunResult<State, E> {
  before: State;
  state: State;
  events: E[];
  now: Date;
}

interface Snapshot<State> {
  v: number;
  revision: number;
  state: State;
}

/** A folded state this process holds, and the revision its last snapshot was written at. */
interface Cached<State> extends Loaded<State> {
  snapshotRevision: number;
}

/**
 * The one command path: load (cached or snapshot state + newer events) → decide → append with
 * the expected revision → on a concurrency conflict reload and decide again, a bounded number of
 * times. A decision that returns no events appends nothing.
 *
 * Folded states stay in memory (the most recent CACHE_LIMIT streams). A cached state is a fold
 * of a prefix of the stream, and streams only grow, so it is never wrong, only possibly behind:
 * every load still reads the events after it from the store (usually none), so another process's
 * appends are seen, and the append's expected revision refuses a decision made on a stale state.
 * States are immutable (evolve returns new objects), so sharing them is safe.
 */
export class CommandPath {
  private readonly cache = new Map<string, Cached<unknown>>();

  constructor(
    private readonly store: EventStore,
    private readonly snapshots: KeyValueStore,
    private readonly clock: Clock,
  ) {}

  async load<C, S, E extends Event, Ctx>(stream: string, decider: Decider<C, S, E, Ctx>): Promise<Loaded<S>> {
    const cached = (this.cache.get(stream) as Cached<S> | undefined) ?? (await this.fromSnapshot(stream, decider));
    let { state, revision } = cached;
    const newer = await this.store.readStream(stream, { fromRevision: revision + 1 });
    for (const stored of newer) {
      const event = decider.upcast(stored);
      // A type this version does not know may change what it would decide: refuse rather than guess.
      if (!event) throw new Error(`${stream} holds an event of type ${stored.type}, which this version of twostep does not know (revision ${stored.revision})`);
      state = decider.evolve(state, event);
      revision = stored.revision;
    }
    let snapshotRevision = cached.snapshotRevision;
    if (revision - snapshotRevision >= SNAPSHOT_EVERY) {
      await this.writeSnapshot(stream, { v: decider.stateVersion, revision, state });
      snapshotRevision = revision;
    }
    this.remember(stream, { state, revision, snapshotRevision });
    return { state, revision };
  }

  private async fromSnapshot<S>(stream: string, decider: { initialState(): S; stateVersion: number }): Promise<Cached<S>> {
    const snapshot = await this.readSnapshot<S>(stream, decider.stateVersion);
    return snapshot ? { state: snapshot.state, revision: snapshot.revision, snapshotRevision: snapshot.revision } : { state: decider.initialState(), revision: -1, snapshotRevision: -1 };
  }

  /**
   * A Map iterates in insertion order, so the first key is the one to drop. A stream moves to the
   * end when it moved on (a new revision), not on every read: re-inserting on each load of an
   * unchanged stream (a tenant's policy, read by every command) only churns the Map.
   */
  private remember<S>(stream: string, entry: Cached<S>): void {
    const previous = this.cache.get(stream);
    if (previous && previous.revision === entry.revision) {
      this.cache.set(stream, entry); // same place
      return;
    }
    if (previous) this.cache.delete(stream);
    this.cache.set(stream, entry);
    if (this.cache.size > CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value!);
  }

  async run<C, S, E extends Event, Ctx>(options: {
    stream: string;
    decider: Decider<C, S, E, Ctx>;
    /** Builds the command from the current state and context (e.g. decrypting a secret to check a code). */
    command: (state: S, now: Date, context: Ctx) => C | Promise<C>;
    context: (now: Date) => Ctx | Promise<Ctx>;
    actor: Actor;
    correlationId?: string;
  }): Promise<RunResult<S, E>> {
    const { stream, decider } = options;
    for (let attempt = 1; ; attempt++) {
      const { state, revision } = await this.load(stream, decider);
      const now = this.clock.now();
      const context = await options.context(now);
      const command = await options.command(state, now, context);
      const events = decider.decide(command, state, context);
      if (events.length === 0) return { before: state, state, events, now };
      try {
        await this.store.append(
          stream,
          events.map((event) => ({
            eventId: timeOrderedUuid(),
            type: event.type,
            data: event.data as Record<string, unknown>,
            metadata: {
              at: now.toISOString(),
              actor: options.actor,
              schemaVersion: EVENT_SCHEMA_VERSION,
              ...(options.correlationId ? { correlationId: options.correlationId } : {}),
            },
          })),
          revision < 0 ? 'no_stream' : revision,
        );
      } catch (error) {
        if (error instanceof WrongExpectedRevisionError && attempt < MAX_ATTEMPTS) {
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
          continue;
        }
        throw error;
      }
      const after = events.reduce((current, event) => decider.evolve(current, event), state);
      const cached = this.cache.get(stream);
      if (cached) this.remember(stream, { state: after, revision: revision + events.length, snapshotRevision: cached.snapshotRevision });
      return { before: state, state: after, events, now };
    }
  }

  /** The stream's snapshot when it was written under the decider's current state version (else it is folded again). */
  private async readSnapshot<S>(stream: string, stateVersion: number): Promise<Snapshot<S> | null> {
    const raw = await this.snapshots.get(`snapshot:${stream}`);
    if (!raw) return null;
    const snapshot = JSON.parse(raw) as Snapshot<S>;
    return snapshot.v === stateVersion ? snapshot : null;
  }

  private async writeSnapshot<S>(stream: string, snapshot: Snapshot<S>): Promise<void> {
    await this.snapshots.set(`snapshot:${stream}`, JSON.stringify(snapshot), SNAPSHOT_TTL_SECONDS);
  }
}

/** Snapshots are a cache: an idle account's expires (its state is folded from events again). */
const SNAPSHOT_TTL_SECONDS = 30 * 24 * 3600;
