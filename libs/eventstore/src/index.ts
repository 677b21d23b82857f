export * from './event-store';
export { canonicalJson, computeEventHash, verifyChain, type ChainProblem, type HashedFields } from './chain';
export { SqliteEventStore, type SqliteEventStoreOptions, type SqliteOpenOptions } from './sqlite-event-store';
export { EsdbEventStore, CHAIN_METADATA_KEY, type EsdbEventStoreOptions } from './esdb-event-store';
export type { SubscriptionOptions } from './internal';
