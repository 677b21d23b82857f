export * from './templates';
export * from './transport';
export * from './mailer';
export * from './metrics';
