import type {
  AllStreamSubscription,
  AppendExpectedRevision,
  EventStoreDBClient,
  Position,
  ReadPosition,
  RecordedEvent,
  ResolvedEvent,
  StreamingRead,
} from '@eventstore/db-client';
import { chainEvents } from './chain';
import {
  WrongExpectedRevisionError,
  type AppendResult,
  type EventMetadata,
  type EventPage,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type PageSubscriptionOptions,
  type StoredEvent,
  type Subscription,
} from './event-store';
import { Sleeper, deliver, pagesOver, validateAppend, validatePageOptions, validateReadAll, type SubscriptionOptions } from './internal';

type EsdbLib = typeof import('@eventstore/db-client');
let lib: EsdbLib | undefined;

/**
 * The client (and gRPC) is loaded on first use, not at import: index.ts exports this adapter,
 * and the embedded (SQLite) processes should not pay ~0.3 s start-up for a driver they never use.
 */
function esdb(): EsdbLib {
  return (lib ??= require('@eventstore/db-client') as EsdbLib);
}

/** Metadata key that carries the hash chain inside EventStoreDB; stripped again on read. */
export const CHAIN_METADATA_KEY = '$twostep';

export interface EsdbEventStoreOptions extends SubscriptionOptions {
  /**
   * Stream-name prefixes of this application's streams (e.g. STREAM_PREFIXES of @twostep/domain).
   * $all also holds system events and other applications' events: readAll, subscribeAll and
   * headPosition only see streams with these prefixes, and append refuses any other stream
   * (it would be written but never projected).
   */
  prefixes: readonly string[];
  /** How often an 'any' append re-reads the tail after losing a race. Default 10. */
  maxAnyRetries?: number;
}

type Recorded = RecordedEvent;

const READ_PAGE = 512;
const KNOWN_POSITIONS_MAX = 10_000;

/**
 * EventStoreDB adapter (client v6, server >= 22.6: older servers do not return positions on
 * stream reads). Port positions are commit positions. Without explicit transactions (which
 * gRPC clients cannot make) every event has its own commit position equal to its prepare
 * position, so {commit: n, prepare: n} is a valid place to resume from. Hence `after` (readAll,
 * subscribeAll) must be 0 or a position this store returned: the server may reject a position
 * that does not start a record. Reading $all needs a user allowed to (admin/ops, or an
 * insecure server).
 */
export class EsdbEventStore implements EventStore {
  private readonly prefixes: string[];
  private readonly subscriptions = new Set<Subscription>();
  /** Exact positions for the (unexpected) case commit != prepare, so reads can resume precisely. */
  private readonly knownPositions = new Map<number, Position>();
  private closed = false;

  /** e.g. esdb://localhost:2113?tls=false. The store owns the client: close() disposes it. */
  static connect(connectionString: string, options: EsdbEventStoreOptions): EsdbEventStore {
    // The client (6.x) parses only esdb:// and esdb+discover://; KurrentDB's scheme means the same.
    const esdbScheme = connectionString.replace(/^kurrentdb(\+discover)?:\/\//i, (_, discover: string | undefined) => `esdb${discover ?? ''}://`);
    return new EsdbEventStore(esdb().EventStoreDBClient.connectionString(esdbScheme), options, true);
  }

  constructor(
    private readonly client: EventStoreDBClient,
    private readonly options: EsdbEventStoreOptions,
    private readonly ownsClient = false,
  ) {
    if (options.prefixes.length === 0 || options.prefixes.some((p) => !p || p.startsWith('$'))) {
      throw new TypeError('EsdbEventStore: prefixes must be non-empty, non-system ($) stream-name prefixes');
    }
    this.prefixes = [...options.prefixes];
  }

  async append(stream: string, events: NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    this.assertOpen();
    validateAppend(stream, events, expected);
    if (!this.matches(stream)) throw new Error(`EsdbEventStore: stream ${stream} does not start with any of ${this.prefixes.join(', ')}`);
    for (const e of events) {
      if (CHAIN_METADATA_KEY in e.metadata) throw new Error(`append to ${stream}: metadata key ${CHAIN_METADATA_KEY} is reserved`);
      if (!UUID.test(e.eventId)) throw new TypeError(`append to ${stream}: EventStoreDB needs UUID event ids, got '${e.eventId}'`);
    }
    const { NO_STREAM, WrongExpectedVersionError } = esdb();
    const maxAttempts = expected === 'any' ? (this.options.maxAnyRetries ?? 10) + 1 : 1;

    for (let attempt = 1; ; attempt++) {
      // The chain needs the stream's last hash. Reading it first is consistent because the append
      // below always states the revision we read: if anyone appended in between, it is rejected.
      const tail = await this.tail(stream);
      const actual = tail ? tail.revision : 'no_stream';
      if (expected !== 'any' && expected !== actual) throw new WrongExpectedRevisionError(stream, expected, actual);
      const chained = chainEvents(stream, tail, events);
      const expectedRevision: AppendExpectedRevision = tail ? BigInt(tail.revision) : NO_STREAM;
      try {
        const result = await this.client.appendToStream(
          stream,
          chained.map((e) =>
            esdb().jsonEvent({
              id: e.eventId,
              type: e.type,
              data: e.data,
              metadata: { ...e.metadata, [CHAIN_METADATA_KEY]: { hash: e.hash, prevHash: e.prevHash } },
            }),
          ),
          { expectedRevision },
        );
        // A connection string with throwOnAppendFailure=false reports a conflict here instead of throwing.
        if (!result.success) throw Object.assign(new Error(`append to ${stream} was refused`), { type: 'wrong-expected-version' });
        const position = result.position ? this.portPosition(result.position) : (await this.tail(stream))!.position;
        return { nextRevision: Number(result.nextExpectedRevision), position };
      } catch (error) {
        if (!isClientError(error, WrongExpectedVersionError, 'wrong-expected-version')) throw error;
        // 'any' never conflicts from the caller's view: re-chain onto the new tail and try again.
        if (attempt < maxAttempts) continue;
        const current = (error as { actualVersion?: unknown }).actualVersion;
        if (typeof current === 'bigint') throw new WrongExpectedRevisionError(stream, expected, Number(current));
        if (current === 'no_stream') throw new WrongExpectedRevisionError(stream, expected, 'no_stream');
        const now = await this.tail(stream);
        throw new WrongExpectedRevisionError(stream, expected, now ? now.revision : 'no_stream');
      }
    }
  }

  async readStream(stream: string, options: { fromRevision?: number } = {}): Promise<StoredEvent[]> {
    this.assertOpen();
    const out: StoredEvent[] = [];
    try {
      const read = this.client.readStream(stream, { fromRevision: BigInt(options.fromRevision ?? 0), direction: esdb().FORWARDS });
      for await (const resolved of drain(read)) {
        if (resolved.event) out.push(this.toStored(resolved.event, this.portPosition(positionOf(resolved))));
      }
    } catch (error) {
      if (isClientError(error, esdb().StreamNotFoundError, 'stream-not-found')) return [];
      throw error;
    }
    return out;
  }

  async readAll(options: { after?: number; limit?: number } = {}): Promise<StoredEvent[]> {
    this.assertOpen();
    const { after, limit } = validateReadAll(options);
    const out: StoredEvent[] = [];
    let from = this.resumeFrom(after);
    let floor = after; // everything at or below has been returned or skipped (fromPosition is inclusive)
    for (;;) {
      // readAll has no server-side filter in client v6: system and foreign events are skipped here.
      const read = this.client.readAll({ fromPosition: from, maxCount: READ_PAGE, direction: esdb().FORWARDS });
      let count = 0;
      let last: Position | undefined;
      for await (const resolved of drain(read)) {
        count++;
        const event = resolved.event;
        if (!event) continue;
        last = event.position;
        const position = this.portPosition(event.position);
        if (position <= floor) continue;
        floor = position;
        if (!this.matches(event.streamId)) continue;
        out.push(this.toStored(event, position));
        if (out.length >= limit) return out;
      }
      if (count < READ_PAGE || !last) return out;
      from = last;
    }
  }

  async headPosition(): Promise<number> {
    this.assertOpen();
    let from: ReadPosition = esdb().END;
    for (;;) {
      const read = this.client.readAll({ fromPosition: from, maxCount: READ_PAGE, direction: esdb().BACKWARDS });
      let count = 0;
      let last: Position | undefined;
      for await (const resolved of drain(read)) {
        count++;
        const event = resolved.event;
        if (!event) continue;
        last = event.position;
        if (this.matches(event.streamId)) return this.portPosition(event.position);
      }
      if (count < READ_PAGE || !last) return 0;
      from = last;
    }
  }

  subscribeAll(options: { after?: number }, onEvent: (event: StoredEvent) => Promise<void>): Subscription {
    this.assertOpen();
    let cursor = validateReadAll({ after: options.after }).after;
    let stopped = false;
    let current: AllStreamSubscription | undefined;
    const sleeper = new Sleeper();
    const ctx = { stopped: () => stopped, sleeper, options: this.options };
    const { streamNameFilter } = esdb();

    const loop = (async () => {
      let failures = 0;
      while (!stopped) {
        const sub = this.client.subscribeToAll({ fromPosition: this.resumeFrom(cursor), filter: streamNameFilter({ prefixes: this.prefixes }) });
        current = sub;
        try {
          for await (const resolved of sub) {
            const event = resolved.event;
            if (!event || !this.matches(event.streamId)) continue;
            const position = this.portPosition(event.position);
            if (position <= cursor) continue; // the start position may be delivered again
            if (!(await deliver(this.toStored(event, position), onEvent, ctx))) break;
            cursor = position;
            failures = 0;
          }
        } catch (error) {
          // Connection lost, leader change...: resubscribe from the cursor.
          if (stopped) break;
          failures++;
          if (error instanceof ForeignEventError) {
            // Skipping it would silently drop an event from every view and email: stop here, loudly, and keep retrying.
            console.error(`esdb event store subscription is stuck after position ${cursor}: ${error.message}; fix or remove that event`);
          } else {
            console.error(`esdb event store subscription failed after position ${cursor}; resubscribing`, error);
          }
        } finally {
          current = undefined;
          await sub.unsubscribe().catch(() => undefined);
        }
        // Also after a normal end (the server closed the stream), to avoid a hot reconnect loop.
        if (!stopped) await sleeper.sleep(Math.min((this.options.retryDelayMs ?? 100) * 2 ** failures, this.options.maxRetryDelayMs ?? 5000));
      }
    })();

    const subscription: Subscription = {
      stop: async () => {
        stopped = true;
        sleeper.wake();
        const sub = current;
        if (sub) {
          await sub.unsubscribe().catch(() => undefined);
          sub.destroy(); // ends a pending for-await even if the cancelled call never emits 'end'
        }
        await loop; // includes the in-flight handler
        this.subscriptions.delete(subscription);
      },
    };
    this.subscriptions.add(subscription);
    return subscription;
  }

  /** Pages over the streaming subscription: events read while a page is handled form the next one. */
  subscribeAllPages(options: PageSubscriptionOptions, onPage: (page: EventPage) => Promise<void>): Subscription {
    this.assertOpen();
    const paging = validatePageOptions(options);
    const pages = pagesOver((after, onEvent) => this.subscribeAll({ after }, onEvent), paging, onPage, this.options);
    const subscription: Subscription = {
      stop: async () => {
        await pages.stop();
        this.subscriptions.delete(subscription);
      },
    };
    this.subscriptions.add(subscription);
    return subscription;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    this.closed = true;
    if (this.ownsClient) await this.client.dispose();
  }

  /** The stream's last event (revision, hash, position), null for a missing stream. */
  private async tail(stream: string): Promise<{ revision: number; hash: string; position: number } | null> {
    const { BACKWARDS, END, StreamNotFoundError } = esdb();
    try {
      // From the leader: a lagging follower's tail would turn a correct expected revision into a false conflict.
      const read = this.client.readStream(stream, { direction: BACKWARDS, fromRevision: END, maxCount: 1, requiresLeader: true });
      for await (const resolved of drain(read)) {
        if (!resolved.event) continue;
        const stored = this.toStored(resolved.event, this.portPosition(positionOf(resolved)));
        return { revision: stored.revision, hash: stored.hash, position: stored.position };
      }
      return null;
    } catch (error) {
      if (isClientError(error, StreamNotFoundError, 'stream-not-found')) return null;
      throw error;
    }
  }

  private matches(stream: string): boolean {
    return this.prefixes.some((prefix) => stream.startsWith(prefix));
  }

  private portPosition(position: Position | undefined): number {
    const commit = position?.commit;
    // Stream reads on servers before 22.6 carry no position (the client reports 0, or 2^64-1 as
    // "unknown"); a real event's commit position is never 0.
    if (commit === undefined || commit <= 0n || commit > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new Error(`EsdbEventStore: no usable commit position (${String(commit)}); EventStoreDB >= 22.6 is required`);
    }
    const n = Number(commit);
    if (position!.prepare !== commit) {
      if (this.knownPositions.size >= KNOWN_POSITIONS_MAX) this.knownPositions.delete(this.knownPositions.keys().next().value!);
      this.knownPositions.set(n, position!);
    }
    return n;
  }

  private resumeFrom(after: number): ReadPosition {
    if (after === 0) return esdb().START;
    return this.knownPositions.get(after) ?? { commit: BigInt(after), prepare: BigInt(after) };
  }

  private toStored(event: Recorded, position: number): StoredEvent {
    const where = `${event.streamId}@${event.revision}`;
    if (!event.isJson || !isRecord(event.data) || !isRecord(event.metadata)) {
      throw new ForeignEventError(`EsdbEventStore: event ${where} was not written by this adapter (JSON data and metadata expected)`);
    }
    const { [CHAIN_METADATA_KEY]: chain, ...metadata } = event.metadata;
    if (!isRecord(chain) || typeof chain.hash !== 'string' || !(chain.prevHash === null || typeof chain.prevHash === 'string')) {
      throw new ForeignEventError(`EsdbEventStore: event ${where} has no ${CHAIN_METADATA_KEY} hash chain metadata`);
    }
    return {
      eventId: event.id,
      type: event.type,
      data: event.data,
      metadata: metadata as EventMetadata,
      stream: event.streamId,
      revision: Number(event.revision),
      position,
      recordedAt: event.created.toISOString(),
      hash: chain.hash,
      prevHash: chain.prevHash,
    };
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('EsdbEventStore is closed');
  }
}

/** Iterates a read; if the consumer leaves early (return, break, throw) the gRPC call is cancelled too, not left open. */
async function* drain<T>(read: StreamingRead<T>): AsyncGenerator<T> {
  let drained = false;
  try {
    for await (const item of read) yield item;
    drained = true;
  } finally {
    if (!drained) await read.cancel().catch(() => undefined);
  }
}

function positionOf(resolved: ResolvedEvent): Position | undefined {
  return resolved.event?.position;
}

/** An event in one of our streams that this adapter did not write: it cannot be read as ours. */
export class ForeignEventError extends Error {
  override readonly name = 'ForeignEventError';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The client's error class, or (another copy of the client) its `type` tag. */
function isClientError(error: unknown, type: abstract new (...args: never[]) => unknown, tag: string): boolean {
  return error instanceof type || (typeof error === 'object' && error !== null && (error as { type?: unknown }).type === tag);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}
