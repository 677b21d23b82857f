export * from './event-store';
export {
  anchorOf,
  canonicalJson,
  computeEventHash,
  EMPTY_LOG_DIGEST,
  extendLogDigest,
  formatAnchor,
  parseAnchor,
  verifyChain,
  type ChainProblem,
  type HashedFields,
  type LogAnchor,
} from './chain';
export { SqliteEventStore, type SqliteEventStoreOptions, type SqliteOpenOptions } from './sqlite-event-store';
export { EsdbEventStore, CHAIN_METADATA_KEY, type EsdbEventStoreOptions } from './esdb-event-store';
export type { SubscriptionOptions } from './internal';
