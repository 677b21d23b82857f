export * from './ports';
export * from './in-process-bus';
export * from './kafka';
export * from './kafka-publishers';
export * from './kafka-event-consumer';
