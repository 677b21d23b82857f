import { createHash } from 'node:crypto';
import type { EventStore, NewEvent, StoredEvent } from './event-store';

/**
 * Tamper-evident hash chain. Every adapter computes it on append with the same pure function,
 * so a log can be verified the same way whichever store it came from.
 *
 * What it does and does not prove: the hash is unkeyed, so someone with write access to the
 * store who also knows this algorithm can rewrite an event and re-hash everything after it in
 * its stream. The chain catches naive edits (SQL UPDATE/DELETE, a restored old backup, a bad
 * migration); catching a determined insider needs the log anchored somewhere else: that is
 * what the log digest below is for. Likewise, removing the LAST events of a stream leaves a
 * shorter but valid chain, which only an anchor taken earlier reveals.
 */

export type HashedFields = Pick<StoredEvent, 'stream' | 'revision' | 'eventId' | 'type' | 'data' | 'metadata'>;

/** hex sha256 of (prevHash ?? '') + '\n' + canonicalJson({ stream, revision, eventId, type, data, metadata }). */
export function computeEventHash(prevHash: string | null, e: HashedFields): string {
  const content = hashedContent(e);
  return createHash('sha256')
    .update((prevHash ?? '') + '\n' + content, 'utf8')
    .digest('hex');
}

/**
 * canonicalJson({ stream, revision, eventId, type, data, metadata }), written out in its sorted
 * key order when the fields have their usual types (no object to build and sort for every event);
 * anything unusual goes the general way.
 */
function hashedContent(e: HashedFields): string {
  const data = encode(e.data);
  const metadata = encode(e.metadata);
  if (data !== undefined && metadata !== undefined && typeof e.eventId === 'string' && typeof e.type === 'string' && typeof e.stream === 'string' && Number.isSafeInteger(e.revision)) {
    return `{"data":${data},"eventId":${JSON.stringify(e.eventId)},"metadata":${metadata},"revision":${JSON.stringify(e.revision)},"stream":${JSON.stringify(e.stream)},"type":${JSON.stringify(e.type)}}`;
  }
  return canonicalJson({ stream: e.stream, revision: e.revision, eventId: e.eventId, type: e.type, data: e.data, metadata: e.metadata });
}

/**
 * JSON with object keys sorted (by UTF-16 code unit, recursively). Otherwise behaves like
 * JSON.stringify (toJSON honoured, undefined/functions dropped from objects and null in arrays),
 * because the stores persist JSON: the hash must survive a write/read roundtrip.
 */
export function canonicalJson(value: unknown): string {
  const out = encode(value);
  if (out === undefined) throw new TypeError('canonicalJson: value is not JSON-serialisable');
  return out;
}

function encode(value: unknown): string | undefined {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON(): unknown }).toJSON();
  }
  if (value === null || typeof value !== 'object') return JSON.stringify(value) as string | undefined;
  // Built by concatenation (no part arrays to join): this runs for every event appended.
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + (encode(value[i]) ?? 'null');
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length > 1) sortKeys(keys);
  let out = '{';
  for (const key of keys) {
    const encoded = encode(record[key]);
    if (encoded !== undefined) out += (out.length === 1 ? '' : ',') + quoted(key) + ':' + encoded;
  }
  return `${out}}`;
}

/**
 * The order of Array.prototype.sort() (UTF-16 code units; keys are unique, so stability does not
 * matter), in place: an insertion sort for an object's handful of keys allocates nothing, where
 * sort() allocates a work array for every object of every event appended.
 */
function sortKeys(keys: string[]): void {
  if (keys.length > 16) {
    keys.sort();
    return;
  }
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > key) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = key;
  }
}

/** JSON.stringify of a key, remembered: events use the same few dozen keys over and over. */
const QUOTED = new Map<string, string>();
function quoted(key: string): string {
  let q = QUOTED.get(key);
  if (q === undefined) {
    q = JSON.stringify(key);
    if (QUOTED.size < 1000) QUOTED.set(key, q);
  }
  return q;
}

/** Revision, hash and prevHash for events about to be appended after `tail` (null = new stream). */
export function chainEvents(
  stream: string,
  tail: { revision: number; hash: string } | null,
  events: NewEvent[],
): Array<NewEvent & { stream: string; revision: number; hash: string; prevHash: string | null }> {
  let revision = tail ? tail.revision : -1;
  let prevHash = tail ? tail.hash : null;
  return events.map((event) => {
    revision += 1;
    const fields = { stream, revision, eventId: event.eventId, type: event.type, data: event.data, metadata: event.metadata };
    const hash = computeEventHash(prevHash, fields);
    const chained = { ...event, stream, revision, hash, prevHash };
    prevHash = hash;
    return chained;
  });
}

export interface ChainProblem {
  position: number;
  stream: string;
  revision: number;
  kind: 'changed' | 'removed' | 'reordered' | 'inserted';
  detail: string;
}

/**
 * Checks a log given in global order. Every stream present must be complete from revision 0
 * (pass the whole log, or whole streams); a stream that starts later is reported as 'removed'.
 *
 * Classification (what each symptom most honestly says happened):
 * - changed:   the stored hash does not match the event's own content (content, revision, or
 *              prevHash edited after the write).
 * - removed:   a stream has a gap in its revisions (reported at the first event after the gap),
 *              or revision 0 points at a predecessor (the start was cut off and renumbered).
 * - reordered: global positions do not increase, a stream's revisions go backwards in global
 *              order, or revision r is chained onto an event that is still in the stream but
 *              not at r-1 (events swapped and renumbered).
 * - inserted:  a second event claims a revision that is already taken; the event at r-1 claims
 *              the same predecessor as r (spliced in ahead of it); or r's real predecessor is
 *              nowhere in the stream, so r-1 was put there afterwards (replaced and re-hashed -
 *              or removed with the rest renumbered: the chain cannot tell those apart, and
 *              'inserted' is the likelier and the more cautious reading).
 * A single tampering can show more than one symptom (renumbering without re-hashing is also
 * 'changed'); every symptom is reported.
 */
export function verifyChain(events: StoredEvent[]): ChainProblem[] {
  const problems: ChainProblem[] = [];
  const report = (e: StoredEvent, kind: ChainProblem['kind'], detail: string) =>
    problems.push({ position: e.position, stream: e.stream, revision: e.revision, kind, detail });

  // Per stream: the first event seen at each revision, and the highest revision so far.
  const streams = new Map<string, { byRevision: Map<number, StoredEvent>; maxRevision: number }>();
  let lastPosition = -Infinity;

  for (const e of events) {
    const recomputed = computeEventHash(e.prevHash, e);
    if (recomputed !== e.hash) report(e, 'changed', `stored hash ${e.hash} does not match content (recomputed ${recomputed})`);

    if (e.position <= lastPosition) report(e, 'reordered', `position ${e.position} does not follow ${lastPosition}`);
    lastPosition = Math.max(lastPosition, e.position);

    let state = streams.get(e.stream);
    if (!state) streams.set(e.stream, (state = { byRevision: new Map(), maxRevision: -1 }));
    if (state.byRevision.has(e.revision)) {
      report(e, 'inserted', `revision ${e.revision} already taken by position ${state.byRevision.get(e.revision)!.position}`);
      continue; // keep the first claimant as the reference for the links below
    }
    if (e.revision < state.maxRevision) report(e, 'reordered', `revision ${e.revision} comes after revision ${state.maxRevision} in global order`);
    state.byRevision.set(e.revision, e);
    state.maxRevision = Math.max(state.maxRevision, e.revision);
  }

  // Links and gaps need the whole stream, so they are checked once everything has been seen.
  for (const [, state] of streams) {
    const all = [...state.byRevision.values()];
    const byHash = new Map(all.map((e) => [e.hash, e]));
    for (const e of all.sort((a, b) => a.revision - b.revision)) {
      if (e.revision === 0) {
        if (e.prevHash !== null) report(e, 'removed', 'revision 0 points at a predecessor: earlier events were removed and the stream renumbered');
        continue;
      }
      const prev = state.byRevision.get(e.revision - 1);
      if (!prev) {
        let missing = e.revision - 1;
        while (missing > 0 && !state.byRevision.has(missing - 1)) missing--;
        report(e, 'removed', `revisions ${missing}..${e.revision - 1} are missing`);
        continue;
      }
      if (e.prevHash === prev.hash) continue;
      const onto = e.prevHash === null ? undefined : byHash.get(e.prevHash);
      if (prev.prevHash === e.prevHash) {
        // Both claim the same predecessor: prev was slipped in ahead of e.
        report(e, 'inserted', `revision ${e.revision - 1} (position ${prev.position}) was inserted ahead of this event`);
      } else if (onto) {
        // e's real predecessor is still in the stream, just somewhere else.
        report(e, 'reordered', `chained onto revision ${onto.revision} (position ${onto.position}), not ${e.revision - 1}`);
      } else {
        // e's real predecessor is gone: most likely replaced by a re-hashed event (or removed and the rest renumbered).
        report(e, 'inserted', `revision ${e.revision - 1} (position ${prev.position}) is not the event this one was chained onto`);
      }
    }
  }
  return problems.sort((a, b) => a.position - b.position);
}

/**
 * Log digest: one value that stands for the first N events of the whole log, in global order.
 * `d0` is 64 zeros and `d(i) = sha256(d(i-1) + '\n' + hash(i))` over the events' stored hashes,
 * so anyone can compute it from `export` or `GET /v1/events`. An auditor keeps an anchor
 * (`N:digest`) outside twostep; later, `verify --anchor` proves the log still begins with exactly
 * those N events. That catches what the per-stream chains cannot: events cut off the end, and a
 * rewrite re-hashed to look consistent.
 */
export const EMPTY_LOG_DIGEST = '0'.repeat(64);

export function extendLogDigest(digest: string, eventHash: string): string {
  return createHash('sha256').update(`${digest}\n${eventHash}`, 'utf8').digest('hex');
}

export interface LogAnchor {
  /** How many events, from the start of the log in global order. */
  count: number;
  digest: string;
}

export const formatAnchor = (anchor: LogAnchor): string => `${anchor.count}:${anchor.digest}`;

/** `N:64-hex-digest`, as `verify` prints it; null when the text is not an anchor. */
export function parseAnchor(text: string): LogAnchor | null {
  const match = /^(\d{1,15}):([0-9a-f]{64})$/.exec(text.trim().toLowerCase());
  return match ? { count: Number(match[1]), digest: match[2]! } : null;
}

/**
 * The anchor of the first `count` events of a store (all of them when `count` is omitted), read
 * a page at a time. Null when the store holds fewer than `count` events.
 */
export async function anchorOf(store: Pick<EventStore, 'readAll'>, count?: number): Promise<{ anchor: LogAnchor; last: StoredEvent | null } | null> {
  let digest = EMPTY_LOG_DIGEST;
  let seen = 0;
  let last: StoredEvent | null = null;
  let after = 0;
  for (;;) {
    const limit = count === undefined ? 1000 : Math.min(1000, count - seen);
    if (limit === 0) break;
    const page = await store.readAll({ after, limit });
    for (const event of page) digest = extendLogDigest(digest, event.hash);
    seen += page.length;
    if (page.length > 0) {
      last = page[page.length - 1]!;
      after = last.position;
    }
    if (page.length < limit) break;
  }
  if (count !== undefined && seen < count) return null;
  return { anchor: { count: seen, digest }, last };
}
