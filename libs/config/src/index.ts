export * from './config';
export * from './secrets';
export * from './fingerprints';
export * from './startup';
