import { eventLogProjection } from './event-log.projection';
import type { Projection } from './projection';
import { statusProjection } from './status.projection';

/**
 * Every read model the projector keeps, applied together to each page of events: add a
 * projection file and list it here. Each has its own checkpoint, so a new one (or a new version
 * of one) builds itself from the start of the log while the others carry on.
 */
export const READ_MODELS: readonly Projection[] = [statusProjection, eventLogProjection];
