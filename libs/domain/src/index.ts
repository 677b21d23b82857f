export * from './streams';
export * from './errors';
export * from './events';
export * from './policy';
export * from './account';
export * from './constant-time';
export * from './decider';
export * from './upcast';
