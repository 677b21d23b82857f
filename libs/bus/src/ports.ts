import type { StoredEvent } from '@twostep/eventstore';

/** Sends stored events to the bus. */
export interface EventPublisher {
  /** Resolves only after the bus has accepted every event (Kafka: acknowledged by all in-sync replicas). */
  publish(events: StoredEvent[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * At-least-once delivery to one handler: events of one stream arrive in order; an event counts as
 * handled (committed) only after the handler resolved; a handler that throws gets the same event
 * again after a backoff, and nothing after it is delivered first. Handlers must be idempotent on
 * `eventId`: after a crash or rebalance the last events may come again.
 */
export interface EventConsumer {
  start(handler: (event: StoredEvent) => Promise<void>): Promise<void>;
  /** Finishes the in-flight event (or abandons its retry loop, uncommitted), then disconnects. */
  stop(): Promise<void>;
}

/** Structured logger with pino's argument order. */
export interface BusLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Backoff for a failing handler: initialDelayMs doubling up to maxDelayMs. */
export interface RetryOptions {
  initialDelayMs?: number;
  maxDelayMs?: number;
}

/** Called for each failed delivery attempt (attempt counts from 1); the default logs a warning. */
export type HandlerErrorListener = (error: unknown, event: StoredEvent | null, attempt: number) => void;

export const EVENT_PUBLISHER = Symbol('EVENT_PUBLISHER');
export const EVENT_CONSUMER = Symbol('EVENT_CONSUMER');

/** One line of JSON on stderr per warning or error: the default when no logger is given. */
export const stderrLogger: BusLogger = {
  warn: (obj, msg) => process.stderr.write(`${JSON.stringify({ level: 'warn', ...obj, msg })}\n`),
  error: (obj, msg) => process.stderr.write(`${JSON.stringify({ level: 'error', ...obj, msg })}\n`),
};

export function backoffDelay(attempt: number, retry: RetryOptions = {}): number {
  const initial = retry.initialDelayMs ?? 200;
  const max = retry.maxDelayMs ?? 30_000;
  return Math.min(max, initial * 2 ** Math.min(attempt - 1, 30));
}

export function describeError(error: unknown): { name: string; message: string } {
  return error instanceof Error ? { name: error.name, message: error.message } : { name: 'Error', message: String(error) };
}
