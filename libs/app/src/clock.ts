/** Time comes from here, never from `Date.now()` in handlers, so tests can move it. */
export interface Clock {
  now(): Date;
}
export const CLOCK = Symbol('CLOCK');

export const systemClock: Clock = { now: () => new Date() };

/** A clock that tests (and the benchmark) can move forward. */
export class AdjustableClock implements Clock {
  private offsetMs = 0;
  constructor(private readonly base: Clock = systemClock) {}
  now(): Date {
    return new Date(this.base.now().getTime() + this.offsetMs);
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
  set(to: Date): void {
    this.offsetMs = to.getTime() - this.base.now().getTime();
  }
}
