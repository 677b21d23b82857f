import { ConfigError, fingerprintMismatches, mergeFingerprints, type KeyFingerprints, type Secrets } from '@twostep/config';
import type { KeyValueStore } from '@twostep/readmodel';

/** Where the fingerprints live: next to the data (the SQLite file, or Redis in distributed mode), so a copy takes them along. */
export const KEY_FINGERPRINTS = 'keys:fingerprints';

/**
 * Refuses to start with keys other than those the data was written with: a copied database
 * without its keys.json, or another key ring under the same key id, would otherwise start,
 * report ready, and answer every TOTP login with an error. The first start with data records
 * the fingerprints; a start that adds a key id records it too.
 *
 * `logHead` is the event log's head position (0 = empty), or null where the process has no log.
 */
export async function guardKeys(
  kv: KeyValueStore,
  current: KeyFingerprints,
  context: { logHead: number | null; generatedKeys?: Secrets['generatedKeys']; keyFile?: string },
): Promise<void> {
  const raw = await kv.get(KEY_FINGERPRINTS);
  const stored = raw ? (JSON.parse(raw) as KeyFingerprints) : null;
  const generated = context.generatedKeys ?? [];
  const hint =
    generated.length > 0 && context.keyFile
      ? ` ${context.keyFile} is missing or lacks key material, so this start made new keys (not written): restore the keys.json this data came with, or set the variables above.`
      : ' Set the variables (or restore keys.json) this data was written with.';
  if (stored) {
    const problems = fingerprintMismatches(stored, current);
    if (problems.length > 0) throw new ConfigError([...problems.slice(0, -1), `${problems[problems.length - 1]}.${hint}`]);
  } else if ((context.logHead ?? 0) > 0 && generated.some((name) => name === 'secretKeys' || name === 'hashKey')) {
    throw new ConfigError([
      `the event log already holds ${context.logHead} events, but keys were generated on this start, so they cannot be the keys that wrote them.${hint}`,
    ]);
  }
  const merged = mergeFingerprints(stored, current);
  if (JSON.stringify(merged) !== raw) await kv.set(KEY_FINGERPRINTS, JSON.stringify(merged));
}
