import { parseStream } from '@twostep/domain';
import { formatAnchor, type ChainProblem, type EventStore, type LogAnchor } from '@twostep/eventstore';
import { ChainScan } from '../chain-scan';
import { formatTable, Progress, type Output } from '../io';
import { eventPages, openEventStore, type StoreOptions } from '../store';

export interface VerifyOptions extends StoreOptions {
  /** Anchors kept from earlier runs: the log must still begin with exactly those events. */
  anchors?: LogAnchor[];
  /** One JSON object (VerifyReport) on standard output instead of the text. */
  json?: boolean;
}

/** An anchor given with --anchor, and whether the log still begins with exactly its events. */
export interface AnchorCheck {
  /** As given: `N:digest`. */
  anchor: string;
  holds: boolean;
  /** Why it does not hold; absent when it holds. */
  detail?: string;
}

/** What one pass over the log found. */
export interface LogVerification {
  events: number;
  streams: number;
  accounts: number;
  /** The anchor of every event read. */
  anchor: LogAnchor;
  /** As verifyChain reports them for the whole log, in position order. */
  problems: ChainProblem[];
  anchors: AnchorCheck[];
}

/** `verify --json`: exit 0 when `ok`, else 1. */
export interface VerifyReport {
  ok: boolean;
  events: number;
  streams: number;
  accounts: number;
  /** Head position read before the pass. */
  head: number;
  /** `SQLite /path/twostep.db` or `EventStoreDB esdb://…` (credentials masked). */
  store: string;
  /** The anchor to keep for later runs; null when the log fails (nobody should anchor a tampered log). */
  anchor: LogAnchor | null;
  anchors: AnchorCheck[];
  problems: ChainProblem[];
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
    const anchors = options.anchors ?? [];
    const result = await verifyLog(opened.eventStore, anchors, new Progress(err, 'read', head));
    const ok = result.problems.length === 0 && result.anchors.every((check) => check.holds);
    if (options.json) {
      const report: VerifyReport = {
        ok,
        events: result.events,
        streams: result.streams,
        accounts: result.accounts,
        head,
        store: opened.description,
        anchor: ok ? result.anchor : null,
        anchors: result.anchors,
        problems: result.problems,
      };
      out.write(`${JSON.stringify(report)}\n`);
      return ok ? 0 : 1;
    }
    const counts = `${result.events} events in ${result.streams} streams (${result.accounts} accounts, ${result.streams - result.accounts} other)`;
    if (ok) {
      out.write(`OK: ${counts} in ${opened.description}; every hash chain is intact (head position ${head})\n`);
      for (const anchor of anchors) out.write(`anchor ${formatAnchor(anchor)} holds: the log still begins with exactly those ${anchor.count} events\n`);
      out.write(`anchor ${formatAnchor(result.anchor)}  (keep it outside twostep; verify --anchor checks it later)\n`);
      return 0;
    }
    const failures = result.anchors.filter((check) => !check.holds);
    const total = result.problems.length + failures.length;
    out.write(`FAILED: ${total} problem${total === 1 ? '' : 's'} in ${counts} in ${opened.description}\n`);
    if (result.problems.length > 0) out.write(formatProblems(result.problems));
    for (const failure of failures) out.write(`anchor ${failure.anchor} FAILED: ${failure.detail}\n`);
    return 1;
  } finally {
    await opened.close();
  }
}

/**
 * The verification itself, in memory that grows with the number of streams, not events: one
 * streaming pass (ChainScan), then - only when some stream does not continue a clean chain - a
 * re-read of those streams for verifyChain's classification. `progress` sees the pass.
 */
export async function verifyLog(
  store: Pick<EventStore, 'readAll' | 'readStream'>,
  anchors: readonly LogAnchor[] = [],
  progress?: Pick<Progress, 'update' | 'finish'>,
): Promise<LogVerification> {
  const scan = new ChainScan(anchors.map((anchor) => anchor.count));
  for await (const page of eventPages(store)) {
    for (const event of page) scan.add(event);
    progress?.update(scan.count, page[page.length - 1]!.position);
  }
  progress?.finish();
  const problems = await scan.problems(store);
  let accounts = 0;
  for (const stream of scan.streams()) if (parseStream(stream).kind === 'account') accounts += 1;
  return {
    events: scan.count,
    streams: scan.streamCount,
    accounts,
    anchor: { count: scan.count, digest: scan.digest },
    problems,
    anchors: anchors.map((anchor) => checkAnchor(anchor, scan)),
  };
}

function checkAnchor(anchor: LogAnchor, scan: ChainScan): AnchorCheck {
  const given = formatAnchor(anchor);
  if (anchor.count > scan.count) {
    return { anchor: given, holds: false, detail: `the log holds ${scan.count} events, the anchor covers ${anchor.count}: events were removed (cut off the end of the log)` };
  }
  const mark = scan.mark(anchor.count)!;
  if (mark.digest === anchor.digest) return { anchor: given, holds: true };
  const last = anchor.count > 0 ? ` (up to position ${mark.position})` : '';
  return {
    anchor: given,
    holds: false,
    detail: `the first ${anchor.count} events${last} are not the anchored ones: an event was changed, removed, inserted or re-hashed since`,
  };
}

export function formatProblems(problems: ChainProblem[]): string {
  return formatTable(
    ['POSITION', 'STREAM', 'REVISION', 'KIND', 'DETAIL'],
    problems.map((p) => [String(p.position), p.stream, String(p.revision), p.kind, p.detail]),
  );
}
