import { decideAccount, evolveAccount, initialAccountState, type AccountCommand, type AccountState, type DecisionContext } from './account';
import type { AccountEvent } from './events';
import { decidePolicy, evolvePolicy, initialPolicy, type Policy, type PolicyCommand, type PolicyEvent } from './policy';

/** A decider in the emmett sense: everything a command path needs to run an aggregate. */
export interface Decider<Command, State, Event, Context> {
  decide(command: Command, state: State, context: Context): Event[];
  evolve(state: State, event: Event): State;
  initialState(): State;
}

export const accountDecider: Decider<AccountCommand, AccountState, AccountEvent, DecisionContext> = {
  decide: decideAccount,
  evolve: evolveAccount,
  initialState: initialAccountState,
};

export const policyDecider: Decider<PolicyCommand, Policy, PolicyEvent, unknown> = {
  decide: (command, state) => decidePolicy(command, state),
  evolve: evolvePolicy,
  initialState: initialPolicy,
};
