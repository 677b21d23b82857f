import { randomUUID } from 'node:crypto';
import type { KeyValueStore } from '@twostep/readmodel';

/**
 * "One active instance per subscription": the projector holds a lease in the key-value store
 * (Redis in the distributed mode) while it runs, so a second replica waits as a hot standby
 * and `rebuild` does not reset the views under a running projector.
 *
 * The lease is a key with a TTL, renewed well before it expires. A projector that is killed
 * keeps it until the TTL runs out; one that stops cleanly gives it back at once. Correctness
 * does not rest on the lease alone: views are applied idempotently by stream revision and every
 * consumer of the relay dedupes by event id, so an overlap during a network split delays or
 * repeats work but never corrupts it.
 */
/** The key the projector (and any rebuild of its views) holds while it writes them. */
export const PROJECTOR_LEASE = 'lease:projector';

export class Lease {
  readonly holder = `${process.pid}-${randomUUID()}`;
  private timer: NodeJS.Timeout | null = null;
  private held = false;

  constructor(
    private readonly kv: KeyValueStore,
    readonly key: string,
    private readonly ttlSeconds = 10,
  ) {}

  /** Takes the lease if it is free; true when this call took it. */
  async tryAcquire(): Promise<boolean> {
    this.held = await this.kv.setIfAbsent(this.key, this.holder, this.ttlSeconds);
    return this.held;
  }

  /** Waits until the lease is free and takes it; `onWait` is told once when it has to wait. Gives up (false) at the deadline. */
  async acquire(options: { timeoutMs?: number; onWait?: (holder: string | null) => void; isStopped?: () => boolean } = {}): Promise<boolean> {
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    let told = false;
    for (;;) {
      if (await this.tryAcquire()) return true;
      if (!told) {
        options.onWait?.(await this.kv.get(this.key));
        told = true;
      }
      if (Date.now() >= deadline || options.isStopped?.()) return false;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  /** Renews every ttl/3; `onLost` is called once if another holder took over (or renewing keeps failing past the TTL). */
  keepAlive(onLost: (reason: string) => void): void {
    let lastRenewed = Date.now();
    const renew = async () => {
      try {
        const current = await this.kv.get(this.key);
        if (current !== null && current !== this.holder) {
          this.stopRenewing();
          this.held = false;
          onLost(`lease ${this.key} is now held by ${current}`);
          return;
        }
        await this.kv.set(this.key, this.holder, this.ttlSeconds);
        lastRenewed = Date.now();
      } catch (error) {
        if (Date.now() - lastRenewed > this.ttlSeconds * 1000) {
          this.stopRenewing();
          this.held = false;
          onLost(`lease ${this.key} could not be renewed: ${(error as Error).message}`);
        }
      }
    };
    this.timer = setInterval(() => void renew(), Math.max(250, (this.ttlSeconds * 1000) / 3));
    this.timer.unref();
  }

  /** Stops renewing and gives the lease back if this instance still holds it. */
  async release(): Promise<void> {
    this.stopRenewing();
    if (!this.held) return;
    this.held = false;
    if ((await this.kv.get(this.key)) === this.holder) await this.kv.delete(this.key);
  }

  private stopRenewing(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
