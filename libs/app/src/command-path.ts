import { randomUUID } from 'node:crypto';
import type { Decider } from '@twostep/domain';
import { WrongExpectedRevisionError, type Actor, type EventStore } from '@twostep/eventstore';
import type { KeyValueStore } from '@twostep/readmodel';
import type { Clock } from './clock';

export const EVENT_SCHEMA_VERSION = 1;
/** Take a snapshot once this many events were read past the last one. */
const SNAPSHOT_EVERY = 25;
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

/**
 * The one command path: load (snapshot + newer events) → decide → append with the expected
 * revision → on a concurrency conflict reload and decide again, a bounded number of times.
 * A decision that returns no events appends nothing.
 */
export class CommandPath {
  constructor(
    private readonly store: EventStore,
    private readonly snapshots: KeyValueStore,
    private readonly clock: Clock,
  ) {}

  async load<C, S, E extends Event, Ctx>(stream: string, decider: Decider<C, S, E, Ctx>): Promise<Loaded<S>> {
    const snapshot = await this.readSnapshot<S>(stream);
    let state = snapshot?.state ?? decider.initialState();
    let revision = snapshot?.revision ?? -1;
    const newer = await this.store.readStream(stream, { fromRevision: revision + 1 });
    for (const stored of newer) {
      state = decider.evolve(state, { type: stored.type, data: stored.data } as unknown as E);
      revision = stored.revision;
    }
    if (newer.length >= SNAPSHOT_EVERY) await this.writeSnapshot(stream, { v: SNAPSHOT_VERSION, revision, state });
    return { state, revision };
  }

  async run<C, S, E extends Event, Ctx>(options: {
    stream: string;
    decider: Decider<C, S, E, Ctx>;
    /** Builds the command from the current state (e.g. decrypting a secret to check a code). */
    command: (state: S, now: Date) => C | Promise<C>;
    context: (now: Date) => Ctx | Promise<Ctx>;
    actor: Actor;
    correlationId?: string;
  }): Promise<RunResult<S, E>> {
    const { stream, decider } = options;
    for (let attempt = 1; ; attempt++) {
      const { state, revision } = await this.load(stream, decider);
      const now = this.clock.now();
      const command = await options.command(state, now);
      const events = decider.decide(command, state, await options.context(now));
      if (events.length === 0) return { before: state, state, events, now };
      try {
        await this.store.append(
          stream,
          events.map((event) => ({
            eventId: randomUUID(),
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
      return { before: state, state: after, events, now };
    }
  }

  private async readSnapshot<S>(stream: string): Promise<Snapshot<S> | null> {
    const raw = await this.snapshots.get(`snapshot:${stream}`);
    if (!raw) return null;
    const snapshot = JSON.parse(raw) as Snapshot<S>;
    return snapshot.v === SNAPSHOT_VERSION ? snapshot : null;
  }

  private async writeSnapshot<S>(stream: string, snapshot: Snapshot<S>): Promise<void> {
    await this.snapshots.set(`snapshot:${stream}`, JSON.stringify(snapshot), SNAPSHOT_TTL_SECONDS);
  }
}

/**
 * Bump when the shape of a decision state changes, or what evolve makes of an event: old
 * snapshots are then ignored. 2: disable and enable reset the failed-attempt counter.
 */
const SNAPSHOT_VERSION = 2;
/** Snapshots are a cache: an idle account's expires (its state is folded from events again). */
const SNAPSHOT_TTL_SECONDS = 30 * 24 * 3600;
