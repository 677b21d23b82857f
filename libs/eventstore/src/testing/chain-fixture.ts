import { chainEvents, computeEventHash } from '../chain';
import type { NewEvent, StoredEvent } from '../event-store';

/** Fixtures for hash-chain tests (chain.spec.ts, the CLI's chain-scan.spec.ts). */
export const event = (type: string, data: Record<string, unknown> = {}): NewEvent => ({
  eventId: `id-${type}`,
  type,
  data,
  metadata: { at: '2025-01-01T00:00:00.000Z', actor: { kind: 'system' }, schemaVersion: 1 },
});

/** A clean log: stream A gets A0..A3, stream B gets B0..B1, interleaved; positions 1..6. */
export function log(): StoredEvent[] {
  const a = chainEvents('A', null, ['A0', 'A1', 'A2', 'A3'].map((t) => event(t, { t })));
  const b = chainEvents('B', null, ['B0', 'B1'].map((t) => event(t)));
  return [a[0]!, b[0]!, a[1]!, a[2]!, b[1]!, a[3]!].map((e, i) => ({ ...e, position: i + 1, recordedAt: '2025-01-01T00:00:01.000Z' }));
}

export const byType = (events: StoredEvent[], type: string) => events.find((e) => e.type === type)!;

/** The event with its hash recomputed from its (edited) content, as a forger would. */
export const rehash = (e: StoredEvent): StoredEvent => ({ ...e, hash: computeEventHash(e.prevHash, e) });
