export * from './clock';
export * from './command-path';
export * from './key-guard';
export * from './lease';
export * from './policy-reader';
export * from './projector';
export * from './runtime';
