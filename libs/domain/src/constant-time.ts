/**
 * Constant-time comparison of two hex/ASCII strings without importing `crypto`, so the
 * decider stays pure. Runs over the full length of both inputs whatever they hold.
 */
export function constantTimeEquals(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  const length = Math.max(a.length, b.length);
  for (let i = 0; i < length; i++) {
    diff |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  }
  return diff === 0;
}

export function findConstantTime(candidates: readonly string[], value: string): string | undefined {
  let found: string | undefined;
  for (const candidate of candidates) {
    if (constantTimeEquals(candidate, value) && found === undefined) found = candidate;
  }
  return found;
}
