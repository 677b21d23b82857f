import { decideAccount, evolveAccount, initialAccountState, type AccountCommand, type AccountState, type DecisionContext } from './account';
import type { AccountEvent } from './events';
import { decidePolicy, evolvePolicy, initialPolicy, type Policy, type PolicyCommand, type PolicyEvent } from './policy';
import { upcastAccountEvent, upcastPolicyEvent, type StoredShape } from './upcast';

/** A decider in the emmett sense: everything a command path needs to run an aggregate. */
export interface Decider<Command, State, Event, Context> {
  decide(command: Command, state: State, context: Context): Event[];
  evolve(state: State, event: Event): State;
  initialState(): State;
  /** A stored event in the shape `evolve` takes (older payloads upgraded), or null for a type this decider does not know. */
  upcast(stored: StoredShape): Event | null;
  /**
   * The version of the state `evolve` builds: bump it when the state's shape or what evolve makes
   * of an event changes, and snapshots written under another version are ignored (folded again).
   */
  stateVersion: number;
}

export const accountDecider: Decider<AccountCommand, AccountState, AccountEvent, DecisionContext> = {
  decide: decideAccount,
  evolve: evolveAccount,
  initialState: initialAccountState,
  upcast: upcastAccountEvent,
  // 2: disable and enable reset the failed-attempt counter. 3: the bump shared with the policy's 3 (device labels came with it).
  // 4: passkeys. 5: the lockout (counting | locked) and the factor (off | on with its secret, replay
  // guard, recovery codes and passkeys) as unions instead of fields side by side.
  stateVersion: 5,
};

export const policyDecider: Decider<PolicyCommand, Policy, PolicyEvent, unknown> = {
  decide: (command, state) => decidePolicy(command, state),
  evolve: evolvePolicy,
  initialState: initialPolicy,
  upcast: upcastPolicyEvent,
  // 3: a policy folds over the defaults (old PolicyUpdated payloads lack later settings). 4: displayName. 5: passkeys.
  stateVersion: 5,
};
