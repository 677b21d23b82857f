import type { Clock, CommandPath, PolicyReader, Runtime } from '@twostep/app';
import type { Env, Secrets } from '@twostep/config';
import { EVENT_STORE, type EventStore } from '@twostep/eventstore';
import { READ_MODEL_STORE, type ReadModelStore } from '@twostep/readmodel';

/**
 * Injection tokens of the api process: one per port a handler may need, each provided from the
 * runtime that createRuntime chose (app.module.ts). A handler names the ports it uses, never the
 * whole runtime.
 */
export const LOGGER = Symbol('LOGGER');
export const COMMAND_PATH = Symbol('COMMAND_PATH');
export const POLICY_READER = Symbol('POLICY_READER');
export const SECRETS = Symbol('SECRETS');
export const CLOCK = Symbol('CLOCK');
export const ENV = Symbol('ENV');
export const ADAPTERS = Symbol('ADAPTERS');
export { EVENT_STORE, READ_MODEL_STORE };

/** Each token with the runtime field that provides it. */
export const RUNTIME_PORTS = [
  { token: COMMAND_PATH, field: 'commandPath' },
  { token: POLICY_READER, field: 'policies' },
  { token: SECRETS, field: 'secrets' },
  { token: CLOCK, field: 'clock' },
  { token: ENV, field: 'env' },
  { token: ADAPTERS, field: 'adapters' },
  { token: EVENT_STORE, field: 'eventStore' },
  { token: READ_MODEL_STORE, field: 'readModels' },
] as const satisfies readonly { token: symbol; field: keyof Runtime }[];

export type { Clock, CommandPath, Env, EventStore, PolicyReader, ReadModelStore, Secrets };
export type Adapters = Runtime['adapters'];
