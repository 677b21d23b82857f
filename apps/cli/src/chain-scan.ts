import { computeEventHash, EMPTY_LOG_DIGEST, extendLogDigest, verifyChain, type ChainProblem, type EventStore, type StoredEvent } from '@twostep/eventstore';
import { eventPages } from './store';

/** What the scan keeps per stream: enough to tell whether the next event continues a clean chain. */
interface StreamTip {
  /** The revision a clean stream continues with. */
  next: number;
  /** Hash of the stream's last event (null before its first), which the next one must point at. */
  hash: string | null;
  /** Events of the stream seen so far, to check a re-read of a suspect stream against. */
  count: number;
  /** Set at the first event that does not continue a clean chain; from then on only `count` moves. */
  suspect: boolean;
}

/** Where the log stood after `count` events: what an anchor over those events is checked against. */
export interface LogMark {
  count: number;
  digest: string;
  /** Position of the `count`-th event (0 for count 0). */
  position: number;
}

/**
 * One pass over the log in global order, an event at a time, keeping no events: per stream only
 * the revision it continues with, its last hash, a count and a flag, plus the log digest and the
 * marks asked for. Each event's own hash, its revision and its link to the stream's previous
 * event are checked as it passes. A stream whose events all continue a clean chain (revisions
 * 0, 1, 2, … in global order; revision 0 pointing at nothing, each later one at the hash before
 * it; every stored hash matching its content) is exactly a stream verifyChain finds nothing in.
 * Any other stream is suspect: `problems()` re-reads the suspect streams and classifies them
 * with verifyChain, so a log with problems gets exactly the report verifyChain gives for the
 * whole log (global positions are checked here, as verifyChain does, because they are about the
 * log rather than a stream).
 */
export class ChainScan {
  private readonly tips = new Map<string, StreamTip>();
  private readonly marks = new Map<number, LogMark>();
  private readonly positionProblems: ChainProblem[] = [];
  private events = 0;
  private logDigest = EMPTY_LOG_DIGEST;
  private lastPosition = -Infinity;

  /** `markAt`: event counts to remember the digest and the position at (the anchors to check). */
  constructor(markAt: Iterable<number> = []) {
    for (const count of markAt) if (count >= 0) this.marks.set(count, { count, digest: EMPTY_LOG_DIGEST, position: 0 });
  }

  add(event: StoredEvent): void {
    this.events += 1;
    this.logDigest = extendLogDigest(this.logDigest, event.hash);
    const mark = this.marks.get(this.events);
    if (mark) {
      mark.digest = this.logDigest;
      mark.position = event.position;
    }
    // A store reads in position order, so this does not happen; verifyChain reports it, so does the scan.
    if (event.position <= this.lastPosition) {
      this.positionProblems.push({
        position: event.position,
        stream: event.stream,
        revision: event.revision,
        kind: 'reordered',
        detail: `position ${event.position} does not follow ${this.lastPosition}`,
      });
    }
    this.lastPosition = Math.max(this.lastPosition, event.position);

    let tip = this.tips.get(event.stream);
    if (!tip) this.tips.set(event.stream, (tip = { next: 0, hash: null, count: 0, suspect: false }));
    tip.count += 1;
    if (tip.suspect) return;
    if (event.revision !== tip.next || event.prevHash !== tip.hash || computeEventHash(event.prevHash, event) !== event.hash) {
      tip.suspect = true;
      return;
    }
    tip.next = event.revision + 1;
    tip.hash = event.hash;
  }

  /** Events seen. */
  get count(): number {
    return this.events;
  }

  /** The log digest over every event seen. */
  get digest(): string {
    return this.logDigest;
  }

  /** Position of the last event seen (0 before any). */
  get position(): number {
    return this.events === 0 ? 0 : this.lastPosition;
  }

  /** Names of the streams seen, in the order their first events came. */
  streams(): IterableIterator<string> {
    return this.tips.keys();
  }

  /** How many streams the scan keeps state for: one entry each, whatever the number of events. */
  get streamCount(): number {
    return this.tips.size;
  }

  /** Streams that did not continue a clean chain somewhere, with how many events of each were seen. */
  suspects(): Array<{ stream: string; count: number }> {
    return [...this.tips].filter(([, tip]) => tip.suspect).map(([stream, tip]) => ({ stream, count: tip.count }));
  }

  /** True when every stream is clean and positions increased: there is nothing to re-read. */
  get clean(): boolean {
    return this.positionProblems.length === 0 && this.suspects().length === 0;
  }

  /** The digest and position after `count` events, when `count` was asked for and has been reached. */
  mark(count: number): LogMark | undefined {
    if (count === 0) return { count: 0, digest: EMPTY_LOG_DIGEST, position: 0 };
    return count <= this.events ? this.marks.get(count) : undefined;
  }

  /**
   * Every problem, as verifyChain reports it over the whole log. [] without reading anything when
   * the scan found every stream clean. Otherwise reads the suspect streams again, up to the
   * position the scan reached (events appended since are not part of this verification):
   * `readStream`, or for a stream whose re-read does not hold the events the scan counted (a
   * store reads only revisions >= 0 by stream, say), the log again in global order. Memory then
   * grows with the suspect streams' events, not with the log.
   */
  async problems(store: Pick<EventStore, 'readStream' | 'readAll'>): Promise<ChainProblem[]> {
    if (this.clean) return [];
    const upTo = this.lastPosition;
    const events: StoredEvent[] = [];
    const again = new Set<string>();
    for (const { stream, count } of this.suspects()) {
      const read = (await store.readStream(stream)).filter((event) => event.position <= upTo);
      if (read.length === count) events.push(...read);
      else again.add(stream);
    }
    if (again.size > 0) {
      reading: for await (const page of eventPages(store)) {
        for (const event of page) {
          if (event.position > upTo) break reading;
          if (again.has(event.stream)) events.push(event);
        }
      }
    }
    // Global order is position order: verifyChain sees each stream's events as the whole-log pass did.
    events.sort((a, b) => a.position - b.position);
    return [...verifyChain(events), ...this.positionProblems].sort((a, b) => a.position - b.position);
  }
}
