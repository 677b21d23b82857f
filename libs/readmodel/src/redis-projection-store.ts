import type { Redis } from 'ioredis';
import type { StoredEvent } from '@twostep/eventstore';
import type { ProjectionStore } from './ports';
import { isNext, type Projection } from './projection';
import { READ_MODELS } from './projections';
import { Script } from './redis-script';

/** Compare-and-set conflicts on a page before applyPage gives up (each retry re-reads the heads). */
const MAX_APPLY_ATTEMPTS = 20;
const RESET_BATCH = 500;

/**
 * A page, applied atomically (a Lua script runs alone on the server) or not at all:
 * - every document or log the page changes is written only if its head (last applied revision)
 *   is still the one the caller computed from; otherwise nothing is written and the caller
 *   re-reads and recomputes (returns 0);
 * - every projection's checkpoint only moves forward.
 *
 * KEYS: per changed document 3 keys (head, document string or log sorted set, the projection's
 *       set of ids), then one checkpoint key per projection.
 * ARGV: 1 number of changed documents n, 2 number of checkpoints m, 3 the page's last position;
 *       then per changed document: expected head ('' = none), new head, id, kind ('d' | 'l'),
 *       and for 'd' the document JSON, for 'l' a count k followed by k (revision, entry JSON) pairs.
 */
const APPLY_SCRIPT = `
local n = tonumber(ARGV[1])
local m = tonumber(ARGV[2])
local bases = {}
local a = 4
for i = 1, n do
  local current = redis.call('GET', KEYS[(i - 1) * 3 + 1])
  if (current or '') ~= ARGV[a] then return 0 end
  bases[i] = a
  if ARGV[a + 3] == 'd' then a = a + 5 else a = a + 5 + 2 * tonumber(ARGV[a + 4]) end
end
for i = 1, n do
  local b = bases[i]
  local k = (i - 1) * 3
  redis.call('SET', KEYS[k + 1], ARGV[b + 1])
  redis.call('SADD', KEYS[k + 3], ARGV[b + 2])
  if ARGV[b + 3] == 'd' then
    redis.call('SET', KEYS[k + 2], ARGV[b + 4])
  else
    for j = 1, tonumber(ARGV[b + 4]) do
      redis.call('ZADD', KEYS[k + 2], ARGV[b + 3 + 2 * j], ARGV[b + 4 + 2 * j])
    end
  end
end
local position = tonumber(ARGV[3])
for j = 1, m do
  local key = KEYS[n * 3 + j]
  if position > tonumber(redis.call('GET', key) or '0') then redis.call('SET', key, ARGV[3]) end
end
return 1
`;

/**
 * Drops up to ARGV[4] of a projection's documents. KEYS: 1 its set of ids.
 * ARGV: 1 head key prefix, 2 document key prefix, 3 log key prefix, 4 batch size. Returns how many it dropped.
 */
const RESET_SCRIPT = `
local ids = redis.call('SPOP', KEYS[1], tonumber(ARGV[4]))
for _, id in ipairs(ids) do
  redis.call('DEL', ARGV[1] .. id, ARGV[2] .. id, ARGV[3] .. id)
end
return #ids
`;

const applyScript = new Script(APPLY_SCRIPT);
const resetScript = new Script(RESET_SCRIPT);

/** What one page does to one document: read at `expected`, written at `head`. */
interface Change {
  projection: Projection;
  id: string;
  events: StoredEvent[];
}

/**
 * Projections in Redis. Key layout under the prefix (default `twostep:`), per projection name P:
 * - `rm:P:head:<id>`    string: the revision last applied to the document (the compare-and-set guard)
 * - `rm:P:doc:<id>`     string: a document projection's document, as JSON
 * - `rm:P:log:<id>`     sorted set: a log projection's entries as JSON, scored by revision
 * - `rm:P:ids`          set: every id with a head (so reset needs no SCAN)
 * - `rm:P:checkpoint`   string: global position of the last page given to P
 *
 * The connection belongs to the caller. Multi-key scripts assume a single Redis (or a cluster
 * slot); Redis Cluster is not supported.
 */
export class RedisProjectionStore implements ProjectionStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    readonly projections: readonly Projection[] = READ_MODELS,
  ) {}

  private key(projection: string, part: 'head' | 'doc' | 'log', id: string): string {
    return `${this.prefix}rm:${projection}:${part}:${id}`;
  }

  private idsKey(projection: string): string {
    return `${this.prefix}rm:${projection}:ids`;
  }

  private checkpointKey(projection: string): string {
    return `${this.prefix}rm:${projection}:checkpoint`;
  }

  async applyPage(events: readonly StoredEvent[]): Promise<void> {
    const last = events[events.length - 1];
    if (!last) return;
    const changes = new Map<string, Change>();
    for (const event of events) {
      for (const projection of this.projections) {
        if (!projection.canHandle(event)) continue;
        const id = projection.documentId(event);
        const key = `${projection.name}\u0000${id}`;
        let change = changes.get(key);
        if (!change) changes.set(key, (change = { projection, id, events: [] }));
        change.events.push(event);
      }
    }
    const list = [...changes.values()];
    for (let attempt = 1; attempt <= MAX_APPLY_ATTEMPTS; attempt++) {
      const keys: string[] = [];
      const args: (string | number)[] = [0, this.projections.length, last.position];
      let written = 0;
      const heads = list.length > 0 ? await this.redis.mget(...list.map(({ projection, id }) => this.key(projection.name, 'head', id))) : [];
      const documentChanges = list.filter(({ projection }) => projection.kind === 'document');
      const documents = documentChanges.length > 0 ? await this.redis.mget(...documentChanges.map(({ projection, id }) => this.key(projection.name, 'doc', id))) : [];
      const documentOf = new Map(documentChanges.map((change, i) => [change, documents[i] ?? null]));
      list.forEach((change, i) => {
        const { projection, id } = change;
        const expected = heads[i] ?? '';
        let revision = expected === '' ? -1 : Number(expected);
        const start = revision;
        if (projection.kind === 'document') {
          const raw = documentOf.get(change) ?? null;
          let document: unknown = revision >= 0 && raw !== null ? JSON.parse(raw) : null;
          for (const event of change.events) {
            if (!isNext(projection, id, revision, event)) continue;
            document = projection.evolve(revision < 0 ? projection.initial(event) : document, event);
            revision = event.revision;
          }
          if (revision === start) return;
          keys.push(this.key(projection.name, 'head', id), this.key(projection.name, 'doc', id), this.idsKey(projection.name));
          args.push(expected, revision, id, 'd', JSON.stringify(document));
        } else {
          const entries: (string | number)[] = [];
          for (const event of change.events) {
            if (!isNext(projection, id, revision, event)) continue;
            entries.push(event.revision, JSON.stringify(projection.entry(event)));
            revision = event.revision;
          }
          if (revision === start) return;
          keys.push(this.key(projection.name, 'head', id), this.key(projection.name, 'log', id), this.idsKey(projection.name));
          args.push(expected, revision, id, 'l', entries.length / 2, ...entries);
        }
        written++;
      });
      args[0] = written;
      keys.push(...this.projections.map((projection) => this.checkpointKey(projection.name)));
      if ((await applyScript.run(this.redis, keys, args)) === 1) return;
    }
    throw new Error(`Read models kept changing under a page ending at position ${last.position}; gave up after ${MAX_APPLY_ATTEMPTS} attempts`);
  }

  async checkpoint(projection: string): Promise<number> {
    const raw = await this.redis.get(this.checkpointKey(projection));
    return raw === null ? 0 : Number(raw);
  }

  async document<D>(projection: string, id: string): Promise<D | null> {
    const raw = await this.redis.get(this.key(projection, 'doc', id));
    return raw === null ? null : (JSON.parse(raw) as D);
  }

  async entries<E>(projection: string, id: string, options: { after?: number; limit?: number } = {}): Promise<E[]> {
    const limit = options.limit ?? 100;
    if (limit <= 0) return [];
    const rows = await this.redis.zrangebyscore(this.key(projection, 'log', id), `(${options.after ?? -1}`, '+inf', 'LIMIT', 0, limit);
    return rows.map((row) => JSON.parse(row) as E);
  }

  async reset(projection: string): Promise<void> {
    const prefixes = [this.key(projection, 'head', ''), this.key(projection, 'doc', ''), this.key(projection, 'log', '')];
    while (Number(await resetScript.run(this.redis, [this.idsKey(projection)], [...prefixes, RESET_BATCH])) > 0);
    await this.redis.del(this.checkpointKey(projection));
  }
}
