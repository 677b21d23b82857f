import { evolvePolicy, initialPolicy, POLICY_CATEGORY, upcastPolicyEvent, type Policy, type PolicyEvent } from '@twostep/domain';
import type { StoredEvent } from '@twostep/eventstore';

const evolveUpcast = (policy: Policy, event: PolicyEvent | null): Policy => (event ? evolvePolicy(policy, event) : policy);

/** A tenant's policy folded from its policy stream's events (defaults when there are none). */
export function foldPolicy(events: readonly StoredEvent[]): Policy {
  return events.reduce(
    (policy, stored) =>
      stored.stream.startsWith(`${POLICY_CATEGORY}-`) ? evolveUpcast(policy, upcastPolicyEvent(stored)) : policy,
    initialPolicy(),
  );
}
