import { parseStream } from '@twostep/domain';
import { EMPTY_LOG_DIGEST, extendLogDigest, formatAnchor, verifyChain, type ChainProblem, type LogAnchor, type StoredEvent } from '@twostep/eventstore';
import { formatTable, Progress, type Output } from '../io';
import { eventPages, openEventStore, type StoreOptions } from '../store';

export interface VerifyOptions extends StoreOptions {
  /** Anchors kept from earlier runs: the log must still begin with exactly those events. */
  anchors?: LogAnchor[];
}

/**
 * Reads every event in global order, recomputes each stream's hash chain and the log digest,
 * and checks the given anchors. Exit 0 with counts and a fresh anchor when all holds; exit 1
 * listing every problem (position, stream, revision, kind) and every anchor that fails.
 */
export async function verify(options: VerifyOptions, out: Output, err: Output = process.stderr): Promise<number> {
  const opened = await openEventStore(options, 'read');
  try {
    const head = await opened.eventStore.headPosition();
    const progress = new Progress(err, 'read', head);
    const events: StoredEvent[] = [];
    const anchors = options.anchors ?? [];
    const digestAt = new Map<number, string>(); // event count -> digest, for the anchors asked about
    let digest = EMPTY_LOG_DIGEST;
    for await (const page of eventPages(opened.eventStore)) {
      for (const event of page) {
        events.push(event);
        digest = extendLogDigest(digest, event.hash);
        if (anchors.some((anchor) => anchor.count === events.length)) digestAt.set(events.length, digest);
      }
      progress.update(events.length, page[page.length - 1]!.position);
    }
    progress.finish();
    if (anchors.some((anchor) => anchor.count === 0)) digestAt.set(0, EMPTY_LOG_DIGEST);

    const problems = verifyChain(events);
    const anchorFailures = anchors.flatMap((anchor) => checkAnchor(anchor, events, digestAt));
    const streams = new Set(events.map((e) => e.stream));
    const accounts = [...streams].filter((s) => parseStream(s).kind === 'account').length;
    const counts = `${events.length} events in ${streams.size} streams (${accounts} accounts, ${streams.size - accounts} other)`;
    if (problems.length === 0 && anchorFailures.length === 0) {
      out.write(`OK: ${counts} in ${opened.description}; every hash chain is intact (head position ${head})\n`);
      for (const anchor of anchors) out.write(`anchor ${formatAnchor(anchor)} holds: the log still begins with exactly those ${anchor.count} events\n`);
      out.write(`anchor ${formatAnchor({ count: events.length, digest })}  (keep it outside twostep; verify --anchor checks it later)\n`);
      return 0;
    }
    const total = problems.length + anchorFailures.length;
    out.write(`FAILED: ${total} problem${total === 1 ? '' : 's'} in ${counts} in ${opened.description}\n`);
    if (problems.length > 0) out.write(formatProblems(problems));
    for (const failure of anchorFailures) out.write(`${failure}\n`);
    return 1;
  } finally {
    await opened.close();
  }
}

function checkAnchor(anchor: LogAnchor, events: StoredEvent[], digestAt: Map<number, string>): string[] {
  if (anchor.count > events.length) {
    return [`anchor ${formatAnchor(anchor)} FAILED: the log holds ${events.length} events, the anchor covers ${anchor.count}: events were removed (cut off the end of the log)`];
  }
  if (digestAt.get(anchor.count) === anchor.digest) return [];
  const last = anchor.count > 0 ? ` (up to position ${events[anchor.count - 1]!.position})` : '';
  return [`anchor ${formatAnchor(anchor)} FAILED: the first ${anchor.count} events${last} are not the anchored ones: an event was changed, removed, inserted or re-hashed since`];
}

export function formatProblems(problems: ChainProblem[]): string {
  return formatTable(
    ['POSITION', 'STREAM', 'REVISION', 'KIND', 'DETAIL'],
    problems.map((p) => [String(p.position), p.stream, String(p.revision), p.kind, p.detail]),
  );
}
