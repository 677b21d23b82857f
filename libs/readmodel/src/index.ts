export * from './views';
export * from './ports';
export * from './projections';
export * from './describe';
export * from './sqlite-read-model-store';
export * from './redis-read-model-store';
