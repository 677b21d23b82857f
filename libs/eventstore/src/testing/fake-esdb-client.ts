import { Readable } from 'node:stream';
import {
  ANY,
  BACKWARDS,
  END,
  NO_STREAM,
  START,
  STREAM_EXISTS,
  StreamNotFoundError,
  WrongExpectedVersionError,
  type AllStreamResolvedEvent,
  type AppendExpectedRevision,
  type AppendResult,
  type EventData,
  type EventStoreDBClient,
  type Filter,
  type ReadPosition,
  type ReadRevision,
} from '@eventstore/db-client';

interface Record {
  streamId: string;
  id: string;
  revision: bigint;
  type: string;
  data: string;
  metadata: string;
  created: Date;
  position: bigint;
}

/**
 * In-memory stand-in for the part of EventStoreDBClient (v6) that EsdbEventStore uses, so the
 * adapter's own logic (chain metadata, position mapping, prefix filtering, paging, retries,
 * resubscription) runs under the contract without a server. It models the server behaviour the
 * adapter relies on - it cannot prove the server really behaves so; the ESDB_URL run does.
 *
 * Like a real $all it holds system and foreign events, positions are sparse byte offsets
 * (commit == prepare), forward reads from a position are inclusive, subscriptions exclusive,
 * and appends yield to the event loop so concurrent appends really race.
 */
export class FakeEsdbClient {
  readonly log: Record[] = [];
  private nextPosition = 100n;
  private readonly wakers = new Set<() => void>();
  private readonly live = new Set<Readable>();
  disposed = false;

  constructor() {
    this.write('$stats-127.0.0.1:2113', [{ id: 'system-1', type: '$statsCollected', data: {}, metadata: undefined }]);
    this.write('Other-app-1', [{ id: 'foreign-1', type: 'Foreign', data: { x: 1 }, metadata: { foreign: true } }]);
  }

  asClient(): EventStoreDBClient {
    return this as unknown as EventStoreDBClient;
  }

  async appendToStream(streamName: string, events: EventData | EventData[], options: { expectedRevision?: AppendExpectedRevision } = {}): Promise<AppendResult> {
    await new Promise((resolve) => setImmediate(resolve)); // let concurrent appends interleave, as over the network
    const list = Array.isArray(events) ? events : [events];
    const expected = options.expectedRevision ?? ANY;
    const current = this.lastRevision(streamName);
    const ok =
      expected === ANY ||
      (expected === NO_STREAM && current === undefined) ||
      (expected === STREAM_EXISTS && current !== undefined) ||
      (typeof expected === 'bigint' && current === expected);
    if (!ok) throw new WrongExpectedVersionError(undefined, { streamName, expected, current: current ?? NO_STREAM });
    const written = this.write(
      streamName,
      list.map((e) => ({ id: e.id, type: e.type, data: e.data, metadata: e.metadata })),
    );
    if (this.log.length % 3 === 0) this.write('$stats-127.0.0.1:2113', [{ id: `system-${this.log.length}`, type: '$statsCollected', data: {}, metadata: undefined }]);
    const last = written[written.length - 1]!;
    return { success: true, nextExpectedRevision: last.revision, position: { commit: last.position, prepare: last.position } };
  }

  readStream(streamName: string, options: { fromRevision?: ReadRevision; direction?: string; maxCount?: number | bigint } = {}) {
    const { fromRevision = START, direction = 'forwards', maxCount = Number.MAX_SAFE_INTEGER } = options;
    const log = this.log;
    return this.readable(
      (async function* () {
        let events = log.filter((r) => r.streamId === streamName);
        if (events.length === 0) throw new StreamNotFoundError(undefined, streamName);
        if (direction === BACKWARDS) {
          events = events.reverse().filter((r) => fromRevision === END || fromRevision === START || r.revision <= fromRevision);
        } else {
          events = events.filter((r) => typeof fromRevision !== 'bigint' || r.revision >= fromRevision);
        }
        for (const r of events.slice(0, Number(maxCount))) yield resolved(r);
      })(),
    );
  }

  readAll(options: { fromPosition?: ReadPosition; direction?: string; maxCount?: number | bigint } = {}) {
    const { fromPosition = START, direction = 'forwards', maxCount = Number.MAX_SAFE_INTEGER } = options;
    let events: Record[];
    if (direction === BACKWARDS) {
      events = [...this.log].reverse().filter((r) => fromPosition === END || (fromPosition !== START && r.position < fromPosition.commit));
    } else {
      events = this.log.filter((r) => fromPosition === START || (fromPosition !== END && r.position >= fromPosition.commit));
    }
    return this.readable(
      (async function* () {
        for (const r of events.slice(0, Number(maxCount))) yield resolved(r);
      })(),
    );
  }

  subscribeToAll(options: { fromPosition?: ReadPosition; filter?: Filter } = {}) {
    const { fromPosition = START, filter } = options;
    const prefixes = filter && 'prefixes' in filter ? filter.prefixes : undefined;
    let after = fromPosition === START ? -1n : fromPosition === END ? (this.log[this.log.length - 1]?.position ?? -1n) : fromPosition.commit;
    let closed = false;
    const self = this;
    const stream = this.readable(
      (async function* () {
        while (!closed) {
          const next = self.log.find((r) => r.position > after);
          if (!next) {
            await new Promise<void>((resolve) => {
              self.wakers.add(resolve);
              if (closed) resolve();
            });
            continue;
          }
          after = next.position;
          if (!prefixes || prefixes.some((p) => next.streamId.startsWith(p))) yield resolved(next);
        }
      })(),
    );
    this.live.add(stream);
    stream.on('close', () => this.live.delete(stream));
    return Object.assign(stream, {
      unsubscribe: async () => {
        closed = true;
        this.wake();
      },
    });
  }

  /** Simulates a dropped connection: every live subscription fails. */
  dropSubscriptions(): void {
    for (const stream of this.live) stream.destroy(new Error('fake: connection lost'));
  }

  get liveSubscriptions(): number {
    return this.live.size;
  }

  async dispose(): Promise<void> {
    this.disposed = true;
  }

  private readable(source: AsyncGenerator<AllStreamResolvedEvent>) {
    const stream = Readable.from(source);
    return Object.assign(stream, { cancel: async () => void stream.destroy() });
  }

  private lastRevision(stream: string): bigint | undefined {
    for (let i = this.log.length - 1; i >= 0; i--) if (this.log[i]!.streamId === stream) return this.log[i]!.revision;
    return undefined;
  }

  private write(streamId: string, events: Array<{ id: string; type: string; data: unknown; metadata: unknown }>): Record[] {
    let revision = this.lastRevision(streamId) ?? -1n;
    const written = events.map((e) => {
      const data = JSON.stringify(e.data);
      const metadata = e.metadata === undefined ? '' : JSON.stringify(e.metadata);
      const record = { streamId, id: e.id, revision: ++revision, type: e.type, data, metadata, created: new Date(), position: this.nextPosition };
      this.nextPosition += BigInt(100 + data.length + metadata.length); // sparse, like byte offsets in the log
      this.log.push(record);
      return record;
    });
    this.wake();
    return written;
  }

  private wake(): void {
    for (const waker of [...this.wakers]) waker();
    this.wakers.clear();
  }
}

function resolved(r: Record): AllStreamResolvedEvent {
  const position = { commit: r.position, prepare: r.position };
  return {
    event: {
      streamId: r.streamId,
      id: r.id,
      revision: r.revision,
      type: r.type,
      created: r.created,
      isJson: true,
      data: JSON.parse(r.data) as never,
      metadata: (r.metadata ? JSON.parse(r.metadata) : undefined) as never,
      position,
    },
    commitPosition: r.position,
  };
}
