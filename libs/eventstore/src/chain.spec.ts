import { createHash } from 'node:crypto';
import { canonicalJson, chainEvents, computeEventHash, EMPTY_LOG_DIGEST, extendLogDigest, formatAnchor, parseAnchor, verifyChain } from './chain';
import type { StoredEvent } from './event-store';
import { byType, event, log, rehash } from './testing/chain-fixture';

const kinds = (events: StoredEvent[]) => verifyChain(events).map((p) => `${p.kind}@${p.stream}${p.revision}`);

describe('computeEventHash', () => {
  it('is sha256 over prevHash, a newline and the canonical JSON of the fields', () => {
    const fields = { stream: 's', revision: 1, eventId: 'e', type: 'T', data: { b: 1, a: [true] }, metadata: { schemaVersion: 1, at: 'x', actor: { kind: 'system' as const } } };
    const content = '{"data":{"a":[true],"b":1},"eventId":"e","metadata":{"actor":{"kind":"system"},"at":"x","schemaVersion":1},"revision":1,"stream":"s","type":"T"}';
    expect(computeEventHash('p', fields)).toBe(createHash('sha256').update(`p\n${content}`).digest('hex'));
    expect(computeEventHash(null, fields)).toBe(createHash('sha256').update(`\n${content}`).digest('hex'));
  });

  it('does not depend on key order, and survives a JSON roundtrip', () => {
    const data = { z: 1, a: { y: [1, { d: 2, c: 3 }], x: 'ü' }, gone: undefined, when: new Date(0) };
    const fields = (d: Record<string, unknown>) => ({ stream: 's', revision: 0, eventId: 'e', type: 'T', data: d, metadata: event('T').metadata });
    const reordered = { when: new Date(0), a: { x: 'ü', y: [1, { c: 3, d: 2 }] }, z: 1 };
    expect(computeEventHash(null, fields(data))).toBe(computeEventHash(null, fields(reordered)));
    expect(computeEventHash(null, fields(data))).toBe(computeEventHash(null, fields(JSON.parse(JSON.stringify(data)))));
    expect(canonicalJson([undefined, () => 1])).toBe('[null,null]');
  });
});

describe('chainEvents', () => {
  it('sorts keys exactly as sort() does, at every size, on 2,000 random values', () => {
    // The encoder as it was with Array.prototype.sort() (integer-like keys included: they must not come first).
    const reference = (value: unknown): string =>
      value !== null && typeof value === 'object'
        ? Array.isArray(value)
          ? `[${value.map(reference).join(',')}]`
          : `{${Object.keys(value)
              .sort()
              .map((k) => `${JSON.stringify(k)}:${reference((value as Record<string, unknown>)[k])}`)
              .join(',')}}`
        : JSON.stringify(value);
    const alphabet = ['a', 'B', 'z', '_', '0', '9', 'é', 'Ä', '\u{1F600}', '\uFFFD', ' ', 'aa', 'A'];
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const randomKey = () => Array.from({ length: 1 + Math.floor(random() * 4) }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
    const randomValue = (depth: number): unknown => {
      const pick = random();
      if (depth > 2 || pick < 0.4) return pick < 0.1 ? null : pick < 0.2 ? Math.floor(random() * 1000) : pick < 0.3 ? randomKey() : pick < 0.35;
      if (pick < 0.55) return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(depth + 1));
      const object: Record<string, unknown> = {};
      for (let i = Math.floor(random() * 24); i > 0; i--) object[randomKey()] = randomValue(depth + 1);
      return object;
    };
    for (let i = 0; i < 2000; i++) {
      const value = randomValue(0);
      expect(canonicalJson(value)).toBe(reference(value));
      // The hash writes its fields' object out in sorted order itself: the same bytes.
      const fields = { stream: randomKey(), revision: i, eventId: randomKey(), type: randomKey(), data: value as Record<string, unknown>, metadata: { at: randomKey(), actor: { kind: 'customer' as const }, schemaVersion: 1 } };
      expect(computeEventHash('p', fields)).toBe(createHash('sha256').update(`p\n${reference(fields)}`, 'utf8').digest('hex'));
    }
  });

  it('continues a stream from its tail', () => {
    const [first] = chainEvents('s', null, [event('A')]);
    const [second] = chainEvents('s', { revision: 0, hash: first!.hash }, [event('B')]);
    expect(first).toMatchObject({ revision: 0, prevHash: null });
    expect(second).toMatchObject({ revision: 1, prevHash: first!.hash });
  });
});

describe('verifyChain', () => {
  it('accepts an untouched log', () => {
    expect(verifyChain(log())).toEqual([]);
    expect(verifyChain([])).toEqual([]);
  });

  it('detects changed content (changed)', () => {
    const events = log();
    events[2] = { ...events[2]!, data: { t: 'forged' } };
    expect(verifyChain(events)).toEqual([expect.objectContaining({ kind: 'changed', stream: 'A', revision: 1, position: 3 })]);
  });

  it('detects an edited prevHash or hash (changed)', () => {
    const events = log();
    events[3] = { ...events[3]!, prevHash: events[0]!.hash };
    expect(kinds(events)).toContain('changed@A2');
  });

  it('detects an event replaced and re-hashed: its successor was chained onto something else (inserted)', () => {
    const events = log();
    events[2] = rehash({ ...events[2]!, data: { t: 'forged' } });
    expect(kinds(events)).toEqual(['inserted@A2']);
  });

  it('detects a removed event (removed)', () => {
    const events = log().filter((e) => e.type !== 'A1');
    expect(verifyChain(events)).toEqual([expect.objectContaining({ kind: 'removed', stream: 'A', revision: 2, position: 4, detail: 'revisions 1..1 are missing' })]);
  });

  it('detects a removed stream start, also when the rest was renumbered and re-hashed (removed)', () => {
    expect(kinds(log().filter((e) => e.type !== 'B0'))).toEqual(['removed@B1']);
    const renumbered = log()
      .filter((e) => e.type !== 'B0')
      .map((e) => (e.type === 'B1' ? rehash({ ...e, revision: 0 }) : e));
    expect(kinds(renumbered)).toEqual(['removed@B0']);
  });

  it('detects events swapped in global order (reordered)', () => {
    const events = log();
    // A1 and A2 trade places (and positions, so global positions still increase).
    [events[2], events[3]] = [{ ...events[3]!, position: 3 }, { ...events[2]!, position: 4 }];
    expect(verifyChain(events)).toEqual([expect.objectContaining({ kind: 'reordered', stream: 'A', revision: 1, position: 4 })]);
  });

  it('detects global positions that do not increase (reordered)', () => {
    const events = log();
    [events[1], events[2]] = [events[2]!, events[1]!];
    expect(kinds(events)).toEqual(['reordered@B0']);
  });

  it('detects events swapped by renumbering their revisions (reordered, and changed)', () => {
    const events = log();
    const a1 = byType(events, 'A1');
    const a2 = byType(events, 'A2');
    events[2] = { ...a2, revision: 1, position: 3 };
    events[3] = { ...a1, revision: 2, position: 4 };
    // A3 is still chained onto A2, which now sits at revision 1.
    expect(kinds(events)).toEqual(['changed@A1', 'reordered@A1', 'changed@A2', 'reordered@A2', 'reordered@A3']);
  });

  it('detects an event spliced into a stream (inserted, and changed for the renumbered rest)', () => {
    const clean = log();
    const a0 = byType(clean, 'A0');
    const [forged] = chainEvents('A', { revision: 0, hash: a0.hash }, [event('Forged')]);
    const events: StoredEvent[] = [
      a0,
      clean[1]!,
      { ...forged!, position: 3, recordedAt: a0.recordedAt },
      ...clean.slice(2).map((e) => ({ ...e, position: e.position + 1, revision: e.stream === 'A' ? e.revision + 1 : e.revision })),
    ];
    expect(kinds(events)).toEqual(['changed@A2', 'inserted@A2', 'changed@A3', 'changed@A4']);
  });

  it('detects a second event claiming a taken revision (inserted)', () => {
    const events = log();
    const a0 = byType(events, 'A0');
    const [forged] = chainEvents('A', { revision: 0, hash: a0.hash }, [event('Forged')]);
    events.push({ ...forged!, position: 7, recordedAt: a0.recordedAt });
    expect(verifyChain(events)).toEqual([expect.objectContaining({ kind: 'inserted', stream: 'A', revision: 1, position: 7 })]);
  });
});

describe('log digest and anchors', () => {
  it('rolls sha256 over the stored hashes from 64 zeros, so order and content both count', () => {
    const [a, b] = ['a'.repeat(64), 'b'.repeat(64)];
    const ab = extendLogDigest(extendLogDigest(EMPTY_LOG_DIGEST, a), b);
    expect(ab).toBe(createHash('sha256').update(`${createHash('sha256').update(`${'0'.repeat(64)}\n${a}`).digest('hex')}\n${b}`).digest('hex'));
    expect(extendLogDigest(extendLogDigest(EMPTY_LOG_DIGEST, b), a)).not.toBe(ab);
  });

  it('parses anchors as verify prints them and nothing else', () => {
    const digest = 'ab'.repeat(32);
    expect(parseAnchor(formatAnchor({ count: 184, digest }))).toEqual({ count: 184, digest });
    expect(parseAnchor(` 0:${digest.toUpperCase()} `)).toEqual({ count: 0, digest });
    for (const bad of ['', '184', `184:${digest.slice(1)}`, `-1:${digest}`, `x:${digest}`, `184:${digest}0`]) expect(parseAnchor(bad)).toBeNull();
  });
});
