/** Injection tokens of the api process. */
export const RUNTIME = Symbol('RUNTIME');
export const PROJECTOR = Symbol('PROJECTOR');
export const LOGGER = Symbol('LOGGER');
