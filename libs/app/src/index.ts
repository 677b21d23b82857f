export * from './clock';
export * from './command-path';
export * from './policy-reader';
export * from './projector';
export * from './runtime';
